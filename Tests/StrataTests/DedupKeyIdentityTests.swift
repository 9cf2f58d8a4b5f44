import Foundation
import Testing
@testable import Strata

/// Issue: with `--dedup-key content+FIELD`, two examples with the same content
/// and different field values got one id; the segment footer then listed it
/// twice and every command failed ("footer example ids not strictly sorted").
/// Ids are keyed in such stores (SPEC.md §4.1), so each stored example has its own.
@Suite struct DedupKeyIdentityTests {
    private func keyed(_ key: DedupKey) -> StoreOptions {
        var o = StoreOptions()
        o.dedupKey = key
        return o
    }

    private let sameContentTwoKeys = [
        #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z","metadata":{"source_key":"k1"}}"#,
        #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-02T00:00:00Z","metadata":{"source_key":"k2"}}"#,
        #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-03T00:00:00Z","metadata":{"source_key":"k1"}}"#,
    ].joined(separator: "\n") + "\n"

    @Test func contentPlusFieldStoreWithSameContentInOnePartitionWorksInEveryCommand() throws {
        let store = temporaryStorePath()
        #expect(try runStrata(["init", store, "--dedup-key", "content+metadata.source_key"]).status == 0)
        let ing = try runStrata(["ingest", store, "--json"], stdin: Data(sameContentTwoKeys.utf8))
        #expect(ing.status == 0, "\(ing.stderr)")
        #expect(ing.jsonLines.last?["inserted"] as? Int == 2)
        #expect(ing.jsonLines.last?["duplicates"] as? Int == 1)
        let scan = try runStrata(["scan", store])
        #expect(scan.status == 0, "\(scan.stderr)")
        let ids = scan.jsonLines.compactMap { $0["id"] as? String }
        #expect(ids.count == 2 && Set(ids).count == 2)
        for id in ids {
            let g = try runStrata(["get", store, id])
            #expect(g.status == 0, "\(g.stderr)")
        }
        for args in [["stats", store], ["inspect", store], ["verify", store], ["index", "rebuild", store],
                     ["export", store, "--out", store + "-out"], ["compact", store]] {
            let r = try runStrata(args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        // Compaction keeps both distinct-key examples, and a later ingest still works.
        #expect(try runStrata(["scan", store]).jsonLines.count == 2)
        let again = try runStrata(["ingest", store, "--json"], stdin: Data(sameContentTwoKeys.utf8))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.jsonLines.last?["duplicates"] as? Int == 3)
        #expect(try runStrata(["verify", store]).status == 0)
    }

    @Test func compactionKeepsDistinctKeyExamplesFromSeparateRuns() throws {
        let path = temporaryStorePath()
        let key = try DedupKey(parsing: "content+source")
        var ids: [ExampleID] = []
        for source in ["a", "b"] {
            let s = try Store.open(at: path, options: keyed(key))
            let e = Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d",
                            timestampMillis: 1_735_689_600_000, source: source)
            guard case let .inserted(id) = try s.append(e) else { Issue.record("not inserted"); return }
            ids.append(id)
            try s.close()
        }
        #expect(ids[0] != ids[1])
        let s = try Store.open(at: path)
        let a = try s.compactAll()
        #expect(a.reduce(0) { $0 + $1.examples } == 2)
        for (id, source) in zip(ids, ["a", "b"]) { #expect(try s.get(id)?.source == source) }
        try s.annotate(ids[1], .exclude(reason: "bad"))
        #expect(try s.getFolded(ids[0])?.isExcluded == false)
        #expect(try s.getFolded(ids[1])?.isExcluded == true)
        try s.close()
    }

    @Test func keyedIdIsContentHashFollowedByTheDedupKey() throws {
        let path = temporaryStorePath()
        let key = try DedupKey(parsing: "content+source")
        let s = try Store.open(at: path, options: keyed(key))
        let e = Example(content: .promptResponse(prompt: "hi", response: "yo"), domain: "d",
                        timestampMillis: 0, source: "s")
        guard case let .inserted(id) = try s.append(e) else { Issue.record("not inserted"); return }
        let got = try #require(try s.get(id))
        let k = try #require(got.idKey)
        var w = ByteWriter()
        CanonicalContent.append(of: e.content, to: &w)
        k.write(to: &w)
        #expect(id == XXH.hash128(w.bytes))
        #expect(id != e.id)
        try s.close()
    }
}

/// Issue: after `--purge-excluded`, duplicate-seen entries still pointed at the
/// purged id, so re-ingested content reported stale offers. A purge forgets the
/// example and its provenance (SPEC.md §4.4): the content is new again.
@Suite struct PurgeProvenanceTests {
    @Test func reingestingPurgedContentIsNewWithFreshProvenance() throws {
        let store = temporaryStorePath()
        let line = #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z"}"# + "\n"
        let other = #"{"prompt":"q","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z"}"# + "\n"
        #expect(try runStrata(["ingest", store], stdin: Data((line + other).utf8)).status == 0)
        #expect(try runStrata(["ingest", store], stdin: Data(line.utf8)).status == 0)  // a duplicate offer
        let id = Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 0).id
        var s = try Store.open(at: store)
        #expect(try s.provenance(of: id)?.offers == 2)
        try s.annotate(id, .exclude(reason: "bad"))
        try s.close()
        let c = try runStrata(["compact", store, "--purge-excluded", "--json"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(try runStrata(["get", store, id.hex]).status != 0)
        let again = try runStrata(["ingest", store, "--json"], stdin: Data(line.utf8))
        #expect(again.jsonLines.last?["inserted"] as? Int == 1)
        s = try Store.open(at: store)
        let p = try #require(try s.provenance(of: id))
        #expect(p.offers == 1)
        #expect(p.lastOfferedAtMillis == nil)
        #expect(try s.duplicateStatistics().total == 0)
        try s.close()
    }
}

/// Stores written before keyed ids can hold two `content+FIELD` examples under
/// one content-hash id (when they arrived in separate runs). They must still
/// read, and compaction must keep both (SPEC.md §7.1) instead of silently
/// dropping one, as it did.
@Suite struct LegacySameIDCompactionTests {
    /// Builds such a store: two content-key stores each hold the same content
    /// with a different source; the second one's segment is grafted into the
    /// first, whose manifest then declares the `content+source` key. The
    /// entries carry plain content ids, exactly as the earlier writer wrote them.
    static func makeLegacyStore() throws -> (path: String, id: ExampleID) {
        let a = temporaryStorePath("legacyA"), b = temporaryStorePath("legacyB")
        let month = Month(timestampMillis: 1_735_689_600_000)
        func example(_ source: String) -> Example {
            Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 1_735_689_600_000, source: source)
        }
        var s = try Store.open(at: a)
        try s.append(example("a"))
        try s.close()
        s = try Store.open(at: b)
        try s.append(Example(content: .promptResponse(prompt: "z", response: "z"), domain: "z", timestampMillis: 1_735_689_600_000))
        try s.append(example("b"))
        try s.close()
        let partition = PartitionKey(domain: "d", month: month)
        let seg = "/" + partition.path + "/" + Format.segmentFileName(2)
        try FileManager.default.copyItem(atPath: b + seg, toPath: a + seg)
        var m = try Manifest.decode(try PosixFileSystem.shared.readFile(a + "/MANIFEST"), path: a)
        m.segments.append(Manifest.SegmentEntry(sequence: 2, partition: partition, state: .sealed))
        m.nextSegment = 3
        m.dedup = Manifest.DedupSpec(key: "content+fields", fields: ["source"])
        try Data(try m.encode()).write(to: URL(fileURLWithPath: a + "/MANIFEST"))
        try FileManager.default.removeItem(atPath: a + "/index")
        return (a, example("a").id)
    }

