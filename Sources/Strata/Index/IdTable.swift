#if canImport(Glibc)
import Glibc
#endif

/// The in-memory dedup table (SPEC.md §5): an open-addressing table of
/// 16-byte slots, each a 64-bit fingerprint of a 128-bit key and a packed
/// `Location`. 16 bytes per slot at a load factor kept within 0.68…0.85 gives
/// 18.8…23.5 bytes of RAM per unique key.
///
/// Layout: slot `i` is `words[2i]` (fingerprint, 0 = empty) and `words[2i+1]`
/// (packed location). A key's home slot is `(fp * capacity) >> 64`, which is
/// monotone in `fp`; entries never wrap around (a slack region follows the
/// `capacity` home slots) and are kept in fingerprint order, so the occupied
/// slots of the whole table are sorted by fingerprint. That makes a miss stop
/// at the first slot holding a larger fingerprint (a few probes even at 0.85
/// load), lets growth re-insert in one linear pass, and makes the snapshot
/// file (§5.2) a plain dump of `words`.
///
/// A fingerprint match is only a candidate: callers confirm it against the
/// full 128-bit key stored in the record (the `confirm` closures).
struct IdTable {
    /// 2 words per slot; `physicalSlots = capacity + slack`.
    private(set) var words: [UInt64]
    private(set) var capacity: Int
    private(set) var count = 0

    /// Slots past the last home slot, so clusters near the end need no wrap-around.
    static func slack(for capacity: Int) -> Int { max(64, capacity >> 6) }
    static let maxLoad = 0.85
    static let growth = 1.25
    static let minCapacity = 1024

    init(expectedCount: Int = 0) {
        capacity = max(IdTable.minCapacity, Int(Double(expectedCount) / 0.8) + 1)
        words = IdTable.zeroedWords(2 * (capacity + IdTable.slack(for: capacity)))
    }

    /// A zeroed word array. Large tables ask for transparent huge pages before
    /// the memory is first touched: lookups are random accesses, and with 4 KiB
    /// pages nearly every one also misses the TLB.
    static func zeroedWords(_ count: Int) -> [UInt64] {
        [UInt64](unsafeUninitializedCapacity: count) { buf, initialized in
            #if canImport(Glibc)
            let bytes = count * 8
            if bytes >= 4 << 20, let base = buf.baseAddress {
                // Advise only the 2 MiB-aligned interior of the allocation (madvise needs aligned ranges).
                let huge = 2 << 20
                let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
                let end = (Int(bitPattern: base) + bytes) & ~(huge - 1)
                if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
            }
            #endif
            buf.initialize(repeating: 0)
            initialized = count
        }
    }

    /// Adopts slots decoded from an index file; `IndexFile.decode` has checked the invariants.
    init(capacity: Int, words: [UInt64], count: Int) {
        self.capacity = capacity
        self.words = words
        self.count = count
    }

    var physicalSlots: Int { words.count / 2 }
    /// Bytes of RAM held by the table.
    var memoryBytes: Int { words.count * 8 }

    /// The fingerprint of a key: its high 64 bits, with 0 (the empty marker) mapped to 1.
    @inline(__always) static func fingerprint(_ key: ExampleID) -> UInt64 { key.high == 0 ? 1 : key.high }

    @inline(__always) static func home(_ fp: UInt64, capacity: Int) -> Int {
        Int(truncatingIfNeeded: fp.multipliedFullWidth(by: UInt64(capacity)).high)
    }

    /// Calls `visit` with the packed location of every slot whose fingerprint
    /// equals the key's, until `visit` returns true; returns that location.
    @inline(__always)
    func find(_ key: ExampleID, _ visit: (UInt64) throws -> Bool) rethrows -> UInt64? {
        let fp = IdTable.fingerprint(key)
        var i = IdTable.home(fp, capacity: capacity)
        let n = physicalSlots
        return try words.withUnsafeBufferPointer { w in
            // i < n checked in the loop condition; w has 2n words.
            while i < n {
                let f = w[2 &* i]
                if f == 0 || f > fp { return nil }
                if f == fp, try visit(w[2 &* i &+ 1]) { return w[2 &* i &+ 1] }
                i &+= 1
            }
            return nil
        }
    }

