import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// Model-based test: random operation sequences run against a real store (on
/// the simulated file system, so crashes are real power losses) and against
/// `ReferenceModel`, compared after every step — for every dedup key ×
/// normalization × commit policy.
///
/// Operations: append (single; batch, with duplicates inside the batch;
/// invalid), annotate (feedback, correction, exclude, include), commit,
/// crash (power loss: unsynced writes dropped) + recovery, clean reopen,
/// compaction of every partition (with and without purge), index rebuild,
/// export (JSONL, every schema, filters, splits, Hive partitioning) — checked
/// byte for byte against the model's rendering.
/// After every step: the append outcome (inserted or duplicate of which id),
/// `count`, `getFolded` of every id the model ever saw, scan order and content,
/// and after durable steps `verify` finds no problem.
///
/// Replay: every failure names its configuration and seed;
///   STRATA_MODEL_SEED=<seed> STRATA_MODEL_CONFIG=<config> swift test --filter ModelBasedTests
/// runs that one sequence. STRATA_MODEL_SEQUENCES=<n> sets the sequences per
/// configuration (default 20: 36 configurations × 20 = 720 sequences of 24
/// operations, about 70 s on the shared 2-core CI machine).
@Suite struct ModelBasedTests {
    static let configs: [ReferenceModel.Config] = {
        var out: [ReferenceModel.Config] = []
        for key in ["content", "content+source", "content+metadata.k", "prompt_only"] {
            for n in DedupKey.Normalization.allCases {
                for p: StoreOptions.CommitPolicy in [.everyBatch, .manual, .interval(seconds: 3600)] {
                    out.append(.init(key: key, normalize: n, policy: p))
                }
            }
        }
        return out
    }()

    static let env = ProcessInfo.processInfo.environment
    static let sequencesPerConfig = Int(env["STRATA_MODEL_SEQUENCES"] ?? "") ?? 20
    static let operationsPerSequence = 24

    /// Totals for the report line (sequences, operations) across configurations.
    static let totals = Lock()
    // nonisolated(unsafe): these counters (and `times`) are touched only under `totals`.
    nonisolated(unsafe) static var sequencesRun = 0
    nonisolated(unsafe) static var operationsRun = 0

    @Test(arguments: configs.map(\.description))
    func storeMatchesTheReferenceModel(_ name: String) throws {
        let config = Self.configs.first { $0.description == name }!
        if let only = Self.env["STRATA_MODEL_CONFIG"], only != name { return }
        let seeds: [UInt64]
        if let s = Self.env["STRATA_MODEL_SEED"].flatMap(UInt64.init) {
            seeds = [s]
        } else {
            let base = UInt64(truncatingIfNeeded: name.utf8.reduce(1469598103934665603 as UInt64) { ($0 ^ UInt64($1)) &* 1099511628211 })
            seeds = (0..<Self.sequencesPerConfig).map { base &+ UInt64($0) }
        }
        var ops = 0
        for seed in seeds {
            let t0 = Date()
            var driver = try ModelDriver(config: config, seed: seed)
            if Self.env["STRATA_MODEL_PROFILE"] != nil { ModelDriver.profile("init", Date().timeIntervalSince(t0)) }
            do {
                try driver.run(operations: Self.operationsPerSequence)
            } catch let f as ModelMismatch {
                Issue.record("\(f.message)\n  config \(name), seed \(seed), after operations:\n    \(driver.trace.joined(separator: "\n    "))\n  replay: STRATA_MODEL_SEED=\(seed) STRATA_MODEL_CONFIG='\(name)' swift test --filter ModelBasedTests")
                return
            } catch {
                Issue.record("unexpected error \(error)\n  config \(name), seed \(seed), after operations:\n    \(driver.trace.joined(separator: "\n    "))\n  replay: STRATA_MODEL_SEED=\(seed) STRATA_MODEL_CONFIG='\(name)' swift test --filter ModelBasedTests")
                return
            }
            ops += driver.trace.count
        }
        Self.totals.withLock {
            Self.sequencesRun += seeds.count
            Self.operationsRun += ops
        }
        // Every configuration must really have exercised its operations.
        #expect(ops >= seeds.count * Self.operationsPerSequence)
        if Self.env["STRATA_MODEL_REPORT"] != nil {
            Self.totals.withLock { print("model-based: \(Self.sequencesRun) sequences, \(Self.operationsRun) operations so far (\(name) done)") }
        }
    }
}

