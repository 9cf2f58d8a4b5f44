import Foundation
import Testing
@testable import Strata

/// Dictionary files (SPEC.md §6): version 2 stores the dictionary as a zstd
/// frame; version 1 files (the dictionary as is) still read; damage is
/// corruption naming the file and offset, never a trap or a wrong dictionary.
@Suite struct DictionaryFileTests {
    /// A real trained dictionary (text-like samples, as compaction trains on).
    static let dictionary: [UInt8] = {
        var buffer: [UInt8] = [], sizes: [Int] = []
        for e in makeCorpusExamples(600, seed: 11) {
            var w = ByteWriter(capacity: 512)
            RecordCodec.appendExampleEntry(ExampleDraft(e), id: ExampleID(high: UInt64(sizes.count), low: 1), idKey: nil, to: &w)
            buffer += w.bytes
            sizes.append(w.count)
        }
        return ZstdCodec.trainDictionaryFast(buffer: buffer, sizes: sizes, capacity: 16 << 10, level: 3)!
    }()

    static func decodes(_ bytes: [UInt8], id: UInt32 = 7) throws -> [UInt8] {
        try DictionaryFile.decode(bytes, expectedID: id, path: "dicts/dict-\(id).zdict").bytes
    }

    @Test func version2FilesStoreTheDictionaryCompressedAndReadBackExactly() throws {
        let file = try DictionaryFile.encode(id: 7, dictionary: Self.dictionary, level: 3)
        #expect(file[8] == 2 && file[9] == 0)
        #expect(file.count < Format.dictionaryHeaderSize + Self.dictionary.count * 3 / 4, "\(file.count) for \(Self.dictionary.count)")
        #expect(try Self.decodes(file) == Self.dictionary)
    }

    /// A version 1 file, laid out by hand from SPEC.md §6's table, as builds before version 2 wrote it.
    @Test func version1FilesStillRead() throws {
        let file = DictionaryFile.frame(version: 1, id: 7, stored: Self.dictionary, dictionaryLength: 0)
        #expect(file.count == Format.dictionaryHeaderSize + Self.dictionary.count)
        #expect(try Self.decodes(file) == Self.dictionary)
    }

