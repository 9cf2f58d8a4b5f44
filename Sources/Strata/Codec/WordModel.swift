import Foundation

/// A semi-static word model for free text (SPEC.md §6.1): a vocabulary of
/// tokens with canonical Huffman codes, trained once per dictionary and used
/// to code a columnar block's `texts` stream (SPEC.md §3.6, encoding 3).
/// Pure: bytes in, bytes out.
///
/// Why: on text whose words vary a lot but whose phrases rarely repeat, an LZ
/// coder mostly emits short matches and byte-coded literals; coding whole
/// words with one code each (the word-based compression of compressed text
/// databases) reaches the words' own entropy. Where phrases do repeat, zstd
/// wins, so compaction keeps a model only when it measured smaller on
/// held-out blocks (SPEC.md §6).
///
/// Tokens are maximal runs of *word bytes* (ASCII letters, digits, and every
/// byte ≥ 0x80) or of other bytes. A single space between two word tokens is
/// implied, not coded (the "spaceless" word model).
public final class WordModel: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init.

    /// SPEC.md §6.1: the model layout version.
    static let layoutVersion: UInt8 = 1
    /// SPEC.md §6.1: code lengths are 1…24 bits.
    static let maxCodeLength = 24
    /// SPEC.md §6.1: at most this many tokens, each 1…255 bytes.
    static let maxTokens = 1 << 20
    static let maxTokenLength = 255
    /// Symbols 0 and 1 of the token code.
    static let endSymbol = 0, escapeSymbol = 1

    /// Token bytes back to back; token i is `arena[start[i]..<start[i + 1]]`.
    let arena: [UInt8]
    let start: [Int32]
    let symbolCode: CanonicalCode
    let byteCode: CanonicalCode
    private let table: TokenTable
    private let decoder: TokenDecoder

    var tokenCount: Int { start.count - 1 }

    /// REQUIRES: tokens 1…255 bytes, `symbolLengths.count == tokens + 2`,
    /// `byteLengths.count == 256`; returns nil if either code is not a prefix
    /// code or there are more than `maxTokens` tokens.
    init?(arena: [UInt8], start: [Int32], symbolLengths: [UInt8], byteLengths: [UInt8]) {
        guard start.count - 1 <= Self.maxTokens, symbolLengths.count == start.count + 1, byteLengths.count == 256,
              let sc = CanonicalCode(lengths: symbolLengths), let bc = CanonicalCode(lengths: byteLengths) else { return nil }
        self.arena = arena
        self.start = start
        self.symbolCode = sc
        self.byteCode = bc
        self.table = TokenTable(arena: arena, start: start, code: sc)
        self.decoder = TokenDecoder(arena: arena, start: start, code: sc)
    }

    // MARK: Serialization (SPEC.md §6.1)

    /// The model's bytes: version, tokens, code lengths.
    public func serialized() -> [UInt8] {
        var w = ByteWriter(capacity: arena.count + 3 * start.count + 300)
        w.u8(Self.layoutVersion)
        w.varint(tokenCount)
        for i in 0..<tokenCount {
            let s = Int(start[i]), e = Int(start[i + 1])
            w.u8(UInt8(e - s))
            w.append(arena[s..<e])
        }
        w.append(symbolCode.lengths)
        w.append(byteCode.lengths)
        return w.bytes
    }

    /// Parses a model; damage is `.corruption` at the reader's position.
    static func parse(_ r: inout ByteReader) throws -> WordModel {
        let version = try r.u8("word model version")
        guard version == layoutVersion else { throw r.corruption("unknown word model version \(version)", at: r.position - 1) }
        let count = try r.count("word model token count", limit: maxTokens)
        var arena: [UInt8] = []
        var start: [Int32] = [0]
        start.reserveCapacity(count + 1)
        for _ in 0..<count {
            let at = r.position
            let n = Int(try r.u8("token length"))
            guard n >= 1 else { throw r.corruption("empty word model token", at: at) }
            arena.append(contentsOf: try r.slice(n, "token"))
            start.append(Int32(arena.count))
        }
        let at = r.position
        let symbolLengths = Array(try r.slice(count + 2, "token code lengths"))
        let byteLengths = Array(try r.slice(256, "byte code lengths"))
        guard let m = WordModel(arena: arena, start: start, symbolLengths: symbolLengths, byteLengths: byteLengths) else {
            throw r.corruption("word model code lengths are not a prefix code (each 1…\(maxCodeLength), Kraft sum ≤ 1)", at: at)
        }
        return m
    }

    // MARK: Tokens

    /// Word bytes: ASCII letters and digits, and every byte ≥ 0x80.
    static let isWordByte: [Bool] = (0..<256).map { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b >= 0x80
    }

    /// Calls `body(start, end)` for each token of `text` that is coded (a
    /// single space between two word tokens is skipped). `readable` bytes
    /// from `text`'s start may be loaded (≥ `text.count`).
    @inline(__always)
    static func forEachCodedToken(_ text: UnsafeRawBufferPointer, readable: Int, _ body: (Int, Int) -> Void) {
        let n = text.count
        guard n > 0 else { return }
        let p = text.baseAddress!
        var s = 0
        var chunk = 0
        var last: UInt64 = 0
        while chunk < n {
            let w = wordBits(p + chunk, min(64, n - chunk), readable: readable - chunk)
            var ends = classChanges(w, last: last, at: chunk, count: n - chunk)
            while ends != 0 {
                let e = chunk + ends.trailingZeroBitCount
                // Tokens alternate between the two classes, so a lone space after the first token
                // follows a word token; it is skipped unless it ends the text (e < n here).
                if !(e - s == 1 && s > 0 && p.load(fromByteOffset: s, as: UInt8.self) == 0x20) { body(s, e) }
                s = e
                ends &= ends &- 1
            }
            last = w >> 63
            chunk += 64
        }
        body(s, n)
    }

    /// `forEachCodedToken` where only the text itself is readable.
    @inline(__always)
    static func forEachCodedToken(_ text: UnsafeRawBufferPointer, _ body: (Int, Int) -> Void) {
        forEachCodedToken(text, readable: text.count, body)
    }

    /// Bit k set where byte k of the `count` (1…64) bytes at `p` is a word
    /// byte; bits from `count` up are 0. `readable` bytes may be loaded.
    /// Why: a byte loop's exit branch mispredicted at almost every token end
    /// (11% of the encoder's samples); the class of 8 bytes is found at once.
    @inline(__always)
    static func wordBits(_ p: UnsafeRawPointer, _ count: Int, readable: Int) -> UInt64 {
        var w: UInt64 = 0
        if count == 64 && readable >= 64 {
            for k in stride(from: 0, to: 64, by: 8) {
                w |= gather(wordByteMask(p.loadUnaligned(fromByteOffset: k, as: UInt64.self))) << UInt64(k)
            }
            return w
        }
        var k = 0
        while k < count {
            if k + 8 <= readable {
                w |= gather(wordByteMask(p.loadUnaligned(fromByteOffset: k, as: UInt64.self))) << UInt64(k)
            } else {
                for q in k..<min(k + 8, count) where isWordByte[Int(p.load(fromByteOffset: q, as: UInt8.self))] {
                    w |= 1 << UInt64(q)
                }
            }
            k += 8
        }
        return count == 64 ? w : w & ((1 << UInt64(count)) - 1)
    }

    /// The high bits of the 8 bytes of `m` (each byte 0x80 or 0) as bits 0…7.
    @inline(__always)
    static func gather(_ m: UInt64) -> UInt64 {
        // Byte k's bit lands at bit 56 + k and no two partial products overlap (no carries).
        ((m >> 7) &* 0x0102_0408_1020_4080) >> 56
    }

    /// Bit k set where byte `at + k` starts a new token: its class (bit k of
    /// `w`) differs from the byte before (bit 0 of `last` for k = 0); never
    /// at the text's first byte, nor at or past `count`.
    @inline(__always)
    static func classChanges(_ w: UInt64, last: UInt64, at: Int, count: Int) -> UInt64 {
        var c = w ^ (w << 1 | last)
        if at == 0 { c &= ~1 }
        return count >= 64 ? c : c & ((1 << UInt64(count)) - 1)
    }

    /// The high bit of each byte of `w` that is a word byte (`isWordByte`), all other bits 0.
    /// Per byte, without carries between bytes: each sum below stays under 0x100.
    @inline(__always)
    static func wordByteMask(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let v = w & ~high
        // v + (0x80 - lo) has its high bit set iff v ≥ lo; v + (0x7f - hi) iff v > hi.
        let digit = (v &+ 0x50 &* ones) & ~(v &+ 0x46 &* ones)          // 0x30…0x39
        let folded = v | 0x20 &* ones                                    // A–Z → a–z
        let letter = (folded &+ 0x1f &* ones) & ~(folded &+ 0x05 &* ones) // 0x61…0x7a
        return (w | digit | letter) & high
    }

    // MARK: Encoding

    /// Codes `stream` (a sequence of `str(x)` items, SPEC.md §3.6 `texts`)
    /// into the start of `out` (grown as needed; its size is kept so it can be
    /// reused) and returns the coded length. Nil when the stream is not such
    /// a sequence or the code would not be smaller than the stream (the
    /// caller then uses another encoding).
    func encode(_ stream: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Int? {
        let n = stream.count
        // Token bounds are kept as 32-bit offsets (a block's streams are far smaller).
        guard n > 0, n <= Int(UInt32.max) else { return nil }
        // Only a result smaller than the stream is useful to the caller; the
        // bit writer stores 8 bytes at a time, so 8 more are room enough.
        let capacity = n + 8
        if out.count < capacity { out = [UInt8](repeating: 0, count: capacity) }
        let base = stream.baseAddress!
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Self.batch) { batch -> Int? in
            out.withUnsafeMutableBytes { dst -> Int? in
                var bits = RawBitWriter(dst.baseAddress!, capacity: capacity)
                // Tokens are found first and coded afterwards, a batch at a
                // time: the coding loop then has few mispredicted branches,
                // so the table lookups of successive tokens overlap in the CPU.
                // Entry: start << 32 | end (stream offsets); start == end ends an item.
                var count = 0
                var i = 0
                while i < n {
                    // One `str(x)` item: varint length, then the text.
                    var length: UInt64 = 0, shift: UInt64 = 0
                    while true {
                        guard i < n, shift < 35 else { return nil }
                        let b = base.load(fromByteOffset: i, as: UInt8.self)
                        i += 1
                        length |= UInt64(b & 0x7f) << shift
                        if b & 0x80 == 0 { break }
                        shift += 7
                    }
                    guard length <= UInt64(n - i) else { return nil }
                    let textLength = Int(length)
                    let text = base + i
                    // As `forEachCodedToken`, with each token stored and counted
                    // unless skipped (no branch on it), and room for a chunk's
                    // tokens, the last token and the end made before each chunk.
                    var s = 0
                    var chunk = 0
                    var last: UInt64 = 0
                    while chunk < textLength {
                        if count > Self.batch - 67 {
                            code(batch, count, base, n, &bits)
                            count = 0
                        }
                        // Loads may run on into the rest of the stream.
                        let w = Self.wordBits(text + chunk, min(64, textLength - chunk), readable: n - i - chunk)
                        var ends = Self.classChanges(w, last: last, at: chunk, count: textLength - chunk)
                        while ends != 0 {
                            let e = chunk + ends.trailingZeroBitCount
                            let lone = (e &- s == 1 ? 1 : 0) & (s > 0 ? 1 : 0)
                                & (text.load(fromByteOffset: s, as: UInt8.self) == 0x20 ? 1 : 0)
                            batch[count] = UInt64(i + s) << 32 | UInt64(i + e)
                            count += 1 &- lone
                            s = e
                            ends &= ends &- 1
                        }
                        last = w >> 63
                        chunk += 64
                    }
                    if count > Self.batch - 3 {
                        code(batch, count, base, n, &bits)
                        count = 0
                    }
                    if textLength > 0 {
                        batch[count] = UInt64(i + s) << 32 | UInt64(i + textLength)
                        count += 1
                    }
                    // Start == end: the item's end.
                    i += textLength
                    batch[count] = UInt64(i) << 32 | UInt64(i)
                    count += 1
                }
                code(batch, count, base, n, &bits)
                // Writes past the capacity are dropped and flagged; the code is then no smaller than the stream.
                return bits.finish()
            }
        }.flatMap { $0 < n ? $0 : nil }
    }

    /// Tokens per batch of `encode`.
    private static let batch = 256

    /// Writes the codes of `count` batch entries (see `encode`) of the stream at `base` (`n` bytes).
    @inline(__always)
    private func code(_ batch: UnsafeMutableBufferPointer<UInt64>, _ count: Int, _ base: UnsafeRawPointer, _ n: Int,
                      _ bits: inout RawBitWriter) {
        for k in 0..<count {
            let e = batch[k]
            let s = Int(e >> 32), end = Int(e & 0xffff_ffff)
            if s == end {
                symbolCode.write(Self.endSymbol, to: &bits)
                continue
            }
            let c = table.code(base + s, end - s, readable: n - s)
            if c != 0 {
                bits.write(c >> 5, count: Int(c & 31))
            } else {
                symbolCode.write(Self.escapeSymbol, to: &bits)
                bits.writeGamma(UInt64(end - s))
                for q in s..<end { byteCode.write(Int(base.load(fromByteOffset: q, as: UInt8.self)), to: &bits) }
            }
        }
    }

    // MARK: Decoding

    /// Decodes a coded `texts` stream into `out` (replaced), which must come
    /// to exactly `rawLength` bytes. Returns false on any damage: an invalid
    /// code, bits past the end, a length over the bound, nonzero padding.
    /// Never traps on `coded`.
    func decode(_ coded: UnsafeRawBufferPointer, rawLength: Int, into out: inout [UInt8]) -> Bool {
        // Slack past `rawLength`: tokens are copied 16 bytes at a time, and
        // an item's text starts where a 2-byte varint would end it.
        let slack = TokenDecoder.slack
        let capacity = rawLength + slack
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: repeatElement(0, count: capacity))
        let complete: Bool = out.withUnsafeMutableBytes { dst in
            decoder.decode(coded, rawLength: rawLength, into: dst.baseAddress!, byteCode: byteCode)
        }
        out.removeLast(slack)
        return complete
    }
}

