import Foundation
import Testing
@testable import Strata

/// Every folded example of the store (excluded ones too), by id.
func foldedView(_ store: Store) throws -> [ExampleID: FoldedExample] {
    var out: [ExampleID: FoldedExample] = [:]
    try store.scanFolded(ScanFilter(includeExcluded: true)) { f in
        #expect(out[f.id] == nil, "example \(f.id) seen twice")
        out[f.id] = f
        return true
    }
    return out
}

func foldedView(_ reader: StoreReader) throws -> [ExampleID: FoldedExample] {
    var out: [ExampleID: FoldedExample] = [:]
    try reader.scanFolded(ScanFilter(includeExcluded: true)) { f in
        out[f.id] = f
        return true
    }
    return out
}

@Suite struct AnnotationTests {
    @Test func feedbackAndCorrectionFoldIntoGetAndScan() throws {
        let path = temporaryStorePath()
        let ex = makeExamples(30)
        let pr = ex.first { $0.shape == .promptResponse }!
        let chat = ex.first { $0.shape == .chat }!
        let inst = ex.first { $0.shape == .instruction }!
        do {
            let store = try Store.open(at: path)
            try store.append(contentsOf: ex)
            try store.annotate(pr.id, .feedback(.positive, rating: 5, comment: "good"))
            try store.annotate(pr.id, .feedback(.negative))
            try store.annotate(pr.id, .correction("Better answer", reason: "too short"))
            try store.annotate(chat.id, .correction("hello, fixed"))
            try store.annotate(inst.id, .correction("Fixed output"))

            let got = try #require(try store.get(pr.id))
            #expect(got.id == pr.id)
            #expect(got.content == .promptResponse(prompt: pr.content.promptOrNil!, response: "Better answer"))
            #expect(try store.getRaw(pr.id) == pr)
            let f = try #require(try store.getFolded(pr.id))
            #expect(f.positiveFeedback == 1 && f.negativeFeedback == 1)
            #expect(f.ratings == [5] && f.comments == ["good"])
            #expect(f.isCorrected && f.correctionReason == "too short")
            #expect(try store.history(pr.id).count == 3)
            if case let .chat(ms) = try store.get(chat.id)!.content { #expect(ms.last!.content == "hello, fixed") } else { Issue.record("not a chat") }
            if case let .instruction(_, _, out) = try store.get(inst.id)!.content { #expect(out == "Fixed output") } else { Issue.record("not an instruction") }

            var scanned: [ExampleID: Example] = [:]
            try store.scan { scanned[$0.id] = $0; return true }
            #expect(scanned.count == 30)
            #expect(scanned[pr.id] == got)
            try store.close()
        }
        // After reopen: annotations found through the sealed footers; also from a reader.
        let store = try Store.open(at: path)
        defer { try? store.close() }
        #expect(try store.getFolded(pr.id)?.annotations.count == 3)
        #expect(try store.get(pr.id)?.content == .promptResponse(prompt: pr.content.promptOrNil!, response: "Better answer"))
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.get(pr.id)?.content == .promptResponse(prompt: pr.content.promptOrNil!, response: "Better answer"))
        #expect(try reader.getFolded(pr.id)?.positiveFeedback == 1)
        #expect(try foldedView(reader) == foldedView(store))
    }

    @Test func readerSeesAnnotationsInTheActiveSegment() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        defer { try? store.close() }
        let ex = makeExamples(10)
        try store.append(contentsOf: ex)
        try store.annotate(ex[3].id, .exclude(reason: "pii"))
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        var n = 0
        try reader.scan { _ in n += 1; return true }
        #expect(n == 9)
        #expect(try reader.getFolded(ex[3].id)?.exclusionReason == "pii")
    }

    @Test func annotatingAnUnknownIdFailsNamingTheId() throws {
        let store = try Store.open(at: temporaryStorePath())
        defer { try? store.close() }
        try store.append(contentsOf: makeExamples(3))
        let missing = ExampleID(high: 0xdead, low: 0xbeef)
        do {
            try store.annotate(missing, .feedback(.positive))
            Issue.record("annotate of an unknown id succeeded")
        } catch let e as StrataError {
            #expect(e.code == .notFound)
            #expect(e.message.contains(missing.hex))
        }
    }

