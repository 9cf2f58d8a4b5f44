import Foundation
import Testing
@testable import Strata

/// Deterministic well-mixed synthetic 128-bit ids (splitmix64).
func syntheticID(_ i: UInt64, salt: UInt64 = 0) -> ExampleID {
    func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return ExampleID(high: mix(i &* 2 &+ salt), low: mix(i &* 2 &+ 1 &+ salt))
}

private func indexFilePath(_ store: String) -> String { store + "/index/ids.idx" }

/// What the writer's index answers for each id: the location, or nil.
private func answers(_ store: Store, _ ids: [ExampleID]) throws -> [Location?] {
    try store.lock.withLock { try ids.map { try store.dedup.lookup($0, catalog: store.catalog) } }
}

private func smallSegments() -> StoreOptions {
    var o = StoreOptions()
    o.segmentTargetBytes = 16 << 10
    o.blockTargetBytes = 2 << 10
    return o
}

@Suite struct DedupIndexTests {
    // MARK: the table

    /// 1M ids in debug builds; 10M when STRATA_SCALE_TESTS=1 (run it with `-c release`).
    @Test func tableHasNoFalseDuplicateAndNoMissedOneAtScale() throws {
        let n = ProcessInfo.processInfo.environment["STRATA_SCALE_TESTS"] == "1" ? 10_000_000 : 1_000_000
        var table = IdTable()
        for i in 0..<UInt64(n) {
            let id = syntheticID(i)
            // Each id is inserted after checking it is absent, as the store does.
            let hit = table.find(id) { syntheticID($0) == id }
            #expect(hit == nil)
            if hit != nil { return }
            table.insert(id, packed: i)
        }
        #expect(table.count == n)
        var missed = 0, falseHits = 0
        for i in 0..<UInt64(n) {
            if table.find(syntheticID(i), { syntheticID($0) == syntheticID(i) }) != i { missed += 1 }
            // Never-inserted ids (another salt) must not be found.
            let other = syntheticID(i, salt: 0x5555_0000_0000_0001)
            if table.find(other, { syntheticID($0) == other }) != nil { falseHits += 1 }
        }
        #expect(missed == 0)
        #expect(falseHits == 0)
        let perExample = Double(table.memoryBytes) / Double(n)
        print("IdTable: \(n) ids, \(table.memoryBytes) bytes, \(String(format: "%.2f", perExample)) bytes/example")
        #expect(perExample <= 24)
    }

    @Test func tableKeepsCollidingFingerprintsApart() throws {
        // Same high 64 bits (the fingerprint), different low: both must be stored and told apart by confirmation.
        var table = IdTable()
        let a = ExampleID(high: 42, low: 1), b = ExampleID(high: 42, low: 2)
        let ids = [a, b]
        table.insert(a, packed: 0)
        #expect(table.find(b) { ids[Int($0)] == b } == nil)
        table.insert(b, packed: 1)
        #expect(table.find(a) { ids[Int($0)] == a } == 0)
        #expect(table.find(b) { ids[Int($0)] == b } == 1)
        // A zero fingerprint (the empty marker) is remapped, not lost.
        let z = ExampleID(high: 0, low: 7)
        table.insert(z, packed: 9)
        #expect(table.find(z) { $0 == 9 } == 9)
    }

    @Test func memoryPerExampleStaysWithin24BytesAsTheTableGrows() {
        var table = IdTable()
        var worst = 0.0
        for i in 0..<UInt64(300_000) {
            table.insert(syntheticID(i), packed: i)
            if i > 10_000, i % 997 == 0 { worst = max(worst, Double(table.memoryBytes) / Double(table.count)) }
        }
        print("IdTable: worst \(String(format: "%.2f", worst)) bytes/example while growing to 300k")
        #expect(worst <= 24.0)
    }

    // MARK: persistence