/// The decoding side of a model: one table lookup per short code yields the
/// token's place in the arena, its length and class (SPEC.md §6.1 decoding).
// @unchecked: the memory is written once in init and only read afterwards.
private final class TokenDecoder: @unchecked Sendable {
    /// Output slack the decoder may write past the stream's end (over-copies, item start).
    static let slack = 2 + 16 + 255 + 5
    /// Per symbol: arena offset (bits 0–31), length (32–39), word token (40), end (41), escape (42).
    private let info: UnsafeMutableBufferPointer<UInt64>
    /// Indexed by the next 12 bits: a code of ≤ 12 bits gives its symbol's info with the code
    /// length in bits 56–60; a longer code's prefix gives bit 63, the bits its second-level
    /// table takes (bits 32–36) and where that table starts in `second` (bits 0–31); 0 is no code.
    private static let fastBits = 12
    private let fast: UnsafeMutableBufferPointer<UInt64>
    private let second: UnsafeMutableBufferPointer<UInt64>
    /// The arena plus 16 readable bytes, so every token can be copied 16 bytes at a time.
    private let arena: UnsafeMutableRawBufferPointer

    init(arena bytes: [UInt8], start: [Int32], code: CanonicalCode) {
        arena = .allocate(byteCount: bytes.count + 16, alignment: 8)
        arena.initializeMemory(as: UInt8.self, repeating: 0)
        arena.copyBytes(from: bytes)
        let symbols = start.count + 1
        let info = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: symbols)
        info[WordModel.endSymbol] = 1 << 41
        info[WordModel.escapeSymbol] = 1 << 42
        for t in 0..<(start.count - 1) {
            let s = Int(start[t]), n = Int(start[t + 1]) - s
            let word: UInt64 = WordModel.isWordByte[Int(bytes[s])] ? 1 << 40 : 0
            info[t + 2] = UInt64(s) | UInt64(n) << 32 | word
        }
        self.info = info
        let f = Self.fastBits
        let fast = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: 1 << f)
        fast.initialize(repeating: 0)
        // Longest code under each 12-bit prefix, for the second-level tables.
        var longest = [Int](repeating: 0, count: 1 << f)
        code.forEachCode { symbol, length, value in
            if length <= f {
                let shift = f - length
                let base = Int(value) << shift
                for k in 0..<(1 << shift) { fast[base + k] = info[symbol] | UInt64(length) << 56 }
            } else {
                let prefix = Int(value >> UInt32(length - f))
                longest[prefix] = max(longest[prefix], length)
            }
        }
        var offsets = [Int](repeating: 0, count: 1 << f)
        var total = 0
        for prefix in 0..<(1 << f) where longest[prefix] > 0 {
            let bits = longest[prefix] - f
            offsets[prefix] = total
            fast[prefix] = 1 << 63 | UInt64(bits) << 32 | UInt64(total)
            total += 1 << bits
        }
        let second = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(total, 1))
        second.initialize(repeating: 0)
        code.forEachCode { symbol, length, value in
            guard length > f else { return }
            let prefix = Int(value >> UInt32(length - f))
            let bits = longest[prefix] - f
            let suffix = Int(value) & ((1 << (length - f)) - 1)
            let shift = bits - (length - f)
            let base = offsets[prefix] + suffix << shift
            for k in 0..<(1 << shift) { second[base + k] = info[symbol] | UInt64(length) << 56 }
        }
        self.fast = fast
        self.second = second
    }

    deinit {
        info.deallocate()
        fast.deallocate()
        second.deallocate()
        arena.deallocate()
    }

    /// REQUIRES: `out` holds `rawLength + slack` bytes.
    func decode(_ coded: UnsafeRawBufferPointer, rawLength: Int, into out: UnsafeMutableRawPointer, byteCode: CanonicalCode) -> Bool {
        let limit = rawLength + 5   // an item's text never extends past this (checked per token)
        var r = BitReader(coded)
        var produced = 0
        let arena = self.arena.baseAddress!
        while produced < rawLength {
            // Most texts are 128…16383 bytes: start the text where a 2-byte varint ends, move it if that guess was wrong.
            let itemStart = produced + 2
            var p = itemStart
            var previousWord = false
            while true {
                let v = r.peek24()
                var e = fast[Int(v >> UInt32(24 - Self.fastBits))]
                if e & (1 << 63) != 0 {
                    let bits = Int((e >> 32) & 31)
                    e = second[Int(e & 0xffff_ffff) + Int((v >> UInt32(24 - Self.fastBits - bits)) & ((1 << UInt32(bits)) - 1))]
                }
                let length = Int((e >> 56) & 31)
                guard length != 0 else { return false }
                r.skip(length)
                guard r.bitPosition <= r.bitCount else { return false }
                if e & (1 << 41) != 0 { break }
                if e & (1 << 42) != 0 {
                    guard let n64 = r.readGamma(), n64 < UInt64(limit - p), let first = byteCode.decode(&r) else { return false }
                    let n = Int(n64)
                    let word = WordModel.isWordByte[first]
                    if word && previousWord { out.storeBytes(of: 0x20, toByteOffset: p, as: UInt8.self); p += 1 }
                    guard p + n <= limit else { return false }
                    out.storeBytes(of: UInt8(truncatingIfNeeded: first), toByteOffset: p, as: UInt8.self)
                    for k in 1..<max(n, 1) {
                        guard let b = byteCode.decode(&r) else { return false }
                        out.storeBytes(of: UInt8(truncatingIfNeeded: b), toByteOffset: p + k, as: UInt8.self)
                    }
                    guard r.bitPosition <= r.bitCount else { return false }
                    p += n
                    previousWord = word
                    continue
                }
                let word = e & (1 << 40) != 0
                if word && previousWord { out.storeBytes(of: 0x20, toByteOffset: p, as: UInt8.self); p += 1 }
                let n = Int((e >> 32) & 0xff)
                guard p + n <= limit else { return false }
                // 16-byte over-copy: the arena has 16 readable bytes past its end, `out` has the slack.
                let src = arena + Int(e & 0xffff_ffff)
                (out + p).storeBytes(of: src.loadUnaligned(as: UInt64.self), as: UInt64.self)
                (out + p + 8).storeBytes(of: src.loadUnaligned(fromByteOffset: 8, as: UInt64.self), as: UInt64.self)
                if n > 16 { (out + p + 16).copyMemory(from: src + 16, byteCount: n - 16) }
                p += n
                previousWord = word
            }
            let length = p - itemStart
            let v = RecordCodec.varintSize(UInt64(length))
            guard produced + v + length <= rawLength else { return false }
            // Move the text into place first (the ranges overlap when the varint is not 2 bytes: memmove),
            // then write the varint in front of it.
            if v != 2 && length > 0 { memmove(out + produced + v, out + itemStart, length) }
            var x = UInt64(length)
            var q = produced
            while x >= 0x80 { out.storeBytes(of: UInt8(truncatingIfNeeded: x) | 0x80, toByteOffset: q, as: UInt8.self); x >>= 7; q += 1 }
            out.storeBytes(of: UInt8(truncatingIfNeeded: x), toByteOffset: q, as: UInt8.self)
            q += 1
            produced = q + length
        }
        return produced == rawLength && r.remainderIsPadding()
    }
}

