import Foundation

/// An export a maintenance job keeps up to date: where it goes and what it holds.
public struct MaintenanceExport: Sendable {
    public var specPath: String
    public var out: String
    public var spec: ExportSpec

    /// Reads a spec file: one JSON object whose members mirror `strata export`'s
    /// options in snake_case, plus "out" (relative paths resolve against the file's directory).
    ///
    ///     {"out": "exports/train", "format": "jsonl", "schema": "alpaca", "min_quality": 0.7,
    ///      "domains": ["metabolic_diabetes"], "split": "train=0.9,validation=0.1"}
    public static func load(specFile path: String, fileSystem fs: FileSystem = PosixFileSystem.shared) throws -> MaintenanceExport {
        guard fs.fileExists(path) else { throw StrataError(.usage, "export spec file not found", path: path) }
        let bytes = try fs.readFile(path)
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw StrataError(.usage, "export spec file is not a JSON object", path: path)
        }
        func bad(_ field: String, _ m: String) -> StrataError { StrataError(.usage, "export spec: \(m)", path: path, field: field) }
        let known: Set<String> = ["out", "format", "schema", "meta_header", "domains", "from_month", "to_month", "min_quality", "tags",
                                  "all_tags", "source", "shapes", "feedback", "include_excluded", "split", "partitioned", "system_prompt", "name", "where", "layout", "file_name"]
        if let unknown = obj.keys.sorted().first(where: { !known.contains($0) }) {
            throw bad(unknown, "unknown member '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        guard let outRaw = obj["out"] as? String, !outRaw.isEmpty else { throw bad("out", "\"out\" (output directory) is required") }
        let dir = PathName.parent(of: path)
        let out = outRaw.hasPrefix("/") || dir == "." ? outRaw : dir + "/" + outRaw
        func str(_ k: String) throws -> String? {
            guard let v = obj[k] else { return nil }
            guard let s = v as? String else { throw bad(k, "\"\(k)\" must be a string") }
            return s
        }
        func strs(_ k: String) throws -> [String] {
            guard let v = obj[k] else { return [] }
            guard let a = v as? [String] else { throw bad(k, "\"\(k)\" must be an array of strings") }
            return a
        }
        func bool(_ k: String) throws -> Bool {
            guard let v = obj[k] else { return false }
            guard let n = v as? Bool else { throw bad(k, "\"\(k)\" must be true or false") }
            return n
        }
        let formatName = try str("format") ?? "jsonl"
        guard let format = ExportFormat(rawValue: formatName) else { throw bad("format", "format must be jsonl, json or parquet") }
        let schemaName = try str("schema") ?? "raw"
        guard let schema = JSONLSchema(rawValue: schemaName) else { throw bad("schema", "schema must be raw, alpaca, prompt_response or chat") }
        var spec = ExportSpec(format: format, schema: schema)
        spec.metaHeader = try bool("meta_header")
        spec.domains = try strs("domains")
        if let m = try str("from_month") { guard let v = Month(m) else { throw bad("from_month", "from_month must be YYYY-MM") }; spec.fromMonth = v }
        if let m = try str("to_month") { guard let v = Month(m) else { throw bad("to_month", "to_month must be YYYY-MM") }; spec.toMonth = v }
        if let q = obj["min_quality"] { guard let n = q as? NSNumber else { throw bad("min_quality", "min_quality must be a number") }; spec.minQuality = n.doubleValue }
        spec.tags = try strs("tags")
        spec.allTags = try bool("all_tags")
        spec.source = try str("source")
        spec.shapes = try strs("shapes").map { n in
            guard let s = Shape(name: n) else { throw bad("shapes", "shape '\(n)' is not instruction, prompt_response or chat") }
            return s
        }
        if let f = try str("feedback") {
            guard let fb = FeedbackFilter(rawValue: f) else { throw bad("feedback", "feedback must be drop-negative or only-positive") }
            spec.feedback = fb
        }
        spec.includeExcluded = try bool("include_excluded")
        if let s = try str("split") { spec.split = try SplitSpec(parsing: s) }
        spec.partitioned = try bool("partitioned")
        spec.systemPrompt = try str("system_prompt")
        spec.name = try str("name")
        if let w = try str("where") { spec.predicate = try RecordPredicate(parsing: w) }
        if let l = try str("layout") {
            guard let v = ExportLayout(rawValue: l) else { throw bad("layout", "layout must be hive or etl") }
            spec.layout = v
        }
        spec.fileName = try str("file_name")
        do { try spec.validate() } catch var e as StrataError { e.path = path; throw e }
        return MaintenanceExport(specPath: path, out: out, spec: spec)
    }
}

