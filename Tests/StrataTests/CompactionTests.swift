import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// Realistic small records that share a lot of text (capture-style prompt/response and chats).
func makeCorpusExamples(_ n: Int, domain: String = "roofing", seed: UInt64 = 1) -> [Example] {
    var g = SplitMix(seed: seed)
    let topics = ["TPO seam overlap", "EPDM flashing", "roof drain sizing", "polyiso R-value", "parapet coping", "OSHA fall protection",
                  "change order pricing", "submittal review", "tapered insulation", "pitch pan detail"]
    let phrases = ["per most manufacturers", "always check the approved submittal", "Carlisle requires 2.5 inches",
                   "Firestone requires 3 inches", "verify with the architect", "see section 07 54 23", "minimum per spec",
                   "production rate is about 12 squares per crew day", "use a cricket behind the curb", "add a counter flashing"]
    return (0..<n).map { i in
        let t = topics[Int(g.next() % UInt64(topics.count))]
        var answer = ""
        for _ in 0..<(3 + Int(g.next() % 6)) { answer += phrases[Int(g.next() % UInt64(phrases.count))] + ". " }
        let ts = Int64(1_735_689_600_000) + Int64(i) * 1000
        let meta = #"{"skill_used":"estimator","tier_handled":"t\#(g.next() % 3)","latency_ms":\#(g.next() % 900),"prompt_tokens":\#(g.next() % 40),"user_id":"u\#(g.next() % 50)"}"#
        let content: Content = i % 4 == 3
            ? .chat([Message(role: .system, content: "You are a roofing estimator assistant."), Message(role: .user, content: "Question \(i) about \(t)?"),
                     Message(role: .assistant, content: answer)])
            : .promptResponse(prompt: "What is the \(t) for job \(i)?", response: answer)
        return Example(content: content, domain: domain, timestampMillis: ts, qualityScore: Double(g.next() % 100) / 100,
                       tags: ["tpo", "specs"], source: "chat", metadataJSON: meta)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A store with several sealed segments in one partition, annotations spread over them, closed.
func makeCompactableStore(_ path: String, examples: Int = 2000) throws -> [Example] {
    var o = StoreOptions()
    o.commitPolicy = .manual
    o.segmentTargetBytes = 64 << 10
    o.blockTargetBytes = 8 << 10
    let store = try Store.open(at: path, options: o)
    let ex = makeCorpusExamples(examples)
    for chunk in stride(from: 0, to: ex.count, by: 500) {
        try store.append(contentsOf: Array(ex[chunk..<min(ex.count, chunk + 500)]))
        let a = ex[chunk], b = ex[chunk + 1]
        try store.annotate(a.id, .feedback(.positive, rating: 4))
        try store.annotate(b.id, .exclude(reason: "duplicate prompt"))
        try store.annotate(a.id, .correction("Corrected \(chunk)", reason: "cite manufacturer"))
    }
    try store.annotate(ex[1].id, .include())
    try store.close()
    return ex
}

func segmentFiles(_ path: String) -> Set<String> {
    var out: Set<String> = []
    let e = FileManager.default.enumerator(atPath: path)
    while let f = e?.nextObject() as? String { if f.hasSuffix(".strata") || f.hasSuffix(".zdict") { out.insert(f) } }
    return out
}

func bytesOfSegments(_ path: String) -> Int64 {
    segmentFiles(path).filter { $0.hasSuffix(".strata") }.reduce(0) {
        $0 + ((try? FileManager.default.attributesOfItem(atPath: path + "/" + $1)[.size] as? Int64) ?? 0)
    }
}

@Suite struct CompactionTests {
    @Test func compactionPreservesTheFoldedViewAndShrinksBytes() throws {
        let path = temporaryStorePath()
        let ex = try makeCompactableStore(path)
        let store = try Store.open(at: path)
        let before = try foldedView(store)
        #expect(before.count == ex.count)
        let p = try #require(store.partitions.first)
        let report = try store.compact(partition: p)
        #expect(!report.skipped && report.inputSegments.count > 3 && report.outputSegments.count >= 1)
        #expect(report.examples == ex.count)
        #expect(report.bytesAfter < report.bytesBefore * 3 / 4)
        #expect(report.annotationsFolded == 4 * 3 + 1)  // 4 chunks of 500, 3 each, one include
        #expect(try foldedView(store) == before)
        for e in ex.prefix(200) { #expect(try store.getFolded(e.id) == before[e.id]) }
        // The dedup index points at the new locations.
        #expect(try store.append(contentsOf: ex).allSatisfy(\.isDuplicate))
        try store.close()
        let reopened = try Store.open(at: path)
        defer { try? reopened.close() }
        #expect(try foldedView(reopened) == before)
        #expect(reopened.count == ex.count)
        // Annotations after compaction fold on top; a second compaction folds them in too.
        try reopened.annotate(ex[0].id, .exclude(reason: "late"))
        try reopened.annotate(ex[2].id, .feedback(.negative))
        let mid = try foldedView(reopened)
        #expect(mid[ex[0].id]?.isExcluded == true)
        try reopened.close()
        let again = try Store.open(at: path)
        defer { try? again.close() }
        let r2 = try again.compact(partition: p)
        #expect(!r2.skipped)
        #expect(try foldedView(again) == mid)
        #expect(try again.compact(partition: p).skipped)  // nothing left to do
    }

    @Test func compactionTrainsAStoredDictionaryAndSegmentsReferenceIt() throws {
        let path = temporaryStorePath()
        _ = try makeCompactableStore(path, examples: 4000)
        let store = try Store.open(at: path)
        defer { try? store.close() }
        let before = try foldedView(store)
        var o = CompactionOptions()
        o.dictionary = .always
        o.dictionaryCapacity = 16 << 10
        let report = try store.compact(partition: store.partitions[0], options: o)
        let id = try #require(report.dictionaryID)
        let dictPath = path + "/dicts/dict-\(id).zdict"
        #expect(FileManager.default.fileExists(atPath: dictPath))
        let m = try Manifest.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path + "/MANIFEST"))), path: "MANIFEST")
        let compacted = m.segments.filter { report.outputSegments.contains($0.sequence) }
        #expect(!compacted.isEmpty && compacted.allSatisfy { $0.dictionaryID == id && $0.codec == "zstd-columnar" })
        for s in compacted {
            let f = try SegmentFile(fs: PosixFileSystem.shared, path: path + "/" + s.partition.path + "/" + Format.segmentFileName(s.sequence),
                                    sequence: s.sequence, partition: s.partition, expectSealed: true)
            #expect(f.header.dictionaryID == id)
            f.close()
        }
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try foldedView(reader) == before)
        // A damaged dictionary file is reported, never used.
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: dictPath)))
        #expect(throws: Never.self) { _ = try DictionaryFile.decode(bytes, expectedID: id, path: dictPath) }
        bytes[bytes.count / 2] ^= 0x40
        #expect(throws: StrataError.self) { _ = try DictionaryFile.decode(bytes, expectedID: id, path: dictPath) }
        #expect(throws: StrataError.self) { _ = try DictionaryFile.decode(Array(bytes.prefix(20)), expectedID: id, path: dictPath) }
    }

    @Test func laterMonthsOfADomainReuseItsDictionary() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.commitPolicy = .manual
        o.segmentTargetBytes = 128 << 10
        do {
            let store = try Store.open(at: path, options: o)
            let jan = makeCorpusExamples(1500, seed: 3)
            var feb = makeCorpusExamples(1500, seed: 4)
            for i in feb.indices { feb[i].timestampMillis += 40 * 86_400_000 }
            try store.append(contentsOf: jan + feb)
            try store.close()
        }
        let store = try Store.open(at: path)
        defer { try? store.close() }
        #expect(store.partitions.count == 2)
        let before = try foldedView(store)
        var c = CompactionOptions()
        c.blockTargetBytes = 16 << 10
        c.dictionary = .always
        let first = try store.compact(partition: store.partitions[0], options: c)
        let id = try #require(first.dictionaryID)
        c.dictionary = .auto
        let second = try store.compact(partition: store.partitions[1], options: c)
        #expect(second.dictionaryID == id)
        #expect(try FileManager.default.contentsOfDirectory(atPath: path + "/dicts") == ["dict-\(id).zdict"])
        #expect(try foldedView(store) == before)
        // Recompacting the first month keeps the shared dictionary alive for the second.
        try store.annotate(before.keys.first!, .feedback(.positive))
        try store.close()
        let again = try Store.open(at: path)
        defer { try? again.close() }
        for p in again.partitions { try again.compact(partition: p, options: c) }
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try foldedView(reader).count == before.count)
    }

    @Test func readerOpenedBeforeCompactionKeepsReadingItsSnapshot() throws {
        let path = temporaryStorePath()
        _ = try makeCompactableStore(path)
        let store = try Store.open(at: path)
        defer { try? store.close() }
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        let before = try foldedView(reader)
        let oldFiles = segmentFiles(path)
        var o = CompactionOptions()
        o.dictionary = .always
        try store.compact(partition: store.partitions[0], options: o)
        #expect(oldFiles.isDisjoint(with: segmentFiles(path).filter { $0.hasSuffix(".strata") }))
        for f in oldFiles { #expect(!FileManager.default.fileExists(atPath: path + "/" + f)) }
        #expect(try foldedView(reader) == before)
        let fresh = try StoreReader(path: path)
        defer { fresh.close() }
        #expect(try foldedView(fresh) == before)
    }

    @Test func purgeExcludedDropsExcludedExamplesOnlyWhenAsked() throws {
        let path = temporaryStorePath()
        let ex = try makeCompactableStore(path)
        let store = try Store.open(at: path)
        defer { try? store.close() }
        let p = store.partitions[0]
        let excluded = try foldedView(store).values.filter(\.isExcluded).map(\.id)
        #expect(excluded.count == 3)  // four excluded, one re-included
        var r = try store.compact(partition: p)
        #expect(r.purged == 0 && store.count == ex.count)
        var o = CompactionOptions()
        o.purgeExcluded = true
        r = try store.compact(partition: p, options: o)
        #expect(r.purged == 3)
        #expect(store.count == ex.count - 3)
        for id in excluded { #expect(try store.get(id) == nil) }
        #expect(try foldedView(store).count == ex.count - 3)
    }

    @Test func compactionRunsInTheBackgroundWhileTheWriterAppends() async throws {
        let path = temporaryStorePath()
        let ex = try makeCompactableStore(path)
        let store = try Store.open(at: path)
        defer { try? store.close() }
        let p = store.partitions[0]
        let more = makeCorpusExamples(2000, seed: 99)
        let task = Task.detached { try store.compact(partition: p) }
        for e in more { try store.append(e) }
        let report = try await task.value
        #expect(report.examples == ex.count)
        #expect(store.count == ex.count + more.count)
        var n = 0
        try store.scan(ScanFilter(includeExcluded: true)) { _ in n += 1; return true }
        #expect(n == ex.count + more.count)
    }

    @Test func closingTheStoreDuringACompactionLeavesItBeforeOrAfter() async throws {
        let path = temporaryStorePath()
        _ = try makeCompactableStore(path)
        var before: [ExampleID: FoldedExample] = [:]
        do {
            let store = try Store.open(at: path)
            before = try foldedView(store)
            let p = store.partitions[0]
            let task = Task.detached { try store.compact(partition: p) }
            try store.close()  // waits for the compaction to stop or finish
            do { _ = try await task.value } catch let e as StrataError { #expect(e.code == .usage) }
        }
        let store = try Store.open(at: path)
        defer { try? store.close() }
        #expect(try foldedView(store) == before)
        #expect(throws: StrataError.self) { try store.close(); try store.compact(partition: store.partitions[0]) }
    }

    @Test(arguments: CompactionStep.allCases)
    func aFailureAtAnyCompactionStepLeavesTheStoreBeforeOrAfter(step: CompactionStep) throws {
        let path = temporaryStorePath("failstep\(step.rawValue)")
        _ = try makeCompactableStore(path, examples: 1000)
        var beforeView: [ExampleID: FoldedExample] = [:]
        var beforeFiles: Set<String> = []
        do {
            // The injected I/O error comes from the file system, at the operation that marks the step.
            let fs = FaultFileSystem()
            var so = StoreOptions()
            so.fileSystem = fs
            let store = try Store.open(at: path, options: so)
            beforeView = try foldedView(store)
            beforeFiles = segmentFiles(path)
            var o = CompactionOptions()
            o.dictionary = .always
            o.segmentTargetBytes = 32 << 10  // several new segments
            fs.arm([step.rule(store: path, on: fs, action: .fail(.io))])
            #expect(throws: StrataError.self) { try store.compact(partition: store.partitions[0], options: o) }
            #expect(fs.fired.count == 1, "step \(step) fired \(fs.fired)")
            try? store.close()
        }
        let store = try Store.open(at: path)
        defer { try? store.close() }
        #expect(try foldedView(store) == beforeView)
        #expect(store.count == beforeView.count)
        let files = segmentFiles(path)
        // Before: exactly the old files. After: none of the old segment files.
        let isBefore = files == beforeFiles
        let isAfter = files.filter { $0.hasSuffix(".strata") }.isDisjoint(with: beforeFiles)
        #expect(isBefore || isAfter, "files after step \(step): \(files.sorted())")
        #expect(isBefore == (step.rawValue < CompactionStep.manifestSwapped.rawValue))
        // And it can be compacted (again) to the same view.
        try store.compact(partition: store.partitions[0])
        #expect(try foldedView(store) == beforeView)
    }
}