struct ModelMismatch: Error { var message: String }

/// Runs one seeded sequence against a store and the model.
struct ModelDriver {
    let config: ReferenceModel.Config
    let seed: UInt64
    var rng: SeededRNG
    var model: ReferenceModel
    var fs: SimulatedFileSystem
    var store: Store
    let path: String
    var trace: [String] = []
    var exportCount = 0
    /// A compaction ran since the writer last wrote its index snapshot (at close / reopen).
    var compactedSinceSnapshot = false
    /// Every id the model saw, to check `get` of each.
    var everyID: [ExampleID] = []

    static let months: [(String, Int64)] = [("2025-01", 1_735_689_600_000), ("2025-02", 1_738_368_000_000)]
    static let prompts = ["hello world", "Hello  World", " hello world", "HELLO\tworld", "héllo wörld", "HÉLLO WÖRLD", "x\u{2028}y"]
    static let responses = ["yes", "Yes", "yes ", "a \"quoted\"\nanswer"]
    static let inputs = ["", "ctx", "CTX"]
    static let sources: [String?] = [nil, "a", "b"]
    static let metadata = ["{}", "{\"k\":\"x\"}", "{\"k\":\"y\"}", "{\"k\":1}", "{\"k\":true}", "{\"k\":null}",
                           "{\n \"k\": \"x\"\r\n}", "{\"k\":\"\\u00e9\",\"z\":[1,2]}"]
    static let qualities: [Double?] = [nil, 0.25, 0.5, 0.9, 1.0]

    init(config: ReferenceModel.Config, seed: UInt64) throws {
        self.config = config
        self.seed = seed
        rng = SeededRNG(seed: seed)
        model = ReferenceModel(config: config)
        fs = SimulatedFileSystem(seed: seed)
        path = fs.root + "/store"
        store = try Store.open(at: path, options: Self.options(config, fs, create: true, seed: seed))
    }

    static func intervalSeconds(_ seed: UInt64) -> Double { seed % 2 == 0 ? 3600 : 0 }

    static func options(_ c: ReferenceModel.Config, _ fs: SimulatedFileSystem, create: Bool, seed: UInt64) -> StoreOptions {
        var o = StoreOptions()
        o.fileSystem = fs
        o.commitPolicy = c.policy
        // The interval policy alternates by seed between an interval no test
        // reaches (durability as manual) and 0 (every call commits, and the
        // background timer runs every 5 ms beside the operations).
        if case .interval = c.policy { o.commitPolicy = .interval(seconds: intervalSeconds(seed)) }
        o.checkPermissions = false
        if create { o.dedupKey = c.dedupKey }
        return o
    }

    mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func choose<T>(_ a: [T]) -> T { a[int(a.count)] }

    mutating func randomExample() -> (Example, String) {
        let (month, start) = choose(Self.months)
        let ts = start + Int64(int(10 * 86_400_000))
        let content: Content
        switch int(3) {
        case 0: content = .instruction(instruction: choose(Self.prompts), input: choose(Self.inputs), output: choose(Self.responses))
        case 1: content = .promptResponse(prompt: choose(Self.prompts), response: choose(Self.responses))
        default:
            var ms: [Message] = []
            if int(2) == 0 { ms.append(Message(role: .system, content: "Be brief.")) }
            ms.append(Message(role: .user, content: choose(Self.prompts)))
            ms.append(Message(role: .assistant, content: choose(Self.responses)))
            content = .chat(ms)
        }
        let tags = [["t1"], ["t2"], ["t1", "t2"], []][int(4)]
        let e = Example(content: content, domain: choose(["alpha", "beta"]), timestampMillis: ts, qualityScore: choose(Self.qualities),
                        tags: tags, source: choose(Self.sources), metadataJSON: choose(Self.metadata))
        return (e, month)
    }

    func fail(_ m: String) -> ModelMismatch { ModelMismatch(message: m) }

