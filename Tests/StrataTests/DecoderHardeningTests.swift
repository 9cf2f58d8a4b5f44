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
