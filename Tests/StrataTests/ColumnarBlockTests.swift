import Foundation
import Testing
@testable import Strata

/// The record-aware columnar block codec (frame type 5, SPEC.md §3.6) that
/// compaction writes: every field round-trips byte-exact through compaction,
/// damage to a block is reported with file and offset (never a trap, never
/// other bytes), and the format's version rules hold.
@Suite struct ColumnarBlockTests {
    // MARK: Round trip through compaction

    /// Examples covering every shape, flag and field the entry format has.
    static func everyShapeExamples() -> [Example] {
        let ts: Int64 = 1_735_689_600_000  // 2025-01-01
        let huge = String(repeating: "A long output line with some variety \(UInt64.max). ", count: 40_000)  // ~2 MB
        func pr(_ p: String, _ r: String, q: Double? = nil, _ dt: Int64, tags: [String] = [], source: String? = nil, meta: String = "{}") -> Example {
            Example(content: .promptResponse(prompt: p, response: r), domain: "cols", timestampMillis: ts + dt, qualityScore: q,
                    tags: tags, source: source, metadataJSON: meta)
        }
        return [
            pr("hi", "yo", 5_000),
            pr("timestamps go down", "negative deltas", q: 0, 4_000),
            pr("empty source", "r", q: 1, 3_000, tags: ["x"], source: ""),
            pr("unicode é 日本語 🚀 \u{301}", "ñ \u{1F600}", q: 0.1234, 86_400_000 * 20, tags: ["tag é", "日本"], source: "src ü"),
            pr("quality not a multiple of 1/10000", "x", q: 1.0 / 3.0, 1, meta: #"{"_extra":{"unknown_field":[1,2,{"a":null}]},"k":"v"}"#),
            pr("tiny quality", "x", q: 0.00001, 2, meta: "{\n  \"spaced\" : true ,\n \"n\": 1e3 }"),
            pr("escapes \" \\ \n \t \u{0001}", "tab\tnewline\n", q: 0.5, 7, tags: (0..<40).map { "t\($0)" }, source: "s"),
            pr("huge", huge, q: 0.99, 8, meta: #"{"big":"\#(String(repeating: "m", count: 100_000))"}"#),
            Example(content: .instruction(instruction: "Sum up", input: "", output: "Short."), domain: "cols", timestampMillis: ts + 9,
                    source: "a", metadataJSON: #"{"k":7}"#),
            Example(content: .instruction(instruction: "Translate", input: "Bonjour 🌍", output: "Hello 🌍"), domain: "cols",
                    timestampMillis: ts + 10, qualityScore: 0.75, tags: ["mt"], metadataJSON: "{}"),
            Example(content: .instruction(instruction: "i", input: "", output: "o"), domain: "cols", timestampMillis: ts + 11, metadataJSON: "{}"),
            Example(content: .chat([Message(role: .system, content: "Be brief."), Message(role: .user, content: "hi"),
                                    Message(role: .assistant, content: "hello é 日本"), Message(role: .tool, content: #"{"result":42}"#),
                                    Message(role: .assistant, content: "ok")]),
                    domain: "cols", timestampMillis: ts + 12, qualityScore: 0.25, tags: ["t1", "t2"], metadataJSON: #"{"k":true,"z":[1,2]}"#),
            Example(content: .chat([Message(role: .user, content: "epoch")]), domain: "cols", timestampMillis: 0, metadataJSON: "{}"),
            Example(content: .chat([Message(role: .user, content: "epoch 2")]), domain: "cols", timestampMillis: 1, qualityScore: 0.5, metadataJSON: "{}"),
            Example(content: .chat([Message(role: .user, content: "far future")]), domain: "cols", timestampMillis: 253_402_300_799_999, metadataJSON: "{}"),
            Example(content: .chat([Message(role: .user, content: "only a user turn")]), domain: "cols", timestampMillis: ts + 14,
                    source: "chat", metadataJSON: "{}"),
        ]
    }

    /// Everything a reader can see of a store, as bytes: folded scan with
    /// annotations, raw and folded `get` of every id, and a raw export.
    static func observable(_ path: String) throws -> (scan: String, gets: [String], export: [UInt8]) {
        let r = try StoreReader(path: path)
        defer { r.close() }
        var scan = ""
        var ids: [ExampleID] = []
        try r.scanFolded(ScanFilter(includeExcluded: true)) { f in
            ids.append(f.example.id)
            scan += "{\"original\":\(f.original.jsonString),\"folded\":\(f.example.jsonString),\"excluded\":\(f.isExcluded),"
            scan += "\"annotations\":[\(f.annotations.map { "\"\($0.kind.name)@\($0.timestampMillis)\"" }.joined(separator: ","))]}\n"
            return true
        }
        var gets: [String] = []
        for id in ids {
            let f = try #require(try r.getFolded(id))
            gets.append(f.original.jsonString + f.example.jsonString)
        }
        let out = temporaryStorePath("columnarExport")
        var spec = ExportSpec(format: .jsonl, schema: .raw)
        spec.includeExcluded = true
        _ = try Exporter(storePath: path, outPath: out, spec: spec).run()
        return (scan, gets, try PosixFileSystem.shared.readFile(out + "/data.jsonl"))
    }

    /// The frame types of every block of every sealed segment of a store.
    static func blockTypes(_ path: String) throws -> [UInt8] {
        let fs = PosixFileSystem.shared
        var types: [UInt8] = []
        let m = try Manifest.decode(try fs.readFile(path + "/MANIFEST"), path: "MANIFEST")
        for s in m.segments where s.state == .sealed {
            let p = path + "/" + s.partition.path + "/" + Format.segmentFileName(s.sequence)
            let f = try SegmentFile(fs: fs, path: p, sequence: s.sequence, partition: s.partition, expectSealed: true)
            let bytes = try fs.readFile(p)
            for b in f.footer!.blocks { types.append(bytes[Int(b.offset) + 8]) }
            f.close()
        }
        return types
    }

    @Test(arguments: [CompactionOptions.DictionaryPolicy.never, .always])
    func everyShapeAndFieldRoundTripsByteExactThroughColumnarCompaction(_ dictionary: CompactionOptions.DictionaryPolicy) throws {
        let path = temporaryStorePath("columnarRoundTrip")
        var o = StoreOptions()
        o.blockTargetBytes = 4 << 10
        var s = try Store.open(at: path, options: o)
        let ex = Self.everyShapeExamples()
        try s.append(contentsOf: ex)
        try s.append(ex[0])  // a duplicate offer: a kind-3 entry
        try s.annotate(ex[0].id, Annotation(.feedback(.positive, rating: 5, comment: "good ✓"), timestampMillis: 1))
        try s.annotate(ex[0].id, Annotation(.correction(text: "Yes!", field: nil), reason: "tone", timestampMillis: 2))
        try s.annotate(ex[3].id, Annotation(.exclude, reason: "dup", timestampMillis: 3))
        try s.annotate(ex[11].id, Annotation(.correction(text: "corrected", field: nil), timestampMillis: 4))
        try s.close()
        let before = try Self.observable(path)
        #expect(before.gets.count == ex.count)

        s = try Store.open(at: path)
        var c = CompactionOptions()
        c.dictionary = dictionary
        c.blockTargetBytes = 64 << 10  // several blocks, one of them holding the 2 MB example alone
        for p in s.partitions { try s.compact(partition: p, options: c) }
        try s.close()
        let types = try Self.blockTypes(path)
        #expect(types.count >= 2 && types.allSatisfy { $0 == FrameType.columnarBlock.rawValue }, "\(types)")

        let after = try Self.observable(path)
        #expect(after.scan == before.scan)
        #expect(after.gets == before.gets)
        #expect(after.export == before.export)
        let report = StoreVerifier(path: path).run()
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    /// Keyed ids (SPEC.md §4.1, flag bit 2) and `metadata._extra` written by
    /// the ingest front end, through the CLI: export before == after compaction.
    @Test func keyedIdsAndIngestedExtraFieldsSurviveCompactionViaTheCLI() throws {
        let store = temporaryStorePath("columnarKeyed")
        #expect(try runStrata(["init", store, "--dedup-key", "content+metadata.source_key"]).status == 0)
        let lines = [
            #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z","metadata":{"source_key":"k1"},"extra_top":1}"#,
            #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-02T00:00:00Z","metadata":{"source_key":"k2"},"quality_score":0.87}"#,
            #"{"instruction":"i","input":"","output":"o","domain":"d","timestamp":"2025-01-03T00:00:00Z","metadata":{"source_key":"k1"},"tags":["a"]}"#,
            #"{"messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a"}],"domain":"d","timestamp":"2025-01-04T00:00:00Z"}"#,
        ].joined(separator: "\n") + "\n"
        let ing = try runStrata(["ingest", store, "--json"], stdin: Data(lines.utf8))
        #expect(ing.status == 0, "\(ing.stderr)")
        let before = try Self.observable(store)
        #expect(before.export.count > 0 && String(decoding: before.export, as: UTF8.self).contains("_extra"))
        let c = try runStrata(["compact", store, "--json"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(try Self.blockTypes(store).allSatisfy { $0 == FrameType.columnarBlock.rawValue })
        let after = try Self.observable(store)
        #expect(after.export == before.export && after.scan == before.scan && after.gets == before.gets)
        #expect(try runStrata(["verify", store]).status == 0)
    }

    // MARK: The worked example and hand-built payloads (SPEC.md §3.6)

    /// A payload with every stream stored (encoding 0), in the given order.
    static func payload(_ streams: [(id: UInt8, bytes: [UInt8])], version: UInt8 = 1, count: Int? = nil) -> [UInt8] {
        var w = ByteWriter()
        w.u8(version)
        w.u8(UInt8(count ?? streams.count))
        for s in streams { w.u8(s.id); w.u8(0); w.u32(UInt32(s.bytes.count)); w.u32(UInt32(s.bytes.count)) }
        for s in streams { w.append(s.bytes) }
        return w.bytes
    }

    /// SPEC.md §3.6 worked example: the §3.4 example's streams.
    static let workedStreams: [(id: UInt8, bytes: [UInt8])] = [
        (1, [0x01]),                                      // kinds: one example
        (3, [0x02, 0x00]),                                // shape prompt_response, no flags
        (4, [0x80, 0xb1, 0x84, 0xf1, 0xd0, 0x66]),        // zigzag(1763202600000)
        (7, [0x04] + Array("demo".utf8) + [0x00]),        // domain, 0 tags
        (8, [0x02] + Array("hi".utf8) + [0x02] + Array("yo".utf8)),  // texts: prompt, response
        (10, [0x02] + Array("{}".utf8)),                  // metadata
    ]
    /// SPEC.md §3.4: the 43 bytes of the row-format block.
    static let workedEntry: [UInt8] = [0x2a, 0x01, 0x02, 0x36, 0x68, 0x3d, 0x03, 0xc5, 0x21, 0x7d, 0x9a, 0x67, 0x65, 0xf9, 0xa3, 0x75, 0xc7, 0xc6, 0x11,
                                       0x40, 0x8c, 0x10, 0x87, 0x9a, 0x01, 0x00, 0x00, 0x00, 0x04, 0x64, 0x65, 0x6d, 0x6f, 0x00,
                                       0x02, 0x68, 0x69, 0x02, 0x79, 0x6f, 0x02, 0x7b, 0x7d]

    static func decode(_ payload: [UInt8], rawLength: Int = workedEntry.count, entryCount: Int = 1) throws -> [UInt8] {
        var out: [UInt8] = []
        try payload.withUnsafeBytes {
            try ColumnarBlock.decode($0, rawLength: rawLength, entryCount: entryCount, dictionary: nil, into: &out, path: "seg.strata", offset: 1000)
        }
        return out
    }

    @Test func workedExampleStreamsRebuildTheRowFormatEntryWithItsDerivedId() throws {
        #expect(try Self.decode(Self.payload(Self.workedStreams)) == Self.workedEntry)
        // The encoder writes exactly these streams for that entry (all under 64 bytes: stored).
        var enc: [UInt8] = []
        try Self.workedEntry.withUnsafeBytes { try ColumnarBlock.encode($0, level: 3, dictionary: nil, appendingTo: &enc) }
        #expect(enc == Self.payload(Self.workedStreams))
    }

    /// Every way a columnar payload can lie, each reported as corruption
    /// naming the file and an offset at or after the frame's; none traps or
    /// returns bytes.
    @Test func damagedColumnarPayloadsAreReportedWithFileAndOffset() throws {
        let good = Self.workedStreams
        func replacing(_ id: UInt8, _ bytes: [UInt8]) -> [(id: UInt8, bytes: [UInt8])] { good.map { $0.id == id ? ($0.id, bytes) : $0 } }
        let base = Self.payload(good)
        func patched(_ at: Int, _ bytes: [UInt8]) -> [UInt8] { var p = base; p.replaceSubrange(at..<(at + bytes.count), with: bytes); return p }
        var zstdGarbage = Self.payload(good)
        zstdGarbage[3] = 1  // kinds claims zstd, holds one plain byte
        let cases: [(String, [UInt8], Int, Int)] = [
            ("empty payload", [], 43, 1),
            ("unknown layout version", Self.payload(good, version: 2), 43, 1),
            ("truncated stream header", Array(base.prefix(7)), 43, 1),
            ("stream count larger than the headers", Self.payload(good, count: good.count + 1), 43, 1),
            ("stream count smaller than the headers", Self.payload(good, count: good.count - 1), 43, 1),
            ("stream count over the number of streams", Self.payload(good, count: 200), 43, 1),
            ("unknown stream id", patched(2, [99]), 43, 1),
            ("streams out of order", Self.payload([good[1], good[0]] + good.dropFirst(2)), 43, 1),
            ("stream repeated", Self.payload([good[0], good[0]] + good.dropFirst(1)), 43, 1),
            ("unknown encoding", patched(3, [7]), 43, 1),
            ("raw length overflowing", patched(4, [0xff, 0xff, 0xff, 0xff]), 43, 1),
            ("stored length overflowing", patched(8, [0xff, 0xff, 0xff, 0xff]), 43, 1),
            ("stored stream with stored != raw", patched(8, [2, 0, 0, 0]), 43, 1),
            ("zero-length stream", patched(4, [0, 0, 0, 0]), 43, 1),
            ("data shorter than the headers say", Array(base.dropLast()), 43, 1),
            ("data longer than the headers say", base + [0], 43, 1),
            ("zstd stream that is not zstd", zstdGarbage, 43, 1),
            ("dictionary stream without a dictionary", patched(3, [2]), 43, 1),
            ("frame declares more entries", base, 43, 2),
            ("frame declares fewer entries", base, 43, 0),
            ("frame declares more raw bytes", base, 44, 1),
            ("frame declares fewer raw bytes", base, 42, 1),
            ("unknown shape", Self.payload(replacing(3, [0x09, 0x00])), 43, 1),
            ("unknown flag bit", Self.payload(replacing(3, [0x02, 0x08])), 43, 1),
            ("quality flag without a quality", Self.payload(replacing(3, [0x02, 0x01])), 43, 1),
            ("id-key flag without an id key", Self.payload(replacing(3, [0x02, 0x04])), 43, 1),
            ("truncated timestamp varint", Self.payload(replacing(4, [0x80])), 43, 1),
            ("string length past the stream", Self.payload(replacing(8, [0x02, 0x68, 0x69, 0x09, 0x79, 0x6f])), 43, 1),
            ("tag count lying", Self.payload(replacing(7, [0x04] + Array("demo".utf8) + [0x05])), 43, 1),
            ("bytes left in a stream", Self.payload(replacing(10, [0x02, 0x7b, 0x7d, 0x00])), 43, 1),
            ("missing stream", Self.payload(good.filter { $0.id != 8 }), 43, 1),
            ("kinds hold two entries", Self.payload(replacing(1, [0x01, 0x01])), 43, 1),
            ("other entry without its body", Self.payload(replacing(1, [0x01, 0x02])), 43, 1),
            ("quality out of range", Self.payload((replacing(3, [0x02, 0x01]) + [(5, [0xff, 0xff, 0x01])]).sorted { $0.id < $1.id }), 43, 1),
        ]
        for (name, bytes, raw, count) in cases {
            do {
                let out = try Self.decode(bytes, rawLength: raw, entryCount: count)
                Issue.record("\(name): decoded \(out.count) bytes instead of failing")
            } catch let e as StrataError {
                #expect(e.code == .corruption, "\(name): \(e)")
                #expect(e.path == "seg.strata" && (e.offset ?? -1) >= 1000, "\(name): \(e)")
            }
        }
    }

    /// A stream header changed on disk (checksum re-computed so the frame
    /// check passes) is reported by get, scan and verify with the segment's
    /// path and the offset of the damage.
    @Test func damagedStreamHeaderInAStoreIsReportedByReadsAndVerify() throws {
        let path = temporaryStorePath("columnarDamage")
        let p = try compactedColumnarSegment(path)
        var bytes = try PosixFileSystem.shared.readFile(p)
        #expect(bytes[8] == 3)  // segment version 3: older builds refuse it by its header
        let frame = Format.segmentHeaderSize
        #expect(bytes[frame + 8] == FrameType.columnarBlock.rawValue)
        // The first stream header's raw length + 1, then the frame checksum fixed.
        let rawLengthAt = frame + Format.frameHeaderSize + 2 + 2
        bytes[rawLengthAt] &+= 1
        let stored = Int(bytes[frame + 12]) | Int(bytes[frame + 13]) << 8 | Int(bytes[frame + 14]) << 16 | Int(bytes[frame + 15]) << 24
        let sum = bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[(frame + 8)..<(frame + 24 + stored)])) }
        withUnsafeBytes(of: sum.littleEndian) { for i in 0..<8 { bytes[frame + i] = $0[i] } }
        try Data(bytes).write(to: URL(fileURLWithPath: p))

        let r = try StoreReader(path: path)
        defer { r.close() }
        do {
            try r.scan(ScanFilter(includeExcluded: true)) { _ in true }
            Issue.record("scan read a damaged columnar block")
        } catch let e as StrataError {
            #expect(e.code == .corruption && e.path == p && e.offset != nil, "\(e)")
        }
        let report = StoreVerifier(path: path).run()
        #expect(report.problems.contains { $0.path == p }, "\(report.problems)")
    }

    /// SPEC.md §1: a type-5 frame in a segment of version 2 is corruption
    /// (version 2 does not know it), and a segment version above 3 is refused.
    @Test func columnarFramesNeedSegmentVersionThree() throws {
        var frame: [UInt8] = []
        let payload = Self.payload(Self.workedStreams)
        payload.withUnsafeBytes { FrameCodec.appendFrame(type: .columnarBlock, payload: $0, rawLength: 43, entryCount: 1, to: &frame) }
        let h = try frame.withUnsafeBytes { try FrameCodec.parseHeader($0, path: "s", offset: 0) }
        for (version, ok) in [(UInt16(2), false), (3, true)] {
            var out: [UInt8] = []
            let result = Result {
                try frame.withUnsafeBytes {
                    try FrameCodec.decodeBlockPayload(UnsafeRawBufferPointer(rebasing: $0[Format.frameHeaderSize...]), header: h, dictionary: nil,
                                                      segmentVersion: version, into: &out, path: "s", offset: 0)
                }
            }
            if ok { #expect(out == Self.workedEntry) } else {
                #expect(throws: StrataError.self) { try result.get() }
            }
        }
        var header = SegmentHeader(sequence: 1)
        header.version = 4
        let bytes = header.encode()
        #expect {
            _ = try bytes.withUnsafeBytes { try SegmentHeader.decode($0, path: "s") }
        } throws: { ($0 as? StrataError)?.code == .unsupportedVersion }
    }
}

