import Foundation
import Testing
@testable import Strata

/// The word-model encoder finds token boundaries 8 bytes at a time, keeps
/// each token's code in its table slot, batches lookups and stores 8 bytes
/// per code. None of that may change a bit of its output (SPEC.md §6.1):
/// these tests hold it to a byte-at-a-time tokenizer and a coder written
/// straight from the spec.
@Suite struct WordModelEncoderTests {
    typealias Rng = SplitMix

    // MARK: Reference (SPEC.md §6.1, byte at a time)

    /// Coded tokens of `text`: maximal runs of word bytes or of other bytes; a
    /// single space between two word tokens is not coded.
    static func referenceTokens(_ text: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        var previousWord = false
        while i < text.count {
            let word = WordModel.isWordByte[Int(text[i])]
            var j = i + 1
            while j < text.count && WordModel.isWordByte[Int(text[j])] == word { j += 1 }
            let loneSpace = previousWord && !word && j == i + 1 && text[i] == 0x20 && j < text.count
            if !loneSpace { out.append(i..<j) }
            previousWord = word
            i = j
        }
        return out
    }

    /// The code of `stream` as SPEC.md §6.1 defines it: per item, each token's
    /// symbol (the first index of an equal model token + 2) or the escape,
    /// gamma length and byte codes; then the end symbol; MSB first, zero-padded.
    static func referenceCode(_ model: WordModel, _ stream: [UInt8]) -> [UInt8]? {
        var symbolCodes: [(UInt32, Int)] = Array(repeating: (0, 0), count: model.tokenCount + 2)
        model.symbolCode.forEachCode { s, l, v in symbolCodes[s] = (v, l) }
        var byteCodes: [(UInt32, Int)] = Array(repeating: (0, 0), count: 256)
        model.byteCode.forEachCode { s, l, v in byteCodes[s] = (v, l) }
        var index: [[UInt8]: Int] = [:]
        for t in 0..<model.tokenCount where index[Array(model.arena[Int(model.start[t])..<Int(model.start[t + 1])])] == nil {
            index[Array(model.arena[Int(model.start[t])..<Int(model.start[t + 1])])] = t
        }
        var bits: [Bool] = []
        func put(_ v: UInt64, _ l: Int) { for k in stride(from: l - 1, through: 0, by: -1) { bits.append((v >> UInt64(k)) & 1 == 1) } }
        var items: [[UInt8]] = []
        let parsed: Bool = stream.withUnsafeBytes { b in
            var r = ByteReader(b)
            while !r.isAtEnd {
                guard let n = try? r.count("length", limit: r.remaining), let t = try? r.slice(n) else { return false }
                items.append(Array(t))
            }
            return true
        }
        guard parsed else { return nil }
        for text in items {
            for range in referenceTokens(text) {
                let token = Array(text[range])
                if let t = index[token] {
                    put(UInt64(symbolCodes[t + 2].0), symbolCodes[t + 2].1)
                } else {
                    put(UInt64(symbolCodes[WordModel.escapeSymbol].0), symbolCodes[WordModel.escapeSymbol].1)
                    let n = UInt64(token.count), width = 64 - n.leadingZeroBitCount
                    put(0, width - 1)
                    put(n, width)
                    for b in token { put(UInt64(byteCodes[Int(b)].0), byteCodes[Int(b)].1) }
                }
            }
            put(UInt64(symbolCodes[WordModel.endSymbol].0), symbolCodes[WordModel.endSymbol].1)
        }
        var out = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (k, b) in bits.enumerated() where b { out[k / 8] |= 0x80 >> UInt8(k % 8) }
        return out.count < stream.count ? out : nil
    }

    // MARK: Inputs

    /// Texts over bytes the tokenizer treats differently (word classes at
    /// 0x2f/0x30, 0x39/0x3a, 0x40/0x41, 0x5a/0x5b, 0x60/0x61, 0x7a/0x7b, 0x7f/0x80,
    /// spaces), short and long, so runs cross 8- and 64-byte boundaries.
    static func texts(_ rng: inout Rng, count: Int) -> [[UInt8]] {
        let edges: [UInt8] = [0x20, 0x20, 0x20, 0x2f, 0x30, 0x39, 0x3a, 0x40, 0x41, 0x5a, 0x5b, 0x60, 0x61, 0x7a, 0x7b,
                              0x7f, 0x80, 0xff, 0x00, 0x0a, 0x2e, 0x2c]
        let words = (0..<60).map { _ in (0..<(1 + Int(rng.next() % 20))).map { _ in UInt8(0x61 + rng.next() % 26) } }
        return (0..<count).map { _ in
            var t: [UInt8] = []
            let target = [0, 1, 7, 8, 9, 63, 64, 65, 200, 1000][Int(rng.next() % 10)]
            while t.count < target {
                switch rng.next() % 6 {
                case 0: t += (0..<(1 + Int(rng.next() % 12))).map { _ in edges[Int(rng.next() % UInt64(edges.count))] }
                case 1: t += [UInt8](repeating: 0x6b, count: 1 + Int(rng.next() % 300))  // runs past 64 and 255 bytes
                default: t += words[Int(rng.next() % 60)] + [0x20]
                }
            }
            return t
        }
    }

    static func stream(_ texts: [[UInt8]]) -> [UInt8] {
        var w = ByteWriter()
        for t in texts { w.varint(t.count); w.append(t) }
        return w.bytes
    }

    // MARK: Tests

