import Foundation
import Testing
@testable import Strata

/// The raw-memory row path (`JSONOutput`, `JSONWriter.writeString`) writes
/// exactly the bytes of the array path (`[UInt8]`, `JSONWriter.appendString`),
/// which the record and export tests check against the `Example` encoder.
@Suite struct JSONOutputTests {
    static func escaped(_ bytes: [UInt8]) -> [UInt8] {
        var a: [UInt8] = []
        JSONWriter.appendString(bytes, to: &a)
        return a
    }

    static func written(_ bytes: [UInt8]) -> [UInt8] {
        var o = JSONOutput(capacity: 1)
        bytes.withUnsafeBytes { o.appendJSONString($0) }
        return Array(o.bytes)
    }

    @Test func writeStringEscapesEveryByteValueAtEveryOffsetOfAWordAsAppendStringDoes() {
        for b in 0...255 {
            for k in 0..<18 {
                for tail in [0, 1, 7, 8, 9] {
                    let s = [UInt8](repeating: 0x61, count: k) + [UInt8(b)] + [UInt8](repeating: 0x62, count: tail)
                    #expect(Self.written(s) == Self.escaped(s), "byte \(b) at \(k), \(tail) after")
                }
            }
        }
    }

    @Test func writeStringEqualsAppendStringOnRandomBytesDenseInEscapes() {
        var g = SplitMix(seed: 7)
        let alphabet: [UInt8] = [0x00, 0x01, 0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x1F, 0x20, 0x22, 0x2F, 0x5C, 0x61, 0x7F, 0x80, 0xE2, 0xA8, 0xFF]
        for _ in 0..<5_000 {
            let n = Int(g.next() % 80)
            let dense = g.next() % 2 == 0
            let s: [UInt8] = (0..<n).map { _ in dense ? alphabet[Int(g.next() % UInt64(alphabet.count))] : UInt8(truncatingIfNeeded: g.next()) }
            #expect(Self.written(s) == Self.escaped(s))
        }
        #expect(Self.written([]) == Array("\"\"".utf8))
    }

    @Test func aLiteralJoinedByABlankLineIsTheLiteralOfTheJoinedText() {
        var g = SplitMix(seed: 9)
        let alphabet: [UInt8] = [0x00, 0x0A, 0x22, 0x5C, 0x61, 0x62, 0xC3, 0xA9]
        for _ in 0..<2_000 {
            let a: [UInt8] = (0..<Int(g.next() % 30)).map { _ in alphabet[Int(g.next() % 8)] }
            let b: [UInt8] = (0..<Int(g.next() % 30)).map { _ in alphabet[Int(g.next() % 8)] }
            var o = JSONOutput(capacity: 1)
            o.append(0x41)
            a.withUnsafeBytes { ra in b.withUnsafeBytes { rb in o.appendJSONString(ra, joinedByBlankLine: rb) } }
            var arr: [UInt8] = [0x41]
            a.withUnsafeBytes { ra in b.withUnsafeBytes { rb in arr.appendJSONString(ra, joinedByBlankLine: rb) } }
            #expect(Array(o.bytes) == arr)
            #expect(arr == [0x41] + Self.escaped(a + [0x0A, 0x0A] + b))
        }
    }

