/// Parses the `--where` language (grammar on `RecordPredicate`).
struct PredicateParser {
    private let chars: [Character]
    private var i = 0

    init(_ text: String) { chars = Array(text) }

    private func fail(_ message: String, at pos: Int? = nil) -> StrataError {
        let at = (pos ?? i) + 1
        return StrataError(.usage, "predicate '\(String(chars))' at character \(at): \(message) (see docs/QUERY.md)", field: "--where")
    }

    private mutating func skipSpaces() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

    private var atEnd: Bool { i >= chars.count }

    private static func isWordChar(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "-" }

    /// A bare word (keyword or path segment) at `i`, not consumed.
    private func peekWord() -> String? {
        var k = i
        while k < chars.count, PredicateParser.isWordChar(chars[k]) { k += 1 }
        return k > i ? String(chars[i..<k]) : nil
    }

    private mutating func keyword(_ w: String) -> Bool {
        skipSpaces()
        guard let word = peekWord(), word.lowercased() == w else { return false }
        i += word.count
        return true
    }

    mutating func parse() throws -> [RecordPredicate.Clause] {
        var clauses: [RecordPredicate.Clause] = []
        repeat {
            clauses.append(try clause())
            skipSpaces()
        } while keyword("and")
        skipSpaces()
        if !atEnd {
            if let w = peekWord(), w.lowercased() == "or" { throw fail("OR is not supported; give several values with IN (...)") }
            throw fail("expected AND or the end of the predicate")
        }
        return clauses
    }

    private mutating func path() throws -> RecordPredicate.Path {
        skipSpaces()
        let start = i
        var parts: [String] = []
        while true {
            guard let w = peekWord() else { throw fail(parts.isEmpty ? "expected a field path, e.g. metadata.complexity_level" : "expected a key after '.'") }
            parts.append(w)
            i += w.count
            if i < chars.count, chars[i] == "." { i += 1; continue }
            break
        }
        if parts[0] == "metadata" {
            guard parts.count > 1 else { throw fail("name a key inside metadata, e.g. metadata.source", at: start) }
            return .metadata(parts.dropFirst().map { Array($0.utf8) })
        }
        guard parts.count == 1, let f = RecordPredicate.Field(rawValue: parts[0]) else {
            let known = RecordPredicate.Field.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("unknown field '\(parts.joined(separator: "."))'; use one of \(known), or metadata.KEY", at: start)
        }
        return .field(f)
    }

    private mutating func clause() throws -> RecordPredicate.Clause {
        let p = try path()
        skipSpaces()
        let opStart = i
        if keyword("exists") { return .init(path: p, test: .exists(true)) }
        if keyword("is") {
            let negated = keyword("not")
            if keyword("null") { return .init(path: p, test: .isNull(!negated)) }
            if keyword("empty") { return .init(path: p, test: .isEmpty(!negated)) }
            throw fail("expected NULL or EMPTY after IS")
        }
        if keyword("not") {
            if keyword("exists") { return .init(path: p, test: .exists(false)) }
            if keyword("in") { return .init(path: p, test: .inList(try list(for: p), negated: true)) }
            throw fail("expected EXISTS or IN after NOT")
        }
        if keyword("in") { return .init(path: p, test: .inList(try list(for: p), negated: false)) }
        var op: RecordPredicate.Op?
        for candidate in ["!=", "<=", ">=", "=", "<", ">"] where op == nil {
            let cs = Array(candidate)
            if i + cs.count <= chars.count, Array(chars[i..<(i + cs.count)]) == cs {
                op = RecordPredicate.Op(rawValue: candidate)
                i += cs.count
            }
        }
        guard let op else { throw fail("expected an operator (= != < <= > >=), IN, EXISTS or IS", at: opStart) }
        let v = try literal(for: p)
        return .init(path: p, test: .compare(op, v))
    }

    private mutating func list(for p: RecordPredicate.Path) throws -> [JSONScalar] {
        skipSpaces()
        guard i < chars.count, chars[i] == "(" else { throw fail("expected '(' after IN") }
        i += 1
        var items: [JSONScalar] = []
        while true {
            items.append(try literal(for: p))
            skipSpaces()
            guard i < chars.count else { throw fail("expected ',' or ')'") }
            if chars[i] == "," { i += 1; continue }
            if chars[i] == ")" { i += 1; return items }
            throw fail("expected ',' or ')'")
        }
    }

    private mutating func literal(for p: RecordPredicate.Path) throws -> JSONScalar {
        skipSpaces()
        guard i < chars.count else { throw fail("expected a value") }
        let start = i
        let c = chars[i]
        var v: JSONScalar
        if c == "\"" || c == "'" {
            i += 1
            var s = ""
            while true {
                guard i < chars.count else { throw fail("unterminated string", at: start) }
                let d = chars[i]
                i += 1
                if d == c { break }
                if d == "\\" {
                    guard i < chars.count else { throw fail("unterminated string", at: start) }
                    let e = chars[i]
                    i += 1
                    switch e {
                    case "n": s.append("\n")
                    case "t": s.append("\t")
                    case "r": s.append("\r")
                    default: s.append(e)
                    }
                } else {
                    s.append(d)
                }
            }
            v = .string(Array(s.utf8))
        } else if c == "-" || c == "+" || c.isNumber || c == "." {
            var k = i
            while k < chars.count, chars[k].isNumber || "+-.eE".contains(chars[k]) { k += 1 }
            let text = String(chars[i..<k])
            guard let d = Double(text), d.isFinite else { throw fail("'\(text)' is not a number") }
            i = k
            v = .number(d)
        } else if let w = peekWord() {
            switch w.lowercased() {
            case "true": v = .bool(true)
            case "false": v = .bool(false)
            case "null": throw fail("compare with null using IS NULL / IS NOT NULL")
            default: throw fail("'\(w)' is not a value: quote strings (\"\(w)\")")
            }
            i += w.count
        } else {
            throw fail("expected a value: \"string\", number, true or false")
        }
        // Timestamps compare as instants: a string literal is an ISO 8601 instant or a date.
        if case .field(.timestamp) = p {
            switch v {
            case .string(let s):
                do { v = .number(Double(try IngestLineParser.parseTimestamp(String(decoding: s, as: UTF8.self)))) } catch {
                    throw fail("'\(String(decoding: s, as: UTF8.self))' is not a timestamp (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)", at: start)
                }
            case .number(let d):
                do { v = .number(Double(try IngestLineParser.parseTimestamp(String(Int64(d))))) } catch {
                    throw fail("\(d) is not an epoch timestamp", at: start)
                }
            default: throw fail("a timestamp compares with an instant \"2025-03-14T00:00:00Z\", a date or epoch seconds/milliseconds", at: start)
            }
        }
        return v
    }
}
