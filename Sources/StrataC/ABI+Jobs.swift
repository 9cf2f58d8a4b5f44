import Foundation
import Strata
import StrataABI

// Jobs on a store directory (not on a handle): export, stats, verify. They
// read committed data through their own snapshot, like the CLI commands.

/// An export spec from strata_export's JSON (the options of `strata export`).
func exportSpec(_ o: Options) throws -> ExportSpec {
    try o.only(["format", "schema", "meta_header", "domains", "from_month", "to_month", "min_quality", "tags", "all_tags",
                "source", "shapes", "feedback", "include_excluded", "split", "partitioned", "system_prompt", "name",
                "where", "from", "to", "layout", "file_name", "mode", "skip_damaged", "force"])
    let format = try o.string("format") ?? "jsonl"
    guard let f = ExportFormat(rawValue: format) else { throw usage("format must be jsonl, json or parquet", field: "format") }
    let schema = try o.string("schema") ?? "raw"
    guard let s = JSONLSchema(rawValue: schema) else { throw usage("schema must be raw, alpaca, prompt_response or chat", field: "schema") }
    var spec = ExportSpec(format: f, schema: s)
    spec.metaHeader = try o.bool("meta_header") ?? false
    spec.domains = try o.strings("domains")
    spec.fromMonth = try o.month("from_month")
    spec.toMonth = try o.month("to_month")
    spec.minQuality = try o.double("min_quality")
    spec.tags = try o.strings("tags")
    spec.allTags = try o.bool("all_tags") ?? false
    spec.source = try o.string("source")
    spec.shapes = try o.strings("shapes").map { n in
        guard let sh = Shape(name: n) else { throw usage("shape must be instruction, prompt_response or chat", field: "shapes") }
        return sh
    }
    if let fb = try o.string("feedback") {
        guard let v = FeedbackFilter(rawValue: fb) else { throw usage("feedback must be drop-negative or only-positive", field: "feedback") }
        spec.feedback = v
    }
    spec.includeExcluded = try o.bool("include_excluded") ?? false
    if let split = try o.string("split") { spec.split = try SplitSpec(parsing: split) }
    spec.partitioned = try o.bool("partitioned") ?? false
    spec.systemPrompt = try o.string("system_prompt")
    spec.name = try o.string("name")
    spec.predicate = try o.selection()
    if let layout = try o.string("layout") { try spec.setLayout(named: layout, option: "layout") }
    spec.fileName = try o.string("file_name")
    try spec.validate()
    return spec
}

@_cdecl("strata_export")
public func strata_export(_ storePath: UnsafePointer<CChar>?, _ outPath: UnsafePointer<CChar>?, _ specJSON: UnsafePointer<CChar>?,
                          _ result: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ resultLen: UnsafeMutablePointer<Int>?,
                          _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        result?.pointee = nil
        let options = try Options(specJSON, what: "export spec")
        let spec = try exportSpec(options)
        let out = try argument(outPath, "out_path")
        let exporter = Exporter(storePath: try argument(storePath, "store_path"), outPath: out, spec: spec)
        if let mode = try options.string("mode") { exporter.fileMode = try Exporter.fileMode(octal: mode, option: "mode") }
        exporter.skipDamaged = try options.bool("skip_damaged") ?? false
        exporter.force = try options.bool("force") ?? false
        let r = try exporter.run()
        var o = r.jsonObject
        o["out"] = out
        o["files_detail"] = r.files.map { f -> [String: Any] in
            ["path": f.path, "rows": f.rows, "bytes": f.bytes, "split": f.split.map { $0 as Any } ?? NSNull(),
             "partition": f.partition.map { $0 as Any } ?? NSNull()]
        }
        try giveJSON(o, result, resultLen)
    }
}

@_cdecl("strata_stats")
public func strata_stats(_ path: UnsafePointer<CChar>?, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                         _ len: UnsafeMutablePointer<Int>?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    strata_stats_select(path, nil, json, len, err)
}

@_cdecl("strata_stats_select")
public func strata_stats_select(_ path: UnsafePointer<CChar>?, _ optionsJSON: UnsafePointer<CChar>?,
                                _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ len: UnsafeMutablePointer<Int>?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        json?.pointee = nil
        let p = try argument(path, "path")
        let o = try Options(optionsJSON, what: "stats options")
        try o.only(["where", "from", "to", "rules", "min_rows", "lengths"])
        let predicate = try o.selection()
        let rules = try o.strings("rules").map { text in
            do { return try DataRule(parsing: text) } catch var e as StrataError {
                e.field = "rules"
                throw e
            }
        }
        let minRows = try o.int("min_rows") ?? 1
        guard minRows >= 0 else { throw usage("min_rows must not be negative", field: "min_rows") }
        let reader = try StoreReader.open(at: p)
        defer { reader.close() }
        // Summaries only, unless a selection, a rule or the lengths need the examples (as `strata stats`).
        let report = try StatsReport.make(reader, minRows: minRows, predicate: predicate, rules: rules, lengths: try o.bool("lengths") ?? false)
        try giveJSON(report.jsonObject(store: p, histogramAsCounts: true), json, len)
    }
}

@_cdecl("strata_verify")
public func strata_verify(_ path: UnsafePointer<CChar>?, _ quick: Int32, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                          _ len: UnsafeMutablePointer<Int>?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        json?.pointee = nil
        let p = try argument(path, "path")
        guard FileManager.default.fileExists(atPath: p + "/MANIFEST") || FileManager.default.fileExists(atPath: p) else {
            throw StrataError(.notFound, "no such directory; give the path of a Strata store", path: p)
        }
        let r = StoreVerifier(path: p, quick: quick != 0).run()
        try giveJSON([
            "store": p, "intact": r.intact, "quick": r.quick, "errors": r.errorCount, "warnings": r.problems.count - r.errorCount,
            "segments": r.segments, "blocks": r.blocks, "examples": r.examples, "annotations": r.annotations,
            "index_entries": r.indexEntries, "bytes_checked": r.bytesChecked,
            "problems": r.problems.map { q -> [String: Any] in
                ["severity": q.severity.rawValue, "file": q.path, "offset": q.offset.map { $0 as Any } ?? NSNull(), "message": q.message,
                 "repaired_by_open": q.repairedByOpen]
            },
        ] as [String: Any], json, len)
    }
}
