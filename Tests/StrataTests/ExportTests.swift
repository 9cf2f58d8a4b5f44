import Foundation
import Testing
@testable import Strata

@Suite struct ExportTests {
    /// A store with `n` examples of all shapes over 2 domains × 3 months.
    func makeStore(_ n: Int = 300, seed: Int = 0, name: String = #function) throws -> (Store, String) {
        let path = temporaryStorePath(name)
        let store = try Store.open(at: path)
        try store.append(contentsOf: makeExamples(n, seed: seed))
        return (store, path)
    }

    func export(_ store: String, _ out: String, _ spec: ExportSpec, fs: FileSystem = PosixFileSystem.shared) throws -> ExportResult {
        try Exporter(storePath: store, outPath: out, spec: spec, fileSystem: fs).run()
    }

    @Test func everyJSONLSchemaParsesWithPythonAndMatchesTheStore() throws {
        let (store, path) = try makeStore()
        defer { try? store.close() }
        let all = try ExportExpect.scan(store)
        for schema in JSONLSchema.allCases {
            let out = ExportExpect.outDir("schema-\(schema.rawValue)")
            let r = try export(path, out, ExportSpec(format: .jsonl, schema: schema))
            let want = all.compactMap { ExportExpect.row(schema, $0) }
            #expect(r.rows == want.count, "\(schema)")
            #expect(r.skipped == all.count - want.count, "\(schema)")
            #expect(r.files.map(\.path) == ["data.jsonl"])
            try ExportExpect.check("jsonl", ["rows": want], [out + "/data.jsonl"])
        }
    }

    @Test func rawExportReingestedIntoANewStoreGivesTheSameIdsAndExamples() throws {
        let (store, path) = try makeStore()
        defer { try? store.close() }
        let out = ExportExpect.outDir()
        _ = try export(path, out, ExportSpec())
        let copy = try Store.open(at: temporaryStorePath("reingest"))
        defer { try? copy.close() }
        var parser = try IngestLineParser()
        var draft = ExampleDraft()
        for line in try ExportExpect.lines(out + "/data.jsonl") {
            var bytes = Array(line.utf8)
            try bytes.withUnsafeMutableBytes { try parser.parse(UnsafeRawBufferPointer($0), into: &draft) }
            let outcome = try copy.append(draft: &draft)
            #expect(!outcome.isDuplicate)
            #expect(parser.id == outcome.id, "the exported id field must equal the recomputed id")
        }
        let a = try ExportExpect.scan(store), b = try ExportExpect.scan(copy)
        #expect(a.count == b.count)
        #expect(a == b)
    }

    @Test func metaHeaderFirstLineCountsTheRowsOfEachSplitFile() throws {
        let (store, path) = try makeStore()
        defer { try? store.close() }
        var spec = ExportSpec(format: .jsonl, schema: .alpaca)
        spec.metaHeader = true
        spec.split = try SplitSpec(parsing: "train=0.8,validation=0.1,test=0.1")
        let out = ExportExpect.outDir()
        let r = try export(path, out, spec)
        #expect(r.files.map(\.path) == ["train.jsonl", "validation.jsonl", "test.jsonl"])
        let all = try ExportExpect.scan(store)
        for (i, f) in r.files.enumerated() {
            let want = all.filter { spec.split!.index(of: $0.id) == i }.compactMap { ExportExpect.row(.alpaca, $0) }
            #expect(f.rows == want.count)
            try ExportExpect.check("jsonl", ["rows": want, "meta_header": true], [out + "/" + f.path])
            let head = try ExportExpect.object(try ExportExpect.lines(out + "/" + f.path)[0])["_meta"] as! [String: Any]
            #expect(head["file_name"] as? String == f.path)
        }
    }