// MARK: - Training

extension WordModel {
    /// Counts tokens of `texts` streams (sequences of `str(x)`) for training.
    struct Trainer {
        private var counter = TokenCounter()
        private(set) var items = 0
        private(set) var textBytes = 0

        mutating func add(stream: UnsafeRawBufferPointer) {
            var r = ByteReader(stream)
            while !r.isAtEnd {
                guard let n = try? r.count("text length", limit: r.remaining), let text = try? r.slice(n) else { return }
                items += 1
                textBytes += n
                // The rest of the stream may be loaded (run ends are found 8 bytes at a time).
                let readable = stream.count - (r.position - n)
                WordModel.forEachCodedToken(text, readable: readable) { s, e in
                    counter.add(UnsafeRawBufferPointer(rebasing: text[s..<e]))
                }
            }
        }

        /// The model: tokens seen at least twice (most frequent first, at
        /// most `maxTokens`), escapes and ends weighted by how often they were
        /// needed, every byte codable. Nil when nothing was added.
        func model(maxTokens: Int = 1 << 16) -> WordModel? {
            guard items > 0 else { return nil }
            var vocab: [(index: Int, count: UInt64)] = []
            var escapes: UInt64 = 1
            var byteCounts = [UInt64](repeating: 1, count: 256)
            counter.forEach { index, token, count in
                if count >= 2 && token.count <= WordModel.maxTokenLength {
                    vocab.append((index, count))
                }
            }
            vocab.sort { a, b in
                a.count != b.count ? a.count > b.count : counter.token(a.index).lexicographicallyPrecedes(counter.token(b.index))
            }
            if vocab.count > maxTokens { vocab.removeLast(vocab.count - maxTokens) }
            var kept = [Bool](repeating: false, count: counter.count)
            for v in vocab { kept[v.index] = true }
            counter.forEach { index, token, count in
                guard !kept[index] else { return }
                escapes += count
                for b in token { byteCounts[Int(b)] += count }
            }
            var arena: [UInt8] = []
            var start: [Int32] = [0]
            var frequencies: [UInt64] = [UInt64(items) + 1, escapes]
            for v in vocab {
                arena.append(contentsOf: counter.token(v.index))
                start.append(Int32(arena.count))
                frequencies.append(v.count)
            }
            return WordModel(arena: arena, start: start,
                             symbolLengths: CanonicalCode.lengths(frequencies: frequencies, limit: WordModel.maxCodeLength),
                             byteLengths: CanonicalCode.lengths(frequencies: byteCounts, limit: WordModel.maxCodeLength))
        }
    }
}

