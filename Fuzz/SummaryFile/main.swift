// libFuzzer target: the segment summaries file (SPEC.md §5.6, index/stats.sum)
// and the footer counts it embeds (SPEC.md §3.3). The first input byte selects
// whether the checksum is recomputed, so the fuzzer reaches the counts decoder
// instead of stopping at XXH3.
@testable import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 1 == 1 && bytes.count >= SummaryFile.headerSize {
        let h = XXH64Stream()
        h.update(Array(bytes[0..<16]))
        h.update(Array(bytes[SummaryFile.headerSize...]))
        withUnsafeBytes(of: h.digest.littleEndian) { for i in 0..<8 { bytes[16 + i] = $0[i] } }
    }
    expectStrataError {
        let all = try SummaryFile.decode(bytes, path: "fuzz/index/stats.sum")
        // What decodes re-encodes to the same bytes.
        let again = try SummaryFile.decode(SummaryFile.encode(all), path: "again")
        precondition(again == all, "decode(encode(s)) != s")
    }
    return 0
}