    /// Every append / annotate call commits before returning.
    var isEveryBatch: Bool {
        switch config.policy {
        case .everyBatch: true
        case .interval: Self.intervalSeconds(seed) == 0
        case .manual: false
        }
    }

    mutating func run(operations: Int) throws {
        for _ in 0..<operations {
            let r = int(100)
            let t0 = Date()
            defer { if ModelBasedTests.env["STRATA_MODEL_PROFILE"] != nil { ModelDriver.profile(trace.last ?? "", Date().timeIntervalSince(t0)) } }
            switch r {
            case 0..<26: try appendOne()
            case 26..<32: try appendBatch()
            case 32..<38: try ingestLines()
            case 38..<41: try appendInvalid()
            case 41..<56: try annotate()
            case 56..<63: try commit()
            case 63..<68: try crash()
            case 68..<74: try reopen()
            case 74..<82: try compact(purge: int(2) == 0)
            case 82..<86: try rebuildIndex()
            default: try export()
            }
            try compare()
        }
        try reopen()
        try compare()
        try verify()
    }

    nonisolated(unsafe) static var times: [String: Double] = [:]
    static func profile(_ op: String, _ t: Double) {
        ModelBasedTests.totals.withLock {
            let k = String(op.prefix(while: { $0 != " " && $0 != ";" }))
            times[k, default: 0] += t
            if k == "reopen" { print(times.sorted { $0.value > $1.value }.map { "\($0.key)=\(Int($0.value * 1000))ms" }.joined(separator: " ")) }
        }
    }

    mutating func commit() throws {
        trace.append("commit")
        try store.commit()
        model.commit()
        try verify()
    }

    /// Rebuilding commits first (Store.rebuildIndex).
    mutating func rebuildIndex() throws {
        trace.append("index rebuild")
        let r = try store.rebuildIndex()
        compactedSinceSnapshot = false
        model.commit()
        guard r.entries == model.state.examples.filter(\.live).count else { throw fail("rebuilt index has \(r.entries) keys") }
        try verify()
    }

    mutating func appendOne() throws {
        let (e, month) = randomExample()
        trace.append("append \(describe(e))")
        let predicted = model.predict(e)
        let outcome = try store.append(e)
        try check(outcome, predicted, e, month)
        if isEveryBatch { model.commit() }
    }

    mutating func check(_ outcome: AppendOutcome, _ predicted: ReferenceModel.Outcome, _ e: Example, _ month: String) throws {
        switch (outcome, predicted) {
        case let (.duplicate(got), .duplicate(want)):
            guard got == want else { throw fail("duplicate of \(got), model says duplicate of \(want)") }
            _ = model.append(e, month: month, id: got)
        case let (.inserted(id), .inserted):
            if config.dedupKey.kind == .contentPlusFields {
                guard model.liveIndex(id: id) == nil else { throw fail("keyed id \(id) already names a live example") }
            } else {
                guard id == e.id else { throw fail("inserted id \(id) is not the content id \(e.id)") }
            }
            _ = model.append(e, month: month, id: id)
            everyID.append(id)
        default:
            throw fail("append outcome \(outcome), model predicts \(predicted)")
        }
    }

    mutating func appendBatch() throws {
        var batch: [(Example, String)] = []
        for _ in 0..<(2 + int(4)) {
            if !batch.isEmpty && int(3) == 0 { batch.append(choose(batch)) } else { batch.append(randomExample()) }
        }
        trace.append("append batch [\(batch.map { describe($0.0) }.joined(separator: "; "))]")
        let outcomes = try store.append(contentsOf: batch.map(\.0))
        guard outcomes.count == batch.count else { throw fail("batch returned \(outcomes.count) outcomes for \(batch.count)") }
        for (o, (e, m)) in zip(outcomes, batch) {
            try check(o, model.predict(e), e, m)
        }
        if isEveryBatch { model.commit() }
    }

