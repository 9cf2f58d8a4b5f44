import Foundation
import Testing
@testable import Strata

@Suite struct PrivacyTests {
    func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    @Test func sha256MatchesFIPSVectors() {
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(hex(SHA256.hash(long)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func hmacMatchesRFC4231TestCase2() {
        let mac = HMACSHA256.mac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func hashedFieldIsReplacedAndEverythingElseKeptByteForByte() throws {
        let hasher = try FieldHasher(fields: ["metadata.user_id", "metadata.patient.mrn"], secret: Array(repeating: 7, count: 32))
        var h = hasher
        var d = ExampleDraft()
        let meta = #"{"user_id": "u-4821", "big": 12345678901234567890, "patient": {"mrn": 99812, "name": null}, "list": [{"user_id": "keep"}], "f": 1.5e300}"#
        d.metadata = d.store(meta)
        h.apply(to: &d)
        let out = d.string(d.metadata)
        let uid = hasher.pseudonym(of: Array(#""u-4821""#.utf8))
        let mrn = hasher.pseudonym(of: Array("99812".utf8))
        #expect(out == #"{"user_id": "\#(uid)", "big": 12345678901234567890, "patient": {"mrn": "\#(mrn)", "name": null}, "list": [{"user_id": "keep"}], "f": 1.5e300}"#)
        #expect(uid.hasPrefix("h:") && uid.count == 34)
        // Same value, same pseudonym; another secret, another pseudonym.
        #expect(hasher.pseudonym(of: Array(#""u-4821""#.utf8)) == uid)
        let other = try FieldHasher(fields: ["metadata.user_id"], secret: Array(repeating: 8, count: 32))
        #expect(other.pseudonym(of: Array(#""u-4821""#.utf8)) != uid)
    }

    @Test func hashFieldOutsideMetadataIsAUsageError() {
        #expect(throws: StrataError.self) { try FieldHasher(fields: ["source"], secret: Array(repeating: 1, count: 32)) }
    }

    @Test func aFieldHashSecretShorterThan16BytesIsAUsageErrorNotATrap() {
        do {
            _ = try FieldHasher(fields: ["metadata.user_id"], secret: Array(repeating: 1, count: 15))
            Issue.record("a 15-byte secret was accepted")
        } catch let e as StrataError {
            #expect(e.code == .usage, "\(e)")
        } catch { Issue.record("\(error)") }
    }

    @Test func ingestWithHashFieldStoresPseudonymsAndKeepsTheSecretPrivate() throws {
        let store = temporaryStorePath()
        let r = try runStrata(["ingest", store, fixturePath("etl_module4.jsonl"), "--map", "domain=metadata.health_domain",
                               "--map", "timestamp=metadata.processing_timestamp", "--hash-field", "metadata.user_id", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let reader = try StoreReader(path: store)
        var metas: [String] = []
        try reader.scan { metas.append($0.metadataJSON); return true }
        #expect(metas.count == 2)
        #expect(metas.allSatisfy { !$0.contains(#""user_id": "u-"#) && $0.contains(#""user_id": "h:"#) })
        let key = store + "/keys/field-hash.key"
        let mode = try #require(FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        // A second run reuses the secret: the same user id maps to the same pseudonym.
        let store2Line = #"{"prompt":"p","response":"r","domain":"d","timestamp":0,"metadata":{"user_id":"u-4821"}}"#
        try runStrata(["ingest", store, "--hash-field", "metadata.user_id"], stdin: Data(store2Line.utf8))
        let again = try StoreReader(path: store)
        var pseudonyms = Set<String>()
        try again.scan { e in
            if let range = e.metadataJSON.range(of: #"h:[0-9a-f]{32}"#, options: .regularExpression), e.metadataJSON.contains("user_id") {
                if e.domain != "cardio_hypertension" { pseudonyms.insert(String(e.metadataJSON[range])) }
            }
            return true
        }
        #expect(pseudonyms.count == 1)
    }
}
