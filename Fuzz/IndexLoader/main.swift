// libFuzzer target: the dedup index snapshot loader (SPEC.md §5.2,
// index/ids.idx). The first input byte selects whether the header and body
// checksums are recomputed, so the fuzzer reaches the table invariants
// instead of stopping at XXH3.
@testable import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let h = Format.indexHeaderSize
    if data[0] & 1 == 1 && bytes.count >= h + 8 {
        let head = bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }
        withUnsafeBytes(of: head.littleEndian) { for i in 0..<8 { bytes[56 + i] = $0[i] } }
        let end = bytes.count - 8
        let body = bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[h..<end])) }
        withUnsafeBytes(of: body.littleEndian) { for i in 0..<8 { bytes[end + i] = $0[i] } }
    }
    expectStrataError {
        _ = try IndexFile.decode(bytes, path: "fuzz/index/ids.idx")
    }
    return 0
}