    @Test func fullJSONDocumentIsValidJSONWithCorrectTotalsAndGroupedConversations() throws {
        let (store, path) = try makeStore()
        defer { try? store.close() }
        let out = ExportExpect.outDir()
        var spec = ExportSpec(format: .json)
        spec.name = "unit"
        let r = try export(path, out, spec)
        #expect(r.files.map(\.path) == ["data.json"])
        let all = try ExportExpect.scan(store)
        let chats = all.filter { $0.shape == .chat }
        let pairs = all.reduce(0) { n, e in
            if case let .chat(ms) = e.content { return n + ms.filter { $0.role == .assistant }.count }
            return n + 1
        }
        let qs = all.compactMap(\.qualityScore)
        var byDomain: [String: Int] = [:], byShape: [String: Int] = [:], bySource: [String: Int] = [:], byTag: [String: Int] = [:]
        var byMonth: [String: Int] = [:]
        for e in all {
            byDomain[e.domain, default: 0] += 1
            byShape[e.shape.name, default: 0] += 1
            bySource[e.source ?? "(none)", default: 0] += 1
            byMonth[e.month.description, default: 0] += 1
            for t in e.tags { byTag[t, default: 0] += 1 }
        }
        try ExportExpect.check("json", [
            "totals": ["total_examples": all.count, "total_conversations": chats.count, "total_training_pairs": pairs, "name": "unit"],
            "quality_summary": ["avg_quality_score": qs.reduce(0, +) / Double(qs.count), "min_quality_score": qs.min()!,
                                "max_quality_score": qs.max()!, "scored_count": qs.count],
            "distributions": ["domain": byDomain, "shape": byShape, "source": bySource, "tag": byTag, "month": byMonth],
            "examples": all.filter { $0.shape != .chat }.map(ExportExpect.raw),
            "conversations": chats.map(ExportExpect.conversation),
        ], [out + "/data.json"])
    }

    @Test func parquetExportReadsBackInPyarrowAndDuckDBWithEveryValue() throws {
        let (store, path) = try makeStore()
        defer { try? store.close() }
        let out = ExportExpect.outDir()
        let r = try export(path, out, ExportSpec(format: .parquet))
        #expect(r.files.map(\.path) == ["data/data.parquet"])
        let all = try ExportExpect.scan(store)
        try ExportExpect.check("parquet", ["rows": all.map { ExportExpect.parquet($0, partitioned: false) }], [out + "/data/data.parquet"])
        // Sidecars as the event-log pipeline writes them.
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/schema.json"))) as! [String: Any]
        let names = (schema["fields"] as! [[String: Any]]).map { $0["name"] as! String }
        #expect(names.contains("messages") && names.contains("feedback_negative"))
        let md = try String(contentsOfFile: out + "/dataset_summary.md", encoding: .utf8)
        #expect(md.contains("Total rows: \(all.count)"))
    }

    @Test func hivePartitionedParquetReadsAsOneDatasetInPyarrowAndDuckDB() throws {
        let (store, path) = try makeStore()
        defer { try? store.close() }
        let out = ExportExpect.outDir()
        var spec = ExportSpec(format: .parquet)
        spec.partitioned = true
        let r = try export(path, out, spec)
        #expect(r.files.count == store.partitions.count)
        #expect(r.files.allSatisfy { $0.path.hasPrefix("data/domain=") && $0.path.hasSuffix("/part-00000.parquet") })
        let all = try ExportExpect.scan(store)
        try ExportExpect.check("hive", ["rows": all.map { ExportExpect.parquet($0, partitioned: true) }], [out + "/data"])
        #expect(FileManager.default.fileExists(atPath: out + "/schema.json"))
        #expect(FileManager.default.fileExists(atPath: out + "/dataset_summary.md"))
    }

    @Test func partitionedJSONLUsesHiveLayoutWithOneFilePerPartition() throws {
        let (store, path) = try makeStore()
        defer { try? store.close() }
        let out = ExportExpect.outDir()
        var spec = ExportSpec()
        spec.partitioned = true
        let r = try export(path, out, spec)
        let all = try ExportExpect.scan(store)
        #expect(r.files.map(\.path) == store.partitions.map { $0.path + "/part-00000.jsonl" })
        for p in store.partitions {
            let want = all.filter { $0.domain == p.domain && $0.month == p.month }.map(ExportExpect.raw)
            try ExportExpect.check("jsonl", ["rows": want], [out + "/" + p.path + "/part-00000.jsonl"])
        }
    }

