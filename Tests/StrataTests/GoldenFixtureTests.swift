import Foundation
import Testing
@testable import Strata

/// Golden stores of each format generation, one per dedup configuration (key ×
/// normalization), committed under Tests/StrataTests/Fixtures/stores/:
/// `v1-*` (segment format 1, MANIFEST 1), `v2-*` (segment format 2 with
/// footer counts, MANIFEST 2 with committed lengths) and `v3-*` (what this
/// build writes: the compacted segment is format 3 with columnar blocks,
/// SPEC.md §3.6; the others stay format 2). Each
/// holds LZ4 segments sealed at close, a compacted segment with folded
/// annotations (kind 4), unfolded annotations, duplicate-seen entries and an
/// index snapshot. Every build must read them back byte-exact: the folded scan
/// and a raw export must equal the committed `expected-*.jsonl` files, and
/// `verify` must find nothing wrong. A writer opening a copy must accept them.
///
/// Write the current generation's stores (only when the format version
/// changes, under a new prefix; older generations are never rewritten):
/// STRATA_WRITE_FIXTURES=1 swift test --filter GoldenFixtureTests
@Suite struct GoldenFixtureTests {
    static let keys = ["content", "content+source", "content+metadata.k", "prompt_only"]
    static let configs: [String] = keys.flatMap { k in DedupKey.Normalization.allCases.map { "\(k)|\($0.rawValue)" } }
    static let root = packageRoot + "/Tests/StrataTests/Fixtures/stores"

    /// Fixture generations, oldest first; the last is what this build writes.
    static let generations = ["v1", "v2", "v3"]

    static func directory(_ config: String, generation: String = "v1") -> String {
        let name = config.replacingOccurrences(of: "|", with: "-").replacingOccurrences(of: "+", with: "_")
        return root + "/" + generation + "-" + name
    }

    static let jan: Int64 = 1_735_689_600_000 + 3_723_456  // 2025-01-01T01:02:03.456Z
    static let feb: Int64 = 1_738_368_000_000 + 86_400_007