    /// Replaces the location of the slot for `key` whose location satisfies
    /// `match` (compaction moving an example, SPEC.md §7.1); false if none does.
    mutating func replace(_ key: ExampleID, where match: (UInt64) -> Bool, with loc: UInt64) -> Bool {
        let fp = IdTable.fingerprint(key)
        var i = IdTable.home(fp, capacity: capacity)
        let n = physicalSlots
        return words.withUnsafeMutableBufferPointer { w in
            while i < n {
                let f = w[2 &* i]
                if f == 0 || f > fp { return false }
                if f == fp, match(w[2 &* i &+ 1]) { w[2 &* i &+ 1] = loc; return true }
                i &+= 1
            }
            return false
        }
    }

    /// Inserts without checking for an existing equal key (callers look up first).
    mutating func insert(_ key: ExampleID, packed loc: UInt64) { insert(fingerprint: IdTable.fingerprint(key), packed: loc) }

    /// Inserts a slot as `forEach` gives it (merging one table into another).
    mutating func insert(fingerprint fp: UInt64, packed loc: UInt64) {
        if Double(count + 1) > Double(capacity) * IdTable.maxLoad { grow() }
        while !tryInsert(fp, loc) { grow() }
        count += 1
    }

    private mutating func tryInsert(_ fp: UInt64, _ loc: UInt64) -> Bool {
        let n = physicalSlots
        var i = IdTable.home(fp, capacity: capacity)
        return words.withUnsafeMutableBufferPointer { w in
            // Indices stay below n: both loops test i/j < n before reading.
            while i < n, w[2 &* i] != 0, w[2 &* i] <= fp { i &+= 1 }
            var j = i
            while j < n, w[2 &* j] != 0 { j &+= 1 }
            guard j < n else { return false }
            // Shift [i, j) one slot right to keep fingerprint order.
            var k = j
            while k > i {
                w[2 &* k] = w[2 &* (k &- 1)]
                w[2 &* k &+ 1] = w[2 &* (k &- 1) &+ 1]
                k &-= 1
            }
            w[2 &* i] = fp
            w[2 &* i &+ 1] = loc
            return true
        }
    }

    /// Rebuilds into a larger table. Old slots are already in fingerprint
    /// order, so each lands at max(home, previous + 1): one linear pass.
    private mutating func grow() {
        var newCapacity = max(Int(Double(capacity) * IdTable.growth), capacity + 64)
        while true {
            let newSlots = newCapacity + IdTable.slack(for: newCapacity)
            var out = IdTable.zeroedWords(2 * newSlots)
            var next = 0
            var ok = true
            words.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    // pos < newSlots is checked before each write; i < w.count / 2.
                    for i in 0..<(w.count / 2) where w[2 &* i] != 0 {
                        let pos = max(IdTable.home(w[2 &* i], capacity: newCapacity), next)
                        guard pos < newSlots else { ok = false; return }
                        o[2 &* pos] = w[2 &* i]
                        o[2 &* pos &+ 1] = w[2 &* i &+ 1]
                        next = pos + 1
                    }
                }
            }
            if ok {
                capacity = newCapacity
                words = out
                return
            }
            newCapacity = Int(Double(newCapacity) * IdTable.growth)  // a run past the slack: try larger
        }
    }

    /// Every occupied slot in fingerprint order.
    func forEach(_ body: (_ fp: UInt64, _ loc: UInt64) throws -> Void) rethrows {
        for i in 0..<physicalSlots where words[2 * i] != 0 { try body(words[2 * i], words[2 * i + 1]) }
    }
}

/// Packs a `Location` in 64 bits: segment (28) | block (22) | entry (14).
/// Locations that do not fit go to the index's overflow map (SPEC.md §5.1).
enum PackedLocation {
    static let segmentBits: UInt64 = 28, blockBits: UInt64 = 22, entryBits: UInt64 = 14

    @inline(__always) static func pack(_ l: Location) -> UInt64? {
        guard l.segment < 1 << segmentBits, UInt64(l.blockIndex) < 1 << blockBits, UInt64(l.entryIndex) < 1 << entryBits else { return nil }
        return l.segment << (blockBits + entryBits) | UInt64(l.blockIndex) << entryBits | UInt64(l.entryIndex)
    }

    @inline(__always) static func unpack(_ v: UInt64) -> Location {
        Location(segment: v >> (blockBits + entryBits),
                 blockIndex: UInt32(truncatingIfNeeded: (v >> entryBits) & ((1 << blockBits) - 1)),
                 entryIndex: UInt32(truncatingIfNeeded: v & ((1 << entryBits) - 1)))
    }
}
