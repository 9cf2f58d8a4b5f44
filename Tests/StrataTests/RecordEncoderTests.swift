import Foundation
import Testing
@testable import Strata

/// The one record encoder (`ExampleJSONEncoder.appendRecordFields`), which
/// writes `strata scan` lines and raw export rows straight from entry bytes,
/// gives the bytes of the `Example`-based encoder (`Example.appendJSON` /
/// `jsonString`, what `get` prints) on tricky and on randomly generated
/// examples; the scan path built on it prints what the `Example` scan prints.
@Suite struct RecordEncoderTests {
    /// Strings that stress the escaper: every control byte, quotes and
    /// backslashes at each position of an 8-byte word, U+2028 / U+2029 and
    /// other 0xE2-led characters, multi-byte UTF-8, empty text.
    static let trickyStrings: [String] = {
        var s = ["", " ", "\"", "\\", "\\\"", "\"\\\"", "plain ascii text of some length, no escapes at all here",
                 "\u{2028}", "\u{2029}", "a\u{2028}b\u{2029}c", "– — ✓ € ⁂ (0xE2-led, not separators)",
                 "é 日本語 🚀 \u{301} \u{1F600} ñ", "\u{7F} DEL and \u{80} \u{FFFF} \u{10FFFF}",
                 "line\nbreak\r\nand\ttab\u{8}\u{C}", "</script> & <b> ' ` $ {}", String(repeating: "x", count: 300) + "\"" + String(repeating: "y", count: 17)]
        for c in 0..<0x20 { s.append("c\(c):" + String(UnicodeScalar(UInt8(c))) + ":end") }
        for k in 0..<17 {  // an escape at every offset of a word, and one byte past it
            s.append(String(repeating: "a", count: k) + "\"" + String(repeating: "b", count: 16 - k))
            s.append(String(repeating: "a", count: k) + "\u{1}" + "é")
        }
        return s
    }()

    static let metadataTexts = [
        "{}", #"{"k":"v"}"#, "{\n  \"spaced\" : true ,\r\n \"n\": 1e3 }", #"{"s":"a\u2028b","raw":"\#u{2028}x\#u{2029}"}"#,
        #"{"_extra":{"unknown_field":[1,2,{"a":null}]},"big":12345678901234567890,"f":1.5e300}"#, "{\r}", #"{"q":"\"\\/"}"#,
    ]

