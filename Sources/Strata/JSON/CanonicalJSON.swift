/// Canonical JSON text of a structured value (SPEC.md §4.7 "structured
/// content"): no insignificant whitespace; object members sorted by the
/// UTF-8 bytes of their unescaped keys (a repeated key is an error); strings
/// re-escaped as `JSONWriter.appendString` does; numbers and literals exactly
/// as spelled in the source. Two inputs that differ only in whitespace, key
/// order or string escaping give the same bytes (and so the same id).
enum CanonicalJSON {
    /// Validates the value at `lx.i` (whitespace skipped), appends its
    /// canonical text to `out`, and leaves `lx.i` just after it. `depth` is
    /// the nesting level the value sits at; deeper than `maxDepth` throws.
    static func append(_ lx: inout JSONLexer, depth: Int, maxDepth: Int, into out: inout [UInt8]) throws {
        guard depth <= maxDepth else { throw lx.error("nesting deeper than \(maxDepth) levels") }
        switch lx.peek {
        case 0x22:
            lx.i += 1
            var s: [UInt8] = []
            try lx.scanString(copy: true, into: &s)
            JSONWriter.appendString(s, to: &out)
        case 0x2D, 0x30...0x39:
            let r = try lx.scanNumber()
            out.append(contentsOf: UnsafeBufferPointer(start: lx.p + r.lowerBound, count: r.count))
        case 0x74, 0x66, 0x6E:
            let start = lx.i
            _ = try lx.scanLiteral()
            out.append(contentsOf: UnsafeBufferPointer(start: lx.p + start, count: lx.i - start))
        case 0x5B:
            lx.i += 1
            out.append(0x5B)
            lx.skipWhitespace()
            if lx.peek == 0x5D { lx.i += 1; out.append(0x5D); return }
            while true {
                lx.skipWhitespace()
                try append(&lx, depth: depth + 1, maxDepth: maxDepth, into: &out)
                lx.skipWhitespace()
                if lx.peek == 0x2C { lx.i += 1; out.append(0x2C); continue }
                guard lx.peek == 0x5D else { throw lx.error(lx.atEnd ? "unexpected end of line inside an array" : "expected ',' or ']'") }
                lx.i += 1
                out.append(0x5D)
                return
            }
        case 0x7B:
            lx.i += 1
            var members: [(key: [UInt8], value: [UInt8])] = []
            lx.skipWhitespace()
            if lx.peek != 0x7D {
                while true {
                    lx.skipWhitespace()
                    guard lx.peek == 0x22 else { throw lx.error(lx.atEnd ? "unexpected end of line inside an object" : "expected a key string") }
                    lx.i += 1
                    var key: [UInt8] = []
                    try lx.scanString(copy: true, into: &key)
                    lx.skipWhitespace()
                    guard lx.peek == 0x3A else { throw lx.error("expected ':' after a key") }
                    lx.i += 1
                    lx.skipWhitespace()
                    var value: [UInt8] = []
                    try append(&lx, depth: depth + 1, maxDepth: maxDepth, into: &value)
                    members.append((key, value))
                    lx.skipWhitespace()
                    if lx.peek == 0x2C { lx.i += 1; continue }
                    guard lx.peek == 0x7D else { throw lx.error(lx.atEnd ? "unexpected end of line inside an object" : "expected ',' or '}'") }
                    break
                }
            }
            lx.i += 1
            members.sort { $0.key.lexicographicallyPrecedes($1.key) }
            out.append(0x7B)
            for (k, m) in members.enumerated() {
                if k > 0 {
                    guard members[k - 1].key != m.key else {
                        throw StrataError(.invalidInput, "duplicate key '\(String(decoding: m.key, as: UTF8.self))' in a structured value")
                    }
                    out.append(0x2C)
                }
                JSONWriter.appendString(m.key, to: &out)
                out.append(0x3A)
                out.append(contentsOf: m.value)
            }
            out.append(0x7D)
        default:
            throw lx.error(lx.atEnd ? "unexpected end of line: expected a value" : "unexpected character: expected a JSON value")
        }
    }
}
