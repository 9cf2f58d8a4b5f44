import ArgumentParser
import Foundation
import Strata

/// `strata scan`: examples as JSONL on stdout, filtered.
struct ScanCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
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

    /// The values parsed, as the fast path (`ScanArguments.parseFast`) also produces them.
    var arguments: ScanArguments {
        ScanArguments(store: store, domain: domain, fromMonth: fromMonth, toMonth: toMonth, minQuality: minQuality, tag: tag,
                      source: source, shape: shape, limit: limit, skipDamaged: skipDamaged,
                      predicates: selection.predicates, from: selection.from, to: selection.to)
    }

    func validate() throws { try arguments.validate() }

    func run() throws { try arguments.run() }
}

/// The values of `strata scan`, however they were parsed: by ArgumentParser
/// (`ScanCommand`), or by `parseFast` for the plain forms.
struct ScanArguments {
    var store = ""
    var domain: [String] = []
    var fromMonth: String?
    var toMonth: String?
    var minQuality: Double?
    var tag: [String] = []
    var source: String?
    var shape: String?
    var limit: Int?
    var skipDamaged = false
    var predicates: [String] = []
    var from: String?
    var to: String?

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

    /// `strata scan`'s arguments (after "scan") when they are in the plain forms
    /// this parser reads the same way ArgumentParser does and pass `validate()`;
    /// nil for anything else (help, unknown or malformed options, an option
    /// value that looks like an option, `--`, a single-valued option twice),
    /// which then goes through ArgumentParser and gets its messages. Parsing
    /// with ArgumentParser costs more than the rest of a one-partition scan's
    /// startup: it reflects over every option of the command.
    static func parseFast(_ args: ArraySlice<String>) -> ScanArguments? {
        var a = ScanArguments()
        var haveStore = false
        var seen = Set<String>()
        var i = args.startIndex
        while i < args.endIndex {
            let token = args[i]
            i += 1
            guard token.hasPrefix("-") else {
                // The one positional: the store.
                guard !haveStore, !token.isEmpty else { return nil }
                a.store = token
                haveStore = true
                continue
            }
            guard token.hasPrefix("--"), token.count > 2 else { return nil }
            var name = String(token.dropFirst(2))
            var value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
                guard value != "" else { return nil }  // ArgumentParser: a missing value
            }
            if name == "skip-damaged" {
                guard value == nil, !a.skipDamaged else { return nil }
                a.skipDamaged = true
                continue
            }
            if value == nil {
                guard i < args.endIndex, !args[i].hasPrefix("-") else { return nil }
                value = args[i]
                i += 1
            }
            guard let v = value else { return nil }
            let repeatable = name == "domain" || name == "tag" || name == "where"
            guard repeatable || seen.insert(name).inserted else { return nil }
            switch name {
            case "domain": a.domain.append(v)
            case "tag": a.tag.append(v)
            case "where": a.predicates.append(v)
            case "from-month": a.fromMonth = v
            case "to-month": a.toMonth = v
            case "source": a.source = v
            case "shape": a.shape = v
            case "from": a.from = v
            case "to": a.to = v
            case "min-quality":
                guard let q = Double(v) else { return nil }
                a.minQuality = q
            case "limit":
                guard let n = Int(v) else { return nil }
                a.limit = n
            default: return nil
            }
        }
        guard haveStore, (try? a.validate()) != nil else { return nil }
        return a
    }

    func run() throws {
        try runCommand {
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
            if let w = try SelectionOptions.predicate(predicates: predicates, from: from, to: to) { filter.require(w) }
            // Only the selected partitions' files are opened: the open does not grow with the store.
            let partitions = filter
            let reader = try StoreReader(path: store, skipDamaged: skipDamaged, partitions: { partitions.includes($0) })
            defer { reader.close() }
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