    /// Version 1 stores the dictionary as is (m = n): an empty one is corruption
    /// at the stored length, as version 2's m out of 1…16 MiB is (the bound the DictionaryFile fuzz target checks).
    @Test func emptyVersion1DictionaryIsCorruption() throws {
        #expect {
            _ = try Self.decodes(DictionaryFile.frame(version: 1, id: 7, stored: [], dictionaryLength: 0))
        } throws: { e in
            guard let e = e as? StrataError else { return false }
            return e.code == .corruption && e.path == "dicts/dict-7.zdict" && e.offset == 16
        }
    }

    @Test func damagedOrLyingVersion2FilesAreCorruptionWithTheirOffset() throws {
        var stored: [UInt8] = []
        try Self.dictionary.withUnsafeBytes { _ = try ZstdCodec.compress($0, level: 3, appendingTo: &stored) }
        let m = UInt32(Self.dictionary.count)
        let good = DictionaryFile.frame(version: 2, id: 7, stored: stored, dictionaryLength: m)
        var flipped = good
        flipped[good.count / 2] ^= 0x10
        // Each case has a valid checksum unless the case is about the checksum.
        let cases: [(String, [UInt8], Int64)] = [
            ("flipped stored byte", flipped, 24),
            ("truncated", Array(good.dropLast(3)), 16),
            ("too short for a header", Array(good.prefix(20)), 0),
            ("declares no bytes", DictionaryFile.frame(version: 2, id: 7, stored: stored, dictionaryLength: 0), 20),
            ("declares more than 16 MiB", DictionaryFile.frame(version: 2, id: 7, stored: stored, dictionaryLength: UInt32(Format.maxDictionaryBytes + 1)), 20),
            ("declares one byte more", DictionaryFile.frame(version: 2, id: 7, stored: stored, dictionaryLength: m + 1), 32),
            ("declares one byte less", DictionaryFile.frame(version: 2, id: 7, stored: stored, dictionaryLength: m - 1), 32),
            ("stored bytes are no zstd frame", DictionaryFile.frame(version: 2, id: 7, stored: Array(Self.dictionary.prefix(500)), dictionaryLength: 500), 32),
            ("frame cut short", DictionaryFile.frame(version: 2, id: 7, stored: Array(stored.dropLast(9)), dictionaryLength: m), 32),
            ("another id", DictionaryFile.frame(version: 2, id: 8, stored: stored, dictionaryLength: m), 12),
        ]
        for (name, bytes, offset) in cases {
            #expect(Comment(rawValue: name)) {
                _ = try Self.decodes(bytes)
            } throws: { e in
                guard let e = e as? StrataError else { return false }
                return e.code == .corruption && e.path == "dicts/dict-7.zdict" && e.offset == offset
            }
        }
        #expect {
            _ = try Self.decodes(DictionaryFile.frame(version: 4, id: 7, stored: stored, dictionaryLength: m))
        } throws: { ($0 as? StrataError)?.code == .unsupportedVersion }
    }

    /// SPEC.md §6's worked example, read out of SPEC.md: the header bytes it lists are what a writer produces.
    @Test func specWorkedExampleDictionaryHeader() throws {
        let section = try SpecWorkedExampleTests.specSection("Worked example (version 2, id 7)", "## 7.")
        let rows = try #require(SpecWorkedExampleTests.codeBlocks(section).first)
        var listed: [Int: [UInt8]] = [:]
        for row in rows {
            let words = row.split(separator: " ")
            guard let first = words.first, let offset = Int(first) else { continue }
            let bytes = SpecWorkedExampleTests.byteTokens(words.dropFirst()).compactMap { t -> UInt8? in
                if case .byte(let b) = t { return b } else { return nil }
            }
            listed[offset] = bytes
        }
        let file = DictionaryFile.frame(version: 2, id: 7, stored: [UInt8](repeating: 0xab, count: 1200), dictionaryLength: 3000)
        #expect(file.count == 1232)
        #expect(listed.keys.sorted() == [0, 8, 12, 16, 20, 24, 32])
        for (offset, bytes) in listed where offset < 24 {
            #expect(Array(file[offset..<(offset + bytes.count)]) == bytes, "offset \(offset)")
        }
        #expect(listed[32] == [0x28, 0xb5, 0x2f, 0xfd])
    }

    /// A dictionary zstd accepts for decompression but cannot digest for
    /// compression (found by the DictionaryFile fuzz target) makes compression
    /// throw `.corruption`; it used to stop the process on a force unwrap.
    @Test func aDictionaryZstdCannotDigestForCompressionIsCorruptionNotATrap() throws {
        let input = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus/DictionaryFile/cdict-rejected")
        let raw = [UInt8](try Data(contentsOf: input))
        // The fuzz target's framing: byte 0 bit 0 = fix lengths and checksum, bits 1…7 = id − 1.
        var bytes = Array(raw.dropFirst())
        let id = UInt32(raw[0] >> 1) + 1
        #expect(raw[0] & 1 == 1)
        withUnsafeBytes(of: id.littleEndian) { for i in 0..<4 { bytes[12 + i] = $0[i] } }
        withUnsafeBytes(of: UInt32(bytes.count - Format.dictionaryHeaderSize).littleEndian) { for i in 0..<4 { bytes[16 + i] = $0[i] } }
        let h = XXH64Stream()
        h.update(Array(bytes[0..<24]))
        h.update(Array(bytes[Format.dictionaryHeaderSize...]))
        withUnsafeBytes(of: h.digest.littleEndian) { for i in 0..<8 { bytes[24 + i] = $0[i] } }
        let d = try DictionaryFile.decode(bytes, expectedID: id, path: "dicts/dict-\(id).zdict")
        let sample = Array("{\"prompt\":\"fuzz\",\"response\":\"dictionary\"}".utf8)
        var out: [UInt8] = []
        #expect { _ = try sample.withUnsafeBytes { try ZstdCodec.compress($0, level: 1, dictionary: d, appendingTo: &out) } }
            throws: { ($0 as? StrataError)?.code == .corruption }
    }
}
