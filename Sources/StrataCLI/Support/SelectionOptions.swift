import ArgumentParser
import Strata

/// `--where`, `--from`, `--to`: the predicate language (docs/QUERY.md) shared
/// by scan, export, stats and annotate.
struct SelectionOptions: ParsableArguments {
    @Option(name: .customLong("where"), help: "Predicate, e.g. 'metadata.complexity_level = \"advanced\" AND quality_score >= 0.8' (repeatable: ANDed; docs/QUERY.md).")
    var predicates: [String] = []
    @Option(name: .customLong("from"), help: "Earliest timestamp (inclusive): 2025-03-14 or 2025-03-14T09:00:00Z.") var from: String?
    @Option(name: .customLong("to"), help: "Latest timestamp (exclusive): 2025-03-15 or 2025-03-14T18:00:00Z.") var to: String?

    /// All of them ANDed, or nil when none was given.
    func predicate() throws -> RecordPredicate? { try Self.predicate(predicates: predicates, from: from, to: to) }

    /// The same from plain values (`strata scan`'s fast path parses without ArgumentParser).
    static func predicate(predicates: [String], from: String?, to: String?) throws -> RecordPredicate? {
        var all = try predicates.map { try RecordPredicate(parsing: $0) }
        func instant(_ text: String?, _ option: String) throws -> Int64? {
            guard let text else { return nil }
            do { return try IngestLineParser.parseTimestamp(text) } catch let e as StrataError {
                throw StrataError(.usage, "\(option) '\(text)': \(e.message)", field: option)
            }
        }
        let f = try instant(from, "--from"), t = try instant(to, "--to")
        if let f, let t, t <= f { throw StrataError(.usage, "--to must be after --from", field: "--to") }
        if f != nil || t != nil { all.append(RecordPredicate.timeRange(fromMillis: f, toMillis: t)) }
        return RecordPredicate.all(all)
    }
}