// MARK: - Canonical Huffman codes

/// A canonical prefix code (SPEC.md §6.1): symbols sorted by (length,
/// symbol) get consecutive codes, shorter codes first, as in DEFLATE.
struct CanonicalCode {
    let lengths: [UInt8]
    /// The code of each symbol (its low `lengths[s]` bits).
    private let codes: [UInt32]
    private let maxLength: Int
    /// Per length L: the first code of that length, how many, and where its symbols start in `sorted`.
    private let firstCode: [UInt32]
    private let countOf: [UInt32]
    private let offsetOf: [Int32]
    private let sorted: [Int32]
    /// Codes of at most `fastBits` bits decode with one lookup: entry = symbol << 5 | length (0: slow path).
    private static let fastBits = 11
    private let fast: [UInt32]

    /// Nil unless every length is 1…24 and the Kraft sum is ≤ 1.
    init?(lengths: [UInt8]) {
        let limit = WordModel.maxCodeLength
        guard !lengths.isEmpty else { return nil }
        var count = [UInt32](repeating: 0, count: limit + 1)
        var kraft: UInt64 = 0
        for l in lengths {
            guard l >= 1, Int(l) <= limit else { return nil }
            count[Int(l)] += 1
            kraft += UInt64(1) << UInt64(limit - Int(l))
        }
        guard kraft <= UInt64(1) << UInt64(limit) else { return nil }
        var first = [UInt32](repeating: 0, count: limit + 2)
        var offset = [Int32](repeating: 0, count: limit + 2)
        var code: UInt32 = 0
        var index: Int32 = 0
        for l in 1...limit {
            code = (code + (l > 1 ? count[l - 1] : 0)) << (l > 1 ? 1 : 0)
            first[l] = code
            offset[l] = index
            index += Int32(count[l])
        }
        var next = first
        var codes = [UInt32](repeating: 0, count: lengths.count)
        var sorted = [Int32](repeating: 0, count: lengths.count)
        var fill = offset
        for (s, l) in lengths.enumerated() {
            codes[s] = next[Int(l)]
            next[Int(l)] += 1
            sorted[Int(fill[Int(l)])] = Int32(s)
            fill[Int(l)] += 1
        }
        var fast = [UInt32](repeating: 0, count: 1 << Self.fastBits)
        for (s, l) in lengths.enumerated() where Int(l) <= Self.fastBits {
            let shift = Self.fastBits - Int(l)
            let base = Int(codes[s]) << shift
            for k in 0..<(1 << shift) { fast[base + k] = UInt32(s) << 5 | UInt32(l) }
        }
        self.lengths = lengths
        self.codes = codes
        self.maxLength = Int(lengths.max()!)
        self.firstCode = first
        self.countOf = count
        self.offsetOf = offset
        self.sorted = sorted
        self.fast = fast
    }

