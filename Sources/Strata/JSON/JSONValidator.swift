/// Checks that a text is exactly one JSON object (RFC 8259), by the same
/// lexer and nesting limit the ingest parser uses, so the library accepts
/// metadata exactly when `strata ingest` would (SPEC.md §4.2).
enum JSONValidator {
    /// Throws `.invalidInput` (with a byte column) unless `bytes` is one JSON
    /// object with nothing before or after it.
    static func validateObject(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw StrataError(.invalidInput, "empty text is not a JSON object") }
        var lx = JSONLexer(base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        guard lx.peek == 0x7B else { throw lx.error("a JSON object must start with '{'") }
        var scratch: [UInt8] = []
        // One entry per open container: true = array. `expectValue` is set after
        // '[' , ',' or ':'; `afterOpen` allows the empty container.
        var stack: [Bool] = []
        var expectValue = true
        var afterOpen = false
        while true {
            lx.skipWhitespace()
            if expectValue {
                let c = lx.peek
                if afterOpen && (c == 0x7D || c == 0x5D) {
                    guard let isArray = stack.last, (c == 0x5D) == isArray else { throw lx.error("mismatched bracket") }
                    lx.i += 1
                    stack.removeLast()
                    afterOpen = false
                    expectValue = false
                    if stack.isEmpty { break }
                    continue
                }
                afterOpen = false
                // In an object, a member starts with its key.
                if stack.last == false {
                    guard c == 0x22 else { throw lx.error("expected a string key") }
                    lx.i += 1
                    try lx.scanString(copy: false, into: &scratch)
                    lx.skipWhitespace()
                    guard lx.peek == 0x3A else { throw lx.error("expected ':' after a key") }
                    lx.i += 1
                    lx.skipWhitespace()
                }
                switch lx.peek {
                case 0x7B, 0x5B:
                    guard stack.count < IngestLineParser.maxDepth else { throw lx.error("nesting deeper than \(IngestLineParser.maxDepth) levels") }
                    stack.append(lx.peek == 0x5B)
                    lx.i += 1
                    afterOpen = true
                    continue  // expectValue stays true
                case 0x22:
                    lx.i += 1
                    try lx.scanString(copy: false, into: &scratch)
                case 0x2D, 0x30...0x39:
                    _ = try lx.scanNumber()
                case 0x74, 0x66, 0x6E:
                    _ = try lx.scanLiteral()
                default:
                    throw lx.error(lx.atEnd ? "unexpected end: expected a value" : "unexpected character: expected a JSON value")
                }
                expectValue = false
            } else {
                let c = lx.peek
                if c == 0x2C {
                    lx.i += 1
                    expectValue = true
                } else if c == 0x7D || c == 0x5D {
                    guard let isArray = stack.last, (c == 0x5D) == isArray else { throw lx.error("mismatched bracket") }
                    lx.i += 1
                    stack.removeLast()
                    if stack.isEmpty { break }
                } else {
                    throw lx.error(lx.atEnd ? "unexpected end: unclosed object or array" : "expected ',' or a closing bracket")
                }
            }
        }
        guard lx.atEnd else { throw lx.error("unexpected text after the JSON object") }
    }
}
