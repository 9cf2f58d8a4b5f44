import Foundation
import Testing
@testable import Strata

/// The manifest's typed members (`dedup` as `DedupSpec`, unknown members as
/// their JSON text) write the same bytes the untyped dictionaries did.
@Suite struct ManifestMemberTests {
    /// A manifest file around a hand-written JSON `body`.
    static func manifestFile(_ body: String) -> [UInt8] { Manifest.file(body: Array(body.utf8)) }

    @Test func everyGoldenFixtureManifestReEncodesByteExact() throws {
        let root = fixturePath("stores")
        let stores = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(stores.count >= 2)
        for s in stores {
            let bytes = try PosixFileSystem.shared.readFile(root + "/" + s + "/MANIFEST")
            let m = try Manifest.decode(bytes, path: s)
            // The body; the header names the current version, which v1 fixtures predate.
            #expect(try m.encode().dropFirst(24).elementsEqual(bytes.dropFirst(24)), "\(s): re-encoded MANIFEST body differs")
        }
    }

    @Test func unknownMembersAndAnUnknownDedupKeyAreCopiedThroughByteExact() throws {
        // Sorted keys, no spaces: the form the writer emits, so a rewrite is byte-identical.
        let body = #"{"created":"2026-01-01T00:00:00Z","dedup":{"fields":["a/b"],"key":"semantic","normalize":"none"},"generation":3,"# +
            #""levels":{"2":1,"7":2},"next_segment":9,"options":{"a":null,"b":[1,"x/y",true]},"segments":[],"store_id":"00ff"}"#
        let file = Self.manifestFile(body)
        let m = try Manifest.decode(file, path: "MANIFEST")
        #expect(m.dedup == Manifest.DedupSpec(key: "semantic", fields: ["a/b"], normalize: "none"))
        #expect(Set(m.extra.keys) == ["levels", "options"])
        #expect(String(decoding: m.extra["options"]!.json, as: UTF8.self) == #"{"a":null,"b":[1,"x/y",true]}"#)
        #expect(try m.encode() == file)
        // The key this build does not know is refused when a store opens, not when the manifest is read.
        #expect(throws: StrataError.self) { try DedupKey(manifest: m.dedup, path: "MANIFEST") }
    }

    @Test func aMistypedDedupMemberIsCorruption() {
        let body = #"{"created":"c","dedup":{"fields":"source","key":"content+fields"},"generation":1,"next_segment":1,"segments":[],"store_id":"s"}"#
        do {
            _ = try Manifest.decode(Self.manifestFile(body), path: "MANIFEST")
            Issue.record("a dedup member whose fields are not a list decoded")
        } catch let e as StrataError {
            #expect(e.code == .corruption)
            #expect(e.message.contains("dedup member"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func aStringMemberRoundTrips() throws {
        var m = Manifest(storeID: "s", created: "c")
        m.extra[Store.secretManifestKey] = Manifest.Member(string: "00ab/cd")
        let again = try Manifest.decode(try m.encode(), path: "MANIFEST")
        #expect(again.extra[Store.secretManifestKey]?.string == "00ab/cd")
        #expect(String(decoding: try m.encode().dropFirst(24), as: UTF8.self).contains(#""field_hash_key":"00ab/cd""#))
    }
}