    /// Calls `body(symbol, length, code)` for every symbol.
    func forEachCode(_ body: (Int, Int, UInt32) -> Void) {
        for s in lengths.indices { body(s, Int(lengths[s]), codes[s]) }
    }

    @inline(__always) func write(_ symbol: Int, to bits: inout RawBitWriter) {
        bits.write(codes[symbol], count: Int(lengths[symbol]))
    }

    /// The next symbol, or nil for a bit pattern that is no code.
    @inline(__always) func decode(_ r: inout BitReader) -> Int? {
        let v = r.peek24()
        let e = fast[Int(v >> UInt32(24 - Self.fastBits))]
        if e & 31 != 0 {
            r.skip(Int(e & 31))
            return Int(e >> 5)
        }
        var l = Self.fastBits + 1
        while l <= maxLength {
            let c = v >> UInt32(24 - l)
            let k = c &- firstCode[l]
            if k < countOf[l] {
                r.skip(l)
                return Int(sorted[Int(offsetOf[l]) + Int(k)])
            }
            l += 1
        }
        return nil
    }

    /// Code lengths (1…limit) for `frequencies` (each ≥ 1): Huffman's, with
    /// frequencies halved until no code is longer than `limit`.
    static func lengths(frequencies: [UInt64], limit: Int) -> [UInt8] {
        precondition(!frequencies.isEmpty && frequencies.count <= 1 << limit)
        var f = frequencies.map { max($0, 1) }
        while true {
            let l = huffmanLengths(f)
            if Int(l.max()!) <= limit { return l }
            f = f.map { max(1, $0 / 2) }
        }
    }

