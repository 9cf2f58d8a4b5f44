import Foundation
import Testing
@testable import Strata

/// The manifest body decoder (Format/ManifestBodyParser.swift): the same
/// manifests as the Foundation decode it replaced, and a corruption error
/// with the path for every malformed body, never a trap.
@Suite struct ManifestDecoderTests {
    static func file(_ body: String) -> [UInt8] { Manifest.file(body: Array(body.utf8)) }

    /// The decode this build used before (JSONSerialization), kept as the reference
    /// for well-formed bodies.
    static func foundationDecode(_ body: [UInt8]) -> Manifest? {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let storeID = obj["store_id"] as? String, let created = obj["created"] as? String,
              let gen = (obj["generation"] as? NSNumber)?.uint64Value, let next = (obj["next_segment"] as? NSNumber)?.uint64Value,
              let segs = obj["segments"] as? [[String: Any]] else { return nil }
        var m = Manifest(storeID: storeID, created: created)
        m.generation = gen
        m.nextSegment = next
        if let d = obj["dedup"] {
            guard let d = d as? [String: Any], let key = d["key"] as? String,
                  let fields = (d["fields"] ?? [String]()) as? [String], let normalize = (d["normalize"] ?? "none") as? String else { return nil }
            m.dedup = Manifest.DedupSpec(key: key, fields: fields, normalize: normalize)
        }
        for s in segs {
            guard let seq = (s["seq"] as? NSNumber)?.uint64Value, let p = s["partition"] as? String,
                  let key = PartitionKey(path: p), let st = (s["state"] as? String).flatMap(Manifest.SegmentEntry.State.init(rawValue:))
            else { return nil }
            let committed = (s["committed"] as? NSNumber)?.int64Value
            m.segments.append(Manifest.SegmentEntry(sequence: seq, partition: key, state: st, codec: s["codec"] as? String ?? "lz4",
                                                    dictionaryID: (s["dict"] as? NSNumber)?.uint32Value ?? 0, committed: committed))
        }
        for (k, v) in obj where !Manifest.knownKeys.contains(k) {
            guard let json = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
            else { return nil }
            m.extra[k] = Manifest.Member(json: Array(json))
        }
        return m
    }

    static func expectSame(_ a: Manifest, _ b: Manifest, _ what: String) {
        #expect(a.storeID == b.storeID, "\(what): store_id")
        #expect(a.created == b.created, "\(what): created")
        #expect(a.generation == b.generation, "\(what): generation")
        #expect(a.nextSegment == b.nextSegment, "\(what): next_segment")
        #expect(a.dedup == b.dedup, "\(what): dedup")
        #expect(a.segments == b.segments, "\(what): segments")
        #expect(a.extra == b.extra, "\(what): extra members")
    }