    /// The same examples as JSONL through the ingest engine (`Ingester`, the
    /// path of `strata ingest`: parse stage, encoded batches, its own id
    /// assignment). Checks each line's outcome: duplicates name the stored id
    /// they duplicate, inserted lines are new ids.
    mutating func ingestLines() throws {
        var batch: [(Example, String)] = []
        for _ in 0..<(1 + int(4)) {
            if !batch.isEmpty && int(3) == 0 { batch.append(choose(batch)); continue }
            var (e, m) = randomExample()
            if e.metadataJSON.contains("\n") { e.metadataJSON = "{}" }  // one record, one line
            batch.append((e, m))
        }
        trace.append("ingest [\(batch.map { describe($0.0) }.joined(separator: "; "))]")
        var text: [UInt8] = []
        for (e, _) in batch {
            var o = JSONOut()
            switch e.content {
            case let .instruction(i, input, out): o.raw("{\"instruction\":"); o.string(i); o.field("input", input); o.field("output", out)
            case let .promptResponse(p, r): o.raw("{\"prompt\":"); o.string(p); o.field("response", r)
            case let .chat(ms): o.raw("{\"messages\":"); o.messages(ms)
            }
            o.field("domain", e.domain)
            o.raw(",\"timestamp\":\(e.timestampMillis)")
            if let q = e.qualityScore { o.raw(",\"quality_score\":\(q)") }
            o.raw(",\"tags\":[" + e.tags.map { "\"\($0)\"" }.joined(separator: ",") + "]")
            if let src = e.source { o.field("source", src) }
            o.raw(",\"metadata\":" + e.metadataJSON + "}\n")
            text += o.bytes
        }
        var before: Set<ExampleID> = []
        try store.scanFolded(ScanFilter(includeExcluded: true)) { before.insert($0.id); return true }
        let ingester = try Ingester(store: store, mapping: IngestMapping())
        var reported: [Int: ExampleID] = [:]
        ingester.onDuplicate = { _, line, id in reported[line] = id }
        var rejected: [String] = []
        ingester.onReject = { rejected.append("\($0.error)") }
        try ingester.ingest(data: text)
        try ingester.commit()
        guard rejected.isEmpty else { throw fail("ingest rejected \(rejected)") }
        // Predict line by line (earlier lines of the same input count).
        var inserted: [(Example, String)] = []
        for (k, (e, m)) in batch.enumerated() {
            switch model.predict(e) {
            case let .duplicate(want):
                guard reported[k + 1] == want else {
                    throw fail("ingest line \(k + 1): reported duplicate of \(String(describing: reported[k + 1])), model says of \(want)")
                }
                _ = model.append(e, month: m, id: want)
            case .inserted:
                guard reported[k + 1] == nil else { throw fail("ingest line \(k + 1) reported as a duplicate; model says new") }
                // The id: the one new example in the store with this content and source.
                var found: ExampleID?
                try store.scanFolded(ScanFilter(includeExcluded: true)) { f in
                    if !before.contains(f.id) && f.original.content == e.content && f.original.source == e.source
                        && f.original.metadataJSON == e.metadataJSON && f.original.timestampMillis == e.timestampMillis { found = f.id }
                    return true
                }
                guard let id = found else { throw fail("ingest line \(k + 1) was not stored") }
                before.insert(id)
                if config.dedupKey.kind != .contentPlusFields {
                    guard id == e.id else { throw fail("ingested id \(id) is not the content id \(e.id)") }
                }
                _ = model.append(e, month: m, id: id)
                everyID.append(id)
                inserted.append((e, m))
            }
        }
        guard ingester.summary.inserted == inserted.count, ingester.summary.duplicates == batch.count - inserted.count else {
            throw fail("ingest summary \(ingester.summary.inserted) inserted / \(ingester.summary.duplicates) duplicates, model \(inserted.count) / \(batch.count - inserted.count)")
        }
        model.commit()
    }

    mutating func appendInvalid() throws {
        var (e, _) = randomExample()
        let bad = int(3)
        switch bad {
        case 0: e.content = .promptResponse(prompt: " \n\t", response: "r")
        case 1: e.metadataJSON = "{\"k\":"
        default: e.domain = "Bad Domain"
        }
        trace.append("append invalid #\(bad)")
        do {
            try store.append(contentsOf: [randomExample().0, e])
            throw fail("an invalid example was accepted")
        } catch let err as StrataError {
            guard err.code == .invalidInput else { throw fail("invalid example: \(err.code) instead of invalid-input") }
        }
    }