    /// Huffman code lengths by the two-queue method over sorted leaves.
    private static func huffmanLengths(_ f: [UInt64]) -> [UInt8] {
        let n = f.count
        if n == 1 { return [1] }
        let order = (0..<n).sorted { f[$0] != f[$1] ? f[$0] < f[$1] : $0 < $1 }
        // Nodes 0..<n are leaves (in `order`), n..<2n-1 internal; parent links give depths.
        var weight = [UInt64](repeating: 0, count: 2 * n - 1)
        var parent = [Int32](repeating: -1, count: 2 * n - 1)
        for (i, s) in order.enumerated() { weight[i] = f[s] }
        var leaf = 0, inner = n, next = n
        func pick() -> Int {
            if leaf < n && (inner >= next || weight[leaf] <= weight[inner]) { leaf += 1; return leaf - 1 }
            inner += 1
            return inner - 1
        }
        while next < 2 * n - 1 {
            let a = pick(), b = pick()
            weight[next] = weight[a] + weight[b]
            parent[a] = Int32(next)
            parent[b] = Int32(next)
            next += 1
        }
        var depth = [UInt8](repeating: 0, count: 2 * n - 1)
        for i in stride(from: 2 * n - 3, through: 0, by: -1) {
            depth[i] = depth[Int(parent[i])] &+ 1
        }
        var lengths = [UInt8](repeating: 0, count: n)
        for (i, s) in order.enumerated() { lengths[s] = depth[i] }
        return lengths
    }
}

// MARK: - Bits