    @Test func wordByteMaskAgreesWithTheByteTableForEveryByteInEveryLane() {
        for b in 0..<256 {
            for lane in 0..<8 {
                // The other lanes hold the neighbouring values, so a carry between lanes would show.
                var w: UInt64 = 0
                for k in 0..<8 { w |= UInt64(k == lane ? b : (b + 0x7f * k) & 0xff) << UInt64(8 * k) }
                let m = WordModel.wordByteMask(w)
                for k in 0..<8 {
                    let byte = Int((w >> UInt64(8 * k)) & 0xff)
                    #expect((m >> UInt64(8 * k + 7)) & 1 == (WordModel.isWordByte[byte] ? 1 : 0), "byte \(byte) lane \(k)")
                }
                #expect(m & ~0x8080_8080_8080_8080 == 0)
            }
        }
    }

    @Test(arguments: [1, 2, 3])
    func tokensAreTheByteAtATimeTokensWhateverFollowsTheText(_ seed: Int) {
        var rng = Rng(seed: UInt64(seed))
        for text in Self.texts(&rng, count: 400) {
            let expected = Self.referenceTokens(text)
            // The bytes after the text may be loaded: word bytes, other bytes, or none.
            for tail: [UInt8] in [[], [0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61], [0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]] {
                let buffer = text + tail
                var got: [Range<Int>] = []
                buffer.withUnsafeBytes { b in
                    WordModel.forEachCodedToken(UnsafeRawBufferPointer(rebasing: b[0..<text.count]), readable: b.count) { s, e in
                        got.append(s..<e)
                    }
                }
                #expect(got == expected, "text \(text) tail \(tail)")
            }
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func encoderOutputIsTheReferenceCodersBits(_ seed: Int) throws {
        var rng = Rng(seed: UInt64(seed))
        let training = Self.texts(&rng, count: 300)
        var trainer = WordModel.Trainer()
        Self.stream(training).withUnsafeBytes { trainer.add(stream: $0) }
        let model = try #require(trainer.model())
        // Streams of a few items up to thousands of tokens (many batches), ending on every kind of item.
        for count in [1, 2, 5, 40, 300] {
            for _ in 0..<6 {
                let raw = Self.stream(Self.texts(&rng, count: count))
                var coded: [UInt8] = [9, 9, 9]  // stale bytes: the encoder reuses the buffer
                let n = raw.withUnsafeBytes { model.encode($0, into: &coded) }
                let expected = Self.referenceCode(model, raw)
                #expect(n.map { Array(coded[0..<$0]) } == expected, "seed \(seed), \(count) items, \(raw.count) bytes")
            }
        }
    }

    @Test func aTokenRepeatedOrLongerThanEightBytesIsCodedAsItsFirstIndex() throws {
        // Tokens of 1…255 bytes (so the slot's 8-byte prefix is not the whole
        // token), two tokens equal in their first 8 bytes, and a token listed twice.
        let tokens: [[UInt8]] = [Array("abcdefgh".utf8), Array("abcdefghi".utf8), Array("abcdefghij".utf8),
                                 Array("abcdefghijklmnopq".utf8), Array("abcdefghijklmnopr".utf8),
                                 [UInt8](repeating: 0x7a, count: 255), Array("abcdefghi".utf8), Array(" ".utf8), Array(", ".utf8)]
        var arena: [UInt8] = []
        var start: [Int32] = [0]
        for t in tokens { arena += t; start.append(Int32(arena.count)) }
        let frequencies = (0..<(tokens.count + 2)).map { UInt64(1 + $0 * 3) }
        let model = try #require(WordModel(arena: arena, start: start,
                                           symbolLengths: CanonicalCode.lengths(frequencies: frequencies, limit: WordModel.maxCodeLength),
                                           byteLengths: [UInt8](repeating: 8, count: 256)))
        let texts: [[UInt8]] = [Array("abcdefgh abcdefghi abcdefghij abcdefghijklmnopq abcdefghijklmnopr".utf8),
                                [UInt8](repeating: 0x7a, count: 255), [UInt8](repeating: 0x7a, count: 256),
                                Array("abcdefghijk, abcdefg abcdefghijklmnops".utf8)]
        let raw = Self.stream(Array(repeating: texts, count: 20).flatMap { $0 })
        var coded: [UInt8] = []
        let n = raw.withUnsafeBytes { model.encode($0, into: &coded) }
        let expected = try #require(Self.referenceCode(model, raw))
        #expect(n.map { Array(coded[0..<$0]) } == expected)
        var decoded: [UInt8] = []
        let ok = Array(coded[0..<(n ?? 0)]).withUnsafeBytes { model.decode($0, rawLength: raw.count, into: &decoded) }
        #expect(ok && decoded == raw)
    }

    @Test func aCodeNoSmallerThanTheStreamIsNil() throws {
        // Unknown bytes only: escapes make the code longer than the text.
        var trainer = WordModel.Trainer()
        Self.stream([Array("alpha beta alpha beta".utf8)]).withUnsafeBytes { trainer.add(stream: $0) }
        let model = try #require(trainer.model())
        for length in [1, 7, 8, 9, 64, 300] {
            let raw = Self.stream([[UInt8](repeating: 0x01, count: length)])
            var coded: [UInt8] = []
            #expect(raw.withUnsafeBytes { model.encode($0, into: &coded) } == nil)
            #expect(Self.referenceCode(model, raw) == nil)
        }
    }
}