    mutating func annotate() throws {
        let live = model.state.examples.filter(\.live).map(\.id)
        let useMissing = live.isEmpty || int(10) == 0
        let id = useMissing ? ExampleID(high: rng.next(), low: rng.next()) : choose(live)
        let a: Annotation
        switch int(5) {
        case 0: a = .feedback(.positive, rating: Int64(int(11)) - 5)
        case 1: a = .feedback(.negative)
        case 2: a = .exclude(reason: "r")
        case 3: a = .include()
        default: a = .correction("fixed \(int(100))\nline")
        }
        trace.append("annotate \(id.hex.prefix(8)) \(a.kind.name)")
        do {
            try store.annotate(id, a)
            guard !useMissing else { throw fail("annotating a missing id succeeded") }
            var stored = a
            if case let .correction(text, nil) = a.kind, let i = model.liveIndex(id: id) {
                stored.kind = .correction(text: text, field: .natural(for: model.state.examples[i].example.shape))
            }
            model.annotate(id, stored)
            if isEveryBatch { model.commit() }
        } catch let err as StrataError where useMissing && err.code == .notFound {
            return
        }
    }

    mutating func crash() throws {
        trace.append("crash")
        let next = fs.crash(seed: rng.next(), mode: .dropUnsynced)
        try? store.close()  // the old file system is dead: this only releases the object
        fs = next
        store = try Store.open(at: path, options: Self.options(config, fs, create: false, seed: seed))
        compactedSinceSnapshot = false  // open rebuilt or caught up the index and wrote it
        model.crashAndRecover()
        try verify()
    }

    mutating func reopen() throws {
        trace.append("reopen")
        try store.close()
        store = try Store.open(at: path, options: Self.options(config, fs, create: false, seed: seed))
        compactedSinceSnapshot = false
        model.closeAndReopen()
        try verify()
    }

    mutating func compact(purge: Bool) throws {
        var o = CompactionOptions()
        o.purgeExcluded = purge
        o.dictionary = choose([.never, .auto, .always])
        trace.append("compact\(purge ? " --purge-excluded" : "") dictionary \(o.dictionary)")
        _ = try store.compactAll(options: o)
        // Verify only when the compaction committed: uncommitted appends leave
        // segment files the manifest does not list yet.
        if model.compactAll(purge: purge) {
            compactedSinceSnapshot = true
            try verify()
        }
    }

    mutating func export() throws {
        let format: ExportFormat = [.jsonl, .jsonl, .jsonl, .json, .parquet][int(5)]
        let document = format != .jsonl
        var spec = document ? ExportSpec(format: format, schema: .raw) : ExportSpec(format: .jsonl, schema: choose(JSONLSchema.allCases))
        if int(3) == 0 { spec.domains = [choose(["alpha", "beta"])] }
        if int(4) == 0 { spec.fromMonth = Month("2025-02") }
        if int(4) == 0 { spec.toMonth = Month("2025-01") }
        if let f = spec.fromMonth, let t = spec.toMonth, t < f { spec.toMonth = nil }
        if int(4) == 0 { spec.minQuality = choose([0.0, 0.5, 0.95]) }
        if int(4) == 0 { spec.tags = choose([["t1"], ["t1", "t2"]]); spec.allTags = int(2) == 0 }
        if int(5) == 0 { spec.source = choose(["a", "b"]) }
        if int(5) == 0 { spec.shapes = [choose(Shape.allCases)] }
        if int(4) == 0 { spec.feedback = choose(FeedbackFilter.allCases) }
        spec.includeExcluded = int(3) == 0
        if int(3) == 0 { spec.split = try SplitSpec([("train", 0.5), ("val", 0.3), ("test", 0.2)]) }
        spec.partitioned = format != .json && int(3) == 0
        if spec.schema == .chat && int(2) == 0 { spec.systemPrompt = "sys" }
        trace.append("commit; export \(spec.canonicalJSON)")
        // Exports read what a reader sees: make the model's state exactly that.
        try store.commit()
        model.commit()
        exportCount += 1
        let out = fs.root + "/export-\(exportCount)"
        let result = try Exporter(storePath: path, outPath: out, spec: spec, fileSystem: fs).run()
        if format == .parquet { return try checkParquetSelection(spec, result) }
        if document { return try checkDocument(spec, result, out) }
        let (want, skipped) = model.exportFiles(spec)
        guard result.skipped == skipped else { throw fail("export skipped \(result.skipped), model \(skipped)") }
        let got = Dictionary(uniqueKeysWithValues: result.files.map { ($0.path, $0) })
        guard Set(got.keys) == Set(want.keys) else {
            throw fail("export files \(got.keys.sorted()), model \(want.keys.sorted())")
        }
        for (rel, bytes) in want {
            let actual = try fs.readFile(out + "/" + rel)
            guard actual == bytes else {
                throw fail("export \(rel) differs from the model:\n--- store\n\(String(decoding: actual, as: UTF8.self))--- model\n\(String(decoding: bytes, as: UTF8.self))")
            }
        }
    }

