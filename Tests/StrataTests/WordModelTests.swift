import Foundation
import Testing
@testable import Strata

/// The word model (SPEC.md §6.1) that codes a columnar block's `texts`
/// stream (encoding 3, §3.6): exact round trips over every kind of text,
/// damage rejected without a trap, version-3 dictionary files, and
/// compaction keeping a model only where it measured smaller than zstd.
@Suite struct WordModelTests {
    /// Deterministic generator (the tests' SplitMix64).
    typealias Rng = SplitMix

    /// Pseudo-words with a skewed frequency, as independent draws (text an LZ coder finds few long matches in).
    static func vocabulary(_ rng: inout Rng, count: Int) -> [String] {
        let onsets = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "st", "tr", "th", "sh"]
        let nuclei = ["a", "e", "i", "o", "u", "ea", "ou", "io"]
        let codas = ["", "", "n", "r", "s", "t", "nd", "st", "ng"]
        return (0..<count).map { _ in
            (0..<(1 + rng.below(3))).map { _ in onsets[rng.below(onsets.count)] + nuclei[rng.below(nuclei.count)] }.joined()
                + codas[rng.below(codas.count)]
        }
    }

    static func prose(_ rng: inout Rng, _ words: [String], tokens: Int) -> String {
        var s = ""
        for i in 0..<tokens {
            // Skewed: low indices far more often.
            let u = Double(rng.below(1 << 20)) / Double(1 << 20)
            let w = words[min(words.count - 1, Int(u * u * u * Double(words.count)))]
            if i > 0 { s += rng.below(12) == 0 ? [". ", ", ", "; ", "\n\n", " (", ") "][rng.below(6)] : " " }
            s += w
        }
        return s + "."
    }

    /// Texts that stress the tokenizer: empty, spaces only, leading/trailing/double spaces, control
    /// bytes, every UTF-8 length, long tokens (> 255 bytes), digits, punctuation runs.
    static func awkwardTexts(_ rng: inout Rng) -> [String] {
        var out = ["", " ", "  ", "a", " a", "a ", "a  b", "a b ", " a b", "\u{0}", "x\u{1}y", "tab\tsep", "new\nline",
                   "é", "日本語 テキスト", "🚀🚀 🚀", "mixed é日本🚀 words", "a.b,c;d", "...", "!!! ???", "1234 5678 90",
                   String(repeating: "z", count: 300), String(repeating: "ü", count: 200), String(repeating: ". ", count: 200),
                   "trailing space ", " leading space", "two  spaces", "word\u{00A0}nbsp", "\u{FEFF}bom"]
        for _ in 0..<200 {
            let n = rng.below(40)
            var bytes: [UInt8] = []
            for _ in 0..<n { bytes.append([0x20, 0x61, 0x62, 0x2e, 0x0a, 0x31, 0x7f][rng.below(7)]) }
            out.append(String(decoding: bytes, as: UTF8.self))
        }
        return out
    }

    static func stream(_ texts: [String]) -> [UInt8] {
        var w = ByteWriter()
        for t in texts { w.varint(t.utf8.count); w.append(Array(t.utf8)) }
        return w.bytes
    }

    static func model(trainedOn texts: [String]) throws -> WordModel {
        var t = WordModel.Trainer()
        Self.stream(texts).withUnsafeBytes { t.add(stream: $0) }
        return try #require(t.model())
    }

    static func roundTrip(_ model: WordModel, _ raw: [UInt8]) -> (coded: [UInt8]?, decoded: [UInt8]?) {
        var coded: [UInt8] = []
        guard let n = raw.withUnsafeBytes({ model.encode($0, into: &coded) }) else { return (nil, nil) }
        let c = Array(coded[0..<n])
        var out: [UInt8] = []
        let ok = c.withUnsafeBytes { model.decode($0, rawLength: raw.count, into: &out) }
        return (c, ok ? out : nil)
    }

    @Test(arguments: [1, 2, 3, 4])
    func randomAndAwkwardTextsRoundTripByteExact(_ seed: Int) throws {
        var rng = Rng(seed: UInt64(seed))
        let words = Self.vocabulary(&rng, count: 400)
        var texts = (0..<300).map { _ in Self.prose(&rng, words, tokens: 1 + rng.below(120)) }
        texts += Self.awkwardTexts(&rng)
        // Trained on half: the other half has unseen tokens (escapes).
        let model = try Self.model(trainedOn: Array(texts[0..<150]))
        for chunk in stride(from: 0, to: texts.count, by: 37) {
            let raw = Self.stream(Array(texts[chunk..<min(texts.count, chunk + 37)]))
            let (coded, decoded) = Self.roundTrip(model, raw)
            if let coded {
                #expect(coded.count < raw.count)
                #expect(decoded == raw, "chunk \(chunk)")
            }
        }
        // The whole prose stream must be coded (it is far smaller than its bytes), and exact.
        let prose = Self.stream(Array(texts[150..<300]))
        let (coded, decoded) = Self.roundTrip(model, prose)
        let c = try #require(coded)
        #expect(Double(c.count) < 0.5 * Double(prose.count), "\(c.count) of \(prose.count)")
        #expect(decoded == prose)
    }

    @Test func awkwardTextsRoundTripUnderAModelThatKnowsThem() throws {
        var rng = Rng(seed: 9)
        let texts = Self.awkwardTexts(&rng)
        let model = try Self.model(trainedOn: texts + texts)
        let raw = Self.stream(texts)
        let (coded, decoded) = Self.roundTrip(model, raw)
        #expect(coded != nil)
        #expect(decoded == raw)
    }

    @Test func itemsOfEveryVarintLengthRoundTrip() throws {
        // 1-, 2-, 3- and 4-byte length varints: the decoder places each text after a 2-byte one and moves it.
        let unit = "A long output line with some variety 18446744073709551615. "
        let texts = [String(repeating: unit, count: 1), String(repeating: unit, count: 5), String(repeating: unit, count: 400),
                     String(repeating: unit, count: 40_000), "x", String(repeating: unit, count: 300)]
        let model = try Self.model(trainedOn: [unit, unit])
        let raw = Self.stream(texts)
        let (coded, decoded) = Self.roundTrip(model, raw)
        #expect(coded != nil)
        let exact = decoded == raw  // (not compared inside #expect: a failure would print megabytes)
        #expect(exact)
    }

    @Test func aStreamThatIsNotASequenceOfStringsIsNotCoded() throws {
        let model = try Self.model(trainedOn: ["some words here", "and more words here"])
        var coded: [UInt8] = []
        let bad: [UInt8] = [0x05, 0x61]  // declares 5 bytes, holds 1
        #expect(bad.withUnsafeBytes { model.encode($0, into: &coded) } == nil)
    }

    @Test func serializedModelParsesBackToTheSameCode() throws {
        var rng = Rng(seed: 5)
        let words = Self.vocabulary(&rng, count: 300)
        let texts = (0..<200).map { _ in Self.prose(&rng, words, tokens: 60) }
        let model = try Self.model(trainedOn: texts)
        let bytes = model.serialized()
        let parsed = try bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw, path: "m")
            let m = try WordModel.parse(&r)
            #expect(r.isAtEnd)
            return m
        }
        #expect(parsed.serialized() == bytes)
        let raw = Self.stream(texts)
        #expect(Self.roundTrip(model, raw).coded == Self.roundTrip(parsed, raw).coded)
        #expect(Self.roundTrip(parsed, raw).decoded == raw)
    }

    @Test func damagedCodedStreamsNeverTrapAndTruncationsAreRejected() throws {
        var rng = Rng(seed: 11)
        let words = Self.vocabulary(&rng, count: 200)
        var texts = (0..<60).map { _ in Self.prose(&rng, words, tokens: 40) }
        texts += Self.awkwardTexts(&rng).prefix(40)
        let model = try Self.model(trainedOn: Array(texts[0..<30]))
        let raw = Self.stream(texts)
        let coded = try #require(Self.roundTrip(model, raw).coded)
        var out: [UInt8] = []
        for cut in [0, 1, coded.count / 2, coded.count - 1] {
            let t = Array(coded[0..<cut])
            #expect(!t.withUnsafeBytes { model.decode($0, rawLength: raw.count, into: &out) }, "cut \(cut)")
        }
        // Extra bytes after the code are not padding.
        #expect(!(coded + [0xff]).withUnsafeBytes { model.decode($0, rawLength: raw.count, into: &out) })
        // A wrong declared length is caught.
        #expect(!coded.withUnsafeBytes { model.decode($0, rawLength: raw.count - 1, into: &out) })
        #expect(!coded.withUnsafeBytes { model.decode($0, rawLength: raw.count + 1, into: &out) })
        // Flipped bits and random bytes: either rejected or exactly rawLength bytes (the frame checksum guards content).
        for i in 0..<400 {
            var d = coded
            d[rng.below(d.count)] ^= UInt8(1 << rng.below(8))
            if i % 4 == 0 { d = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            if d.withUnsafeBytes({ model.decode($0, rawLength: raw.count, into: &out) }) {
                #expect(out.count == raw.count)
            }
        }
    }

    @Test func damagedModelsAreCorruptionNotATrap() throws {
        let model = try Self.model(trainedOn: ["alpha beta gamma", "alpha beta", "gamma delta delta"])
        let good = model.serialized()
        func parse(_ b: [UInt8]) throws {
            try b.withUnsafeBytes { raw in var r = ByteReader(raw, path: "m"); _ = try WordModel.parse(&r) }
        }
        try parse(good)
        var cases: [(String, [UInt8])] = [("version", [2] + good.dropFirst())]
        for cut in [0, 1, 2, good.count / 2, good.count - 1] { cases.append(("cut \(cut)", Array(good[0..<cut]))) }
        // Code lengths live at the end: 256 byte lengths after (tokens + 2) token lengths.
        var zero = good; zero[good.count - 1] = 0; cases.append(("zero length", zero))
        var long = good; long[good.count - 1] = 25; cases.append(("25-bit code", long))
        var kraft = good
        for i in (good.count - 256)..<good.count { kraft[i] = 1 }
        cases.append(("Kraft sum > 1", kraft))
        var emptyToken = good; emptyToken[2] = 0; cases.append(("empty token", emptyToken))
        for (name, bytes) in cases {
            #expect(throws: StrataError.self, "\(name)") { try parse(bytes) }
            do { try parse(bytes) } catch let e as StrataError { #expect(e.code == .corruption, "\(name)") }
        }
    }

    @Test func canonicalCodeLengthsAreLimitedAndPrefixFree() throws {
        // Fibonacci frequencies force Huffman depths past 24 bits; the limit must hold.
        var f: [UInt64] = [1, 1]
        while f.count < 60 { f.append(min(f[f.count - 1] + f[f.count - 2], UInt64(1) << 60)) }
        let l = CanonicalCode.lengths(frequencies: f, limit: 24)
        #expect(l.allSatisfy { $0 >= 1 && $0 <= 24 })
        #expect(CanonicalCode(lengths: l) != nil)
        #expect(CanonicalCode(lengths: [1, 1, 1]) == nil)
        #expect(CanonicalCode(lengths: [1, 2, 2]) != nil)
        #expect(CanonicalCode.lengths(frequencies: [5], limit: 24) == [1])
    }

    @Test func version3DictionaryFilesCarryTheModelAndDamageIsCorruption() throws {
        var rng = Rng(seed: 3)
        let words = Self.vocabulary(&rng, count: 200)
        let texts = (0..<100).map { _ in Self.prose(&rng, words, tokens: 50) }
        let model = try Self.model(trainedOn: texts)
        let dict = Array(Self.stream(texts).prefix(30_000))
        let file = try DictionaryFile.encode(id: 4, dictionary: ZstdCodec.trainDictionaryFast(
            buffer: dict, sizes: Array(repeating: 300, count: 100), capacity: 8 << 10, level: 3) ?? dict, wordModel: model, level: 3)
        #expect(file[8] == 3 && file[9] == 0)
        let d = try DictionaryFile.decode(file, expectedID: 4, path: "dict-4.zdict")
        #expect(d.wordModel?.serialized() == model.serialized())
        // Without a model: still version 2, byte for byte what it was.
        let v2 = try DictionaryFile.encode(id: 4, dictionary: d.bytes, level: 3)
        #expect(v2[8] == 2)
        #expect(try DictionaryFile.decode(v2, expectedID: 4, path: "p").wordModel == nil)
        // A version-3 content whose zstd-dictionary length overruns: corruption at the stored frame.
        var content = ByteWriter()
        content.u32(1 << 20)
        content.append(d.bytes)
        var stored: [UInt8] = []
        try content.bytes.withUnsafeBytes { _ = try ZstdCodec.compress($0, level: 3, appendingTo: &stored) }
        let bad = DictionaryFile.frame(version: 3, id: 4, stored: stored, dictionaryLength: UInt32(content.bytes.count))
        do {
            _ = try DictionaryFile.decode(bad, expectedID: 4, path: "dict-4.zdict")
            Issue.record("overrunning length accepted")
        } catch let e as StrataError {
            #expect(e.code == .corruption && e.offset == Int64(Format.dictionaryHeaderSize))
        }
    }

    // MARK: Compaction

    /// Encodings used by each columnar stream of a store's sealed segments.
    static func streamEncodings(_ path: String, partition: PartitionKey? = nil) throws -> [UInt8: Set<UInt8>] {
        let fs = PosixFileSystem.shared
        var out: [UInt8: Set<UInt8>] = [:]
        let m = try Manifest.decode(try fs.readFile(path + "/MANIFEST"), path: "MANIFEST")
        for s in m.segments where s.state == .sealed && (partition == nil || s.partition == partition) {
            let p = path + "/" + s.partition.path + "/" + Format.segmentFileName(s.sequence)
            let f = try SegmentFile(fs: fs, path: p, sequence: s.sequence, partition: s.partition, expectSealed: true)
            let bytes = try fs.readFile(p)
            for b in f.footer!.blocks where bytes[Int(b.offset) + 8] == FrameType.columnarBlock.rawValue {
                let at = Int(b.offset) + Format.frameHeaderSize
                for k in 0..<Int(bytes[at + 1]) { out[bytes[at + 2 + 10 * k], default: []].insert(bytes[at + 3 + 10 * k]) }
            }
            f.close()
        }
        return out
    }

    static func dictionaryVersions(_ path: String) throws -> [UInt16] {
        let dir = path + "/dicts"
        guard FileManager.default.fileExists(atPath: dir) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { name in
            let b = try PosixFileSystem.shared.readFile(dir + "/" + name)
            return UInt16(b[8]) | UInt16(b[9]) << 8
        }
    }

    static func fill(_ path: String, texts: (inout Rng) -> String, count: Int) throws {
        var rng = Rng(seed: 77)
        let s = try Store.open(at: path)
        var batch: [Example] = []
        for i in 0..<count {
            batch.append(Example(content: .promptResponse(prompt: texts(&rng), response: texts(&rng)), domain: "words",
                                 timestampMillis: 1_735_689_600_000 + Int64(i) * 1000, metadataJSON: "{}"))
            if batch.count == 500 { try s.append(contentsOf: batch); batch.removeAll() }
        }
        try s.append(contentsOf: batch)
        try s.close()
    }

    @Test func compactionKeepsAWordModelWhereItMeasuredSmallerAndReadsStayExact() throws {
        let path = temporaryStorePath("wordModelCompaction")
        var rng0 = Rng(seed: 1)
        let words = Self.vocabulary(&rng0, count: 3000)
        try Self.fill(path, texts: { Self.prose(&$0, words, tokens: 40 + $0.below(120)) }, count: 4000)
        let before = try ColumnarBlockTests.observable(path)
        let s = try Store.open(at: path)
        var plain = CompactionOptions()
        plain.wordModels = false
        let sizeWithout: Int64
        do {
            // The same store compacted without word models, for the size comparison.
            let other = temporaryStorePath("wordModelCompactionPlain")
            try FileManager.default.copyItem(atPath: path, toPath: other)
            let o = try Store.open(at: other)
            sizeWithout = try o.compactAll(options: plain).reduce(0) { $0 + $1.bytesAfter }
            try o.close()
            #expect(try Self.streamEncodings(other)[ColumnarBlock.Stream.texts.rawValue]?.contains(3) != true)
        }
        let size = try s.compactAll().reduce(0) { $0 + $1.bytesAfter }
        try s.close()
        #expect(try Self.dictionaryVersions(path) == [3])
        #expect(try Self.streamEncodings(path)[ColumnarBlock.Stream.texts.rawValue] == [3])
        #expect(Double(size) < 0.9 * Double(sizeWithout), "\(size) vs \(sizeWithout) without word models")
        let after = try ColumnarBlockTests.observable(path)
        #expect(after.scan == before.scan)
        #expect(after.gets == before.gets)
        #expect(after.export == before.export)
        #expect(before.gets.count == 4000)
    }

    @Test func repetitiveTextKeepsZstdAndNoWordModel() throws {
        let path = temporaryStorePath("wordModelRepetitive")
        // Long phrases repeated with small changes: zstd's matches win by far.
        let paragraphs = (0..<8).map { k in (0..<30).map { "phrase \($0 % 7) of template \(k) says the same thing again" }.joined(separator: " ") }
        try Self.fill(path, texts: { paragraphs[$0.below(paragraphs.count)] + " #\($0.below(1000))" }, count: 3000)
        let before = try ColumnarBlockTests.observable(path)
        let s = try Store.open(at: path)
        _ = try s.compactAll()
        try s.close()
        #expect(try Self.streamEncodings(path)[ColumnarBlock.Stream.texts.rawValue]?.contains(3) != true)
        #expect(try Self.dictionaryVersions(path).allSatisfy { $0 < 3 })
        #expect(try ColumnarBlockTests.observable(path).export == before.export)
    }

    @Test func wholeStoreCompactionTakesEachDomainsLargestPartitionFirst() throws {
        let path = temporaryStorePath("compactionOrder")
        let s = try Store.open(at: path)
        func ex(_ d: String, _ month: Int, _ i: Int) -> Example {
            Example(content: .promptResponse(prompt: "p \(d) \(month) \(i)", response: "r"), domain: d,
                    timestampMillis: 1_735_689_600_000 + Int64(month) * 31 * 86_400_000 + Int64(i), metadataJSON: "{}")
        }
        var all: [Example] = []
        for (d, sizes) in [("a", [2, 9, 4]), ("b", [5, 1])] {
            for (m, n) in sizes.enumerated() { for i in 0..<n { all.append(ex(d, m, i)) } }
        }
        try s.append(contentsOf: all)
        try s.close()
        let t = try Store.open(at: path)
        let order = t.compactionOrder(t.partitions).map(\.path)
        let sorted = t.partitions.map(\.path)
        #expect(order == [sorted[1], sorted[0], sorted[2], sorted[3], sorted[4]], "\(order)")
        try t.close()
    }
}

extension WordModelTests {
    /// SPEC.md §6.1's worked example, byte for byte.
    @Test func specWorkedExampleCodesAndDecodesExactly() throws {
        var model: [UInt8] = [0x01, 0x03, 0x03] + Array("the".utf8) + [0x03] + Array("cat".utf8) + [0x02] + Array(". ".utf8)
        model += [2, 3, 2, 2, 3] + [UInt8](repeating: 8, count: 256)
        #expect(model.count == 274)
        let m = try model.withUnsafeBytes { raw in var r = ByteReader(raw, path: "m"); return try WordModel.parse(&r) }
        #expect(m.serialized() == model)
        let raw: [UInt8] = [0x10] + Array("the cat. the dog".utf8)
        let (coded, decoded) = Self.roundTrip(m, raw)
        #expect(coded == [0x6e, 0xe6, 0xc8, 0xde, 0xce, 0x00])
        #expect(decoded == raw)
    }
}

extension SplitMix {
    /// A value in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