    @Test func splitsAreDeterministicAndStayPutWhenTheStoreGrows() throws {
        let (store, path) = try makeStore(3000)
        defer { try? store.close() }
        var spec = ExportSpec()
        spec.split = try SplitSpec(parsing: "train=0.8,validation=0.1,test=0.1")
        func assignment(_ out: String) throws -> [String: String] {
            var m: [String: String] = [:]
            for name in spec.split!.names {
                for l in try ExportExpect.lines(out + "/\(name).jsonl") { m[try ExportExpect.object(l)["id"] as! String] = name }
            }
            return m
        }
        let a = ExportExpect.outDir("a"), b = ExportExpect.outDir("b")
        _ = try export(path, a, spec)
        _ = try export(path, b, spec)
        let first = try assignment(a)
        #expect(first.count == 3000)
        #expect(try assignment(b) == first)
        #expect(try String(contentsOfFile: a + "/train.jsonl", encoding: .utf8) == String(contentsOfFile: b + "/train.jsonl", encoding: .utf8))
        // Proportions near the fractions.
        let train = first.values.filter { $0 == "train" }.count
        #expect(abs(Double(train) / 3000 - 0.8) < 0.04)
        // Grow the store, re-export into the same directory: old ids keep their split.
        try store.append(contentsOf: makeExamples(1000, seed: 7))
        let r = try export(path, a, spec)
        #expect(!r.upToDate)
        let grown = try assignment(a)
        #expect(grown.count == 4000)
        for (id, s) in first { #expect(grown[id] == s) }
    }

    @Test func repeatedExportIsUpToDateAndAppendsRewriteOnlyTheChangedPartitions() throws {
        let (store, path) = try makeStore()
        defer { try? store.close() }
        let out = ExportExpect.outDir()
        var spec = ExportSpec(format: .parquet)
        spec.partitioned = true
        let first = try export(path, out, spec)
        #expect(!first.upToDate)
        func inode(_ rel: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: out + "/" + rel)[.systemFileNumber] as! NSNumber).intValue
        }
        let inodes = try Dictionary(uniqueKeysWithValues: first.files.map { ($0.path, try inode($0.path)) })
        let again = try export(path, out, spec)
        #expect(again.upToDate)
        #expect(again.rewrittenFiles == 0)
        #expect(again.files.map { [$0.path, "\($0.rows)", "\($0.bytes)", hex64($0.xxh3)] } == first.files.map { [$0.path, "\($0.rows)", "\($0.bytes)", hex64($0.xxh3)] })
        for f in first.files { #expect(try inode(f.path) == inodes[f.path]) }

        // Append to one partition only.
        var e = makeExamples(1, seed: 99)[0]
        e.domain = "alpha"
        e.timestampMillis = 1_735_689_600_000 + 5  // month 2025-01
        try store.append(e)
        let changed = PartitionKey(domain: "alpha", month: Month(year: 2025, month: 1)).path
        let third = try export(path, out, spec)
        #expect(!third.upToDate)
        #expect(third.rewrittenFiles == 1)
        for f in first.files {
            if f.path.hasPrefix("data/" + changed + "/") {
                #expect(try inode(f.path) != inodes[f.path])
            } else {
                #expect(try inode(f.path) == inodes[f.path])
            }
        }
        #expect(third.rows == first.rows + 1)
        // The manifest records the new checksum, which matches the file.
        let m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/_strata_export.json"))) as! [String: Any]
        for f in m["files"] as! [[String: Any]] {
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: out + "/" + (f["path"] as! String))))
            #expect(f["xxh3_64"] as? String == hex64(XXH.hash64(bytes)))
        }
        // Unpartitioned output rewrites its single file; a changed spec rewrites everything.
        #expect(try export(path, out, spec).upToDate)
        spec.minQuality = 0.5
        #expect(!(try export(path, out, spec)).upToDate)
    }

    @Test func failedExportLeavesNoPartialFileAndKeepsThePreviousExport() throws {
        let (store, path) = try makeStore(2000)
        defer { try? store.close() }
        let out = ExportExpect.outDir()
        _ = try export(path, out, ExportSpec())
        let before = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        let data = try Data(contentsOf: URL(fileURLWithPath: out + "/data.jsonl"))
        try store.append(contentsOf: makeExamples(500, seed: 3))
        let failing = FailingFileSystem(failOnWrite: 1)
        #expect(throws: StrataError.self) { try export(path, out, ExportSpec(), fs: failing) }
        #expect(failing.sawTemporaryWrite)
        let after = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(after == before, "left behind: \(Set(after).subtracting(before))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/data.jsonl")) == data)
        // A later successful run picks up the change.
        let r = try export(path, out, ExportSpec())
        #expect(!r.upToDate && r.rows == 2500)
    }

    @Test func filtersSelectByQualityTagsSourceShapeDomainAndMonth() throws {
        let (store, path) = try makeStore(600)
        defer { try? store.close() }
        let all = try ExportExpect.scan(store)
        var specs: [(ExportSpec, (Example) -> Bool)] = []
        var s = ExportSpec(); s.minQuality = 0.5
        specs.append((s, { ($0.qualityScore ?? -1) >= 0.5 }))
        s = ExportSpec(); s.tags = ["t1", "t2"]
        specs.append((s, { $0.tags.contains("t1") || $0.tags.contains("t2") }))
        s = ExportSpec(); s.tags = ["t1", "x"]; s.allTags = true
        specs.append((s, { $0.tags.contains("t1") && $0.tags.contains("x") }))
        s = ExportSpec(); s.source = "pipe"
        specs.append((s, { $0.source == "pipe" }))
        s = ExportSpec(); s.shapes = [.chat, .promptResponse]
        specs.append((s, { $0.shape != .instruction }))
        s = ExportSpec(); s.domains = ["beta"]; s.fromMonth = Month(year: 2025, month: 2); s.toMonth = Month(year: 2025, month: 2)
        specs.append((s, { $0.domain == "beta" && $0.month == Month(year: 2025, month: 2) }))
        s = ExportSpec(); s.feedback = .onlyPositive  // no annotations yet: nothing has positive feedback
        specs.append((s, { _ in false }))
        s = ExportSpec(); s.feedback = .dropNegative
        specs.append((s, { _ in true }))
        for (i, (spec, pred)) in specs.enumerated() {
            let out = ExportExpect.outDir("filter\(i)")
            let r = try export(path, out, spec)
            let got = try ExportExpect.lines(out + "/data.jsonl").map { try ExportExpect.object($0)["id"] as! String }
            let want = all.filter(pred).map(\.id.hex)
            #expect(got == want, "filter \(i): \(spec.canonicalJSON)")
            #expect(r.rows == want.count)
            #expect(!want.isEmpty || i == 6)
        }
    }

    @Test func annotationSourceFoldsFeedbackExclusionAndCorrections() throws {
        let (store, path) = try makeStore(60)
        defer { try? store.close() }
        let all = try ExportExpect.scan(store)
        let src = StubAnnotations()
        let ins = all.first { $0.shape == .instruction }!
        src.map[all[1].id] = FoldedAnnotations(feedbackPositive: 2)
        src.map[all[2].id] = FoldedAnnotations(feedbackNegative: 1)
        src.map[all[3].id] = FoldedAnnotations(excluded: true)
        src.map[ins.id] = FoldedAnnotations(feedbackPositive: 1, corrected: "fixed")
        var spec = ExportSpec(format: .jsonl, schema: .alpaca)
        spec.feedback = .dropNegative
        let out = ExportExpect.outDir()
        let ex = Exporter(storePath: path, outPath: out, spec: spec)
        ex.annotations = src
        _ = try ex.run()
        let rows = try ExportExpect.lines(out + "/data.jsonl").map(ExportExpect.object)
        let want = all.filter { $0.id != all[2].id && $0.id != all[3].id && $0.shape != .chat }
        #expect(rows.count == want.count)
        #expect(rows.contains { $0["instruction"] as? String == ExportExpect.row(.alpaca, ins)!["instruction"] as? String && $0["output"] as? String == "fixed" })
        // Raw keeps the stored content and reports the annotations.
        spec = ExportSpec(); spec.includeExcluded = true; spec.feedback = .onlyPositive
        let out2 = ExportExpect.outDir("raw")
        let ex2 = Exporter(storePath: path, outPath: out2, spec: spec)
        ex2.annotations = src
        _ = try ex2.run()
        let raw = try ExportExpect.lines(out2 + "/data.jsonl").map(ExportExpect.object)
        #expect(Set(raw.map { $0["id"] as! String }) == [all[1].id.hex, ins.id.hex])
        #expect(raw.first { $0["id"] as! String == ins.id.hex }?["corrected"] as? String == "fixed")
    }

    @Test func storeAnnotationsAreFoldedIntoExportsBeforeAndAfterCompaction() throws {
        let (store, path) = try makeStore(90)
        defer { try? store.close() }
        let all = try ExportExpect.scan(store)
        let ins = all.first { $0.shape == .instruction }!
        let chat = all.first { $0.shape == .chat }!
        let pr = all.first { $0.shape == .promptResponse }!
        try store.annotate(pr.id, Annotation(.feedback(.positive, rating: nil, comment: nil)))
        try store.annotate(pr.id, Annotation(.feedback(.positive, rating: 5, comment: "good")))
        try store.annotate(all[10].id, Annotation(.feedback(.negative, rating: nil, comment: nil)))
        try store.annotate(all[11].id, Annotation(.exclude, reason: "pii"))
        try store.annotate(all[12].id, Annotation(.exclude))
        try store.annotate(all[12].id, Annotation(.include))
        try store.annotate(ins.id, Annotation(.correction(text: "fixed output", field: nil)))
        try store.annotate(chat.id, Annotation(.correction(text: "fixed reply", field: nil)))
        var n = 0
        for round in ["appended", "compacted"] {
            if round == "compacted" { _ = try store.compactAll() }
            n += 1
            var spec = ExportSpec(format: .jsonl, schema: .chat)
            spec.feedback = .dropNegative
            let out = ExportExpect.outDir("fold\(n)")
            let r = try export(path, out, spec)
            let rows = try ExportExpect.lines(out + "/data.jsonl").map(ExportExpect.object)
            #expect(r.rows == all.count - 2, "\(round)")  // all[10] negative, all[11] excluded; all[12] re-included
            func lastAssistant(_ row: [String: Any]) -> String? {
                ((row["messages"] as? [[String: Any]])?.last { $0["role"] as? String == "assistant" })?["content"] as? String
            }
            #expect(rows.contains { lastAssistant($0) == "fixed output" }, "\(round)")
            #expect(rows.contains { lastAssistant($0) == "fixed reply" }, "\(round)")
            // Raw: stored content, annotations reported; only-positive keeps the one liked example.
            spec = ExportSpec(format: .jsonl)
            spec.feedback = .onlyPositive
            let out2 = ExportExpect.outDir("foldraw\(n)")
            _ = try export(path, out2, spec)
            let raw = try ExportExpect.lines(out2 + "/data.jsonl").map(ExportExpect.object)
            #expect(raw.map { $0["id"] as! String } == [pr.id.hex], "\(round)")
            #expect(raw.first?["feedback_positive"] as? Int == 2)
            // include_excluded brings the excluded one back, flagged.
            spec = ExportSpec(format: .jsonl)
            spec.includeExcluded = true
            let out3 = ExportExpect.outDir("foldexcl\(n)")
            _ = try export(path, out3, spec)
            let ex = try ExportExpect.lines(out3 + "/data.jsonl").map(ExportExpect.object)
            #expect(ex.count == all.count)
            #expect(ex.first { $0["id"] as! String == all[11].id.hex }?["excluded"] as? Bool == true)
            #expect(ex.first { $0["id"] as! String == all[12].id.hex }?["excluded"] as? Bool == false)
            let fixed = ex.first { $0["id"] as! String == ins.id.hex }
            #expect(fixed?["corrected"] as? String == "fixed output")
            #expect(fixed?["output"] as? String == ExportExpect.raw(ins)["output"] as? String)
        }
    }

    @Test func aSecondWriterOfTheSameExportDirectoryIsRefusedWhileTheFirstHoldsTheLock() throws {
        let (store, path) = try makeStore(30)
        defer { try? store.close() }
        let out = ExportExpect.outDir()
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let held = try PosixFileSystem.shared.lockExclusive(out + "/" + Exporter.lockFileName)
        do {
            _ = try export(path, out, ExportSpec())
            Issue.record("export ran while another writer held the directory lock")
        } catch let e as StrataError {
            #expect(e.code == .locked)
        }
        held.unlock()
        #expect(try export(path, out, ExportSpec()).rows == 30)
    }

    @Test func multiLineMetadataStaysOnOneJSONLLineWithTheSameValue() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        defer { try? store.close() }
        let meta = "{\n  \"a\": [1,\r\n 2],\n  \"s\": \"x\\ny\"\n}"
        try store.append(Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 0, metadataJSON: meta))
        let out = ExportExpect.outDir()
        _ = try export(path, out, ExportSpec())
        let lines = try ExportExpect.lines(out + "/data.jsonl")
        #expect(lines.count == 1)
        let m = try ExportExpect.object(lines[0])["metadata"] as? [String: Any]
        #expect(m?["a"] as? [Int] == [1, 2])
        #expect(m?["s"] as? String == "x\ny")
    }

    @Test func splitSpecRejectsBadInputAndAssignsByIdLowBits() throws {
        #expect(throws: StrataError.self) { try SplitSpec(parsing: "train=0.8,test=0.1") }
        #expect(throws: StrataError.self) { try SplitSpec(parsing: "train") }
        #expect(throws: StrataError.self) { try SplitSpec(parsing: "a=0.5,a=0.5") }
        let s = try SplitSpec(parsing: "train=0.8,validation=0.1,test=0.1")
        #expect(s.index(of: ExampleID(high: 99, low: 0)) == 0)
        #expect(s.index(of: ExampleID(high: 0, low: UInt64(0.85 * 0x1p64))) == 1)
        #expect(s.index(of: ExampleID(high: 0, low: .max)) == 2)
        var bad = ExportSpec(format: .json); bad.partitioned = true
        #expect(throws: StrataError.self) { try bad.validate() }
    }
}