    /// Parquet files are checked by the writer's own tests (ParquetWriterTests,
    /// pyarrow/DuckDB round trips); here: the same files with the rows the
    /// model selects for each. Parquet data lives under `data/` (SPEC.md §8) so
    /// that dataset readers see only Parquet files there.
    func checkParquetSelection(_ spec: ExportSpec, _ result: ExportResult) throws {
        let want = Dictionary(uniqueKeysWithValues: model.documentRows(spec).map {
            (Exporter.parquetDatasetDirectory + "/" + $0.key, $0.value.count)
        })
        let got = Dictionary(uniqueKeysWithValues: result.files.map { ($0.path, $0.rows) })
        guard got == want else { throw fail("parquet files/rows \(got.sorted { $0.key < $1.key }), model \(want.sorted { $0.key < $1.key })") }
    }

    /// The JSON document (SPEC.md §8.3) holds a creation time, so it is compared
    /// parsed: `examples` must equal the model's raw rows (as JSON values), in
    /// order; `conversations` must name the model's chat rows, in order.
    func checkDocument(_ spec: ExportSpec, _ result: ExportResult, _ out: String) throws {
        let want = model.documentRows(spec)
        guard Set(result.files.map(\.path)) == Set(want.keys) else {
            throw fail("export files \(result.files.map(\.path).sorted()), model \(want.keys.sorted())")
        }
        for (rel, rows) in want {
            let doc = try JSONSerialization.jsonObject(with: Data(try fs.readFile(out + "/" + rel))) as? [String: Any]
            guard let doc, let examples = doc["examples"] as? [Any], let conversations = doc["conversations"] as? [[String: Any]],
                  let meta = doc["training_file_metadata"] as? [String: Any] else { throw fail("\(rel) is not a training-file document") }
            let wantExamples = try rows.filter { $0.original.shape != .chat }.map {
                try JSONSerialization.jsonObject(with: Data(ReferenceModel.render($0, schema: .raw, systemPrompt: nil)!))
            }
            guard NSArray(array: examples).isEqual(to: wantExamples) else {
                throw fail("\(rel): examples differ from the model's raw rows (\(examples.count) vs \(wantExamples.count))")
            }
            let ids = conversations.compactMap { ($0["conversation_metadata"] as? [String: Any])?["conversation_id"] as? String }
            let wantIDs = rows.filter { $0.original.shape == .chat }.map(\.id.hex)
            guard ids == wantIDs else { throw fail("\(rel): conversations \(ids), model \(wantIDs)") }
            guard meta["total_examples"] as? Int == rows.count else {
                throw fail("\(rel): total_examples \(String(describing: meta["total_examples"])), model \(rows.count)")
            }
        }
    }

    mutating func verify() throws {
        let report = StoreVerifier(path: path, fileSystem: fs).run()
        // Warnings (an index snapshot behind the segments, caught up on open) are
        // not damage. Nor is an index file that still names the segments a
        // compaction replaced: the writer rewrites it at close or at the next
        // snapshot, and open rebuilds it (SPEC.md §5.4, §7.1); `verify` calls that
        // an error (its classification is another issue's), so it is skipped here.
        let errors = report.problems.filter {
            $0.severity == .error && !($0.path.hasSuffix("index/ids.idx") && compactedSinceSnapshot)
        }
        guard errors.isEmpty else { throw fail("verify: \(errors.map(\.description))") }
    }