    /// A body as the writer emits it (sorted keys, no spaces), or spread out
    /// with whitespace and members in reverse order when `spaced`.
    static func body(_ rng: inout SplitMix, segments: Int, spaced: Bool) -> String {
        let domains = ["alpha", "b-2", "c_3", "z"]
        var segs: [String] = []
        for i in 0..<segments {
            let active = rng.next() % 4 == 0
            var members = [
                #""codec":"\#(["lz4", "zstd", "zstd-columnar", "zstd-dict"][Int(rng.next() % 4)])""#,
                #""dict":\#(rng.next() % 3 == 0 ? UInt64(UInt32.max) : rng.next() % 5)"#,
                #""partition":"domain=\#(domains[Int(rng.next() % 4)])/month=20\#(20 + rng.next() % 10)-0\#(1 + rng.next() % 9)""#,
                #""seq":\#(i == 0 ? 4_294_967_296_123 : rng.next() % 1_000_000)"#,
                #""state":"\#(active ? "active" : "sealed")""#,
            ]
            if active && rng.next() % 2 == 0 { members.append(#""committed":\#(32 + rng.next() % 1_000_000)"#) }
            if rng.next() % 5 == 0 { members.append(#""future":{"x":[1,2.5e3,null,true,"\u00e9"]}"#) }
            if spaced { members.reverse() }
            segs.append("{" + members.joined(separator: spaced ? " ,\n\t" : ",") + "}")
        }
        var top = [
            #""created":"2026-01-01T00:00:00Z""#,
            #""dedup":{"fields":["metadata.a","b\/c"],"key":"content+fields","normalize":"casefold"}"#,
            #""generation":\#(rng.next() % (1 << 53))"#,
            #""next_segment":\#(rng.next() % 1_000_000)"#,
            #""segments":[\#(segs.joined(separator: spaced ? ", " : ","))]"#,
            #""store_id":"00ff\u0041\/é""#,
        ]
        if rng.next() % 2 == 0 { top.append(#""field_hash_key":"ab/cd""#) }
        if rng.next() % 2 == 0 { top.append(#""options":{"z":1,"a":[{"k":"line\nbreak \"q\""},-0.5,1E+2,false]}"#) }
        if rng.next() % 2 == 0 { top.append(#""note":"tab\there \ud83d\ude00""#) }
        if rng.next() % 2 == 0 { top.append("\"raw\":\"é日本 \u{2028} ~\"") }
        if spaced { top.reverse() }
        return spaced ? "\n { " + top.joined(separator: " ,\r\n  ") + " } \n" : "{" + top.joined(separator: ",") + "}"
    }

    @Test func everyGoldenFixtureManifestDecodesAsTheFoundationDecoderDid() throws {
        let root = fixturePath("stores")
        let stores = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(stores.count >= 2)
        for s in stores {
            let bytes = try PosixFileSystem.shared.readFile(root + "/" + s + "/MANIFEST")
            let reference = try #require(Self.foundationDecode(Array(bytes.dropFirst(24))), "\(s)")
            Self.expectSame(try Manifest.decode(bytes, path: s), reference, s)
        }
    }

    @Test func generatedManifestsDecodeAsTheFoundationDecoderDid() throws {
        var rng = SplitMix(seed: 15)
        for round in 0..<60 {
            let text = Self.body(&rng, segments: round == 0 ? 0 : Int(rng.next() % 400), spaced: round % 3 == 2)
            let reference = try #require(Self.foundationDecode(Array(text.utf8)), "round \(round)")
            let m = try Manifest.decode(Self.file(text), path: "MANIFEST")
            Self.expectSame(m, reference, "round \(round)")
            // Rewriting stays byte-identical to what the reference decode would rewrite.
            #expect(try m.encode() == reference.encode(), "round \(round): re-encoded bytes differ")
        }
    }

    /// Decoding `body` must throw a corruption error naming `path`.
    static func expectCorruption(_ body: [UInt8], _ what: String) {
        do {
            _ = try Manifest.decode(Manifest.file(body: body), path: "/s/MANIFEST")
            Issue.record("\(what): decoded")
        } catch let e as StrataError {
            #expect(e.code == .corruption, "\(what): \(e)")
            #expect(e.path == "/s/MANIFEST", "\(what): \(e)")
            #expect((e.offset ?? -1) >= 24 && (e.offset ?? 0) <= 24 + Int64(body.count), "\(what): offset \(String(describing: e.offset))")
        } catch {
            Issue.record("\(what): unexpected error \(error)")
        }
    }

    @Test func everyTruncationOfAManifestBodyIsCorruptionWithThePath() {
        var rng = SplitMix(seed: 7)
        let body = Array(Self.body(&rng, segments: 6, spaced: false).utf8)
        for n in 0..<body.count { Self.expectCorruption(Array(body[..<n]), "truncated to \(n) bytes") }
    }

    @Test func mistypedOrOutOfRangeMembersAreCorruption() {
        let ok = #""created":"c","generation":1,"next_segment":2,"store_id":"s""#
        let seg = #""partition":"domain=a/month=2025-01","state":"sealed""#
        let bodies = [
            "[]", "\"x\"", "{" + ok + "}",  // not an object; no segments
            #"{"created":"c","generation":1,"next_segment":2,"segments":[],"store_id":7}"#,
            "{" + ok + #","segments":{}}"#,
            "{" + ok + #","segments":[1]}"#,
            "{" + ok + #","generation":-1,"segments":[]}"#,
            "{" + ok + #","generation":1.5,"segments":[]}"#,
            "{" + ok + #","generation":1e3,"segments":[]}"#,
            "{" + ok + #","generation":18446744073709551616,"segments":[]}"#,
            "{" + ok + #","generation":true,"segments":[]}"#,
            "{" + ok + #","segments":[{"seq":-3,"# + seg + "}]}",
            "{" + ok + #","segments":[{"seq":3,"partition":"domain=A/month=2025-01","state":"sealed"}]}"#,
            "{" + ok + #","segments":[{"seq":3,"partition":"domain=a/month=2025-13","state":"sealed"}]}"#,
            "{" + ok + #","segments":[{"seq":3,"partition":"domain=a/month=2025-01","state":"open"}]}"#,
            "{" + ok + #","segments":[{"seq":3,"# + seg + #","committed":100}]}"#,  // committed on a sealed segment
            "{" + ok + #","segments":[{"seq":3,"partition":"domain=a/month=2025-01","state":"active","committed":31}]}"#,
            "{" + ok + #","segments":[{"seq":3,"partition":"domain=a/month=2025-01","state":"active","committed":9223372036854775808}]}"#,
            "{" + ok + #","segments":[{"seq":3,"# + seg + #","dict":4294967296}]}"#,
            "{" + ok + #","segments":[{"seq":3,"# + seg + #","codec":5}]}"#,
            "{" + ok + #","dedup":{"fields":"source","key":"content+fields"},"segments":[]}"#,
            "{" + ok + #","dedup":[],"segments":[]}"#,
            "{" + ok + #","segments":[]} x"#,
            "{" + ok + #","segments":[],}"#,
            "{" + ok + #","segments":[],"s":"\x"}"#,
            "{" + ok + ",\"segments\":[],\"s\":\"raw\ttab\"}",
            "{" + ok + #","segments":[],"s":01}"#,
        ]
        for b in bodies { Self.expectCorruption(Array(b.utf8), b) }
        Self.expectCorruption([0xFF, 0xFE], "not UTF-8")
        Self.expectCorruption(Array(("{" + ok + #","segments":[],"s":""#).utf8) + [0xC0, 0x80, 0x22, 0x7D], "overlong UTF-8 in a string")
    }

    @Test func deepNestingIsCorruptionNotAStackOverflow() {
        let ok = #"{"created":"c","generation":1,"next_segment":2,"segments":[],"store_id":"s","x":"#
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        Self.expectCorruption(Array((ok + deep + "}").utf8), "100,000 nested arrays")
        // Shallow enough, it is an unknown member like any other.
        let fine = String(repeating: "[", count: 50) + String(repeating: "]", count: 50)
        #expect((try? Manifest.decode(Self.file(ok + fine + "}"), path: "M"))?.extra["x"] != nil)
    }

    @Test func mutatedBodiesDecodeOrFailAsCorruptionNeverTrap() throws {
        var rng = SplitMix(seed: 99)
        let base = Array(Self.body(&rng, segments: 20, spaced: false).utf8)
        let interesting: [UInt8] = Array(#"{}[]",:0123456789-.eE\"tfnu "#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xFF]
        for _ in 0..<3_000 {
            var b = base
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let i = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[i] = interesting[Int(rng.next() % UInt64(interesting.count))]
                case 1: b.remove(at: i)
                default: b.insert(interesting[Int(rng.next() % UInt64(interesting.count))], at: i)
                }
            }
            do { _ = try Manifest.decode(Manifest.file(body: b), path: "M") } catch let e as StrataError {
                #expect(e.code == .corruption && e.path == "M", "\(e)")
            }
        }
    }
}

extension ManifestDecoderTests {
    /// The `Character`-splitting parse PartitionKey(path:) used before its byte-wise one.
    static func referencePartitionKey(_ path: String) -> PartitionKey? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].hasPrefix("domain="), parts[1].hasPrefix("month=") else { return nil }
        let d = String(parts[0].dropFirst(7))
        guard PartitionKey.isValidDomain(d), let m = Month(String(parts[1].dropFirst(6))) else { return nil }
        return PartitionKey(domain: d, month: m)
    }

    @Test func partitionKeysParseAsTheCharacterWiseParseDid() {
        let paths = [
            "domain=a/month=2025-01", "domain=a-b_9/month=1999-12", "domain=" + String(repeating: "x", count: 64) + "/month=2025-01",
            "domain=" + String(repeating: "x", count: 65) + "/month=2025-01", "domain=/month=2025-01", "domain=a/month=2025-1",
            "domain=a/month=2025-13", "domain=a/month=2025-00", "domain=a/month=+025-01", "domain=a/month=2025-01/",
            "domain=a//month=2025-01", "/domain=a/month=2025-01", "domain=A/month=2025-01", "domain=_a/month=2025-01",
            "domain=a/month=2025-01\u{301}", "domain=\u{301}a/month=2025-01", "domain=a/\u{301}month=2025-01",
            "domain=é/month=2025-01", "domain=a month=2025-01", "domains=a/month=2025-01", "domain=a/months=2025-01",
            "domain=a/month=", "domain=a/", "", "/", "domain=a", "domain=a/month=2025-01x",
            "domain=a/month=-025-01", "domain=a/month=2025-+1", "domain=a/month=2025--1", "domain=a/month=+-25-01",
            "domain=a/month=2025-+", "domain=a/month=++25-01", "domain=a/month=0000-12", "domain=a/month=2025_01",
        ]
        for p in paths { #expect(PartitionKey(path: p) == Self.referencePartitionKey(p), "\(p)") }
        #expect(PartitionKey(path: "domain=a-b_9/month=1999-12") == PartitionKey(domain: "a-b_9", month: Month(year: 1999, month: 12)))
    }
}
