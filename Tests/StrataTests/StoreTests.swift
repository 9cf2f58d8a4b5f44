import Foundation
import Testing
@testable import Strata

@Suite struct StoreTests {
    @Test func appendedExamplesSurviveCloseAndReopen() throws {
        let path = temporaryStorePath()
        let examples = makeExamples(500)
        do {
            let store = try Store.open(at: path)
            let outcomes = try store.append(contentsOf: examples)
            #expect(outcomes.allSatisfy { !$0.isDuplicate })
            try store.close()
        }
        let store = try Store.open(at: path)
        defer { try? store.close() }
        #expect(store.count == 500)
        for e in examples { #expect(try store.get(e.id) == e) }
        var seen = 0
        try store.scan { _ in seen += 1; return true }
        #expect(seen == 500)
    }

    @Test func duplicateContentIsReportedAcrossPartitions() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        defer { try? store.close() }
        var a = makeExamples(1)[0]
        #expect(try store.append(a) == .inserted(a.id))
        a.domain = "other"
        a.timestampMillis += 400 * 86_400_000
        #expect(try store.append(a) == .duplicate(a.id))
        // Within one batch too.
        let b = makeExamples(2, seed: 9)
        let out = try store.append(contentsOf: [b[0], b[1], b[0]])
        #expect(out.map(\.isDuplicate) == [false, false, true])
    }

    @Test func partitionsFollowDomainAndMonth() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        try store.append(contentsOf: makeExamples(60, domains: ["d1", "d2"], months: 3))
        #expect(store.partitions.map(\.path) == [
            "domain=d1/month=2025-01", "domain=d1/month=2025-02", "domain=d1/month=2025-03",
            "domain=d2/month=2025-01", "domain=d2/month=2025-02", "domain=d2/month=2025-03",
        ])
        try store.close()
        #expect(FileManager.default.fileExists(atPath: path + "/domain=d1/month=2025-02"))
        var n = 0
        let reader = try StoreReader(path: path)
        try reader.scan(ScanFilter(domains: ["d2"], fromMonth: Month("2025-02"), toMonth: Month("2025-03"))) { e in
            #expect(e.domain == "d2")
            n += 1
            return true
        }
        #expect(n == 20)
    }

    @Test func secondWriterIsRefusedWithPid() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        defer { try? store.close() }
        do {
            _ = try Store.open(at: path)
            Issue.record("second writer opened")
        } catch let e as StrataError {
            #expect(e.code == .locked)
            #expect(e.message.contains("locked by pid \(getpid())"))
        }
    }

    @Test func readerSeesCommittedStateWhileWriterRuns() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        defer { try? store.close() }
        let first = makeExamples(100)
        try store.append(contentsOf: first)
        let reader = try StoreReader(path: path)
        try store.append(contentsOf: makeExamples(50, seed: 3))
        #expect(try reader.count == 100)
        for e in first.prefix(10) { #expect(try reader.get(e.id) == e) }
        let later = try StoreReader(path: path)
        #expect(try later.count == 150)
    }

    @Test func segmentsRollAtTargetSize() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.segmentTargetBytes = 16 << 10
        o.blockTargetBytes = 4 << 10
        let store = try Store.open(at: path, options: o)
        let ex = makeExamples(2000, domains: ["one"], months: 1)
        try store.append(contentsOf: ex)
        try store.close()
        let files = try FileManager.default.contentsOfDirectory(atPath: path + "/domain=one/month=2025-01")
        #expect(files.count > 3)
        let reopened = try Store.open(at: path, options: o)
        defer { try? reopened.close() }
        #expect(reopened.count == 2000)
        for e in ex.shuffled().prefix(100) { #expect(try reopened.get(e.id) == e) }
    }

    @Test func invalidExampleIsRejectedNamingTheField() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        defer { try? store.close() }
        let cases: [(Example, String)] = [
            (Example(content: .promptResponse(prompt: "p", response: "r"), domain: "../x", timestampMillis: 0), "domain"),
            (Example(content: .promptResponse(prompt: "", response: "r"), domain: "d", timestampMillis: 0), "prompt"),
            (Example(content: .chat([]), domain: "d", timestampMillis: 0), "messages"),
            (Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 0, qualityScore: 1.5), "quality_score"),
            (Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 0, metadataJSON: "[1]"), "metadata"),
        ]
        for (e, field) in cases {
            #expect { try store.append(e) } throws: { ($0 as? StrataError)?.field == field }
        }
        #expect(store.count == 0)
    }
}