    @Test func indexPersistsAcrossReopenWithoutRebuild() throws {
        let path = temporaryStorePath()
        let examples = makeExamples(400)
        do {
            let store = try Store.open(at: path, options: smallSegments())
            _ = try store.append(contentsOf: examples)
            try store.close()
        }
        #expect(FileManager.default.fileExists(atPath: indexFilePath(path)))
        let store = try Store.open(at: path, options: smallSegments())
        defer { try? store.close() }
        #expect(!store.recoveryEvents.contains { $0.kind == .indexRebuilt || $0.kind == .indexCaughtUp })
        #expect(store.count == 400)
        let again = try store.append(contentsOf: examples)
        #expect(again.allSatisfy { $0.isDuplicate })
        for e in examples.prefix(50) { #expect(try store.get(e.id) == e) }
    }

    @Test func missingIndexFileIsRebuiltAndAnswersExactlyAsBefore() throws {
        try rebuiltIndexMatches { path in try FileManager.default.removeItem(atPath: indexFilePath(path)) }
    }

    @Test func corruptIndexFileIsRebuiltAndAnswersExactlyAsBefore() throws {
        try rebuiltIndexMatches { path in
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: indexFilePath(path))))
            bytes[bytes.count / 2] ^= 0x40
            try Data(bytes).write(to: URL(fileURLWithPath: indexFilePath(path)))
        }
    }

    @Test func truncatedIndexFileIsRebuilt() throws {
        try rebuiltIndexMatches { path in
            let bytes = try Data(contentsOf: URL(fileURLWithPath: indexFilePath(path)))
            try bytes.prefix(100).write(to: URL(fileURLWithPath: indexFilePath(path)))
        }
    }

    private func rebuiltIndexMatches(damage: (String) throws -> Void) throws {
        let path = temporaryStorePath()
        let examples = makeExamples(600)
        let probes = examples.map(\.id) + (0..<200).map { syntheticID($0) }
        let before: [Location?]
        do {
            let store = try Store.open(at: path, options: smallSegments())
            _ = try store.append(contentsOf: examples)
            try store.close()
            let reopened = try Store.open(at: path, options: smallSegments())
            before = try answers(reopened, probes)
            try reopened.close()
        }
        #expect(before.prefix(600).allSatisfy { $0 != nil })
        #expect(before.suffix(200).allSatisfy { $0 == nil })
        try damage(path)
        let store = try Store.open(at: path, options: smallSegments())
        defer { try? store.close() }
        #expect(store.recoveryEvents.contains { $0.kind == .indexRebuilt })
        #expect(try answers(store, probes) == before)
        // And the explicit rebuild answers the same again.
        let report = try store.rebuildIndex()
        #expect(report.entries == 600)
        #expect(try answers(store, probes) == before)
    }

    @Test func indexCatchesUpFromSegmentsNewerThanItsSnapshot() throws {
        let path = temporaryStorePath()
        var options = smallSegments()
        options.indexSnapshotInterval = .max  // snapshots only at close
        let first = makeExamples(300), second = makeExamples(300, seed: 7)
        do {
            let store = try Store.open(at: path, options: options)
            _ = try store.append(contentsOf: first)
            try store.close()
        }
        let old = try Data(contentsOf: URL(fileURLWithPath: indexFilePath(path)))
        do {
            let store = try Store.open(at: path, options: options)
            _ = try store.append(contentsOf: second)
            try store.close()
        }
        // As if the writer died after committing `second` but before its snapshot.
        try old.write(to: URL(fileURLWithPath: indexFilePath(path)))
        let store = try Store.open(at: path, options: options)
        defer { try? store.close() }
        #expect(!store.recoveryEvents.contains { $0.kind == .indexRebuilt })
        let caughtUp = store.recoveryEvents.first { $0.kind == .indexCaughtUp }
        #expect(caughtUp?.bytes == 300)
        #expect(store.count == 600)
        #expect(try store.append(contentsOf: first + second).allSatisfy { $0.isDuplicate })
    }

    @Test func indexFileAheadOfTheSegmentsIsNotTrusted() throws {
        // An index covering more blocks than the store holds (as if data it
        // describes were lost) must be rebuilt, never used to answer.
        let big = temporaryStorePath(), small = temporaryStorePath()
        let many = makeExamples(600), few = Array(many.prefix(50))
        for (path, xs) in [(big, many), (small, few)] {
            let store = try Store.open(at: path, options: smallSegments())
            _ = try store.append(contentsOf: xs)
            try store.close()
        }
        try FileManager.default.removeItem(atPath: indexFilePath(small))
        try FileManager.default.copyItem(atPath: indexFilePath(big), toPath: indexFilePath(small))
        let store = try Store.open(at: small, options: smallSegments())
        defer { try? store.close() }
        let event = store.recoveryEvents.first { $0.kind == .indexRebuilt }
        #expect(event?.detail?.contains("beyond what the store holds") == true)
        #expect(store.count == 50)
        #expect(try store.append(contentsOf: Array(many[50..<60])).allSatisfy { !$0.isDuplicate })
    }

    @Test func indexSnapshotNeverClaimsUncommittedExamples() throws {
        let path = temporaryStorePath()
        var options = StoreOptions()
        options.commitPolicy = .manual
        options.indexSnapshotInterval = 1
        let committed = makeExamples(100), uncommitted = makeExamples(100, seed: 3)
        let store = try Store.open(at: path, options: options)
        _ = try store.append(contentsOf: committed)
        try store.commit()
        _ = try store.append(contentsOf: uncommitted)
        // The snapshot on disk was written at the commit: it holds exactly the committed ids.
        let snap = try IndexFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: indexFilePath(path)))), path: indexFilePath(path))
        #expect(snap.table.count == 100)
        for e in committed { #expect(snap.table.find(e.id) { _ in true } != nil) }
        for e in uncommitted { #expect(snap.table.find(e.id) { _ in true } == nil) }
        // Within the writer, uncommitted examples still dedup.
        #expect(try store.append(contentsOf: uncommitted).allSatisfy { $0.isDuplicate })
        try store.close()
    }

    @Test func readerSnapshotUsesTheIndexAndSeesEveryExample() throws {
        let path = temporaryStorePath()
        let examples = makeExamples(250)
        let store = try Store.open(at: path, options: smallSegments())
        _ = try store.append(contentsOf: examples)
        try store.close()
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.count == 250)
        for e in examples.prefix(40) { #expect(try reader.get(e.id) == e) }
        #expect(try reader.get(syntheticID(1)) == nil)
    }

    // MARK: dedup keys

    @Test func openingWithAnotherDedupKeyIsAUsageError() throws {
        let path = temporaryStorePath()
        var options = StoreOptions()
        options.dedupKey = try DedupKey(parsing: "prompt_only", normalize: "casefold")
        try Store.open(at: path, options: options).close()
        var other = StoreOptions()
        other.dedupKey = .content
        #expect {
            try Store.open(at: path, options: other)
        } throws: { ($0 as? StrataError)?.code == .usage }
        // Without a key the store's own is used.
        let store = try Store.open(at: path)
        #expect(store.dedupKey == DedupKey(kind: .promptOnly, normalize: .casefold))
        try store.close()
    }

    @Test func badDedupKeySpellingsAreUsageErrors() {
        for bad in ["contents", "content+", "content+meta.x", "content+metadata.", "content+source,source", "prompt"] {
            #expect(throws: StrataError.self) { try DedupKey(parsing: bad) }
        }
        #expect(throws: StrataError.self) { try DedupKey(parsing: "content", normalize: "lower") }
    }

    private func outcomes(key: String, normalize: String, _ examples: [Example]) throws -> [Bool] {
        let path = temporaryStorePath()
        var options = StoreOptions()
        options.dedupKey = try DedupKey(parsing: key, normalize: normalize)
        let store = try Store.open(at: path, options: options)
        defer { try? store.close() }
        return try examples.map { try store.append($0).isDuplicate }
    }

    private func pr(_ p: String, _ r: String = "answer", source: String? = nil, metadata: String = "{}", domain: String = "d") -> Example {
        Example(content: .promptResponse(prompt: p, response: r), domain: domain, timestampMillis: 1_735_689_600_000,
                source: source, metadataJSON: metadata)
    }

    @Test func whitespaceNormalizationCollapsesRunsAndTrims() throws {
        let xs = [pr("Hello   world"), pr(" Hello world\n"), pr("Hello\u{00A0}\u{2003}world "), pr("hello world")]
        #expect(try outcomes(key: "content", normalize: "whitespace", xs) == [false, true, true, false])
        #expect(try outcomes(key: "content", normalize: "none", xs) == [false, false, false, false])
    }

    @Test func casefoldNormalizationIgnoresCaseAndWhitespace() throws {
        let xs = [pr("Hello World", "OK"), pr("  hello   WORLD", "ok"), pr("ÉCOLE straße", "ok"), pr("école STRASSE", "ok"), pr("école straße", "ok")]
        // Full lowercase mapping: É→é, but ß is already lowercase and STRASSE→strasse, so those two differ.
        #expect(try outcomes(key: "content", normalize: "casefold", xs) == [false, true, false, false, true])
    }

    @Test func promptOnlyKeyIgnoresTheResponse() throws {
        let chatA = Example(content: .chat([Message(role: .user, content: "hi"), Message(role: .assistant, content: "a")]), domain: "d", timestampMillis: 0)
        let chatB = Example(content: .chat([Message(role: .user, content: "hi"), Message(role: .assistant, content: "b")]), domain: "d", timestampMillis: 0)
        let xs = [pr("Q", "A1"), pr("Q", "A2"), pr("Q2", "A1"), chatA, chatB]
        #expect(try outcomes(key: "prompt_only", normalize: "none", xs) == [false, true, false, false, true])
    }

    @Test func contentPlusFieldsKeyDistinguishesByField() throws {
        let xs = [pr("Q", metadata: #"{"source_key":"a.json"}"#), pr("Q", metadata: #"{"source_key":"b.json"}"#),
                  pr("Q", metadata: #"{"source_key":"a.json","other":1}"#), pr("Q"), pr("Q", metadata: #"{"source_key":null}"#)]
        #expect(try outcomes(key: "content+metadata.source_key", normalize: "none", xs) == [false, false, true, false, true])
        let ys = [pr("Q", source: "x"), pr("Q", source: "y"), pr("Q", source: "x", domain: "e")]
        #expect(try outcomes(key: "content+source", normalize: "none", ys) == [false, false, true])
        #expect(try outcomes(key: "content+source,domain", normalize: "none", ys) == [false, false, false])
    }

    @Test func nonContentKeyStoresStillGetByIdAndReportTheStoredId() throws {
        let path = temporaryStorePath()
        var options = smallSegments()
        options.dedupKey = try DedupKey(parsing: "prompt_only", normalize: "casefold")
        let a = pr("Tell me", "one"), b = pr("TELL me", "two")
        do {
            let store = try Store.open(at: path, options: options)
            #expect(try store.append(a) == .inserted(a.id))
            #expect(try store.append(b) == .duplicate(a.id))
            #expect(try store.get(a.id) == a)
            #expect(try store.get(b.id) == nil)
            try store.close()
        }
        let store = try Store.open(at: path)
        defer { try? store.close() }
        #expect(try store.append(b) == .duplicate(a.id))
        #expect(try store.get(a.id) == a)
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.get(a.id) == a)
    }

    @Test func nonContentKeyIndexIsRebuiltFromRecordsAndStillDedups() throws {
        let path = temporaryStorePath()
        var options = smallSegments()
        options.dedupKey = try DedupKey(parsing: "prompt_only", normalize: "casefold")
        let firsts = (0..<200).map { pr("Prompt number \($0)", "first") }
        let seconds = (0..<200).map { pr("  PROMPT number \($0) ", "second") }
        do {
            let store = try Store.open(at: path, options: options)
            #expect(try store.append(contentsOf: firsts).allSatisfy { !$0.isDuplicate })
            try store.close()
        }
        try FileManager.default.removeItem(atPath: indexFilePath(path))
        let store = try Store.open(at: path)
        defer { try? store.close() }
        #expect(store.recoveryEvents.contains { $0.kind == .indexRebuilt })
        #expect(store.count == 200)
        let out = try store.append(contentsOf: seconds)
        #expect(out == firsts.map { .duplicate($0.id) })
    }

    // MARK: provenance

    @Test func duplicateOffersAreRecordedAsProvenance() throws {
        let path = temporaryStorePath()
        var a = pr("What is 2+2?", "4")
        let store = try Store.open(at: path)
        _ = try store.append(a)
        a.domain = "other"
        a.timestampMillis += 5_000
        #expect(try store.append(a) == .duplicate(a.id))
        a.timestampMillis += 5_000
        _ = try store.append(a)
        let p = try #require(try store.provenance(of: a.id))
        #expect(p.offers == 3)
        #expect(p.firstSeenMillis == 1_735_689_600_000)
        #expect(p.lastSeenMillis == 1_735_689_610_000)
        #expect(p.lastOfferedAtMillis != nil)
        #expect(p.duplicatesByDomain == ["other": 2])
        #expect(try store.duplicateStatistics() == DuplicateStatistics(total: 2, byDomain: ["other": 2]))
        try store.close()
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.provenance(of: a.id) == p)
        #expect(try reader.provenance(of: syntheticID(3)) == nil)
        // Duplicate-seen entries are not examples: scans and counts are unchanged.
        var n = 0
        try reader.scan { _ in n += 1; return true }
        #expect(n == 1)
    }

    // MARK: measurement (run manually in release)

    /// STRATA_BENCH=1 swift test -c release --filter DedupIndexTests/lookupThroughput
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_BENCH"] == "1"))
    func lookupThroughput() {
        let n = 1_000_000
        var table = IdTable()
        for i in 0..<UInt64(n) { table.insert(syntheticID(i), packed: i) }
        let hits = (0..<UInt64(n)).map { syntheticID(($0 &* 7919) % UInt64(n)) }
        let misses = (0..<UInt64(n)).map { syntheticID($0, salt: 99) }
        func run(_ ids: [ExampleID]) -> Double {
            var found = 0
            let start = DispatchTime.now().uptimeNanoseconds
            for id in ids where table.find(id, { _ in true }) != nil { found += 1 }
            let ns = Double(DispatchTime.now().uptimeNanoseconds - start)
            precondition(found >= 0)
            return Double(ids.count) / (ns / 1e9)
        }
        _ = run(hits)
        let hitRate = run(hits), missRate = run(misses)
        print("IdTable lookups: hits \(Int(hitRate))/s, misses \(Int(missRate))/s; \(String(format: "%.2f", Double(table.memoryBytes) / Double(n))) bytes/example at \(n)")
    }
}