    struct Gen {
        var g: SplitMix
        mutating func int(_ n: Int) -> Int { Int(g.next() % UInt64(n)) }
        mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }
        mutating func text() -> String {
            switch int(4) {
            case 0: return pick(RecordEncoderTests.trickyStrings)
            case 1: return pick(RecordEncoderTests.trickyStrings) + pick(RecordEncoderTests.trickyStrings)
            default:
                // Random code points, weighted towards ASCII, escapes and 0xE2-led ones.
                var s = ""
                for _ in 0..<int(60) {
                    switch int(10) {
                    case 0: s.unicodeScalars.append(UnicodeScalar(UInt8(int(0x20))))
                    case 1: s += pick(["\"", "\\", "\u{2028}", "\u{2029}", "\u{2013}"])
                    case 2: s.unicodeScalars.append(UnicodeScalar(UInt32(0x80 + int(0xD000)))!)
                    case 3: s.unicodeScalars.append(UnicodeScalar(UInt32(0x1F300 + int(0x300)))!)
                    default: s.unicodeScalars.append(UnicodeScalar(UInt8(0x20 + int(0x5F))))
                    }
                }
                return s
            }
        }
        mutating func example() -> Example {
            let content: Content
            switch int(3) {
            case 0: content = .instruction(instruction: text(), input: int(3) == 0 ? "" : text(), output: text())
            case 1: content = .promptResponse(prompt: text(), response: text())
            default:
                let roles: [Role] = [.system, .user, .assistant, .tool]
                content = .chat((0..<int(6)).map { _ in Message(role: pick(roles), content: text()) })
            }
            let ts = pick([Int64(0), 1, 951_782_400_000, 1_735_689_600_123, 253_402_300_799_999]) + Int64(int(1000))
            return Example(content: content, domain: pick(["alpha", "beta-2", "x_y"]), timestampMillis: min(ts, 253_402_300_799_999),
                           qualityScore: pick([nil, 0, 1, 0.5, 1.0 / 3.0, 0.00001, 0.123456789]),
                           tags: (0..<int(4)).map { _ in text() }, source: int(3) == 0 ? nil : text(),
                           metadataJSON: pick(RecordEncoderTests.metadataTexts))
        }
        /// One the store accepts (`ExampleValidation`): no blank required field, no empty tag, no empty chat.
        mutating func storableExample() -> Example {
            while true {
                let e = example()
                if (try? ExampleValidation.validate(ExampleDraft(e))) != nil { return e }
            }
        }
    }

    /// The example through the entry codec and the one entry decoder, as a scan sees it.
    static func withView<T>(_ e: Example, _ use: (EntryView) throws -> T) throws -> T {
        var w = ByteWriter(capacity: 1 << 10)
        RecordCodec.appendExampleEntry(ExampleDraft(e), id: e.id, to: &w)
        return try w.bytes.withUnsafeBytes { raw in
            var it = EntryIterator(raw, path: nil, blockOffset: 0)
            let (kind, body, _) = try #require(try it.next())
            #expect(kind == EntryKind.example.rawValue)
            var r = body
            var v = EntryView()
            try v.decode(&r)
            try v.verifyContent(r)
            return try use(v)
        }
    }

    /// The corrections a fold may apply: none, and one of the natural field.
    static func corrections(_ e: Example) -> [Annotation?] {
        [nil, Annotation(.correction(text: "fixed \"it\"\n\u{2028} é", field: nil), reason: "r", timestampMillis: 1)]
    }

    static func checkOne(_ e: Example) throws {
        for c in corrections(e) {
            let folded = FoldedExample(original: e, annotations: c.map { [$0] } ?? [])
            let expected = Array((folded.example.jsonString).utf8)
            let a = c.map { FoldedAnnotations(folding: [$0], shape: e.shape, hasAssistant: folded.original.content.hasAssistant) }
            try withView(e) { v in
                var line: [UInt8] = [0x41]  // bytes already in the buffer are left alone
                ExampleJSONEncoder.appendRecordLine(v, correction: a?.corrected, &line)
                #expect(Array(line.dropFirst()) == expected, "\(folded.example.jsonString)")
                // Raw export row: the record's fields (metadata line breaks as spaces, U+2028 kept), then the fold.
                var raw: [UInt8] = []
                ExampleJSONEncoder.appendRaw(v, annotations: a, &raw)
                var reference: [UInt8] = []
                e.appendJSON(to: &reference)
                reference.removeLast()
                reference = reference.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 }
                reference += Array(",\"feedback_positive\":0,\"feedback_negative\":0,\"excluded\":false,\"corrected\":".utf8)
                if let t = a?.corrected { JSONWriter.appendString(t, to: &reference) } else { reference += Array("null".utf8) }
                reference.append(0x7D)
                #expect(raw == reference, "\(String(decoding: raw, as: UTF8.self))")
            }
        }
    }

    @Test func recordLinesFromEntryBytesEqualTheExampleEncoderOnTrickyStrings() throws {
        for (i, s) in Self.trickyStrings.enumerated() {
            let examples = [
                Example(content: .instruction(instruction: s, input: s, output: s), domain: "d", timestampMillis: Int64(i),
                        qualityScore: 0.5, tags: [s, ""], source: s, metadataJSON: Self.metadataTexts[i % Self.metadataTexts.count]),
                Example(content: .promptResponse(prompt: s, response: ""), domain: "d", timestampMillis: 1_735_689_600_000, metadataJSON: "{}"),
                Example(content: .chat([Message(role: .system, content: s), Message(role: .user, content: ""), Message(role: .assistant, content: s),
                                        Message(role: .tool, content: s), Message(role: .assistant, content: s + s)]),
                        domain: "d", timestampMillis: 253_402_300_799_999, source: "", metadataJSON: "{\n}"),
                Example(content: .chat([Message(role: .user, content: s)]), domain: "d", timestampMillis: 0, metadataJSON: "{}"),
                Example(content: .chat([]), domain: "d", timestampMillis: 0, metadataJSON: "{}"),
            ]
            for e in examples { try Self.checkOne(e) }
        }
    }

    @Test func recordLinesFromEntryBytesEqualTheExampleEncoderOnRandomExamples() throws {
        var g = Gen(g: SplitMix(seed: 16))
        for _ in 0..<3_000 { try Self.checkOne(g.example()) }
    }

    @Test func scanJSONLinesPrintsWhatTheExampleScanPrintsWithAnnotationsAndCompaction() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.blockTargetBytes = 2 << 10
        var g = Gen(g: SplitMix(seed: 15))
        var examples = ColumnarBlockTests.everyShapeExamples()
        for _ in 0..<400 { var e = g.storableExample(); e.domain = "cols"; examples.append(e) }
        func both(_ filter: ScanFilter, limit: Int? = nil) throws -> (fast: [UInt8], reference: [UInt8], rows: Int) {
            let r = try StoreReader(path: path)
            defer { r.close() }
            var fast: [UInt8] = []
            let rows = try r.scanJSONLines(filter, limit: limit) { fast += $0 }
            var reference: [UInt8] = []
            var n = 0
            try r.scan(filter) { e in
                reference += Array((e.jsonString + "\n").utf8)
                n += 1
                return limit.map { n < $0 } ?? true
            }
            return (fast, reference, rows)
        }
        func check(_ label: String) throws {
            for filter in [ScanFilter(), ScanFilter(includeExcluded: true), ScanFilter(domains: ["cols"])] {
                let (fast, reference, rows) = try both(filter)
                #expect(!reference.isEmpty)
                #expect(fast == reference, "\(label)")
                #expect(rows == reference.filter { $0 == 0x0A }.count)
            }
            let (fast, reference, rows) = try both(ScanFilter(), limit: 7)
            #expect(rows == 7 && fast == reference, "\(label) limit")
        }
        var s = try Store.open(at: path, options: o)
        try s.append(contentsOf: examples)
        try s.close()
        try check("row blocks, no annotations (two threads)")
        s = try Store.open(at: path, options: o)
        try s.annotate(examples[0].id, Annotation(.correction(text: "Yes!\n", field: nil), timestampMillis: 2))
        try s.annotate(examples[3].id, Annotation(.exclude, reason: "dup", timestampMillis: 3))
        try s.annotate(examples[11].id, Annotation(.correction(text: "corrected \u{2028}", field: nil), timestampMillis: 4))
        try s.annotate(examples[12].id, Annotation(.feedback(.negative, rating: 1, comment: nil), timestampMillis: 5))
        try s.close()

        try check("row blocks, annotation entries")
        // Compacted: columnar blocks, annotations folded into kind-4 entries after their examples.
        s = try Store.open(at: path)
        for p in s.partitions { try s.compact(partition: p) }
        try s.close()
        try check("compacted, folded annotations (two threads)")
        s = try Store.open(at: path)
        // One annotation after compaction: a kind-2 entry outside the blocks as well.
        try s.annotate(examples[20].id, Annotation(.correction(text: "late", field: nil), timestampMillis: 6))
        try s.close()
        try check("compacted")
    }
}

extension Content {
    var hasAssistant: Bool {
        if case let .chat(ms) = self { return ms.contains { $0.role == .assistant } }
        return false
    }
}
