import ArgumentParser
import Foundation
import Strata

struct AnnotateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Record feedback, a correction, an exclusion or a re-inclusion for a stored example.",
        discussion: """
        Appended, never written in place; every read folds it in (`strata get --raw` shows the original). \
        Exactly one of --feedback, --correction, --exclude, --include. \
        Example: strata annotate ./store 3f2a…01 --correction "2.5 inches minimum" --reason "manufacturer spec"
        """
    )

    enum Polarity: String, ExpressibleByArgument { case positive, negative }

    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Example id: 32 hex digits.") var id: String
    @Option(help: "positive or negative.") var feedback: Polarity?
    // `.unconditional`: the value after --rating is taken as is, so `--rating -3`
    // is a negative number, not an unknown option named -3.
    @Option(parsing: .unconditional, help: "With --feedback: an integer rating (may be negative).") var rating: Int64?
    @Option(help: "With --feedback: a comment.") var comment: String?
    @Option(help: "Corrected output / response / last assistant message.") var correction: String?
    @Flag(help: "Exclude the example from training (scans and exports hide it).") var exclude = false
    @Flag(help: "Include it again.") var include = false
    @Option(help: "Why (kept with the annotation).") var reason: String?
    @Flag(help: "Print the folded example as JSON afterwards.") var json = false

    func run() throws {
        try runCommand {
            guard let exampleID = ExampleID(hex: id) else {
                throw StrataError(.usage, "'\(id)' is not an example id (expected 32 hex digits)", field: "ID")
            }
            let chosen = [feedback != nil, correction != nil, exclude, include].filter { $0 }.count
            guard chosen == 1 else {
                throw StrataError(.usage, "give exactly one of --feedback, --correction, --exclude, --include", field: "annotation")
            }
            if feedback == nil && (rating != nil || comment != nil) {
                throw StrataError(.usage, "--rating and --comment go with --feedback", field: "--rating")
            }
            let annotation: Annotation
            if let feedback {
                annotation = .feedback(feedback == .positive ? .positive : .negative, rating: rating, comment: comment, reason: reason)
            } else if let correction {
                annotation = .correction(correction, reason: reason)
            } else if exclude {
                annotation = .exclude(reason: reason)
            } else {
                annotation = .include(reason: reason)
            }
            var options = StoreOptions()
            options.createIfMissing = false
            let s = try Store.open(at: store, options: options)
            defer { try? s.close() }
            try s.annotate(exampleID, annotation)
            try s.commit()
            if json, let f = try s.getFolded(exampleID) {
                print(f.example.jsonString)
            } else {
                print("annotated \(exampleID): \(annotation.kind.name)")
            }
        }
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