final class StubAnnotations: ExportAnnotationSource {
    var map: [ExampleID: FoldedAnnotations] = [:]
    func annotations(for id: ExampleID) -> FoldedAnnotations? { map[id] }
}

/// Real file system whose `failOnWrite`-th write to an export temporary file throws.
// @unchecked: its counters are used by one test's thread only.
final class FailingFileSystem: ForwardingFileSystem, @unchecked Sendable {
    let base: any FileSystem = PosixFileSystem.shared
    let failOnWrite: Int
    var writes = 0
    var sawTemporaryWrite = false
    init(failOnWrite: Int) { self.failOnWrite = failOnWrite }

    final class File: WritableFile {
        let inner: WritableFile
        let owner: FailingFileSystem
        init(_ inner: WritableFile, _ owner: FailingFileSystem) { self.inner = inner; self.owner = owner }
        var path: String { inner.path }
        var size: Int64 { inner.size }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            owner.writes += 1
            if path.contains(".tmp-") { owner.sawTemporaryWrite = true }
            if owner.writes >= owner.failOnWrite { throw StrataError(.io, "injected write failure", path: path) }
            try inner.write(bytes)
        }
        func sync() throws { try inner.sync() }
        func truncate(to size: Int64) throws { try inner.truncate(to: size) }
        func close() throws { try inner.close() }
    }

    func openWritable(_ path: String, mode: UInt32) throws -> WritableFile { File(try base.openWritable(path, mode: mode), self) }
    // Export temporaries are created exclusively (O_EXCL): the failure must reach them too.
    func createNew(_ path: String, mode: UInt32) throws -> WritableFile { File(try base.createNew(path, mode: mode), self) }
}

@Suite struct ExportSpecTests {
    @Test func canonicalSpecTextIsValidJSONWithTheSameMembersAsTheSpecObject() throws {
        var s = ExportSpec(format: .parquet)
        s.domains = ["b", "a"]; s.tags = ["q\"x"]; s.minQuality = 0.3; s.split = try SplitSpec(parsing: "train=0.9,test=0.1")
        s.shapes = [.chat]; s.feedback = .dropNegative; s.name = "n"
        let parsed = try JSONSerialization.jsonObject(with: Data(s.canonicalJSON.utf8)) as! NSDictionary
        #expect(parsed == s.jsonObject as NSDictionary)
        #expect(Array(parsed.allKeys as! [String]).sorted() == Array(s.jsonObject.keys).sorted())
        var t = s; t.minQuality = 0.31
        #expect(s.canonicalJSON != t.canonicalJSON)
    }
}
