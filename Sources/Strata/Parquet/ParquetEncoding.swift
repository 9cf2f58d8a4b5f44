#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bits needed to store `maxValue` (at least 1: some readers mishandle width 0).
@inline(__always) func parquetBitWidth(_ maxValue: UInt64) -> Int {
    max(1, 64 - maxValue.leadingZeroBitCount)
}

/// The RLE / bit-packed hybrid encoding used for levels and dictionary indices.
///
/// Runs of 8 or more equal values become RLE runs; everything else becomes
/// bit-packed groups of 8 (LSB first). A literal run that meets a repeat is
/// topped up to a multiple of 8 with the repeat's first values, because only
/// the last group of a page may be padded.
enum RLEHybrid {
    static func encode<T: FixedWidthInteger & UnsignedInteger>(_ values: UnsafeBufferPointer<T>, bitWidth: Int, into out: inout [UInt8]) {
        let n = values.count
        var i = 0
        var literalStart = 0
        while i < n {
            let v = values[i]
            var r = 1
            while i + r < n && values[i + r] == v { r += 1 }
            if r >= 8 {
                let literal = i - literalStart
                let pad = (8 - literal % 8) % 8
                if literal == 0 {
                    rleRun(UInt64(v), count: r, bitWidth: bitWidth, into: &out)
                    i += r
                    literalStart = i
                } else if r - pad >= 8 {
                    bitPacked(values, literalStart..<(i + pad), bitWidth: bitWidth, into: &out)
                    rleRun(UInt64(v), count: r - pad, bitWidth: bitWidth, into: &out)
                    i += r
                    literalStart = i
                } else {
                    i += r  // too short once padded: stays in the literal run
                }
            } else {
                i += r
            }
        }
        if literalStart < n { bitPacked(values, literalStart..<n, bitWidth: bitWidth, into: &out) }
    }

    @inline(__always) static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func rleRun(_ value: UInt64, count: Int, bitWidth: Int, into out: inout [UInt8]) {
        varint(UInt64(count) << 1, into: &out)
        var v = value
        for _ in 0..<((bitWidth + 7) / 8) {
            out.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    /// Bit-packs `range`, zero-padding the last group to 8 values.
    static func bitPacked<T: FixedWidthInteger & UnsignedInteger>(_ values: UnsafeBufferPointer<T>, _ range: Range<Int>, bitWidth: Int, into out: inout [UInt8]) {
        let groups = (range.count + 7) / 8
        varint(UInt64(groups) << 1 | 1, into: &out)
        out.reserveCapacity(out.count + groups * bitWidth)
        var acc: UInt64 = 0
        var bits = 0
        let end = range.lowerBound + groups * 8
        var i = range.lowerBound
        while i < end {
            let v: UInt64 = i < range.upperBound ? UInt64(values[i]) : 0
            acc |= v << UInt64(bits)
            bits += bitWidth
            while bits >= 8 {
                out.append(UInt8(truncatingIfNeeded: acc))
                acc >>= 8
                bits -= 8
            }
            i += 1
        }
    }
}

/// An insertion-ordered dictionary of PLAIN-encoded values, kept directly in
/// the layout of a dictionary page so that writing the page is a copy.
struct ParquetDictionary {
    /// PLAIN-encoded entries (BYTE_ARRAY entries carry their 4-byte length).
    private(set) var plain: [UInt8] = []
    /// Start of each entry in `plain` (including any length prefix) and its total size.
    private(set) var starts: [Int32] = []
    private(set) var sizes: [Int32] = []
    private var hashes: [UInt64] = []
    /// Open addressing over entry indices; -1 is empty.
    private var slots: [Int32] = Array(repeating: -1, count: 1024)

    var count: Int { starts.count }
    var byteCount: Int { plain.count }

    /// Returns the index of the value whose PLAIN encoding is `value`, after
    /// its 4-byte length when `lengthPrefixed` (BYTE_ARRAY), inserting it if
    /// new. The hash covers the value only, so a value is looked up where it
    /// lies, without first being copied behind its length.
    mutating func index(of value: UnsafeRawBufferPointer, lengthPrefixed: Bool) -> (index: UInt32, inserted: Bool) {
        let h = XXH.hash64(value)
        let prefix = lengthPrefixed ? 4 : 0
        let size = prefix + value.count
        var mask = slots.count - 1
        var s = Int(truncatingIfNeeded: h) & mask
        let found: Int32? = plain.withUnsafeBytes { p -> Int32? in
            while true {
                let e = slots[s]
                if e < 0 { return nil }
                let ei = Int(e)
                if hashes[ei] == h && Int(sizes[ei]) == size
                    && (value.count == 0 || memcmp(p.baseAddress! + Int(starts[ei]) + prefix, value.baseAddress!, value.count) == 0) {
                    return e
                }
                s = (s + 1) & mask
            }
        }
        if let found { return (UInt32(found), false) }
        let index = Int32(starts.count)
        starts.append(Int32(plain.count))
        sizes.append(Int32(size))
        hashes.append(h)
        if lengthPrefixed { withUnsafeBytes(of: UInt32(value.count).littleEndian) { plain.append(contentsOf: $0) } }
        plain.append(contentsOf: value)
        slots[s] = index
        if starts.count * 2 > slots.count {
            slots = Array(repeating: -1, count: slots.count * 2)
            mask = slots.count - 1
            for (i, hh) in hashes.enumerated() {
                var t = Int(truncatingIfNeeded: hh) & mask
                while slots[t] >= 0 { t = (t + 1) & mask }
                slots[t] = Int32(i)
            }
        }
        return (UInt32(index), true)
    }

    /// Appends the PLAIN encoding of entry `i` to `out` (used when falling back to PLAIN).
    func appendPlain(_ i: Int, to out: inout [UInt8]) {
        let start = Int(starts[i])
        out.append(contentsOf: plain[start..<(start + Int(sizes[i]))])
    }
}

/// Unsigned lexicographic order of byte strings (the Parquet order for
/// STRING / JSON / BYTE_ARRAY statistics).
@inline(__always) func parquetBytesLess(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return c < 0 }
    }
    return a.count < b.count
}