    @Test func legacySameIDExamplesStillReadAndCompactionKeepsBoth() throws {
        let (path, id) = try Self.makeLegacyStore()
        let s = try Store.open(at: path)
        var sources: [String?] = []
        try s.scan(.all) { sources.append($0.source); return true }
        #expect(sources == ["a", "b"])
        #expect(try s.get(id)?.source == "a")
        let reports = try s.compactAll()
        #expect(reports.reduce(0) { $0 + $1.examplesRekeyed } == 1)
        #expect(reports.reduce(0) { $0 + $1.duplicatesDropped } == 0)
        var after: [Example] = []
        try s.scan(.all) { after.append($0); return true }
        #expect(after.map(\.source) == ["a", "b"])
        #expect(after[0].id == id && after[0].idKey == nil)
        #expect(after[1].id != id && after[1].idKey != nil)
        #expect(try s.get(after[1].id)?.source == "b")
        try s.close()
        let report = StoreVerifier(path: path).run()
        #expect(report.problems.filter { $0.severity == .error }.isEmpty, "\(report.problems)")
    }
}

/// The other shape of the old bug: both examples arrived in one run, so one
/// sealed segment lists the same id twice and every command failed with
/// "footer example ids not strictly sorted". Such a store reads again (SPEC.md
/// §3.3: ids are sorted, equal ids only in segments from before keyed ids) and
/// compaction re-keys the second example.
@Suite struct LegacyBrickedStoreTests {
    @Test func segmentListingOneIDTwiceReadsAndCompacts() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.dedupKey = try DedupKey(parsing: "content+source")
        var s = try Store.open(at: path, options: o)
        try s.append(Example(content: .promptResponse(prompt: "z", response: "z"), domain: "z", timestampMillis: 0))
        try s.close()
        // A segment as the earlier writer wrote it: two plain-id entries with one id.
        let month = Month(timestampMillis: 0)
        let partition = PartitionKey(domain: "d", month: month)
        try FileManager.default.createDirectory(atPath: path + "/" + partition.path, withIntermediateDirectories: true)
        let seq: UInt64 = 5
        let seg = try ActiveSegment(fs: PosixFileSystem.shared, path: path + "/" + partition.path + "/" + Format.segmentFileName(seq),
                                    sequence: seq, partition: partition, codec: .lz4, blockTarget: 64 << 10, fileMode: 0o600)
        for source in ["a", "b"] {
            let e = Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 0, source: source)
            var w = ByteWriter()
            RecordCodec.appendExampleEntry(ExampleDraft(e), id: e.id, to: &w)
            _ = try w.bytes.withUnsafeBytes { try seg.append(entry: $0) }
        }
        try seg.seal()
        try seg.close()
        var m = try Manifest.decode(try PosixFileSystem.shared.readFile(path + "/MANIFEST"), path: path)
        m.segments.append(Manifest.SegmentEntry(sequence: seq, partition: partition, state: .sealed))
        m.nextSegment = seq + 1
        try Data(try m.encode()).write(to: URL(fileURLWithPath: path + "/MANIFEST"))

