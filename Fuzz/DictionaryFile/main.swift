// libFuzzer target: the dictionary-file decoder (SPEC.md §6, dicts/dict-<id>.zdict),
// versions 1 and 2 (a zstd frame of the dictionary). Input byte 0: bit 0 = make the
// stored length (bytes 16..19) and the checksum (24..31) agree with the bytes, so
// the fuzzer reaches the zstd frame, the declared dictionary length and zstd's
// dictionary parser instead of stopping at XXH3; bits 1..7 = the expected id
// (the id field is set to it too when fixing). The rest is the file.
@testable import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let id = UInt32(data[0] >> 1) + 1
    if data[0] & 1 == 1 && bytes.count >= Format.dictionaryHeaderSize {
        withUnsafeBytes(of: id.littleEndian) { for i in 0..<4 { bytes[12 + i] = $0[i] } }
        let n = UInt32(bytes.count - Format.dictionaryHeaderSize)
        withUnsafeBytes(of: n.littleEndian) { for i in 0..<4 { bytes[16 + i] = $0[i] } }
        let h = XXH64Stream()
        h.update(Array(bytes[0..<24]))
        h.update(Array(bytes[Format.dictionaryHeaderSize...]))
        withUnsafeBytes(of: h.digest.littleEndian) { for i in 0..<8 { bytes[24 + i] = $0[i] } }
    }
    expectStrataError {
        let d = try DictionaryFile.decode(bytes, expectedID: id, path: "fuzz/dicts/dict-\(id).zdict")
        // What decodes is a usable dictionary within the format's limits, and survives a rewrite.
        precondition(!d.bytes.isEmpty && d.bytes.count <= Format.maxDictionaryBytes, "dictionary of \(d.bytes.count) bytes accepted")
        let again = try DictionaryFile.decode(try DictionaryFile.encode(id: id, dictionary: d.bytes, level: 1), expectedID: id, path: "again")
        precondition(again.bytes == d.bytes, "decode(encode(d)) != d")
        // The dictionary decompresses what it compresses (zstd accepted it as a dictionary).
        let sample = Array("{\"prompt\":\"fuzz\",\"response\":\"dictionary\"}".utf8)
        var packed: [UInt8] = []
        try sample.withUnsafeBytes { _ = try ZstdCodec.compress($0, level: 1, dictionary: d, appendingTo: &packed) }
        var out: [UInt8] = []
        precondition(packed.withUnsafeBytes { ZstdCodec.decompress($0, rawLength: sample.count, dictionary: d, into: &out) } && out == sample,
                     "dictionary round trip failed")
    }
    return 0
}
