/// A 128-bit example id: XXH3-128 of the canonical content (SPEC.md §4.1).
/// Written as 32 lowercase hex digits, `high` first (XXH128's canonical,
/// big-endian form); stored on disk as those 16 bytes in the same order.
public struct ExampleID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public static func < (a: Self, b: Self) -> Bool { (a.high, a.low) < (b.high, b.low) }

    public var hex: String {
        var out = [UInt8]()
        out.reserveCapacity(32)
        appendHex(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    @inline(__always) public func appendHex(to out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { d in
            for word in [high, low] {
                var shift = 60
                while shift >= 0 {
                    out.append(d[Int((word >> UInt64(shift)) & 0xf)])
                    shift -= 4
                }
            }
        }
    }

    /// Parses 32 hex digits (either case). Returns nil otherwise.
    public init?(hex: String) {
        let u = Array(hex.utf8)
        guard u.count == 32 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, c) in u.enumerated() {
            let v: UInt64
            switch c {
            case 48...57: v = UInt64(c - 48)
            case 97...102: v = UInt64(c - 87)
            case 65...70: v = UInt64(c - 55)
            default: return nil
            }
            if i < 16 { h = h << 4 | v } else { l = l << 4 | v }
        }
        high = h
        low = l
    }

    /// The 16 on-disk bytes (big-endian high then low).
    public func write(to w: inout ByteWriter) {
        w.u64BE(high)
        w.u64BE(low)
    }

    public static func read(from r: inout ByteReader) throws -> ExampleID {
        let h = try r.u64BE("id")
        let l = try r.u64BE("id")
        return ExampleID(high: h, low: l)
    }
}