        for cmd in [["stats", path], ["scan", path], ["verify", path]] {
            let r = try runStrata(cmd)
            #expect(r.status == 0, "\(cmd): \(r.stderr)")
        }
        s = try Store.open(at: path)
        var sources: [String?] = []
        try s.scan(ScanFilter(domains: ["d"])) { sources.append($0.source); return true }
        #expect(sources == ["a", "b"])
        let reports = try s.compactAll()
        #expect(reports.reduce(0) { $0 + $1.examplesRekeyed } == 1)
        var ids: Set<ExampleID> = []
        try s.scan(ScanFilter(domains: ["d"])) { ids.insert($0.id); return true }
        #expect(ids.count == 2)
        try s.close()
        #expect(try runStrata(["verify", path]).status == 0)
    }
}

/// Found by ModelBasedTests: `strata ingest --report-duplicates` wrote the
/// offered line's own id as `duplicate_of`, not the id of the stored example it
/// duplicates — wrong whenever the key is not the plain content id.
@Suite struct DuplicateReportTests {
    @Test func reportDuplicatesNamesTheStoredExample() throws {
        let store = temporaryStorePath()
        #expect(try runStrata(["init", store, "--normalize", "whitespace"]).status == 0)
        let lines = #"{"prompt":"hello world","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z"}"# + "\n"
            + #"{"prompt":"hello   world ","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z"}"# + "\n"
        let report = store + "-dups.jsonl"
        let r = try runStrata(["ingest", store, "--report-duplicates", report], stdin: Data(lines.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let stored = try #require(try runStrata(["scan", store]).jsonLines.first?["id"] as? String)
        let dup = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        #expect(dup["line"] as? Int == 2)
        #expect(dup["duplicate_of"] as? String == stored)
    }
}
