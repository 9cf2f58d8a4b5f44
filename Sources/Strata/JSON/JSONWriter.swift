#if canImport(Glibc)
import Glibc
#endif

/// Appends JSON tokens to a byte buffer, for exports.
///
/// Strings are escaped by scanning 8 bytes at a time and bulk-appending the
/// runs that need no escape; non-ASCII UTF-8 is written as is (the input is
/// assumed valid UTF-8, as everything in the store is validated at ingest).
public enum JSONWriter {
    /// Appends `bytes` (UTF-8) as a JSON string literal, quotes included.
    /// `"` and `\` are backslash-escaped; \n \r \t \b \f use their short forms
    /// (training text is full of newlines); other control bytes are \u00XX.
    public static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(0x22)
        guard let base = bytes.baseAddress, bytes.count > 0 else { out.append(0x22); return }
        // Only used inside this call, while `bytes` is valid.
        let p = base.assumingMemoryBound(to: UInt8.self)
        let n = bytes.count
        var i = 0
        var run = 0
        while i < n {
            // i + 8 <= n keeps the unaligned load inside the buffer.
            while i &+ 8 <= n, !needsEscape(UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)) { i &+= 8 }
            if i >= n { break }
            let c = p[i]
            guard c < 0x20 || c == 0x22 || c == 0x5C else { i += 1; continue }
            if i > run { out.append(contentsOf: UnsafeBufferPointer(start: p + run, count: i - run)) }
            switch c {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0x08: out.append(0x5C); out.append(0x62)
            case 0x0C: out.append(0x5C); out.append(0x66)
            default:
                let hex: StaticString = "0123456789abcdef"
                let h = hex.utf8Start
                // Byte by byte, not an array literal: no allocation per escape.
                out.append(0x5C); out.append(0x75); out.append(0x30); out.append(0x30)
                out.append(h[Int(c >> 4)]); out.append(h[Int(c & 15)])
            }
            i += 1
            run = i
        }
        if n > run { out.append(contentsOf: UnsafeBufferPointer(start: p + run, count: n - run)) }
        out.append(0x22)
    }

    /// The most bytes `writeString` writes for `count` input bytes (every byte
    /// a `\u00XX`, the quotes, and the 8-byte word stores' slack).
    @inline(__always) static func maxEscapedLength(_ count: Int) -> Int { count &* 6 &+ 10 }

    /// `appendString`'s bytes written at `dst` in one pass, 8 bytes at a time:
    /// each word is stored whole, then the text advances to its first byte
    /// that needs an escape, if any. Returns the bytes written.
    /// REQUIRES: `dst` has room for `maxEscapedLength(bytes.count)` bytes.
    @inline(__always)
    static func writeString(_ bytes: UnsafeRawBufferPointer, to dst: UnsafeMutablePointer<UInt8>) -> Int {
        var d = dst
        d.pointee = 0x22
        d += 1
        let n = bytes.count
        if n > 0, let base = bytes.baseAddress {
            let s = base.assumingMemoryBound(to: UInt8.self)
            var i = 0
            while i &+ 8 <= n {
                let w = UnsafeRawPointer(s + i).loadUnaligned(as: UInt64.self)
                UnsafeMutableRawPointer(d).storeBytes(of: w, as: UInt64.self)
                let m = escapeMask(w)
                if m == 0 { i &+= 8; d += 8; continue }
                // The lowest flagged byte is exact (borrows only flag bytes above a real hit).
                let k = m.trailingZeroBitCount &>> 3
                i &+= k
                d += k
                d += writeEscape(s[i], d)
                i &+= 1
            }
            while i < n {
                let c = s[i]
                if c < 0x20 || c == 0x22 || c == 0x5C { d += writeEscape(c, d) } else { d.pointee = c; d += 1 }
                i &+= 1
            }
        }
        d.pointee = 0x22
        return dst.distance(to: d) + 1
    }

    /// The escape of `c` (`"`, `\` or a control byte) at `d`; returns its length.
    @inline(__always) private static func writeEscape(_ c: UInt8, _ d: UnsafeMutablePointer<UInt8>) -> Int {
        d[0] = 0x5C
        switch c {
        case 0x22: d[1] = 0x22
        case 0x5C: d[1] = 0x5C
        case 0x0A: d[1] = 0x6E
        case 0x0D: d[1] = 0x72
        case 0x09: d[1] = 0x74
        case 0x08: d[1] = 0x62
        case 0x0C: d[1] = 0x66
        default:
            let hex: StaticString = "0123456789abcdef"
            let h = hex.utf8Start
            d[1] = 0x75; d[2] = 0x30; d[3] = 0x30
            d[4] = h[Int(c >> 4)]; d[5] = h[Int(c & 15)]
            return 6
        }
        return 2
    }

    /// High bit set in each byte of `w` that needs an escape (`"`, `\`, < 0x20);
    /// bytes above the lowest flagged one may be flagged falsely.
    @inline(__always) static func escapeMask(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let q = w ^ (ones &* 0x22)
        let b = w ^ (ones &* 0x5C)
        let lt = (w &- ones &* 0x20) & ~w
        let zq = (q &- ones) & ~q
        let zb = (b &- ones) & ~b
        return (lt | zq | zb) & high
    }

    public static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
    }

    public static func appendString(_ bytes: [UInt8], to out: inout [UInt8]) {
        bytes.withUnsafeBytes { appendString($0, to: &out) }
    }

    /// Makes one JSON text safe to print as one line of JSONL (SPEC.md §8.2):
    /// CR and LF become spaces (in valid JSON they occur only as whitespace
    /// between tokens, string contents being escaped) and U+2028 / U+2029
    /// become `\u2028` / `\u2029` (in valid JSON they occur only inside
    /// strings; many line splitters, e.g. Python's `str.splitlines`, break
    /// lines at them). The JSON value is unchanged.
    public static func makeLineSafe(_ out: inout [UInt8], from start: Int = 0) {
        // Usually there is nothing to change: three memchr scans (memory
        // speed) prove it before the byte loop runs.
        let clean: Bool = out.withUnsafeBytes { all in
            guard start < all.count, let base = all.baseAddress else { return true }
            let p = base + start, n = all.count - start
            return memchr(p, 0x0A, n) == nil && memchr(p, 0x0D, n) == nil && memchr(p, 0xE2, n) == nil
        }
        if clean { return }
        var i = start
        var needs = false
        while i < out.count {
            let c = out[i]
            if c == 0x0A || c == 0x0D || (c == 0xE2 && i + 2 < out.count && out[i + 1] == 0x80 && (out[i + 2] == 0xA8 || out[i + 2] == 0xA9)) {
                needs = true
                break
            }
            i += 1
        }
        guard needs else { return }
        var fixed = Array(out[start..<i])
        fixed.reserveCapacity(out.count - start + 16)
        while i < out.count {
            let c = out[i]
            if c == 0x0A || c == 0x0D {
                fixed.append(0x20)
            } else if c == 0xE2, i + 2 < out.count, out[i + 1] == 0x80, out[i + 2] == 0xA8 || out[i + 2] == 0xA9 {
                fixed.append(contentsOf: (out[i + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                i += 3
                continue
            } else {
                fixed.append(c)
            }
            i += 1
        }
        out.replaceSubrange(start..., with: fixed)
    }

    /// Is there a `"`, `\` or control byte (< 0x20) in this word? Bytes >= 0x80
    /// pass through untouched, so they must not count (hence the `& ~w` mask
    /// applied only to the < 0x20 test, and exact zero-byte tests for the rest).
    @inline(__always) static func needsEscape(_ w: UInt64) -> Bool { escapeMask(w) != 0 }

    /// Appends the shortest text that reads back as `v`; non-finite values
    /// (which JSON cannot express) are written as `null`.
    public static func appendDouble(_ v: Double, to out: inout [UInt8]) {
        guard v.isFinite else { out.append(0x6E); out.append(0x75); out.append(0x6C); out.append(0x6C); return }
        // Integral values print as "3.0", exponents as "1e-05"/"1e+16": all valid JSON numbers.
        var d = v.description
        d.withUTF8 { out.append(contentsOf: $0) }
    }

    public static func appendInt64(_ v: Int64, to out: inout [UInt8]) {
        if v < 0 { out.append(0x2D) }
        var m = v.magnitude
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes >= 20 digits of UInt64.max
        withUnsafeMutableBytes(of: &buf) { raw in
            var k = raw.count
            repeat {
                k -= 1
                raw[k] = UInt8(truncatingIfNeeded: m % 10) + 0x30
                m /= 10
            } while m > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[k...]))
        }
    }
}
