#if canImport(Glibc)
import Glibc
#endif

/// Where the export and scan encoders write JSON text. Both `[UInt8]` (tests,
/// the model's `appendJSON`, small documents) and `JSONOutput` (the row
/// paths) conform, so every row is written by one encoder whatever the buffer.
protocol JSONByteSink: ~Copyable {
    mutating func append(_ byte: UInt8)
    mutating func append(bytes: UnsafeRawBufferPointer)
    /// `bytes` (UTF-8) as a JSON string literal, quotes included (`JSONWriter.appendString`'s bytes).
    mutating func appendJSONString(_ bytes: UnsafeRawBufferPointer)
    /// Lets `body` write at most `maxCount` bytes at the end; it returns how many it wrote.
    mutating func write(upTo maxCount: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int)
    /// One JSON string literal of `first`, a blank line ("\n\n") and `second`.
    mutating func appendJSONString(_ first: UnsafeRawBufferPointer, joinedByBlankLine second: UnsafeRawBufferPointer)
    var count: Int { get }
    /// `JSONWriter.makeLineSafe` of the text from `start` on.
    mutating func makeLineSafe(from start: Int)
}

extension Array: JSONByteSink where Element == UInt8 {
    @inline(__always) mutating func append(bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
    @inline(__always) mutating func appendJSONString(_ bytes: UnsafeRawBufferPointer) { JSONWriter.appendString(bytes, to: &self) }
    mutating func appendJSONString(_ first: UnsafeRawBufferPointer, joinedByBlankLine second: UnsafeRawBufferPointer) {
        var tmp: [UInt8] = []
        tmp.reserveCapacity(first.count + second.count + 2)
        tmp.append(contentsOf: first)
        tmp.append(0x0A); tmp.append(0x0A)
        tmp.append(contentsOf: second)
        tmp.withUnsafeBytes { JSONWriter.appendString($0, to: &self) }
    }
    mutating func makeLineSafe(from start: Int) { JSONWriter.makeLineSafe(&self, from: start) }
    mutating func write(upTo maxCount: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxCount) { tmp in
            let n = body(tmp.baseAddress!)
            append(contentsOf: UnsafeBufferPointer(rebasing: tmp[..<n]))
        }
    }
}

extension JSONByteSink where Self: ~Copyable {
    @inline(__always) mutating func append(_ s: StaticString) {
        append(bytes: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
}

/// A growable byte buffer in malloc'd memory for the row encoders. A field
/// reserves its worst-case length once and is written through a pointer:
/// no per-byte capacity and uniqueness checks (what `[UInt8].append` costs),
/// no zero-filling. Not copyable: one owner frees the memory.
struct JSONOutput: ~Copyable, JSONByteSink {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 64 << 10) {
        self.capacity = Swift.max(capacity, 64)
        // malloc only fails when memory is exhausted, where Swift's own allocations trap too.
        base = malloc(self.capacity)!.assumingMemoryBound(to: UInt8.self)
    }

    deinit { free(base) }

    var isEmpty: Bool { count == 0 }

    /// The bytes written so far (valid until the next write or `removeAll`).
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// The end of the text, with room for at least `extra` more bytes.
    @inline(__always) mutating func reserve(_ extra: Int) -> UnsafeMutablePointer<UInt8> {
        if capacity &- count < extra { grow(extra) }
        return base + count
    }

    @inline(never) private mutating func grow(_ extra: Int) {
        let (need, overflow) = count.addingReportingOverflow(extra)
        precondition(!overflow, "JSONOutput: size overflow")
        var c = capacity
        while c < need { c = c < 1 << 40 ? c * 2 : need }
        base = realloc(base, c)!.assumingMemoryBound(to: UInt8.self)
        capacity = c
    }

    /// Counts `n` bytes written at `reserve`'s pointer. REQUIRES: `n` ≤ the reserved room.
    @inline(__always) mutating func advance(_ n: Int) { count &+= n }

    @inline(__always) mutating func append(_ byte: UInt8) {
        reserve(1).pointee = byte
        count &+= 1
    }

    @inline(__always) mutating func append(bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        memcpy(reserve(n), bytes.baseAddress!, n)
        count &+= n
    }

    mutating func append<C: Collection>(contentsOf c: C) where C.Element == UInt8 {
        if c.withContiguousStorageIfAvailable({ append(bytes: UnsafeRawBufferPointer($0)) }) != nil { return }
        let p = reserve(c.count)
        var k = 0
        for b in c { p[k] = b; k += 1 }
        count &+= k
    }

    @inline(__always) mutating func appendJSONString(_ bytes: UnsafeRawBufferPointer) {
        let p = reserve(JSONWriter.maxEscapedLength(bytes.count))
        count &+= JSONWriter.writeString(bytes, to: p)
    }

    mutating func appendJSONString(_ first: UnsafeRawBufferPointer, joinedByBlankLine second: UnsafeRawBufferPointer) {
        let p = reserve(JSONWriter.maxEscapedLength(first.count) &+ JSONWriter.maxEscapedLength(second.count) &+ 4)
        // `"first"` then `\n\n` over its closing quote; `second`'s literal
        // starts on the last `n`, which its opening quote overwrites and is put back.
        let a = JSONWriter.writeString(first, to: p)
        let q = p + (a &- 1)
        q[0] = 0x5C; q[1] = 0x6E; q[2] = 0x5C
        let b = JSONWriter.writeString(second, to: q + 3)
        q[3] = 0x6E
        count &+= (a &- 1) &+ 3 &+ b
    }

    @inline(__always) mutating func write(upTo maxCount: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        count &+= body(reserve(maxCount))
    }

    /// Empties the text, keeping the memory.
    mutating func removeAll() { count = 0 }

    /// Drops the text from `start` on.
    mutating func removeLast(from start: Int) {
        precondition(start >= 0 && start <= count)
        count = start
    }

    /// `JSONWriter.makeLineSafe` of the text from `start` on.
    mutating func makeLineSafe(from start: Int) {
        let n = count - start
        guard n > 0 else { return }
        let p = base + start
        if memchr(p, 0x0A, n) == nil && memchr(p, 0x0D, n) == nil && memchr(p, 0xE2, n) == nil { return }
        // Rare (U+2028 / U+2029 or a line break outside strings): the array version, then back.
        var tail = Array(UnsafeBufferPointer(start: p, count: n))
        JSONWriter.makeLineSafe(&tail)
        count = start
        tail.withUnsafeBytes { append(bytes: $0) }
    }
}

/// A `JSONOutput` owned by a class, for buffers kept in arrays and shared state.
final class JSONOutputBox {
    var out: JSONOutput
    init(capacity: Int = 64 << 10) { out = JSONOutput(capacity: capacity) }
}