extension ColumnarBlockTests {
    /// SPEC.md §3.6's worked example, read out of SPEC.md: the segment the
    /// documented commands write has every byte the table lists.
    @Test func specColumnarWorkedExampleMatchesTheBytesCompactionWrites() throws {
        let section = try SpecWorkedExampleTests.specSection("### 3.6 Columnar blocks", "## 4. Entries")
        let table = try #require(SpecWorkedExampleTests.codeBlocks(section).first { $0.contains { $0.hasPrefix("0x38") } })
        let dir = temporaryStorePath("wexColumnar")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let line = #"{"prompt":"hi","response":"yo","domain":"demo","timestamp":"2025-11-15T10:30:00Z"}"# + "\n"
        #expect(try runStrataIn(dir, ["ingest", "wex"], stdin: Data(line.utf8)).status == 0)
        let c = try runStrataIn(dir, ["compact", "wex", "--no-dictionary"])
        #expect(c.status == 0, "\(c.stderr)")
        let file = try PosixFileSystem.shared.readFile(dir + "/wex/domain=demo/month=2025-11/seg-0000000002.strata")
        let sizeText = try #require(section.range(of: #"version 3, (\d+) bytes"#, options: .regularExpression).map { section[$0] })
        #expect(file.count == Int(sizeText.split(separator: " ")[2])!)
        #expect(file[8] == 3 && file[9] == 0)
        var rows: [(offset: Int, bytes: [UInt8])] = []
        for l in table where l.hasPrefix("0x") {
            let words = l.split(separator: " ", omittingEmptySubsequences: true)
            let bytes = SpecWorkedExampleTests.byteTokens(words.dropFirst()).compactMap { t -> UInt8? in
                if case let .byte(b) = t { return b } else { return nil }
            }
            rows.append((Int(words[0].dropFirst(2), radix: 16)!, bytes))
        }
        #expect(rows.count >= 15)
        for (k, row) in rows.enumerated() {
            #expect(Array(file[row.offset..<min(file.count, row.offset + row.bytes.count)]) == row.bytes, "row 0x\(String(row.offset, radix: 16))")
            if k + 1 < rows.count { #expect(row.offset + row.bytes.count == rows[k + 1].offset, "row 0x\(String(row.offset, radix: 16))") }
        }
        // The table covers the whole frame (24-byte header + storedLength).
        #expect(rows.last!.offset + rows.last!.bytes.count == 0x20 + 24 + 86)
    }
}

extension ColumnarBlockTests {
    /// Every stream-header byte of a real compacted block flipped, and the
    /// payload truncated at every length up to the end of the headers and at
    /// samples beyond: each is reported as corruption with the file and an
    /// offset, never decoded.
    @Test func everyStreamHeaderByteFlippedOrTruncatedIsCorruption() throws {
        let path = temporaryStorePath("columnarFlip")
        let bytes = try PosixFileSystem.shared.readFile(try compactedColumnarSegment(path))
        let h = try bytes.withUnsafeBytes { try FrameCodec.parseHeader(UnsafeRawBufferPointer(rebasing: $0[Format.segmentHeaderSize...]), path: nil, offset: 32) }
        let start = Format.segmentHeaderSize + Format.frameHeaderSize
        let payload = Array(bytes[start..<(start + h.storedLength)])
        let streams = Int(payload[1])
        #expect(streams >= 8)  // kinds, others, shapes, timestamps, qualities, labels, texts, roles, metadata
        let good = try Self.decode(payload, rawLength: h.rawLength, entryCount: h.entryCount)
        #expect(good.count == h.rawLength)
        func expectCorruption(_ p: [UInt8], _ what: String) {
            do {
                _ = try Self.decode(p, rawLength: h.rawLength, entryCount: h.entryCount)
                Issue.record("\(what): decoded")
            } catch let e as StrataError {
                #expect(e.code == .corruption && e.path == "seg.strata" && e.offset != nil, "\(what): \(e)")
            } catch { Issue.record("\(what): \(error)") }
        }
        let headerEnd = 2 + 10 * streams
        for i in 0..<headerEnd {
            var p = payload
            p[i] ^= 0xFF
            expectCorruption(p, "byte \(i) flipped")
        }
        for n in Array(0..<headerEnd) + stride(from: headerEnd, to: payload.count, by: max(1, payload.count / 50)) {
            expectCorruption(Array(payload.prefix(n)), "truncated to \(n) bytes")
        }
    }
}

/// Builds a 300-example store at `path`, compacts its first partition without a
/// dictionary and returns the path of the columnar segment compaction wrote.
func compactedColumnarSegment(_ path: String) throws -> String {
    _ = try makeCompactableStore(path, examples: 300)
    let s = try Store.open(at: path)
    var c = CompactionOptions()
    c.dictionary = .never
    try s.compact(partition: s.partitions[0], options: c)
    try s.close()
    let m = try Manifest.decode(try PosixFileSystem.shared.readFile(path + "/MANIFEST"), path: "MANIFEST")
    let seg = try #require(m.segments.first { $0.codec == "zstd-columnar" })
    return path + "/" + seg.partition.path + "/" + Format.segmentFileName(seg.sequence)
}