    static func workload(_ s: Store, phase: Int) throws {
        func pr(_ p: String, _ r: String, _ d: String, _ ts: Int64, src: String?, meta: String, q: Double? = nil, tags: [String] = []) -> Example {
            Example(content: .promptResponse(prompt: p, response: r), domain: d, timestampMillis: ts, qualityScore: q, tags: tags, source: src, metadataJSON: meta)
        }
        if phase == 0 {
            let a = try s.append(pr("Hello  World", "yes", "alpha", jan, src: "a", meta: #"{"k":"x"}"#, q: 0.5, tags: ["t1"]))
            try s.append(pr("hello world", "yes", "alpha", jan + 1, src: "b", meta: #"{"k":"y"}"#))
            try s.append(pr("hello world", "yes", "beta", feb, src: "a", meta: #"{"k":"x"}"#, q: 1))
            try s.append(contentsOf: [
                Example(content: .instruction(instruction: "Sum up", input: "", output: "Short."), domain: "alpha", timestampMillis: jan + 2,
                        source: "a", metadataJSON: "{\n \"k\": 7 }"),
                Example(content: .instruction(instruction: "sum  UP", input: "", output: "Longer."), domain: "alpha", timestampMillis: jan + 3,
                        source: "a", metadataJSON: #"{"k":7}"#),
                Example(content: .chat([Message(role: .system, content: "Be brief."), Message(role: .user, content: "hi"),
                                        Message(role: .assistant, content: "hello é 日本")]), domain: "beta", timestampMillis: feb + 5,
                        qualityScore: 0.25, tags: ["t1", "t2"], metadataJSON: #"{"k":true,"z":[1,2]}"#),
                Example(content: .chat([Message(role: .user, content: "HI"), Message(role: .assistant, content: "other")]), domain: "beta",
                        timestampMillis: feb + 6, metadataJSON: #"{"k":null}"#),
            ])
            try s.annotate(a.id, Annotation(.feedback(.positive, rating: 5, comment: "good"), timestampMillis: jan + 10))
            try s.annotate(a.id, Annotation(.correction(text: "Yes!", field: nil), reason: "tone", timestampMillis: jan + 11))
        } else if phase == 1 {
            var ids: [ExampleID] = []
            try s.scan(ScanFilter(includeExcluded: true)) { ids.append($0.id); return true }
            try s.annotate(ids[1], Annotation(.exclude, reason: "dup", timestampMillis: jan + 20))
            try s.append(pr("late", "arrival", "alpha", jan + 30, src: "c", meta: "{}"))
            try s.annotate(ids[0], Annotation(.feedback(.negative, rating: nil, comment: nil), timestampMillis: jan + 31))
        }
    }

    static func generate(_ config: String, at dir: String) throws {
        let parts = config.split(separator: "|").map(String.init)
        try? FileManager.default.removeItem(atPath: dir)
        var o = StoreOptions()
        o.dedupKey = try DedupKey(parsing: parts[0], normalize: parts[1])
        var s = try Store.open(at: dir, options: o)
        try workload(s, phase: 0)
        try s.close()
        s = try Store.open(at: dir)
        var c = CompactionOptions()
        c.dictionary = .never
        try s.compact(partition: PartitionKey(domain: "alpha", month: Month("2025-01")!), options: c)
        try workload(s, phase: 1)
        try s.close()
        try FileManager.default.removeItem(atPath: dir + "/" + Format.lockFileName)  // holds a pid; readers take no lock
        try Data(scanText(dir).utf8).write(to: URL(fileURLWithPath: dir + "/expected-scan.jsonl"))
        try Data(try exportText(dir)).write(to: URL(fileURLWithPath: dir + "/expected-export.jsonl"))
    }

    /// The folded scan, excluded examples included, one line per example.
    static func scanText(_ dir: String) throws -> String {
        let r = try StoreReader(path: dir)
        defer { r.close() }
        var out = ""
        try r.scanFolded(ScanFilter(includeExcluded: true)) { f in
            out += "{\"original\":\(f.original.jsonString),\"folded\":\(f.example.jsonString),\"excluded\":\(f.isExcluded),"
            out += "\"annotations\":[\(f.annotations.map { "\"\($0.kind.name)@\($0.timestampMillis)\"" }.joined(separator: ","))]}\n"
            return true
        }
        return out
    }

    static func exportText(_ dir: String) throws -> [UInt8] {
        let out = temporaryStorePath("goldenExport")
        var spec = ExportSpec(format: .jsonl, schema: .raw)
        spec.includeExcluded = true
        _ = try Exporter(storePath: dir, outPath: out, spec: spec).run()
        return try PosixFileSystem.shared.readFile(out + "/data.jsonl")
    }

    // MARK: Dictionaries

    /// A store compacted with zstd dictionaries: version 2 dictionary files
    /// (SPEC.md §6, the dictionary stored as a zstd frame) and columnar
    /// blocks whose streams use them (SPEC.md §3.6). Each domain's first
    /// month trained its own dictionary (`dict-1`, `dict-2`); the second
    /// month of the first domain was judged not to pay for one (`auto`) and
    /// is columnar without; annotations and an append followed compaction
    /// (folded annotations, later ones, an LZ4 segment). Written once, with
    /// the same command as the other fixtures; never rewritten.
    static let dictionaryStore = root + "/v3-dictionaries"

    static func generateDictionaryStore(at dir: String) throws {
        try? FileManager.default.removeItem(atPath: dir)
        var o = StoreOptions()
        o.segmentTargetBytes = 64 << 10
        o.blockTargetBytes = 8 << 10
        var s = try Store.open(at: dir, options: o)
        var feb = makeCorpusExamples(90, domain: "roofing", seed: 22)
        for i in feb.indices { feb[i].timestampMillis += 40 * 86_400_000 }
        let all = makeCorpusExamples(90, domain: "roofing", seed: 21)
        try s.append(contentsOf: all + feb + makeCorpusExamples(60, domain: "support", seed: 23))
        try s.annotate(all[0].id, Annotation(.feedback(.positive, rating: 4, comment: "cites the spec"), timestampMillis: jan + 10))
        try s.annotate(all[1].id, Annotation(.exclude, reason: "duplicate prompt", timestampMillis: jan + 11))
        try s.close()
        s = try Store.open(at: dir)
        var c = CompactionOptions()
        c.dictionary = .always
        c.dictionaryCapacity = 8 << 10
        c.blockTargetBytes = 16 << 10
        var previousDomain = ""
        for p in s.partitions.sorted(by: { ($0.domain, $0.month.description) < ($1.domain, $1.month.description) }) {
            // Each domain's first month trains a dictionary; later months reuse it when it fits.
            c.dictionary = p.domain == previousDomain ? .auto : .always
            previousDomain = p.domain
            try s.compact(partition: p, options: c)
        }
        try s.annotate(all[2].id, Annotation(.correction(text: "Corrected after compaction", field: nil), reason: "tone", timestampMillis: jan + 20))
        try s.append(Example(content: .promptResponse(prompt: "late", response: "arrival"), domain: "roofing", timestampMillis: jan + 30,
                             source: "chat", metadataJSON: "{}"))
        try s.close()
        try FileManager.default.removeItem(atPath: dir + "/" + Format.lockFileName)
        try Data(scanText(dir).utf8).write(to: URL(fileURLWithPath: dir + "/expected-scan.jsonl"))
        try Data(try exportText(dir)).write(to: URL(fileURLWithPath: dir + "/expected-export.jsonl"))
    }

    static func parquetExport(_ dir: String, salvage: Bool) throws -> [UInt8] {
        let out = temporaryStorePath("goldenParquet")
        var spec = ExportSpec(format: .parquet)
        spec.includeExcluded = true
        let e = Exporter(storePath: dir, outPath: out, spec: spec)
        e.skipDamaged = salvage
        _ = try e.run()
        return try PosixFileSystem.shared.readFile(out + "/data/data.parquet")
    }

    @Test func dictionaryCompressedStoreReadsBackByteExact() throws {
        let dir = Self.dictionaryStore
        if ProcessInfo.processInfo.environment["STRATA_WRITE_FIXTURES"] != nil { try Self.generateDictionaryStore(at: dir) }
        // Every dictionary file is version 2 and decodes; every compacted segment names one that exists.
        let m = try Manifest.decode(try PosixFileSystem.shared.readFile(dir + "/MANIFEST"), path: "MANIFEST")
        let used = Set(m.segments.map(\.dictionaryID)).subtracting([0])
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/dicts").sorted()
        #expect(used.count >= 2, "\(used)")
        #expect(files == used.sorted().map { Format.dictionaryFileName($0) })
        for id in used {
            let path = dir + "/dicts/" + Format.dictionaryFileName(id)
            let bytes = try PosixFileSystem.shared.readFile(path)
            #expect(bytes[8] == 2 && bytes[9] == 0, "\(path) version")
            let d = try DictionaryFile.decode(bytes, expectedID: id, path: path)
            // Stored compressed: the file is smaller than the dictionary it holds.
            #expect(bytes.count < d.bytes.count, "\(bytes.count) for \(d.bytes.count)")
        }
        #expect(m.segments.contains { $0.dictionaryID != 0 && $0.codec == "zstd-columnar" })
        #expect(m.segments.contains { $0.dictionaryID == 0 }, "the append after compaction")
        // Reads are byte-exact: folded scan, JSONL export, verify.
        let expectedScan = try String(contentsOfFile: dir + "/expected-scan.jsonl", encoding: .utf8)
        #expect(expectedScan.split(separator: "\n").count > 200)
        #expect(try Self.scanText(dir) == expectedScan)
        #expect(try Self.exportText(dir) == (try PosixFileSystem.shared.readFile(dir + "/expected-export.jsonl")))
        let report = StoreVerifier(path: dir).run()
        #expect(report.problems.isEmpty, "\(report.problems)")
        // Parquet straight from the dictionary-compressed column streams equals the row path's file.
        let columns = try Self.parquetExport(dir, salvage: false)
        #expect(columns.count > 1000)
        #expect(columns == (try Self.parquetExport(dir, salvage: true)))
        // The streams need their own dictionary: another valid dictionary under the
        // same id is corruption when the blocks are read, never other text.
        let swapped = temporaryStorePath("goldenDictSwapped")
        try FileManager.default.copyItem(atPath: dir, toPath: swapped)
        let ids = used.sorted()
        let other = try DictionaryFile.decode(try PosixFileSystem.shared.readFile(dir + "/dicts/" + Format.dictionaryFileName(ids[1])),
                                              expectedID: ids[1], path: "other")
        try Data(try DictionaryFile.encode(id: ids[0], dictionary: other.bytes, level: 3))
            .write(to: URL(fileURLWithPath: swapped + "/dicts/" + Format.dictionaryFileName(ids[0])))
        #expect { _ = try Self.scanText(swapped) } throws: { ($0 as? StrataError)?.code == .corruption }
        // A writer accepts it and can compact again with the stored dictionaries.
        let copy = temporaryStorePath("goldenDictCopy")
        try FileManager.default.copyItem(atPath: dir, toPath: copy)
        let s = try Store.open(at: copy)
        #expect(s.recoveryEvents.isEmpty, "\(s.recoveryEvents)")
        for p in s.partitions { try s.compact(partition: p) }
        try s.close()
        #expect(try Self.scanText(copy) == expectedScan)
    }

    static let wordModelStore = root + "/v3-word-models"

    /// A store whose compacted segments code their text with word models
    /// (dictionary files version 3, columnar stream encoding 3; SPEC.md §6.1).
    static func generateWordModelStore(at dir: String) throws {
        try? FileManager.default.removeItem(atPath: dir)
        var o = StoreOptions()
        o.blockTargetBytes = 8 << 10
        var s = try Store.open(at: dir, options: o)
        let all = makeCorpusExamples(120, domain: "roofing", seed: 31) + makeCorpusExamples(80, domain: "support", seed: 32)
        try s.append(contentsOf: all)
        try s.annotate(all[0].id, Annotation(.feedback(.negative, rating: 2, comment: "too long"), timestampMillis: jan + 10))
        try s.close()
        s = try Store.open(at: dir)
        var c = CompactionOptions()
        c.dictionary = .always  // forced: trains a dictionary and a word model for each domain
        c.dictionaryCapacity = 8 << 10
        c.blockTargetBytes = 16 << 10
        _ = try s.compactAll(options: c)
        try s.append(Example(content: .promptResponse(prompt: "late", response: "arrival"), domain: "support", timestampMillis: jan + 30,
                             metadataJSON: "{}"))
        try s.close()
        try FileManager.default.removeItem(atPath: dir + "/" + Format.lockFileName)
        try Data(scanText(dir).utf8).write(to: URL(fileURLWithPath: dir + "/expected-scan.jsonl"))
        try Data(try exportText(dir)).write(to: URL(fileURLWithPath: dir + "/expected-export.jsonl"))
    }

    @Test func wordModelStoreReadsBackByteExact() throws {
        let dir = Self.wordModelStore
        if ProcessInfo.processInfo.environment["STRATA_WRITE_FIXTURES"] != nil { try Self.generateWordModelStore(at: dir) }
        let m = try Manifest.decode(try PosixFileSystem.shared.readFile(dir + "/MANIFEST"), path: "MANIFEST")
        let used = Set(m.segments.map(\.dictionaryID)).subtracting([0]).sorted()
        #expect(used.count == 2, "\(used)")
        for id in used {
            let path = dir + "/dicts/" + Format.dictionaryFileName(id)
            let bytes = try PosixFileSystem.shared.readFile(path)
            #expect(bytes[8] == 3 && bytes[9] == 0, "\(path) version")
            #expect(try DictionaryFile.decode(bytes, expectedID: id, path: path).wordModel != nil)
        }
        #expect(try WordModelTests.streamEncodings(dir)[ColumnarBlock.Stream.texts.rawValue]?.contains(3) == true)
        let expectedScan = try String(contentsOfFile: dir + "/expected-scan.jsonl", encoding: .utf8)
        #expect(expectedScan.split(separator: "\n").count == 201)
        #expect(try Self.scanText(dir) == expectedScan)
        #expect(try Self.exportText(dir) == (try PosixFileSystem.shared.readFile(dir + "/expected-export.jsonl")))
        let report = StoreVerifier(path: dir).run()
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(try Self.parquetExport(dir, salvage: false) == (try Self.parquetExport(dir, salvage: true)))
        // Another domain's model under the same id: reads report corruption, never other text.
        let swapped = temporaryStorePath("goldenWordModelSwapped")
        try FileManager.default.copyItem(atPath: dir, toPath: swapped)
        let a = try DictionaryFile.decode(try PosixFileSystem.shared.readFile(dir + "/dicts/" + Format.dictionaryFileName(used[0])),
                                          expectedID: used[0], path: "a")
        let b = try DictionaryFile.decode(try PosixFileSystem.shared.readFile(dir + "/dicts/" + Format.dictionaryFileName(used[1])),
                                          expectedID: used[1], path: "b")
        try Data(try DictionaryFile.encode(id: used[0], dictionary: a.bytes, wordModel: b.wordModel, level: 3))
            .write(to: URL(fileURLWithPath: swapped + "/dicts/" + Format.dictionaryFileName(used[0])))
        #expect { _ = try Self.scanText(swapped) } throws: { ($0 as? StrataError)?.code == .corruption }
    }

    @Test(arguments: generations, configs)
    func goldenStoreReadsBackByteExact(_ generation: String, _ config: String) throws {
        let dir = Self.directory(config, generation: generation)
        if ProcessInfo.processInfo.environment["STRATA_WRITE_FIXTURES"] != nil, generation == Self.generations.last! {
            try Self.generate(config, at: dir)
        }
        // Each generation holds segments of its own format version (SPEC.md §3.0, header bytes 8..9).
        let segments = try FileManager.default.subpathsOfDirectory(atPath: dir).filter { $0.hasSuffix(".strata") }
        #expect(!segments.isEmpty)
        // From v3 on only compacted segments have the new version (columnar blocks); LZ4 segments stay 2.
        let generationVersion = Int(generation.dropFirst())!
        var versions: [Int] = []
        for seg in segments {
            let header = try PosixFileSystem.shared.readFile(dir + "/" + seg)
            #expect(header.count >= 10, "\(seg)")
            versions.append(Int(header[8]) | Int(header[9]) << 8)
        }
        if generationVersion < 3 {
            #expect(versions.allSatisfy { $0 == generationVersion }, "\(versions)")
        } else {
            #expect(versions.contains(generationVersion) && versions.allSatisfy { $0 == 2 || $0 == generationVersion }, "\(versions)")
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/MANIFEST"), "missing fixture \(dir)")
        let expectedScan = try String(contentsOfFile: dir + "/expected-scan.jsonl", encoding: .utf8)
        #expect(try Self.scanText(dir) == expectedScan)
        #expect(expectedScan.split(separator: "\n").count >= 5)
        let expectedExport = try PosixFileSystem.shared.readFile(dir + "/expected-export.jsonl")
        #expect(try Self.exportText(dir) == expectedExport)
        let report = StoreVerifier(path: dir).run()
        #expect(report.problems.isEmpty, "\(report.problems)")
        // A writer accepts the store as is (on a copy: fixtures are never written).
        let copy = temporaryStorePath("goldenCopy")
        try FileManager.default.copyItem(atPath: dir, toPath: copy)
        let s = try Store.open(at: copy)
        #expect(s.recoveryEvents.isEmpty, "\(s.recoveryEvents)")
        try s.append(Example(content: .promptResponse(prompt: "new", response: "one"), domain: "alpha", timestampMillis: Self.jan))
        try s.close()
        #expect(try Self.scanText(copy).split(separator: "\n").count == expectedScan.split(separator: "\n").count + 1)
    }
}