    func describe(_ e: Example) -> String {
        let c: String
        switch e.content {
        case let .instruction(i, input, o): c = "ins(\(i.debugDescription),\(input.debugDescription),\(o.debugDescription))"
        case let .promptResponse(p, r): c = "pr(\(p.debugDescription),\(r.debugDescription))"
        case let .chat(ms): c = "chat(\(ms.map { "\($0.role.name):\($0.content.debugDescription)" }.joined(separator: ",")))"
        }
        return "\(c) \(e.domain) \(e.timestampMillis) src=\(e.source ?? "nil") meta=\(e.metadataJSON.debugDescription)"
    }

    /// Counts, get of every id, scan order and content.
    func compare() throws {
        let s = model.state
        let live = s.examples.indices.filter { s.examples[$0].live }
        guard store.count == live.count else { throw fail("count \(store.count), model \(live.count)") }
        for id in Set(everyID) {
            let got = try store.getFolded(id)
            guard let i = model.liveIndex(id: id) else {
                if let got { throw fail("get \(id) returned \(got.original.content), the model has no such example") }
                continue
            }
            guard let got else { throw fail("get \(id) returned nothing") }
            let f = model.folded(i, in: s)
            try same(got, f, "get \(id)")
        }
        // Scan order and content: every live example (folded), excluded ones included.
        var scanned: [FoldedExample] = []
        try store.scanFolded(ScanFilter(includeExcluded: true)) { scanned.append($0); return true }
        let order = model.scanOrder(in: s)
        guard scanned.map(\.id) == order.map({ s.examples[$0].id }) else {
            throw fail("scan order \(scanned.map { $0.id.hex.prefix(6) }), model \(order.map { s.examples[$0].id.hex.prefix(6) })")
        }
        for (g, i) in zip(scanned, order) { try same(g, model.folded(i, in: s), "scan") }
        // Provenance (SPEC.md §4.4): duplicate offers recorded, and dropped with a
        // purged target. Reading it walks every block: every fourth step.
        if trace.count % 4 == 0 { try compareProvenance(s, live) }
        var plain: [ExampleID] = []
        try store.scan(.all) { plain.append($0.id); return true }
        let notExcluded = order.filter { !model.folded($0, in: s).excluded }.map { s.examples[$0].id }
        guard plain == notExcluded else { throw fail("scan (excluded skipped) returned \(plain.count), model \(notExcluded.count)") }
    }

    func compareProvenance(_ s: ReferenceModel.State, _ live: [Int]) throws {
        let dups = model.duplicateSeen(in: s)
        let stats = try store.duplicateStatistics()
        var byDomain: [String: Int] = [:]
        for d in dups { byDomain[d.domain, default: 0] += 1 }
        guard stats.total == dups.count, stats.byDomain == byDomain else {
            throw fail("duplicate statistics \(stats.total) \(stats.byDomain), model \(dups.count) \(byDomain)")
        }
        if let i = live.first {
            let id = s.examples[i].id
            let offers = try store.provenance(of: id)?.offers
            let want = 1 + dups.filter { $0.target == id }.count
            guard offers == want else { throw fail("provenance of \(id): \(String(describing: offers)) offers, model \(want)") }
        }
    }

    func same(_ g: FoldedExample, _ f: ReferenceModel.Folded, _ what: String) throws {
        let o = g.original, e = f.original
        guard o.content == e.content, o.domain == e.domain, o.timestampMillis == e.timestampMillis, o.qualityScore == e.qualityScore,
              o.tags == e.tags, o.source == e.source, o.metadataJSON == e.metadataJSON, o.id == f.id else {
            throw fail("\(what): stored original differs from the model's")
        }
        guard g.isExcluded == f.excluded, g.positiveFeedback == f.positive, g.negativeFeedback == f.negative,
              g.example.content == f.content, g.annotations.count == f.annotations.count else {
            throw fail("\(what): folded state excluded=\(g.isExcluded) +\(g.positiveFeedback)/-\(g.negativeFeedback) \(g.annotations.count) annotations, model excluded=\(f.excluded) +\(f.positive)/-\(f.negative) \(f.annotations.count) annotations")
        }
    }
}
