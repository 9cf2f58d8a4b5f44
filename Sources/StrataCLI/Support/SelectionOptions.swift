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
        try RecordPredicate.selection(predicates: predicates, from: from, to: to, fromName: "--from", toName: "--to")
    }
}
