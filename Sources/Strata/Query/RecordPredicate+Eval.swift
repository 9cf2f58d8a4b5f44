/// Evaluation of a `RecordPredicate` (semantics in docs/QUERY.md):
/// comparisons with a missing or null value are false (`!=` too); numbers
/// compare numerically, strings by their UTF-8 bytes, booleans only for
/// (in)equality; a value of another type than the literal is `!=` it and not
/// ordered; an array matches `=`, `IN` and the orderings when any element
/// does, and `!=` / `NOT IN` when none does.
extension RecordPredicate {
    public func matches(_ e: Example) -> Bool {
        clauses.allSatisfy { c in
            Self.test(c.test, value(of: c.path, e))
        }
    }

    func matches(_ v: EntryView) -> Bool {
        clauses.allSatisfy { c in
            Self.test(c.test, value(of: c.path, v))
        }
    }

    private func value(of path: Path, _ e: Example) -> JSONScalar {
        func s(_ x: String) -> JSONScalar { .string(Array(x.utf8)) }
        switch path {
        case .metadata(let keys):
            var m = e.metadataJSON
            return m.withUTF8 { JSONPathLookup.value(in: UnsafeRawBufferPointer($0), path: keys[...]) }
        case .field(let f):
            switch f {
            case .id: return s(e.id.hex)
            case .domain: return s(e.domain)
            case .timestamp: return .number(Double(e.timestampMillis))
            case .qualityScore: return e.qualityScore.map { .number($0) } ?? .null
            case .tags: return .array(e.tags.map(s))
            case .source: return e.source.map(s) ?? .null
            case .shape: return s(e.shape.name)
            case .instruction, .input, .output, .prompt, .response:
                switch (e.content, f) {
                case let (.instruction(i, _, _), .instruction): return s(i)
                case let (.instruction(_, i, _), .input): return s(i)
                case let (.instruction(_, _, o), .output): return s(o)
                case let (.promptResponse(p, _), .prompt): return s(p)
                case let (.promptResponse(_, r), .response): return s(r)
                default: return .missing
                }
            }
        }
    }

    private func value(of path: Path, _ v: EntryView) -> JSONScalar {
        func s(_ b: UnsafeRawBufferPointer) -> JSONScalar { .string(Array(b)) }
        switch path {
        case .metadata(let keys):
            return JSONPathLookup.value(in: v.metadata, path: keys[...])
        case .field(let f):
            switch f {
            case .id: return .string(Array(v.id.hex.utf8))
            case .domain: return s(v.domain)
            case .timestamp: return .number(Double(v.timestampMillis))
            case .qualityScore: return v.quality.map { .number($0) } ?? .null
            case .tags: return .array(v.tags.map(s))
            case .source: return v.source.map(s) ?? .null
            case .shape: return .string(Array(v.shape.name.utf8))
            case .instruction: return v.shape == .instruction ? s(v.first) : .missing
            case .input: return v.shape == .instruction ? s(v.second) : .missing
            case .output: return v.shape == .instruction ? s(v.third) : .missing
            case .prompt: return v.shape == .promptResponse ? s(v.first) : .missing
            case .response: return v.shape == .promptResponse ? s(v.second) : .missing
            }
        }
    }

    static func test(_ t: Test, _ v: JSONScalar) -> Bool {
        switch t {
        case .exists(let want): return (v != .missing) == want
        case .isNull(let want): return (v == .missing || v == .null) == want
        case .isEmpty(let want):
            let empty: Bool
            switch v {
            case .missing, .null: empty = true
            case .string(let s): empty = s.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
            case .array(let a): empty = a.isEmpty
            case .object(let e): empty = e
            default: empty = false
            }
            return empty == want
        case .compare(let op, let lit): return compare(op, v, lit)
        case .inList(let items, let negated):
            if v == .missing || v == .null { return false }
            let hit = items.contains { compare(.eq, v, $0) }
            return negated ? !hit : hit
        }
    }

    static func compare(_ op: Op, _ v: JSONScalar, _ lit: JSONScalar) -> Bool {
        switch v {
        case .missing, .null: return false
        case .array(let items):
            if op == .ne { return !items.contains { compare(.eq, $0, lit) } }
            return items.contains { compare(op, $0, lit) }
        default: break
        }
        let order: Int?
        switch (v, lit) {
        case let (.number(a), .number(b)): order = a < b ? -1 : (a > b ? 1 : 0)
        case let (.string(a), .string(b)): order = a == b ? 0 : (a.lexicographicallyPrecedes(b) ? -1 : 1)
        case let (.bool(a), .bool(b)):
            switch op {
            case .eq: return a == b
            case .ne: return a != b
            default: return false
            }
        default: order = nil
        }
        guard let order else { return op == .ne }
        switch op {
        case .eq: return order == 0
        case .ne: return order != 0
        case .lt: return order < 0
        case .le: return order <= 0
        case .gt: return order > 0
        case .ge: return order >= 0
        }
    }
}
