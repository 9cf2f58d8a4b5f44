/// A selection predicate over examples: the `--where` language (docs/QUERY.md).
///
///     predicate := clause (AND clause)*
///     clause    := path op literal | path [NOT] IN ( literal, … )
///                | path EXISTS | path NOT EXISTS | path IS [NOT] NULL | path IS [NOT] EMPTY
///     op        := = | != | < | <= | > | >=
///     literal   := "string" | 'string' | number | true | false
///     path      := a record field (id, domain, timestamp, quality_score, tags, source, shape,
///                  instruction, input, output, prompt, response) or metadata.KEY[.KEY…]
///
/// Keywords are case-insensitive. The same value is used by the library
/// (`ScanFilter.require`, `ExportSpec.predicates`) and every CLI `--where`.
public struct RecordPredicate: Sendable, Equatable, CustomStringConvertible {
    /// A record's own field that a path can name.
    enum Field: String, CaseIterable, Sendable {
        case id, domain, timestamp, tags, source, shape, instruction, input, output, prompt, response
        case qualityScore = "quality_score"
    }

    enum Path: Equatable, Sendable {
        case field(Field)
        case metadata([[UInt8]])
    }

    enum Op: String, Sendable { case eq = "=", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }

    enum Test: Equatable, Sendable {
        case compare(Op, JSONScalar)
        case inList([JSONScalar], negated: Bool)
        case exists(Bool)
        case isNull(Bool)
        case isEmpty(Bool)
    }

    struct Clause: Equatable, Sendable {
        var path: Path
        var test: Test
    }

    /// The text it was parsed from (or a rendering of it).
    public let text: String
    let clauses: [Clause]

    public var description: String { text }

    public static func == (a: Self, b: Self) -> Bool { a.text == b.text }

    init(text: String, clauses: [Clause]) {
        self.text = text
        self.clauses = clauses
    }

    /// Parses `text`; a malformed predicate is a `.usage` error naming the
    /// position (1-based character) and what was expected.
    public init(parsing text: String) throws {
        var p = PredicateParser(text)
        let clauses = try p.parse()
        self.init(text: text, clauses: clauses)
    }

    /// `timestamp >= from AND timestamp < to` (either bound optional), for
    /// `--from`/`--to`: instants or dates, `to` exclusive.
    public static func timeRange(fromMillis: Int64?, toMillis: Int64?) -> RecordPredicate {
        var clauses: [Clause] = []
        var parts: [String] = []
        if let f = fromMillis {
            clauses.append(Clause(path: .field(.timestamp), test: .compare(.ge, .number(Double(f)))))
            parts.append("timestamp >= \"\(formatTimestampMillis(f))\"")
        }
        if let t = toMillis {
            clauses.append(Clause(path: .field(.timestamp), test: .compare(.lt, .number(Double(t)))))
            parts.append("timestamp < \"\(formatTimestampMillis(t))\"")
        }
        return RecordPredicate(text: parts.joined(separator: " AND "), clauses: clauses)
    }

    /// Conjunction of several predicates (several `--where` are ANDed).
    public static func all(_ ps: [RecordPredicate]) -> RecordPredicate? {
        guard !ps.isEmpty else { return nil }
        if ps.count == 1 { return ps[0] }
        return RecordPredicate(text: ps.map { "(\($0.text))" }.joined(separator: " AND "), clauses: ps.flatMap(\.clauses))
    }

    // MARK: pruning

    /// The only domains a matching example can have (nil: any).
    public var domains: Set<String>? {
        var result: Set<String>?
        for c in clauses {
            guard case .field(.domain) = c.path else { continue }
            var set: Set<String>?
            switch c.test {
            case .compare(.eq, .string(let s)): set = [String(decoding: s, as: UTF8.self)]
            case .inList(let items, negated: false):
                set = Set(items.compactMap { if case .string(let s) = $0 { String(decoding: s, as: UTF8.self) } else { nil } })
            default: break
            }
            if let set { result = result.map { $0.intersection(set) } ?? set }
        }
        return result
    }

    /// Bounds on the timestamp of a matching example: `from` inclusive, `to` exclusive (milliseconds).
    public var timeBounds: (from: Int64?, to: Int64?) {
        var from: Int64?, to: Int64?
        func lower(_ v: Int64) { from = max(from ?? v, v) }
        func upper(_ v: Int64) { to = min(to ?? v, v) }
        for c in clauses {
            guard case .field(.timestamp) = c.path, case .compare(let op, .number(let d)) = c.test else { continue }
            let v = Int64(d.rounded(.down))
            let exact = Double(v) == d
            switch op {
            case .ge: lower(exact ? v : v + 1)
            case .gt: lower(v + 1)
            case .lt: upper(exact ? v : v + 1)
            case .le: upper(v + 1)
            case .eq: lower(v); upper(v + 1)
            case .ne: break
            }
        }
        return (from, to)
    }

    /// False when no example of partition `p` can match (partition pruning).
    public func mayMatch(_ p: PartitionKey) -> Bool {
        if let d = domains, !d.contains(p.domain) { return false }
        let (from, to) = timeBounds
        if from == nil && to == nil { return true }
        let start = Int64(daysFromCivil(p.month.year, p.month.month, 1)) * 86_400_000
        let next = p.month.month == 12 ? Month(year: p.month.year + 1, month: 1) : Month(year: p.month.year, month: p.month.month + 1)
        let end = Int64(daysFromCivil(next.year, next.month, 1)) * 86_400_000
        if let from, from >= end { return false }
        if let to, to <= start { return false }
        return true
    }

    /// First and last month a matching example can fall in.
    public var monthBounds: (from: Month?, to: Month?) {
        let (f, t) = timeBounds
        return (f.map { Month(timestampMillis: $0) }, t.map { Month(timestampMillis: max(0, $0 - 1)) })
    }
}

extension ScanFilter {
    /// Narrows the filter to examples matching `p`: its domain and time bounds
    /// prune partitions, the rest is checked on each example.
    public mutating func require(_ p: RecordPredicate) {
        if let d = p.domains { domains = domains.map { $0.intersection(d) } ?? d }
        let (f, t) = p.monthBounds
        if let f { fromMonth = fromMonth.map { max($0, f) } ?? f }
        if let t { toMonth = toMonth.map { min($0, t) } ?? t }
        let previous = predicate
        predicate = { e in (previous?(e) ?? true) && p.matches(e) }
    }
}
