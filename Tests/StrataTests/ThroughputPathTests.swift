import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// The throughput paths of issue 16 give the same results as the plain ones:
/// blocks compressed on two threads after a batch, duplicates confirmed from
/// the writer's memory, JSONL exports encoded on two threads, scan lines
/// rendered without Strings.
@Suite struct ThroughputPathTests {
    /// JSONL of `examples` as `strata ingest` reads it (raw export lines parse back).
    static func jsonl(_ examples: [Example]) -> [UInt8] {
        var out: [UInt8] = []
        for e in examples {
            e.appendJSON(to: &out)
            out.append(0x0A)
        }
        return out
    }

    @Test func blocksCompressedAfterTheBatchLandInOrderEvenWhenTheSegmentRollsMidBatch() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.blockTargetBytes = 2 << 10     // many blocks per batch
        o.segmentTargetBytes = 24 << 10  // several rolls inside one batch, with detached blocks pending
        let examples = makeExamples(1_500, domains: ["alpha"], months: 1)
        do {
            let store = try Store.open(at: path, options: o)
            let ing = try Ingester(store: store, mapping: IngestMapping())
            try ing.ingest(data: Self.jsonl(examples))
            try ing.commit()
            #expect(ing.summary.inserted == examples.count)
            try store.close()
        }
        let report = StoreVerifier(path: path).run()
        #expect(report.intact, "\(report.problems)")
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.count == examples.count)
        for e in examples.prefix(300) { #expect(try reader.get(e.id) == e) }
        let segments = try FileManager.default.subpathsOfDirectory(atPath: path).filter { $0.hasSuffix(".strata") }
        #expect(segments.count > 2, "the workload must roll segments inside a batch")
    }

    /// Segment files of a store, by path relative to it, with their bytes.
    static func segmentBytes(_ path: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for rel in try FileManager.default.subpathsOfDirectory(atPath: path) where rel.hasSuffix(".strata") {
            out[rel] = try Data(contentsOf: URL(fileURLWithPath: path + "/" + rel))
        }
        return out
    }

    @Test func ingestWithBlocksCompressedWhileAppendingWritesTheBytesOfOneAtATimeAppends() throws {
        // Ingest compresses a batch's blocks on a helper thread during the append
        // loop, and a commit's open blocks on two threads; appending the same
        // parsed lines one at a time compresses each block inline, in the
        // appending thread. Same entries, same blocks: the same segment files.
        var o = StoreOptions()
        o.blockTargetBytes = 2 << 10     // dozens of blocks per batch and partition
        // No rolls: the deferred path decides a roll from raw sizes of blocks not yet
        // compressed (as before this change), the inline one from compressed sizes.
        // Rolls with blocks in flight: blocksCompressedAfterTheBatchLandInOrder… above.
        o.commitPolicy = .manual
        o.recordDuplicates = false  // a duplicate_seen entry carries the wall-clock time it was seen
        let examples = makeExamples(2_400, domains: ["alpha", "beta", "gamma"], months: 4)
        let input = Self.jsonl(examples + examples.prefix(500))  // and duplicates of open-segment examples
        let ingested = temporaryStorePath(), appended = temporaryStorePath()
        do {
            let store = try Store.open(at: ingested, options: o)
            let ing = try Ingester(store: store, mapping: IngestMapping())
            ing.commitEveryBytes = 1 << 40
            ing.commitEverySeconds = 0
            try ing.ingest(data: input)
            try ing.commit()
            #expect(ing.summary.inserted == examples.count)
            #expect(ing.summary.duplicates == 500)
            try store.close()
        }
        do {
            let store = try Store.open(at: appended, options: o)
            var parser = try IngestLineParser(mapping: IngestMapping())
            var draft = ExampleDraft()
            var duplicates = 0
            for line in input.split(separator: 0x0A) {
                try line.withUnsafeBytes { try parser.parse($0, into: &draft) }
                if try store.appendValidated(&draft).isDuplicate { duplicates += 1 }
            }
            #expect(duplicates == 500)
            try store.commit()
            try store.close()
        }
        let a = try Self.segmentBytes(ingested), b = try Self.segmentBytes(appended)
        #expect(a.count == 12, "3 domains x 4 months")
        #expect(a.keys.sorted() == b.keys.sorted())
        for (k, v) in a { #expect(v == b[k], "\(k) differs") }
    }

    @Test func duplicatesOfExamplesWhoseSegmentRolledAreStillFoundAfterTheWriterForgetsIt() throws {
        // Rolled segments leave the in-memory confirmation map: their duplicates
        // are confirmed from the sealed file instead, and still caught.
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.blockTargetBytes = 2 << 10
        o.segmentTargetBytes = 16 << 10
        o.commitPolicy = .manual
        let store = try Store.open(at: path, options: o)
        let examples = makeExamples(600, domains: ["alpha"], months: 1)
        for e in examples { #expect(try store.append(e).isDuplicate == false) }
        try store.commit()
        for e in examples { #expect(try store.append(e).isDuplicate) }
        try store.close()
        let segments = try FileManager.default.subpathsOfDirectory(atPath: path).filter { $0.hasSuffix(".strata") }
        #expect(segments.count > 3, "the workload must roll segments")
    }

    @Test func duplicatesOfExamplesInOpenSegmentsAreConfirmedWithoutReadingTheirBlocks() throws {
        let fs = SimulatedFileSystem()
        var o = StoreOptions()
        o.fileSystem = fs
        o.commitPolicy = .manual
        o.checkPermissions = false
        o.blockTargetBytes = 1 << 10
        let store = try Store.open(at: fs.root + "/store", options: o)
        let examples = makeExamples(200, domains: ["alpha"], months: 1)
        for e in examples { #expect(try store.append(e).isDuplicate == false) }
        try store.commit()  // the keys move to the fingerprint table: a repeat is a table hit
        // Damage every written block of the open segment (bytes past the segment
        // header, every 97th): a confirmation that read a block back would fail.
        func files(_ dir: String) throws -> [String] {
            try fs.listDirectory(dir).flatMap { n in fs.isDirectory(dir + "/" + n) ? try files(dir + "/" + n) : [dir + "/" + n] }
        }
        let segs = try files(fs.root + "/store").filter { $0.hasSuffix(".strata") && $0.contains("/seg-") }
        try #require(segs.count == 1)
        var bytes = fs.contents(segs[0])!
        for i in stride(from: 200, to: bytes.count, by: 97) { bytes[i] ^= 0x5A }
        fs.replaceContents(segs[0], with: bytes)
        for e in examples {
            let outcome = try store.append(e)
            #expect(outcome.isDuplicate)
            #expect(outcome.id == e.id)
        }
        try? store.close()
    }

    @Test func exportJSONLOnTwoThreadsWritesTheBytesOfOneThread() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.blockTargetBytes = 1 << 10  // many blocks: more than the pipeline's ring
        let store = try Store.open(at: path, options: o)
        try store.append(contentsOf: makeExamples(1_200, domains: ["alpha", "beta", "gamma"], months: 2))
        try store.close()
        for (schema, split) in [(JSONLSchema.raw, nil), (.alpaca, nil), (.chat, "train=0.8,test=0.2"), (.promptResponse, nil)] {
            var spec = ExportSpec(format: .jsonl, schema: schema)
            if let split { spec.split = try SplitSpec(parsing: split) }
            var results: [[String: [UInt8]]] = []
            var rows: [Int] = []
            var skipped: [Int] = []
            for threads in [1, 2] {
                let out = temporaryStorePath("export-\(schema.rawValue)-\(threads)")
                let ex = Exporter(storePath: path, outPath: out, spec: spec)
                ex.encodeThreads = threads
                let r = try ex.run()
                var files: [String: [UInt8]] = [:]
                for f in r.files { files[f.path] = try PosixFileSystem.shared.readFile(out + "/" + f.path) }
                results.append(files)
                rows.append(r.rows)
                skipped.append(r.skipped)
                #expect(r.files.allSatisfy { $0.rows > 0 || split != nil })
            }
            #expect(results[0] == results[1], "\(schema)")
            #expect(rows[0] == rows[1] && skipped[0] == skipped[1], "\(schema)")
            #expect(rows[0] > 0)
        }
    }

    @Test func jsonDocumentAndMetaHeaderOnTwoThreadsWriteTheBytesOfOneThread() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.blockTargetBytes = 1 << 10  // many blocks: more than the pipeline's ring
        let store = try Store.open(at: path, options: o)
        try store.append(contentsOf: makeExamples(900, domains: ["alpha", "beta", "gamma"], months: 2))
        // Training-file turns (runs of one conversation id, pass 4) and scaffolding keys (the statistics).
        let turns = (0..<60).map { k in
            Example(content: .instruction(instruction: "turn \(k)", input: "", output: "reply \(k)"), domain: "alpha",
                    timestampMillis: 1_735_689_600_000 + Int64(k), qualityScore: Double(k % 10) / 10,
                    metadataJSON: #"{"conversation_id":"c\#(k / 4)","scaffolding":{"persona_key":"p\#(k % 3)"}}"#)
        }
        try store.append(contentsOf: turns)
        try store.close()
        // The run's own time is the only difference between runs.
        func normalized(_ b: [UInt8]) -> String {
            String(decoding: b, as: UTF8.self).replacingOccurrences(of: #""(created|created_date|last_updated)":"[^"]*""#, with: "T", options: .regularExpression)
        }
        var specs: [ExportSpec] = [ExportSpec(format: .json), ExportSpec(format: .jsonl, schema: .promptResponse)]
        specs[1].metaHeader = true
        var split = ExportSpec(format: .json)
        split.split = try SplitSpec(parsing: "train=0.7,test=0.3")
        specs.append(split)
        var metaSplit = ExportSpec(format: .jsonl, schema: .raw)
        metaSplit.metaHeader = true
        metaSplit.split = try SplitSpec(parsing: "train=0.7,test=0.3")
        specs.append(metaSplit)
        for (k, var spec) in specs.enumerated() {
            spec.name = "doc"  // else the header names each run's own directory
            var results: [[String: String]] = []
            for threads in [1, 2] {
                let out = temporaryStorePath("doc-\(k)-\(threads)")
                let ex = Exporter(storePath: path, outPath: out, spec: spec)
                ex.encodeThreads = threads
                let r = try ex.run()
                var files: [String: String] = [:]
                for f in r.files { files[f.path] = normalized(try PosixFileSystem.shared.readFile(out + "/" + f.path)) }
                results.append(files)
            }
            #expect(results[0] == results[1], "\(spec.canonicalJSON)")
            #expect(results[0].values.contains { $0.contains("turn 5") } || spec.format == .jsonl, "\(spec.canonicalJSON)")
            #expect(results[0].values.contains { $0.contains(#""personas":{"#) }, "\(spec.canonicalJSON)")
        }
    }

    @Test func exportOnTwoThreadsReportsTheFirstDamagedBlockInOrder() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.blockTargetBytes = 1 << 10
        let store = try Store.open(at: path, options: o)
        try store.append(contentsOf: makeExamples(600, domains: ["alpha"], months: 1))
        try store.close()
        let seg = try #require(try FileManager.default.subpathsOfDirectory(atPath: path).first { $0.hasSuffix(".strata") && $0.contains("seg-") })
        var bytes = try PosixFileSystem.shared.readFile(path + "/" + seg)
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + seg))
        var messages: [String] = []
        for threads in [1, 2] {
            let ex = Exporter(storePath: path, outPath: temporaryStorePath("damaged-\(threads)"), spec: ExportSpec())
            ex.encodeThreads = threads
            do {
                _ = try ex.run()
                Issue.record("export of a damaged store succeeded (\(threads) threads)")
            } catch let e as StrataError {
                messages.append("\(e.code) \(e.path ?? "") \(e.offset ?? -1)")
            }
        }
        #expect(messages.count == 2 && messages[0] == messages[1], "\(messages)")
    }

    @Test func ingestProfilePrintsEveryStageInWallAndCPUSeconds() throws {
        let dir = temporaryStorePath()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let input = dir + "/in.jsonl"
        try Data(Self.jsonl(makeExamples(400))).write(to: URL(fileURLWithPath: input))
        let r = try runStrata(["ingest", dir + "/store", input, "--profile", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(r.jsonLines.last)
        let profile = try #require(summary["profile"] as? [String: Any], "\(summary)")
        for k in ["read", "parse", "parse_wait", "append", "compress", "commit", "store_wait"] {
            #expect((profile[k] as? Double).map { $0 >= 0 } == true, "\(k): \(profile)")
        }
        let cpu = try #require(profile["cpu"] as? [String: Double])
        #expect(Set(cpu.keys) == ["read_parse", "append", "compress", "commit"])
        #expect(cpu["read_parse"]! > 0 && cpu["append"]! > 0)
        let plain = try runStrata(["ingest", dir + "/store2", input, "--profile", "--quiet"])
        #expect(plain.stdout.contains("profile, wall s:") && plain.stdout.contains("profile, CPU s:"), "\(plain.stdout)")
    }

    @Test func timestampsRenderAsFormatTimestampMillisDoesAtEveryYearBoundary() {
        let probes: [Int64] = [0, -1, 1, 1_735_689_600_000, Example.yearZeroMillis, Example.yearZeroMillis - 1,
                               Example.year10000Millis - 1, Example.year10000Millis, -86_400_001, 951_782_400_000]
        for ms in probes {
            let e = Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: ms, qualityScore: nil,
                            tags: [], source: nil, metadataJSON: "{}")
            let json = e.jsonString
            #expect(json.contains("\"timestamp\":\"\(formatTimestampMillis(ms))\""), "\(ms): \(json)")
        }
    }

    @Test func lineSafeRenderingStillRewritesLineBreaksAndSeparatorsAfterTheQuickCheck() {
        var clean = Array(#"{"a":"é – ✓"}"#.utf8)  // 0xE2 bytes that are not U+2028/9
        let before = clean
        JSONWriter.makeLineSafe(&clean)
        #expect(clean == before)
        var dirty = Array("{\"a\":\"x\u{2028}y\u{2029}\"}\r\n".utf8)
        JSONWriter.makeLineSafe(&dirty)
        #expect(String(decoding: dirty, as: UTF8.self) == #"{"a":"x\u2028y\u2029"}  "#)
    }
}
