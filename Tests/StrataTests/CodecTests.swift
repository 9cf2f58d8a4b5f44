import Testing
@testable import Strata

@Suite struct CodecTests {
    @Test func lz4RoundTripsAndRejectsGarbage() throws {
        let input = Array(String(repeating: "hello strata ", count: 100).utf8)
        var compressed: [UInt8] = []
        input.withUnsafeBytes { _ = LZ4Codec.compress($0, appendingTo: &compressed) }
        #expect(compressed.count < input.count)
        var out: [UInt8] = []
        #expect(compressed.withUnsafeBytes { LZ4Codec.decompress($0, rawLength: input.count, into: &out) })
        #expect(out == input)
        var bad = compressed
        bad[bad.count / 2] ^= 0xff
        bad.removeLast(3)
        _ = bad.withUnsafeBytes { LZ4Codec.decompress($0, rawLength: input.count, into: &out) }
    }

    @Test func zstdRoundTrips() throws {
        let input = Array(String(repeating: "zstd strata ", count: 100).utf8)
        var compressed: [UInt8] = []
        try input.withUnsafeBytes { _ = try ZstdCodec.compress($0, level: 3, appendingTo: &compressed) }
        var out: [UInt8] = []
        #expect(compressed.withUnsafeBytes { ZstdCodec.decompress($0, rawLength: input.count, into: &out) })
        #expect(out == input)
    }

    @Test func idHexRoundTrips() {
        let id = CanonicalContent.id(of: .promptResponse(prompt: "p", response: "r"))
        #expect(ExampleID(hex: id.hex) == id)
        #expect(id.hex.count == 32)
    }

    @Test func varintRejectsOverlongEncodings() {
        let bytes: [UInt8] = Array(repeating: 0xff, count: 11)
        bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            #expect(throws: StrataError.self) { try r.varint() }
        }
    }

    @Test func exampleEntryRoundTrips() throws {
        let e = Example(content: .chat([Message(role: .user, content: "hé"), Message(role: .assistant, content: "ok")]),
                        domain: "d1", timestampMillis: 1_700_000_000_000, qualityScore: 0.5, tags: ["a", "b"],
                        source: "src", metadataJSON: #"{"k":1.50}"#)
        var w = ByteWriter()
        RecordCodec.appendExampleEntry(ExampleDraft(e), id: e.id, to: &w)
        try w.bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            let len = try r.varint()
            #expect(Int(len) == r.remaining)
            #expect(try r.u8() == EntryKind.example.rawValue)
            let back = try RecordCodec.decodeExampleBody(&r)
            #expect(back == e)
            #expect(r.isAtEnd)
        }
    }

    @Test func monthOfTimestamp() {
        #expect(Month(timestampMillis: 0).description == "1970-01")
        #expect(Month(timestampMillis: -1).description == "1969-12")
        #expect(Month(timestampMillis: 1_763_202_600_000).description == "2025-11")
        #expect(Month("2025-11")!.startMillis == 1_761_955_200_000)
    }
}
