import ArgumentParser
import Foundation
import Strata

/// `strata scan`: examples as JSONL on stdout, filtered.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Print examples as JSON Lines, filtered by partition and metadata.",
        discussion: """
        Reads a snapshot of the store (works while a writer runs). Filters combine \
        with AND; --domain and --tag may repeat (any of them matches).

        Examples:
          strata scan ./store --domain alpha --from-month 2025-01 --to-month 2025-03
          strata scan ./store --min-quality 0.8 --tag reviewed --limit 100
          strata scan ./store --shape chat --source capture | jq -c .messages
          strata scan ./store --where 'metadata.complexity_level = "advanced"' --where 'quality_score >= 0.8'
          strata scan ./store --from 2025-03-14T00:00:00Z --to 2025-03-15 --where 'metadata.user_id in ("u1", "u2")'
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Option(help: "Only this domain (repeatable).") var domain: [String] = []
    @Option(name: .customLong("from-month"), help: "First month, YYYY-MM.") var fromMonth: String?
    @Option(name: .customLong("to-month"), help: "Last month, YYYY-MM (inclusive).") var toMonth: String?
    @Option(name: .customLong("min-quality"), help: "Minimum quality_score (examples without one are skipped).") var minQuality: Double?
    @Option(help: "Only examples carrying this tag (repeatable: any).") var tag: [String] = []
    @Option(help: "Only examples from this source.") var source: String?
    @Option(help: "instruction, prompt_response or chat.") var shape: String?
    @Option(help: "Stop after N examples.") var limit: Int?
    @Flag(help: "Salvage: skip damaged segments and blocks, print everything else, list what was skipped on stderr (exit 65 if anything was).") var skipDamaged = false
    @OptionGroup var selection: SelectionOptions

    func validate() throws {
        if let fromMonth, Month(fromMonth) == nil { throw ValidationError("--from-month '\(fromMonth)' is not YYYY-MM") }
        if let toMonth, Month(toMonth) == nil { throw ValidationError("--to-month '\(toMonth)' is not YYYY-MM") }
        if let shape, Shape(name: shape) == nil { throw ValidationError("--shape '\(shape)' is not one of instruction, prompt_response, chat") }
        if let minQuality, !(0...1).contains(minQuality) { throw ValidationError("--min-quality must be between 0 and 1") }
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
        // As export does: a domain that cannot name a partition is a mistake, not an empty result.
        for d in domain where !PartitionKey.isValidDomain(d) {
            throw ValidationError("--domain '\(d)' must match [a-z0-9][a-z0-9_-]{0,63}")
        }
    }

    func run() throws {
        try runCommand {
            let reader = try StoreReader(path: store, skipDamaged: skipDamaged)
            defer { reader.close() }
            let tags = Set(tag), q = minQuality, src = source, sh = shape.flatMap(Shape.init(name:))
            let needsPredicate = q != nil || !tags.isEmpty || src != nil || sh != nil
            var filter = ScanFilter(domains: domain.isEmpty ? nil : Set(domain), fromMonth: fromMonth.flatMap(Month.init),
                                    toMonth: toMonth.flatMap(Month.init), predicate: needsPredicate ? { @Sendable e in
                if let q { guard let s = e.qualityScore, s >= q else { return false } }
                if !tags.isEmpty, !e.tags.contains(where: { tags.contains($0) }) { return false }
                if let src, e.source != src { return false }
                if let sh, e.shape != sh { return false }
                return true
            } : nil)
            if let w = try selection.predicate() { filter.require(w) }
            let out = OutputWriter()
            if filter.predicate == nil && !skipDamaged {
                // The common case: lines encoded straight from the block bytes, written in large chunks.
                _ = try reader.scanJSONLines(filter, limit: limit) { out.write(raw: $0) }
                out.flush()
                return
            }
            var n = 0
            if limit == 0 { return }
            var line: [UInt8] = []
            try reader.scan(filter) { e in
                // The bytes of `e.jsonString`, without a String per example.
                line.removeAll(keepingCapacity: true)
                e.appendJSON(to: &line)
                JSONWriter.makeLineSafe(&line)
                line.append(0x0A)
                out.write(bytes: line)
                n += 1
                return limit.map { n < $0 } ?? true
            }
            out.flush()
            if !reader.skipped.isEmpty {
                for e in reader.skipped { printError("strata: skipped damaged data: \(e)") }
                printError("strata: \(n) examples written; \(reader.skipped.count) damaged segments/blocks skipped (run `strata verify \(store)` for details)")
                throw ExitCode(ExitStatus.dataError.rawValue)
            }
        }
    }
}