/// Writes codes most significant bit first into raw memory; the last byte
/// is padded with zero bits. Every write stores 8 bytes and moves on by the
/// whole bytes it completed (no branch on whether a word is full: that branch
/// mispredicted every few tokens). A write that would store past `capacity`
/// sets `overflowed` and is dropped.
struct RawBitWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private var position = 0
    /// The low `pending` (< 8 between writes) bits are the bits not yet complete in a byte.
    private var acc: UInt64 = 0
    private var pending = 0
    private(set) var overflowed = false

    /// REQUIRES: `base` holds `capacity` bytes while the writer is used.
    init(_ base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// REQUIRES: count ≤ 32 and `value` < 2^count.
    @inline(__always) mutating func write(_ value: UInt32, count: Int) {
        guard position + 8 <= capacity else { overflowed = true; return }
        acc = acc &<< UInt64(count) | UInt64(value)
        pending += count
        // pending ≤ 39: its bits left-aligned fill the 8 bytes stored (the bits below are zeros).
        base.storeBytes(of: (acc &<< UInt64(64 - pending)).bigEndian, toByteOffset: position, as: UInt64.self)
        position += pending >> 3
        pending &= 7
    }

    /// Elias gamma code of n ≥ 1: ⌊log2 n⌋ zero bits, then n's bits.
    mutating func writeGamma(_ n: UInt64) {
        let bits = 64 - n.leadingZeroBitCount
        var zeros = bits - 1
        while zeros > 0 { let k = min(zeros, 32); write(0, count: k); zeros -= k }
        var left = bits
        while left > 0 {
            let k = min(left, 32)
            left -= k
            write(UInt32(truncatingIfNeeded: (n >> UInt64(left)) & ((1 << UInt64(k)) - 1)), count: k)
        }
    }

    /// The bytes written (the last one padded), or nil on overflow.
    mutating func finish() -> Int? {
        // A partial last byte was stored by the last write, zero-padded.
        overflowed ? nil : position + (pending > 0 ? 1 : 0)
    }
}

/// Reads bits most significant first; past the end it reads zeros, and the
/// caller checks `bitPosition <= bitCount`. Bits wait in a 64-bit buffer
/// refilled 8 bytes at a time (one load per ~7 bytes instead of one per symbol).
struct BitReader {
    private let bytes: UnsafeRawBufferPointer
    /// The next bits, left-aligned; the top `available` are counted. Bits below
    /// them may already hold the following byte's bits (a refill ORs the same
    /// bits there again).
    private var buffer: UInt64 = 0
    private var available = 0
    /// The next byte a refill loads.
    private var next = 0
    let bitCount: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.bitCount = bytes.count * 8
    }

    var bitPosition: Int { next * 8 - available }

    @inline(__always) private mutating func refill() {
        if next + 8 <= bytes.count {
            let w = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: next, as: UInt64.self))
            buffer |= w >> UInt64(available)
            let whole = (63 - available) >> 3
            next += whole
            available += whole * 8
        } else {
            while available <= 56 {
                let b: UInt64 = next < bytes.count ? UInt64(bytes[next]) : 0
                buffer |= b << UInt64(56 - available)
                next += 1
                available += 8
            }
        }
    }

    /// The next 24 bits (zeros past the end).
    @inline(__always) mutating func peek24() -> UInt32 {
        if available < 24 { refill() }
        return UInt32(truncatingIfNeeded: buffer >> 40)
    }

    /// REQUIRES: a `peek24` since the last skip or read, n ≤ 24.
    @inline(__always) mutating func skip(_ n: Int) {
        buffer <<= UInt64(n)
        available -= n
    }

    /// REQUIRES: n ≤ 24.
    @inline(__always) mutating func read(_ n: Int) -> UInt64 {
        let v = peek24() >> UInt32(24 - n)
        skip(n)
        return UInt64(v)
    }

    /// An Elias gamma code (at most 32 leading zeros), or nil.
    mutating func readGamma() -> UInt64? {
        var zeros = 0
        while read(1) == 0 {
            zeros += 1
            guard zeros <= 32, bitPosition <= bitCount else { return nil }
        }
        var n: UInt64 = 1
        var left = zeros
        while left > 0 { let k = min(left, 24); n = n << UInt64(k) | read(k); left -= k }
        return bitPosition <= bitCount ? n : nil
    }

    /// True when fewer than 8 bits are left and all of them are zero.
    mutating func remainderIsPadding() -> Bool {
        let left = bitCount - bitPosition
        guard left >= 0, left < 8 else { return false }
        return left == 0 || peek24() >> UInt32(24 - left) == 0
    }
}

// MARK: - Token tables

/// Open-addressing lookup from token bytes to their symbol's code. Each slot
/// holds the token's length, first 8 bytes and code, so a token of ≤ 8 bytes
/// is found and coded from one slot (encoding is bound by these lookups).
// @unchecked: the memory is written once in init and only read afterwards.
private final class TokenTable: @unchecked Sendable {
    private struct Slot {
        var prefix: UInt64
        /// The token's code: its bits << 5 | its length in bits (≤ 24).
        var code: UInt32
        /// Token length (bits 0–7; 0 marks an empty slot) | token index << 8.
        var meta: UInt32
    }
    private let arena: UnsafeMutableRawBufferPointer
    private let start: UnsafeMutableBufferPointer<Int32>
    private let slots: UnsafeMutableBufferPointer<Slot>
    private let mask: Int