    @Test func excludeHidesFromScansAndIncludeRestores() throws {
        let store = try Store.open(at: temporaryStorePath())
        defer { try? store.close() }
        let ex = makeExamples(12)
        try store.append(contentsOf: ex)
        func visible() throws -> Set<ExampleID> {
            var s: Set<ExampleID> = []
            try store.scan { s.insert($0.id); return true }
            return s
        }
        try store.annotate(ex[2].id, .exclude(reason: "bad label"))
        #expect(try visible() == Set(ex.map(\.id)).subtracting([ex[2].id]))
        var all = 0
        try store.scan(ScanFilter(includeExcluded: true)) { _ in all += 1; return true }
        #expect(all == 12)
        #expect(try store.getFolded(ex[2].id)?.isExcluded == true)
        #expect(try store.get(ex[2].id) != nil)  // by id it is still there
        try store.annotate(ex[2].id, .include(reason: "relabelled"))
        #expect(try visible() == Set(ex.map(\.id)))
        #expect(try store.getFolded(ex[2].id)?.isExcluded == false)
    }

    @Test func correctionKeepsTheIdAndDedupUsesTheOriginalContent() throws {
        let store = try Store.open(at: temporaryStorePath())
        defer { try? store.close() }
        let pr = Example(content: .promptResponse(prompt: "seam overlap for TPO?", response: "2 inches"), domain: "roof", timestampMillis: 1_735_689_600_000)
        try store.append(pr)
        try store.annotate(pr.id, .correction("2.5 inches minimum", reason: "manufacturer spec"))
        #expect(try store.get(pr.id)?.id == pr.id)
        #expect(try store.append(pr) == .duplicate(pr.id))
        let corrected = Example(content: .promptResponse(prompt: "seam overlap for TPO?", response: "2.5 inches minimum"), domain: "roof",
                                timestampMillis: 1_735_689_600_000)
        #expect(try store.append(corrected) == .inserted(corrected.id))
        #expect(store.count == 2)
    }

    @Test func correctionThatDoesNotFitTheShapeIsRejected() throws {
        let store = try Store.open(at: temporaryStorePath())
        defer { try? store.close() }
        let chat = Example(content: .chat([Message(role: .user, content: "hi")]), domain: "d", timestampMillis: 0)
        try store.append(chat)
        #expect(throws: StrataError.self) { try store.annotate(chat.id, .correction("x")) }
        #expect(try store.history(chat.id).isEmpty)
    }

    @Test func annotationBodiesRoundTripAndTruncationsAreCorruptionNotTraps() throws {
        let target = ExampleID(high: 1, low: 2)
        let all: [Annotation] = [
            Annotation(.feedback(.positive, rating: -3, comment: "é ok"), reason: "r", timestampMillis: 42),
            Annotation(.feedback(.negative, rating: nil, comment: nil), timestampMillis: 1),
            Annotation(.correction(text: "fixed", field: .response), reason: "why", timestampMillis: 7),
            Annotation(.exclude, reason: "pii", timestampMillis: 8),
            Annotation(.include, timestampMillis: 9),
        ]
        for a in all {
            var w = ByteWriter()
            AnnotationCodec.appendBody(a, target: target, to: &w)
            try w.bytes.withUnsafeBytes { raw in
                var r = ByteReader(raw)
                let (t, back) = try AnnotationCodec.decodeBody(&r)
                #expect(t == target && back == a)
                for cut in 0..<raw.count {
                    var rr = ByteReader(UnsafeRawBufferPointer(rebasing: raw[0..<cut]))
                    #expect(throws: StrataError.self) { _ = try AnnotationCodec.decodeBody(&rr) }
                }
            }
        }
    }
}

extension Content {
    var promptOrNil: String? {
        if case let .promptResponse(p, _) = self { return p }
        return nil
    }
}