    @Test func growingFromTheSmallestCapacityKeepsEveryByteInOrder() {
        var o = JSONOutput(capacity: 1)
        var reference: [UInt8] = []
        var g = SplitMix(seed: 3)
        for i in 0..<3_000 {
            let piece: [UInt8] = (0..<Int(g.next() % 200)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            switch i % 4 {
            case 0: piece.withUnsafeBytes { o.append(bytes: $0) }; reference += piece
            case 1: o.append(contentsOf: piece); reference += piece
            case 2: o.append(UInt8(i & 0xFF)); reference.append(UInt8(i & 0xFF))
            default:
                piece.withUnsafeBytes { o.appendJSONString($0) }
                JSONWriter.appendString(piece, to: &reference)
            }
        }
        #expect(Array(o.bytes) == reference)
        o.removeAll()
        #expect(o.isEmpty && o.capacity >= reference.count)
    }

    @Test func lineSafetyOnRawMemoryEqualsTheArrayVersion() {
        for text in ["{\"a\":\"x\u{2028}y\u{2029}\"}\n", "plain", "\r\n", "— ✓ \u{2028}", "\u{E2}"] {
            var arr: [UInt8] = Array("kept\n".utf8)
            let start = arr.count
            arr += Array(text.utf8)
            var o = JSONOutput(capacity: 2)
            o.append(contentsOf: arr)
            JSONWriter.makeLineSafe(&arr, from: start)
            o.makeLineSafe(from: start)
            #expect(Array(o.bytes) == arr, "\(text)")
        }
    }

    /// Every row encoder, for every schema, into raw memory and into an array:
    /// the same bytes, on tricky and random examples, with and without a fold.
    @Test func everySchemaWritesTheSameRowsIntoRawMemoryAsIntoAnArray() throws {
        var g = RecordEncoderTests.Gen(g: SplitMix(seed: 21))
        var examples: [Example] = (0..<1_500).map { _ in g.example() }
        for s in RecordEncoderTests.trickyStrings {
            examples.append(Example(content: .instruction(instruction: s, input: s, output: s), domain: "d", timestampMillis: 5,
                                    qualityScore: 0.25, tags: [s], source: s, metadataJSON: "{\"quality_tier\":\"gold\",\"source_file\":\"f\"}"))
            examples.append(Example(content: .chat([Message(role: .system, content: s), Message(role: .user, content: s),
                                                    Message(role: .assistant, content: s)]),
                                    domain: "d", timestampMillis: -1, metadataJSON: "{\n}"))
            // A year past 9999 (only a damaged or foreign entry): the slow timestamp path.
            examples.append(Example(content: .chat([Message(role: .user, content: s), Message(role: .assistant, content: s)]),
                                    domain: "d", timestampMillis: 253_402_300_800_000 + 5, metadataJSON: "{}"))
        }
        var out = JSONOutput(capacity: 1)
        for e in examples {
            for c in RecordEncoderTests.corrections(e) {
                let a = c.map { FoldedAnnotations(folding: [$0], shape: e.shape, hasAssistant: e.content.hasAssistant) }
                try RecordEncoderTests.withView(e) { v in
                    out.removeAll()
                    var arr: [UInt8] = []
                    for schema in JSONLSchema.allCases where ExampleJSONEncoder.represents(schema, v.shape) {
                        for sp in [nil, "You \"help\"\n"] {
                            ExampleJSONEncoder.append(schema, v, annotations: a, systemPrompt: sp, &out)
                            ExampleJSONEncoder.append(schema, v, annotations: a, systemPrompt: sp, &arr)
                        }
                    }
                    ExampleJSONEncoder.appendRecordLine(v, correction: a?.corrected, &out)
                    ExampleJSONEncoder.appendRecordLine(v, correction: a?.corrected, &arr)
                    if v.shape == .chat {
                        ExampleJSONEncoder.appendConversation(v, annotations: a, &out)
                        ExampleJSONEncoder.appendConversation(v, annotations: a, &arr)
                    }
                    #expect(Array(out.bytes) == arr, "\(String(decoding: arr, as: UTF8.self))")
                }
            }
        }
    }
}

/// The export file sink keeps the file's bytes in order whatever mix of small
/// (buffered), large (written straight) and gathered pieces it is given, and its
/// checksum and byte count describe exactly the file it wrote.
@Suite struct ExportFileSinkTests {
    @Test func smallLargeAndGatheredPiecesInAnyOrderMakeTheConcatenatedFileAndItsChecksum() throws {
        let root = temporaryStorePath()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var g = SplitMix(seed: 11)
        // Sizes around the straight-write threshold (chunk / 16) and the flush size (chunk),
        // and enough in total to pass the writeback step several times.
        let sizes = [0, 1, 100, ExportFileSink.chunk / 16 - 1, ExportFileSink.chunk / 16, ExportFileSink.chunk / 16 + 1,
                     ExportFileSink.chunk - 1, ExportFileSink.chunk, 3 * ExportFileSink.chunk]
        let sink = try ExportFileSink(fs: PosixFileSystem.shared, root: root, relPath: "d/data.jsonl", split: nil, partition: nil, mode: 0o600)
        var expected: [UInt8] = []
        while expected.count < Int(ExportFileSink.writebackStep) * 3 {
            let n = sizes[Int(g.next() % UInt64(sizes.count))]
            let start = Int(g.next() % 251)
            let piece = (0..<n).map { UInt8(truncatingIfNeeded: (start &+ $0 &* 7) % 251) }
            switch g.next() % 6 {
            case 0:
                piece.withUnsafeBytes { sink.buffer.append(bytes: $0) }  // rows appended one by one
                try sink.flushIfFull()
            case 1, 2:
                // Several blocks' text in one gathering write (behind whatever is buffered), empty pieces included.
                let second = (0..<Int(g.next() % 5000)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
                try piece.withUnsafeBytes { a in
                    try second.withUnsafeBytes { b in try sink.append(gathering: [a, UnsafeRawBufferPointer(start: nil, count: 0), b]) }
                }
                expected += piece
                expected += second
                continue
            default:
                try piece.withUnsafeBytes { try sink.append($0) }  // a block's text
            }
            expected += piece
        }
        let record = try sink.complete()
        try sink.publish()
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: root + "/d/data.jsonl")))
        #expect(written == expected)
        #expect(record.bytes == Int64(expected.count))
        #expect(record.xxh3 == XXH.hash64(expected))
    }
}
