import Foundation
import Testing
@testable import Strata

/// Inputs found by fuzzing (Fuzz/, tools/fuzz.sh) stay fixed even when the
/// fuzz run is skipped: each is replayed here through the same decoder.
@Suite struct DecoderHardeningTests {
    private func body(of e: Example) -> [UInt8] {
        var w = ByteWriter()
        RecordCodec.appendExampleEntry(ExampleDraft(e), id: e.id, to: &w)
        return Array(w.bytes[(RecordCodec.varintSize(UInt64(w.bytes.count)) + 1)...])
    }

    private func decode(_ bytes: [UInt8]) throws -> Example {
        try bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw, path: "test")
            return try RecordCodec.decodeExampleBody(&r)
        }
    }

    @Test func exampleBodyRoundTripsExactly() throws {
        for e in makeExamples(30) { #expect(try decode(body(of: e)) == e) }
    }

    @Test func bytesAfterTheLastFieldAreCorruption() throws {
        let b = body(of: makeExamples(1)[0]) + [0x7B]
        #expect { try decode(b) } throws: { ($0 as? StrataError)?.code == .corruption }
    }

    @Test func fuzzFoundEmptyMetadataWithTrailingBytesIsCorruption() throws {
        let p = packageRoot + "/Fuzz/corpus/RecordDecoder/regression-empty-metadata-trailing-bytes"
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
        #expect { try decode(bytes) } throws: { e in
            guard let s = e as? StrataError else { return false }
            return s.code == .corruption && s.message.contains("metadata")
        }
    }

    /// Every committed seed input decodes or fails with a StrataError, never anything else.
    @Test func seedCorpusDecodesOrThrowsStrataErrorsOnly() throws {
        let dir = packageRoot + "/Fuzz/corpus/"
        var n = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: dir + "RecordDecoder") {
            let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "RecordDecoder/" + name)))
            do { _ = try decode(b) } catch { #expect(error is StrataError, "\(name): \(error)") }
            n += 1
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: dir + "ManifestParser") {
            let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "ManifestParser/" + name)))
            do { _ = try Manifest.decode(Array(b.dropFirst()), path: name) } catch { #expect(error is StrataError, "\(name): \(error)") }
            n += 1
        }
        #expect(n >= 7)
    }
}

/// One entry decoder for every reader (Segment/EntryView.swift): a block whose
/// bytes were changed in a way the frame checksum cannot see (the checksum is
/// recomputed after the change) is rejected alike by `get`, a scan and an export.
@Suite struct OneDecoderTests {
    /// A store with one example whose response text is `response`; returns its path,
    /// the example, and the path of its only segment.
    private func storeWithOneExample(_ response: String) throws -> (String, Example, String) {
        let path = temporaryStorePath()
        let e = Example(content: .promptResponse(prompt: "which sealant for TPO seams", response: response),
                        domain: "roofing", timestampMillis: 1_763_460_900_000)
        let s = try Store.open(at: path)
        _ = try s.append(e)
        try s.close()
        let dir = path + "/" + PartitionKey(domain: e.domain, month: e.month).path
        let seg = dir + "/" + (try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".strata") }!)
        return (path, e, seg)
    }

    /// Replaces `from` by `to` (same length) inside the first block frame's
    /// payload and recomputes the frame checksum, so only the entry decoder can tell.
    private func damageFirstBlock(_ seg: String, replacing from: [UInt8], with to: [UInt8]) throws {
        var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: seg)))
        let frame = Format.segmentHeaderSize
        let h = try b.withUnsafeBytes { try FrameCodec.parseHeader(UnsafeRawBufferPointer(rebasing: $0[frame...]), path: nil, offset: 0) }
        let payload = (frame + Format.frameHeaderSize)..<(frame + h.frameLength)
        let at = try #require((payload.lowerBound...(payload.upperBound - from.count)).first { Array(b[$0..<($0 + from.count)]) == from })
        b.replaceSubrange(at..<(at + to.count), with: to)
        let sum = b.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[(frame + 8)..<(frame + h.frameLength)])) }
        withUnsafeBytes(of: sum.littleEndian) { for i in 0..<8 { b[frame + i] = $0[i] } }
        try Data(b).write(to: URL(fileURLWithPath: seg))
    }

    private func expectEveryReaderRejects(_ path: String, _ e: Example, _ what: String) throws {
        let isCorruption: (any Error) -> Bool = { ($0 as? StrataError)?.code == .corruption && ($0 as? StrataError)?.message.contains(what) == true }
        let reader = try StoreReader.open(at: path)
        defer { reader.close() }
        #expect(throws: (any Error).self) { _ = try reader.get(e.id) }
        do { _ = try reader.get(e.id) } catch { #expect(isCorruption(error), "get: \(error)") }
        do { try reader.scan { _ in true }; Issue.record("scan accepted the damaged entry") } catch { #expect(isCorruption(error), "scan: \(error)") }
        let out = temporaryStorePath() + "-export"
        do {
            _ = try Exporter(storePath: path, outPath: out, spec: ExportSpec()).run()
            Issue.record("export accepted the damaged entry")
        } catch { #expect(isCorruption(error), "export: \(error)") }
    }

    @Test func contentChangedUnderAValidChecksumIsRejectedByGetScanAndExport() throws {
        let (path, e, seg) = try storeWithOneExample("apply primer then 2.5 inch overlap")
        try damageFirstBlock(seg, replacing: Array("primer".utf8), with: Array("primed".utf8))
        try expectEveryReaderRejects(path, e, "does not match content hash")
    }

    @Test func invalidUTF8UnderAValidChecksumIsRejectedByGetScanAndExport() throws {
        let (path, e, seg) = try storeWithOneExample("apply primer then 2.5 inch overlap")
        try damageFirstBlock(seg, replacing: Array("primer".utf8), with: [0x70, 0x72, 0xFF, 0x6D, 0x65, 0x72])
        try expectEveryReaderRejects(path, e, "UTF-8")
    }
}
