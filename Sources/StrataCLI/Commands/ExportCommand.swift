import ArgumentParser
import Foundation
import Strata

struct ExportCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.blockBuffers
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Materialize an export (JSONL, one JSON document, or Parquet) of a store into a directory.",
        discussion: """
        OUT is a directory holding the data files and _strata_export.json (SPEC.md §8). Repeating \
        an export on an unchanged store returns at once (up to date); after appends only changed \
        partitions are rewritten. Files appear only when complete.
        Examples:
          strata export ./store --format jsonl --schema alpaca --out ./exp --min-quality 0.7
          strata export ./store --format parquet --partitioned --out ./lake --split train=0.8,validation=0.1,test=0.1
          strata export ./store --format json --out ./doc --domain metabolic_diabetes --from-month 2025-01 --json
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Option(help: "jsonl | json | parquet.") var format: String = "jsonl"
    @Option(help: "Output directory.") var out: String
    @Option(help: "JSONL schema: raw | alpaca | prompt_response | chat.") var schema: String = "raw"
    @Flag(help: "JSONL: first line {\"_meta\":{...}} with the file's row count.") var metaHeader = false
    @Option(name: .customLong("domain"), help: "Only this domain (repeatable).") var domains: [String] = []
    @Option(help: "First month, YYYY-MM.") var fromMonth: String?
    @Option(help: "Last month, YYYY-MM.") var toMonth: String?
    @Option(help: "Minimum quality_score (examples without one are left out).") var minQuality: Double?
    @Option(name: .customLong("tag"), help: "Only examples with this tag (repeatable; any of them unless --all-tags).") var tags: [String] = []
    @Flag(help: "Require every --tag.") var allTags = false
    @Option(help: "Only examples from this source.") var source: String?
    @Option(name: .customLong("shape"), help: "Only this shape: instruction | prompt_response | chat (repeatable).") var shapes: [String] = []
    @Option(help: "drop-negative | only-positive.") var feedback: String?
    @Flag(help: "Include examples marked excluded.") var includeExcluded = false
    @Option(help: "Named fractions by id hash, e.g. train=0.8,validation=0.1,test=0.1.") var split: String?
    @Flag(help: "Hive layout domain=…/month=…/part-00000.EXT.") var partitioned = false
    @Option(help: "Chat schema: system message for converted instruction/prompt_response examples.") var systemPrompt: String?
    @Option(help: "Name recorded in the JSON document / headers (default: OUT's name).") var name: String?
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Salvage: leave out damaged segments and blocks, export everything else, list what was skipped (stderr, _strata_export.json); exit 65 if anything was.") var skipDamaged = false
    @Option(help: "Octal mode of the files written, e.g. 644 for outputs other users read (default 600: private, like the store; directories get x where r is granted).") var mode: String = "600"
    @OptionGroup var selection: SelectionOptions
    @Option(help: "Partitioned layout: hive (domain=D/month=M/part-00000.EXT) or etl (D/YYYY/MM/NAME_YYYY_MM.jsonl, the ETL module's object names; implies --partitioned).")
    var layout: String?
    @Option(help: "Base name of the data file: NAME.EXT (e.g. training → data/training.parquet), or the ETL layout's NAME_YYYY_MM.jsonl prefix (e.g. health_journal).")
    var fileName: String?
    @Flag(help: "Write even if OUT holds files no earlier export of it wrote (they are kept; same-named ones are replaced).") var force = false

    func makeSpec() throws -> ExportSpec {
        func usage(_ m: String) -> StrataError { StrataError(.usage, m) }
        guard let f = ExportFormat(rawValue: format) else { throw usage("--format must be jsonl, json or parquet") }
        guard let s = JSONLSchema(rawValue: schema) else { throw usage("--schema must be raw, alpaca, prompt_response or chat") }
        var spec = ExportSpec(format: f, schema: s)
        spec.metaHeader = metaHeader
        spec.domains = domains
        if let fromMonth { guard let m = Month(fromMonth) else { throw usage("--from-month must be YYYY-MM") }; spec.fromMonth = m }
        if let toMonth { guard let m = Month(toMonth) else { throw usage("--to-month must be YYYY-MM") }; spec.toMonth = m }
        spec.minQuality = minQuality
        spec.tags = tags
        spec.allTags = allTags
        spec.source = source
        spec.shapes = try shapes.map { n in
            guard let sh = Shape(name: n) else { throw usage("--shape must be instruction, prompt_response or chat") }
            return sh
        }
        if let feedback {
            guard let fb = FeedbackFilter(rawValue: feedback) else { throw usage("--feedback must be drop-negative or only-positive") }
            spec.feedback = fb
        }
        spec.includeExcluded = includeExcluded
        if let split { spec.split = try SplitSpec(parsing: split) }
        spec.partitioned = partitioned
        spec.systemPrompt = systemPrompt
        spec.name = name
        spec.predicate = try selection.predicate()
        if let layout { try spec.setLayout(named: layout, option: "--layout") }
        spec.fileName = fileName
        try spec.validate()
        return spec
    }

    func run() throws {
        try runCommand {
            let spec = try makeSpec()
            let fileMode = try Exporter.fileMode(octal: mode, option: "--mode")
            let exporter = Exporter(storePath: store, outPath: out, spec: spec)
            exporter.fileMode = fileMode
            exporter.skipDamaged = skipDamaged
            exporter.force = force
            let r = try exporter.run()
            defer {
                for e in r.damagedSkipped { printError("strata: skipped damaged data: \(e)") }
            }
            if !r.damagedSkipped.isEmpty {
                if json {
                    var o = r.jsonObject
                    o["out"] = out
                    o["store"] = store
                    print(jsonLine(o))
                } else {
                    print("exported \(r.rows) rows; \(r.damagedSkipped.count) damaged segments/blocks left out (see stderr; run `strata verify \(store)`)")
                }
                throw ExitCode(ExitStatus.dataError.rawValue)
            }
            if json {
                var o = r.jsonObject
                o["out"] = out
                o["store"] = store
                print(jsonLine(o))
                return
            }
            let state = r.upToDate ? "up to date (nothing rewritten)" : "written \(r.rewrittenFiles) of \(r.files.count) files"
            print("export     \(out) — \(state)")
            print("files      \(r.files.count)")
            print("rows       \(r.rows)" + (r.skipped > 0 ? " (\(r.skipped) not representable in schema \(spec.schema.rawValue), skipped)" : ""))
            print("bytes      \(formatAmount(Double(r.bytes), "B"))")
            print(String(format: "time       %.3f s", r.seconds) + (r.seconds > 0 && !r.upToDate ? String(format: " (%.0f MB/s)", Double(r.bytes) / 1e6 / r.seconds) : ""))
            print("upToDate   \(r.upToDate)")
        }
    }
}
