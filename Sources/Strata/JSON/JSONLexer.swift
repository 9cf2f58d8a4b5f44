/// Strict RFC 8259 token scanning over one buffer, shared by the ingest parser.
///
/// Every read is checked against `n`; invalid input throws `.invalidInput`
/// (with a 1-based byte column), never traps. `p` must stay valid while the
/// lexer is used (it lives inside the caller's withUnsafe… closure).
struct JSONLexer {
    let p: UnsafePointer<UInt8>
    let n: Int
    var i: Int = 0

    init(_ p: UnsafePointer<UInt8>, count: Int) {
        self.p = p
        self.n = count
    }

    func error(_ message: String, at pos: Int? = nil) -> StrataError {
        StrataError(.invalidInput, "\(message) (at byte \((pos ?? i) + 1))")
    }

    @inline(__always) var atEnd: Bool { i >= n }

    /// Current byte, or 0 at the end (0 is never valid where it is tested).
    @inline(__always) var peek: UInt8 { i < n ? p[i] : 0 }

    @inline(__always) mutating func skipWhitespace() {
        while i < n {
            let c = p[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    /// Does this 8-byte word hold a byte that the string loop must look at:
    /// `"`, `\`, a control byte (< 0x20) or a non-ASCII byte (>= 0x80)?
    @inline(__always) static func needsAttention(_ w: UInt64) -> Bool {
        (w & 0x8080_8080_8080_8080) | JSONWriter.escapeMask(w) != 0
    }

    /// Scans a string body; `i` is just after the opening quote and ends just
    /// after the closing one. Validates UTF-8 and escapes; when `copy`, the
    /// unescaped bytes are appended to `out` (clean runs in bulk).
    @inline(__always)
    mutating func scanString(copy: Bool, into out: inout [UInt8]) throws {
        var run = i
        while true {
            // 8 bytes at a time while nothing needs attention; i + 8 <= n keeps the load in bounds.
            while i &+ 8 <= n,
                  !JSONLexer.needsAttention(UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)) {
                i &+= 8
            }
            // Then byte by byte for a while: non-ASCII text (Cyrillic, CJK) defeats the
            // word test, so validate it here without bouncing back to it per character.
            let stop = min(n, i &+ 32)
            while i < stop {
                let c = p[i]
                if c >= 0x80 { try scanUTF8Sequence(); continue }
                if c == 0x22 || c == 0x5C || c < 0x20 { break }
                i &+= 1
            }
            guard i < n else { throw error("unterminated string") }
            let c = p[i]
            if c == 0x22 {
                if copy && i > run { out.append(contentsOf: UnsafeBufferPointer(start: p + run, count: i - run)) }
                i += 1
                return
            }
            if c == 0x5C {
                if copy && i > run { out.append(contentsOf: UnsafeBufferPointer(start: p + run, count: i - run)) }
                try scanEscape(copy: copy, into: &out)
                run = i
                continue
            }
            if c < 0x20 {
                throw error("raw control character U+00\(hex2(c)) in a string; it must be escaped (\\u00\(hex2(c)))")
            }
            // Otherwise the byte loop stopped at `stop` on an ordinary byte: go round again.
        }
    }

    /// Validates one multi-byte UTF-8 sequence at `i` (Unicode Table 3-7:
    /// no overlong forms, no surrogates, nothing above U+10FFFF).
    @inline(__always) mutating func scanUTF8Sequence() throws {
        let c = p[i]
        let len: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: len = 2
        case 0xE0: len = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: len = 3
        case 0xED: len = 3; hi = 0x9F
        case 0xF0: len = 4; lo = 0x90
        case 0xF1...0xF3: len = 4
        case 0xF4: len = 4; hi = 0x8F
        default: throw error("invalid UTF-8 byte 0x\(hex2(c))")
        }
        guard i + len <= n else { throw error("truncated UTF-8 sequence") }
        let c1 = p[i + 1]
        guard c1 >= lo && c1 <= hi else { throw error("invalid UTF-8 sequence (overlong, surrogate or out of range)") }
        if len > 2 {
            guard p[i + 2] & 0xC0 == 0x80 else { throw error("invalid UTF-8 continuation byte") }
            if len > 3 { guard p[i + 3] & 0xC0 == 0x80 else { throw error("invalid UTF-8 continuation byte") } }
        }
        i += len
    }

    /// `i` is at the backslash.
    @inline(__always) mutating func scanEscape(copy: Bool, into out: inout [UInt8]) throws {
        guard i + 1 < n else { throw error("unterminated escape") }
        let e = p[i + 1]
        var b: UInt8
        switch e {
        case 0x22: b = 0x22
        case 0x5C: b = 0x5C
        case 0x2F: b = 0x2F
        case 0x62: b = 0x08
        case 0x66: b = 0x0C
        case 0x6E: b = 0x0A
        case 0x72: b = 0x0D
        case 0x74: b = 0x09
        case 0x75:
            try scanUnicodeEscape(copy: copy, into: &out)
            return
        default: throw error("invalid escape '\\\(Unicode.Scalar(e))'")
        }
        if copy { out.append(b) }
        i += 2
    }

    @inline(__always) func hex4(at pos: Int) -> UInt32? {
        guard pos + 4 <= n else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = p[pos + k]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x61...0x66: d = c - 0x57
            case 0x41...0x46: d = c - 0x37
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// `i` is at the backslash of `\uXXXX`; a high surrogate must be followed
    /// by an escaped low surrogate, and a lone one of either kind is rejected.
    mutating func scanUnicodeEscape(copy: Bool, into out: inout [UInt8]) throws {
        guard let u = hex4(at: i + 2) else { throw error("\\u escape needs 4 hex digits") }
        var scalar = u
        var used = 6
        if u >= 0xD800 && u <= 0xDBFF {
            guard i + 7 < n, p[i + 6] == 0x5C, p[i + 7] == 0x75, let l = hex4(at: i + 8), l >= 0xDC00 && l <= 0xDFFF else {
                throw error("lone surrogate escape \\u\(String(u, radix: 16, uppercase: true)) (a high surrogate must be followed by a \\u low surrogate)")
            }
            scalar = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00)
            used = 12
        } else if u >= 0xDC00 && u <= 0xDFFF {
            throw error("lone low surrogate escape \\u\(String(u, radix: 16, uppercase: true))")
        }
        if copy {
            switch scalar {
            case 0..<0x80:
                out.append(UInt8(scalar))
            case 0x80..<0x800:
                out.append(UInt8(0xC0 | scalar >> 6)); out.append(UInt8(0x80 | scalar & 0x3F))
            case 0x800..<0x10000:
                out.append(UInt8(0xE0 | scalar >> 12)); out.append(UInt8(0x80 | (scalar >> 6) & 0x3F))
                out.append(UInt8(0x80 | scalar & 0x3F))
            default:
                out.append(UInt8(0xF0 | scalar >> 18)); out.append(UInt8(0x80 | (scalar >> 12) & 0x3F))
                out.append(UInt8(0x80 | (scalar >> 6) & 0x3F)); out.append(UInt8(0x80 | scalar & 0x3F))
            }
        }
        i += used
    }

    /// Scans a number per the RFC 8259 grammar; returns its byte range.
    @inline(__always) mutating func scanNumber() throws -> Range<Int> {
        let start = i
        if peek == 0x2D { i += 1 }
        let c = peek
        if c == 0x30 {
            i += 1
        } else if c >= 0x31 && c <= 0x39 {
            i += 1
            while isDigit(peek) { i += 1 }
        } else {
            throw error("invalid number: expected a digit")
        }
        if peek == 0x2E {
            i += 1
            guard isDigit(peek) else { throw error("invalid number: expected a digit after '.'") }
            while isDigit(peek) { i += 1 }
        }
        if peek == 0x65 || peek == 0x45 {
            i += 1
            if peek == 0x2B || peek == 0x2D { i += 1 }
            guard isDigit(peek) else { throw error("invalid number: expected a digit in the exponent") }
            while isDigit(peek) { i += 1 }
        }
        if isDigit(peek) { throw error("invalid number: leading zeros are not allowed") }
        return start..<i
    }

    @inline(__always) func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    /// `i` is at the first letter of true/false/null.
    @inline(__always) mutating func scanLiteral() throws -> UInt8 {
        let c = p[i]
        let word: StaticString = c == 0x74 ? "true" : c == 0x66 ? "false" : "null"
        let len = word.utf8CodeUnitCount
        guard i + len <= n, memcmp(p + i, word.utf8Start, len) == 0 else {
            throw error("invalid literal (expected true, false or null)")
        }
        i += len
        return c
    }

    /// The value of a validated number token. Exact fast path (Clinger) for
    /// up to 15 significant digits and |exponent| <= 22; otherwise the
    /// standard library's correctly rounded, locale-independent parser.
    func doubleValue(_ r: Range<Int>) -> Double {
        var k = r.lowerBound
        var neg = false
        if p[k] == 0x2D { neg = true; k += 1 }
        var mant: UInt64 = 0
        var digits = 0
        var exp10 = 0
        var fast = true
        while k < r.upperBound, isDigit(p[k]) {
            if digits < 15 { mant = mant * 10 + UInt64(p[k] - 0x30); if mant != 0 { digits += 1 } } else { fast = false }
            k += 1
        }
        if k < r.upperBound, p[k] == 0x2E {
            k += 1
            while k < r.upperBound, isDigit(p[k]) {
                if digits < 15 { mant = mant * 10 + UInt64(p[k] - 0x30); if mant != 0 { digits += 1 }; exp10 -= 1 } else { fast = false }
                k += 1
            }
        }
        if k < r.upperBound {  // exponent
            k += 1
            var eneg = false
            if p[k] == 0x2B { k += 1 } else if p[k] == 0x2D { eneg = true; k += 1 }
            var e = 0
            while k < r.upperBound {
                if e < 100_000 { e = e * 10 + Int(p[k] - 0x30) }
                k += 1
            }
            exp10 += eneg ? -e : e
        }
        if fast && exp10 >= -22 && exp10 <= 22 {
            var v = Double(mant)
            if exp10 < 0 { v /= JSONLexer.pow10[-exp10] } else { v *= JSONLexer.pow10[exp10] }
            return neg ? -v : v
        }
        let text = String(decoding: UnsafeBufferPointer(start: p + r.lowerBound, count: r.count), as: UTF8.self)
        return Double(text) ?? (neg ? -.infinity : .infinity)
    }

    static let pow10: [Double] = (0...22).map { e in (0..<e).reduce(1.0) { a, _ in a * 10 } }
}

@inline(__always) func hex2(_ c: UInt8) -> String {
    let d = Array("0123456789ABCDEF".utf8)
    return String(decoding: [d[Int(c >> 4)], d[Int(c & 15)]], as: UTF8.self)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