/// One scheduler-run maintenance pass (`strata maintain`): quick verify, then
/// partition by partition compaction, index snapshot refresh, exports.
///
/// Every step is idempotent and atomic on disk (compaction swaps segments
/// through the manifest, exports publish complete files only, the index
/// snapshot is replaced by rename), so a run killed at any instant is resumed
/// by simply running it again: finished partitions are skipped as already
/// compact, finished exports are up to date.
public final class MaintenanceJob {
    public struct PartitionResult: Sendable {
        public var partition: PartitionKey
        public var compacted: Bool
        public var bytesBefore: Int64
        public var bytesAfter: Int64
    }

    public struct ExportOutcome: Sendable {
        public var specPath: String
        public var out: String
        public var upToDate: Bool
        public var rewrittenFiles: Int
        public var rows: Int
    }

    public struct Summary: Sendable {
        public var partitions: [PartitionResult] = []
        public var exports: [ExportOutcome] = []
        public var recovery: [String] = []
        public var warnings = 0
        /// What the quick verify read, and what it did not (block contents).
        public var verifyChecked = ""
        public var verifyNotChecked = ""
        public var indexEntries = 0
        public var seconds = 0.0
        public var compacted: Int { partitions.filter(\.compacted).count }
    }

    public let storePath: String
    public var compact = false
    public var compaction = CompactionOptions()
    public var exports: [MaintenanceExport] = []
    /// The file system the store is opened on (the quick verify and exports read through their own).
    public var fileSystem: FileSystem = PosixFileSystem.shared
    /// Called before each partition (index, total, partition) and export.
    public var onStep: ((String) -> Void)?

    public init(storePath: String) { self.storePath = storePath }

    /// Runs the pass. Throws `.corruption` (with the first problem's file and
    /// offset) when the quick verify finds damage; nothing is modified then.
    public func run() throws -> Summary {
        let started = Date()
        var summary = Summary()
        let check = StoreVerifier(path: storePath, quick: true).run()
        // Leftovers of a killed run (unlisted segments) are removed by the open below: resume.
        if let p = check.problems.first(where: { $0.severity == .error && !$0.repairedByOpen }) {
            throw StrataError(.corruption, "\(p.message) (\(check.errorCount) problems; run `strata verify \(storePath)` for the list); nothing was changed",
                              path: p.path, offset: p.offset)
        }
        if check.problems.contains(where: { $0.severity == .recoverable }) {
            // Reported so the summary shows the run resumed after an interruption.
            summary.recovery.append(contentsOf: check.problems.filter(\.repairedByOpen).map { "leftover of an interrupted run: \($0.path)" })
        }
        summary.warnings = check.problems.count
        // The quick verify does not read blocks: say so, so a pass is not read as "every byte is intact".
        summary.verifyChecked = check.checked
        summary.verifyNotChecked = check.notChecked
        var options = StoreOptions()
        options.createIfMissing = false
        options.fileSystem = fileSystem
        var store = try Store.open(at: storePath, options: options)
        summary.recovery += store.recoveryEvents.map(\.description)
        if compact {
            // Compaction takes sealed segments only: seal the active ones first (close
            // seals), so one pass leaves every partition compact and the next has nothing to do.
            try store.close()
            store = try Store.open(at: storePath, options: options)
            summary.recovery += store.recoveryEvents.map(\.description)
        }
        do {
            let parts = store.compactionOrder(store.partitions)
            for (i, p) in parts.enumerated() {
                onStep?("partition \(i + 1)/\(parts.count) \(p.path)")
                if compact {
                    let r = try store.compact(partition: p, options: compaction)
                    summary.partitions.append(PartitionResult(partition: p, compacted: !r.skipped, bytesBefore: r.bytesBefore, bytesAfter: r.bytesAfter))
                } else {
                    summary.partitions.append(PartitionResult(partition: p, compacted: false, bytesBefore: 0, bytesAfter: 0))
                }
            }
            summary.indexEntries = store.count
            // Seals active segments and writes the index snapshot when it changed.
            try store.close()
            try ExternalIdIndex.refreshAll(store: storePath)
        } catch {
            try? store.close()
            throw error
        }
        for e in exports {
            onStep?("export \(e.out)")
            let r = try Exporter(storePath: storePath, outPath: e.out, spec: e.spec).run()
            summary.exports.append(ExportOutcome(specPath: e.specPath, out: e.out, upToDate: r.upToDate, rewrittenFiles: r.rewrittenFiles, rows: r.rows))
        }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }
}
