import ArgumentParser
import Foundation
import Strata

struct AnnotateCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
    static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Record feedback, a correction, an exclusion or a re-inclusion for stored examples.",
        discussion: """
        Appended, never written in place; every read folds it in (`strata get --raw` shows the original). \
        The target: an example id, --by PATH=VALUE (an external id declared at init), or --where PREDICATE \
        (every matching example). Exactly one of --feedback, --correction, --exclude, --include. \
        --from FILE applies many events in one process and one commit: each line a JSON object naming \
        its target by "id" or "by": {"metadata.train_id": "train_123"} and carrying the option names \
        (feedback, rating, comment, correction, exclude, include, reason); bad lines are reported with \
        their line number and skipped.
        Examples:
          strata annotate ./store 3f2a…01 --correction "2.5 inches minimum" --reason "manufacturer spec"
          strata annotate ./store --by metadata.train_id=train_123 --feedback negative --comment "wrong unit"
          strata annotate ./store --where 'metadata.source_key = "raw/x.avro"' --exclude --reason "bad source"
          strata annotate ./store --from feedback.jsonl --rejects bad-events.jsonl
        """
    )

    enum Polarity: String, ExpressibleByArgument { case positive, negative }

    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Example id: 32 hex digits.") var id: String?
    @Option(help: "PATH=VALUE: the example(s) carrying this external id, e.g. metadata.train_id=train_123.") var by: String?
    @Option(name: .customLong("where"), help: "Annotate every example matching this predicate (docs/QUERY.md; repeatable: ANDed).") var predicates: [String] = []
    @Option(name: .customLong("from"), help: "JSONL file of annotation events (one process, one commit).") var fromFile: String?
    @Option(help: "positive or negative.") var feedback: Polarity?
    // `.unconditional`: the value after --rating is taken as is, so `--rating -3`
    // is a negative number, not an unknown option named -3.
    @Option(parsing: .unconditional, help: "With --feedback: an integer rating (may be negative).") var rating: Int64?
    @Option(help: "With --feedback: a comment.") var comment: String?
    @Option(help: "Corrected output / response / last assistant message.") var correction: String?
    @Flag(help: "Exclude the example from training (scans and exports hide it).") var exclude = false
    @Flag(help: "Include it again.") var include = false
    @Option(help: "Why (kept with the annotation).") var reason: String?
    @Option(help: "With --from: write each rejected line (line, field, reason, text) as JSONL to this file.") var rejects: String?
    @Flag(help: "Print the folded example as JSON afterwards (one target); with --from/--where, the summary as JSON.") var json = false

    func run() throws {
        try runCommand {
            let targets = [id != nil, by != nil, !predicates.isEmpty, fromFile != nil].filter { $0 }.count
            guard targets == 1 else {
                throw StrataError(.usage, "give exactly one target: an example id, --by PATH=VALUE, --where PREDICATE or --from FILE", field: "ID")
            }
            if let fromFile {
                guard feedback == nil, rating == nil, comment == nil, correction == nil, !exclude, !include, reason == nil else {
                    throw StrataError(.usage, "with --from, each line carries its annotation; give no --feedback/--correction/--exclude/--include/--reason", field: "--from")
                }
                try runBulk(fromFile)
                return
            }
            let annotation = try Self.annotation(feedback: feedback?.rawValue, rating: rating, comment: comment, correction: correction,
                                                 exclude: exclude, include: include, reason: reason, flag: "--")
            // Resolve the targets on a snapshot, then write them in one commit.
            var ids: [ExampleID] = []
            if let id {
                guard let exampleID = ExampleID(hex: id) else {
                    throw StrataError(.usage, "'\(id)' is not an example id (expected 32 hex digits)", field: "ID")
                }
                ids = [exampleID]
            } else {
                let reader = try StoreReader.open(at: store)
                defer { reader.close() }
                if let by {
                    let (path, value) = try parseBy(by)
                    ids = try reader.lookup(externalId: path, value: value).map(\.original.id)
                    guard !ids.isEmpty else { throw StrataError(.notFound, "no example with \(path) = '\(value)' in this store", path: store) }
                } else {
                    var filter = ScanFilter(includeExcluded: true)
                    guard let w = RecordPredicate.all(try predicates.map { try RecordPredicate(parsing: $0) }) else { return }
                    filter.require(w)
                    try reader.scan(filter) { e in ids.append(e.id); return true }
                }
            }
            var options = StoreOptions()
            options.createIfMissing = false
            options.commitPolicy = .manual
            let s = try Store.open(at: store, options: options)
            defer { try? s.close() }
            for i in ids { try s.annotate(i, annotation) }
            try s.commit()
            if json && ids.count == 1, let f = try s.getFolded(ids[0]) {
                print(f.example.jsonString)
            } else if json {
                print(jsonLine(["annotated": ids.count, "kind": annotation.kind.name]))
            } else {
                print(ids.count == 1 ? "annotated \(ids[0]): \(annotation.kind.name)" : "annotated \(ids.count) examples: \(annotation.kind.name)")
            }
        }
    }

    /// One annotation from the option values (`flag` prefixes names in errors: "--" on the command line, "" in a file).
    static func annotation(feedback: String?, rating: Int64?, comment: String?, correction: String?, exclude: Bool, include: Bool,
                           reason: String?, flag: String) throws -> Annotation {
        let chosen = [feedback != nil, correction != nil, exclude, include].filter { $0 }.count
        guard chosen == 1 else {
            throw StrataError(.usage, "give exactly one of \(flag)feedback, \(flag)correction, \(flag)exclude, \(flag)include", field: "annotation")
        }
        if feedback == nil && (rating != nil || comment != nil) {
            throw StrataError(.usage, "\(flag)rating and \(flag)comment go with \(flag)feedback", field: "rating")
        }
        if let feedback {
            guard let p = Polarity(rawValue: feedback) else { throw StrataError(.usage, "feedback must be positive or negative, not '\(feedback)'", field: "feedback") }
            return .feedback(p == .positive ? .positive : .negative, rating: rating, comment: comment, reason: reason)
        }
        if let correction { return .correction(correction, reason: reason) }
        return exclude ? .exclude(reason: reason) : .include(reason: reason)
    }
}

extension Annotation {
    /// `{"kind", "timestamp", "reason"?, "polarity"?, "rating"?, "comment"?, "field"?, "text"?}`
    var jsonObject: [String: Any] {
        var o: [String: Any] = ["kind": kind.name, "timestamp": formatTimestampMillis(timestampMillis)]
        if let reason { o["reason"] = reason }
        switch kind {
        case let .feedback(p, rating, comment):
            o["polarity"] = p == .positive ? "positive" : "negative"
            if let rating { o["rating"] = rating }
            if let comment { o["comment"] = comment }
        case let .correction(text, field):
            o["text"] = text
            if let field { o["field"] = field.name }
        case .exclude, .include:
            break
        }
        return o
    }
}
