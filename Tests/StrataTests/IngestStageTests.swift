import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// The ingest store stage's shortcuts give what the general paths give:
/// segment counts taken from the parse stage's drafts instead of decoding
/// each entry, and the last commit folded into the store's close.
@Suite struct IngestStageTests {
    /// Drafts of every shape, with the empty required texts validation would
    /// refuse (the counts must still agree), more distinct sources and tags
    /// than a segment keeps by name, repeats, and qualities at the bucket edges.
    static func edgeDrafts() -> [ExampleDraft] {
        var out: [ExampleDraft] = []
        for k in 0..<700 {
            let content: Content
            switch k % 7 {
            case 0: content = .instruction(instruction: k % 3 == 0 ? "" : "do \(k)", input: "", output: k % 2 == 0 ? "" : "done")
            case 1: content = .promptResponse(prompt: k % 2 == 0 ? "" : "q\(k)", response: k % 3 == 0 ? "" : "a")
            case 2: content = .chat([])
            case 3: content = .chat([Message(role: .user, content: "hi"), Message(role: .assistant, content: "")])
            case 4: content = .chat([Message(role: .user, content: "hi \(k)")])
            case 5: content = .instruction(instruction: "i", input: "x", output: "o \(k)")
            default: content = .promptResponse(prompt: "p \(k)", response: "r")
            }
            let quality: Double? = k % 5 == 0 ? nil : [0.0, 0.1, 0.95, 1.0, Double(k % 100) / 100][k % 5]
            // Over 256 distinct sources and tags (the most a segment names), in an order that repeats.
            let tags = k % 4 == 0 ? [] : ["tag\(k % 290)", "common", "tag\((k * 7) % 290)"]
            let source: String? = k % 6 == 0 ? nil : "source-\(k % 400) é"
            let e = Example(content: content, domain: "alpha", timestampMillis: 1_735_689_600_000 + Int64(k * 997 % 5000),
                            qualityScore: quality, tags: tags, source: source)
            out.append(ExampleDraft(e))
        }
        return out
    }

    @Test func segmentCountsFromDraftFactsEqualCountsOfTheDecodedEntries() throws {
        var decoded = SegmentBuilder(sequence: 1, codec: .lz4, blockTarget: 4 << 10)
        var fromFacts = SegmentBuilder(sequence: 1, codec: .lz4, blockTarget: 4 << 10)
        var strings = StringInterner()
        var tagNames: [String] = []
        var w = ByteWriter()
        var identity = ExampleIdentity(.content)
        for d in Self.edgeDrafts() {
            let (id, idKey) = try identity.assign(d)
            w.bytes.removeAll(keepingCapacity: true)
            RecordCodec.appendExampleEntry(d, id: id, idKey: idKey, to: &w)
            let facts = ExampleFacts.of(d, strings: &strings, tagNames: &tagNames)
            try w.bytes.withUnsafeBytes { entry in
                if decoded.needsNewBlock(for: entry.count) {
                    _ = try decoded.closeBlock(at: 0)
                    _ = try fromFacts.closeBlock(at: 0)
                }
                let a = try decoded.add(entry: entry)
                let b = fromFacts.add(exampleEntry: entry, id: id, facts: facts,
                                      tags: tagNames[facts.tagStart..<(facts.tagStart + facts.tagCount)])
                #expect(a == b)
            }
        }
        #expect(decoded.counts.emptyRequired.allSatisfy { $0 > 0 }, "the drafts must leave every required text empty somewhere")
        #expect(decoded.counts.otherSources > 0 && decoded.counts.otherTags > 0, "the drafts must overflow the named sources and tags")
        #expect(fromFacts.counts == decoded.counts)
        var fa = ByteWriter(), fb = ByteWriter()
        fromFacts.footer().counts?.encode(to: &fa)
        decoded.footer().counts?.encode(to: &fb)
        #expect(!fa.bytes.isEmpty)
        #expect(fa.bytes == fb.bytes)
        #expect(fromFacts.footer().examples.map(\.id) == decoded.footer().examples.map(\.id))
    }

    @Test func internedSourcesAndTagsAreTheStringsOfTheirBytes() {
        var strings = StringInterner()
        let texts = ["pipe", "é", "pipe", "", "a much longer source name than fifteen bytes", "é"]
        var storage: [UInt8] = []
        var spans: [ExampleDraft.Span] = []
        for t in texts {
            spans.append(.init(start: storage.count, count: t.utf8.count))
            storage += Array(t.utf8)
        }
        for (t, s) in zip(texts, spans) { #expect(strings.string(storage, s) == t) }
    }

    @Test func duplicateRecordsCarryTheOfferedSourceWithoutDecodingTheOffer() throws {
        // The store stage takes a duplicate's source from the parse stage's facts;
        // it must be the offer's own source, not the stored example's.
        let path = temporaryStorePath()
        let examples = makeExamples(300, domains: ["alpha"], months: 1)
        var offers = examples.prefix(120).map { e in
            Example(content: e.content, domain: e.domain, timestampMillis: e.timestampMillis + 5, qualityScore: e.qualityScore,
                    tags: e.tags, source: "second-pass", metadataJSON: e.metadataJSON)
        }
        offers[0] = Example(content: offers[0].content, domain: offers[0].domain, timestampMillis: offers[0].timestampMillis,
                            source: nil)  // and an offer without one
        do {
            let store = try Store.open(at: path)
            let ing = try Ingester(store: store, mapping: IngestMapping())
            try ing.ingest(data: ThroughputPathTests.jsonl(examples + offers))
            try ing.commitAndClose()
            #expect(ing.summary.duplicates == offers.count)
        }
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        var sources: [ExampleID: String?] = [:]
        try reader.lock.withLock {
            try ProvenanceScanner.forEachDuplicate(catalog: reader.catalog, buffers: &reader.buffers) { sources[$0.target] = $0.source }
        }
        #expect(sources.count == offers.count)
        for (i, o) in offers.enumerated() { #expect(sources[o.id] == .some(i == 0 ? nil : "second-pass")) }
    }

    @Test func commitAndCloseMakesTheIngestDurableAndSealedAndRefusesAClosedStore() throws {
        let path = temporaryStorePath()
        let examples = makeExamples(900, domains: ["alpha", "beta"], months: 2)
        do {
            let store = try Store.open(at: path)
            let ing = try Ingester(store: store, mapping: IngestMapping())
            var commitsSeen: [Int] = []
            ing.onCommit = { commitsSeen.append($0.inserted) }
            try ing.ingest(data: ThroughputPathTests.jsonl(examples + examples.prefix(100)))
            try ing.commitAndClose()
            #expect(ing.summary.inserted == examples.count)
            #expect(ing.summary.duplicates == 100)
            #expect(commitsSeen.last == examples.count, "the final commit is reported once it is durable")
            #expect(throws: StrataError.self) { try ing.commitAndClose() }
            #expect(throws: StrataError.self) { try store.commitAndClose() }
        }
        let report = StoreVerifier(path: path).run()
        #expect(report.intact, "\(report.problems)")
        let mp = path + "/" + Format.manifestFileName
        let manifest = try Manifest.decode(Array(try Data(contentsOf: URL(fileURLWithPath: mp))), path: mp)
        #expect(!manifest.segments.isEmpty && manifest.segments.allSatisfy { $0.state == .sealed })
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.count == examples.count)
        for e in examples.prefix(200) { #expect(try reader.get(e.id) == e) }
    }
}