    /// REQUIRES: tokens 1…255 bytes, at most 2^24 of them; `code` has a symbol per token + 2.
    init(arena bytes: [UInt8], start offsets: [Int32], code: CanonicalCode) {
        arena = .allocate(byteCount: max(bytes.count, 1), alignment: 8)
        arena.copyBytes(from: bytes)
        start = .allocate(capacity: offsets.count)
        _ = start.initialize(from: offsets)
        let n = offsets.count - 1
        var size = 16
        while size < 2 * n { size <<= 1 }
        slots = .allocate(capacity: size)
        slots.initialize(repeating: Slot(prefix: 0, code: 0, meta: 0))
        mask = size - 1
        var codes = [UInt32](repeating: 0, count: n + 2)
        code.forEachCode { symbol, length, value in codes[symbol] = value << 5 | UInt32(length) }
        for i in 0..<n {
            let s = Int(start[i]), length = Int(start[i + 1]) - s
            let token = arena.baseAddress! + s
            // A repeated token keeps its first index.
            if self.code(token, length, readable: length) == 0 {
                let (prefix, h) = Self.prefixAndHash(token, length, readable: length)
                var k = Int(truncatingIfNeeded: h) & mask
                while slots[k].meta != 0 { k = (k + 1) & mask }
                slots[k] = Slot(prefix: prefix, code: codes[i + 2], meta: UInt32(length) | UInt32(i) << 8)
            }
        }
    }

    deinit {
        arena.deallocate()
        start.deallocate()
        slots.deallocate()
    }

    /// The token's first (up to) 8 bytes, little-endian, zero-padded, and a
    /// hash of all of it. `readable` (≥ n ≥ 1) bytes may be loaded from `p`.
    @inline(__always) static func prefixAndHash(_ p: UnsafeRawPointer, _ n: Int, readable: Int) -> (UInt64, UInt64) {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        if n >= 8 {
            let prefix = p.loadUnaligned(as: UInt64.self)
            var h = (prefix ^ UInt64(n)) &* k
            var i = 8
            while i + 8 <= n { h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* k; i += 8 }
            if i < n {
                // The last 8 bytes (overlapping what was hashed): no byte loop.
                h = (h ^ p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)) &* k
            }
            return (prefix, h ^ (h >> 32))
        }
        var prefix: UInt64 = 0
        if readable >= 8 {
            // One load, the bytes past the token masked off.
            prefix = p.loadUnaligned(as: UInt64.self) & (~0 >> UInt64(64 - 8 * n))
        } else {
            for i in 0..<n { prefix |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << UInt64(8 * i) }
        }
        let h = (prefix ^ UInt64(n) << 56) &* k
        return (prefix, h ^ (h >> 32))
    }

    /// The hash `prefixAndHash` gives `token` (not empty).
    @inline(__always) static func hash(_ token: UnsafeRawBufferPointer) -> UInt64 {
        prefixAndHash(token.baseAddress!, token.count, readable: token.count).1
    }

    /// The code (bits << 5 | length) of the `n`-byte token at `p` (n ≥ 1;
    /// `readable` ≥ n bytes may be loaded from `p`), 0 if it is not in the table.
    @inline(__always) func code(_ p: UnsafeRawPointer, _ n: Int, readable: Int) -> UInt32 {
        let (prefix, h) = Self.prefixAndHash(p, n, readable: readable)
        let slots = self.slots.baseAddress!
        var k = Int(truncatingIfNeeded: h) & mask
        while true {
            let slot = slots[k]
            if slot.meta == 0 { return 0 }
            if slot.prefix == prefix && Int(slot.meta & 0xff) == n {
                if n <= 8 || restEqual(arena.baseAddress! + Int(start[Int(slot.meta >> 8)]), p, n) { return slot.code }
            }
            k = (k + 1) & mask
        }
    }

    /// Whether bytes 8..<n (n > 8) of `a` and `b` are equal, 8 at a time (the last 8 overlapping).
    @inline(__always) private func restEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
        var i = 8
        while i + 8 <= n {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        return i == n || a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
    }
}

/// Counts distinct tokens (training).
private struct TokenCounter {
    private var arena: [UInt8] = []
    private var start: [Int32] = [0]
    private var counts: [UInt64] = []
    private var slots = [Int32](repeating: -1, count: 1 << 12)

    var count: Int { counts.count }

    func token(_ i: Int) -> ArraySlice<UInt8> { arena[Int(start[i])..<Int(start[i + 1])] }

    mutating func add(_ token: UnsafeRawBufferPointer) {
        if 2 * counts.count >= slots.count { grow() }
        let mask = slots.count - 1
        // The encoder's hash (word-at-a-time), so one hash serves both tables.
        var h = Int(truncatingIfNeeded: TokenTable.hash(token)) & mask
        while true {
            let j = Int(slots[h])
            if j < 0 { break }
            if token.elementsEqual(arena[Int(start[j])..<Int(start[j + 1])]) { counts[j] += 1; return }
            h = (h + 1) & mask
        }
        slots[h] = Int32(counts.count)
        arena.append(contentsOf: token)
        start.append(Int32(arena.count))
        counts.append(1)
    }

    private mutating func grow() {
        var bigger = [Int32](repeating: -1, count: slots.count * 2)
        let mask = bigger.count - 1
        arena.withUnsafeBytes { a in
            for j in 0..<counts.count {
                var h = Int(truncatingIfNeeded: TokenTable.hash(UnsafeRawBufferPointer(rebasing: a[Int(start[j])..<Int(start[j + 1])]))) & mask
                while bigger[h] >= 0 { h = (h + 1) & mask }
                bigger[h] = Int32(j)
            }
        }
        slots = bigger
    }

    func forEach(_ body: (Int, ArraySlice<UInt8>, UInt64) -> Void) {
        for i in 0..<counts.count { body(i, token(i), counts[i]) }
    }
}
