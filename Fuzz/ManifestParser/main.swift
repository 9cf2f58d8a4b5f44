// libFuzzer target: the manifest parser (SPEC.md §2.1). The first byte
// selects whether the header checksum and length are recomputed, so the
// fuzzer reaches the JSON body validation.
@testable import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 1 == 1 && bytes.count >= 24 {
        let n = UInt32(bytes.count - 24)
        withUnsafeBytes(of: n.littleEndian) { for i in 0..<4 { bytes[12 + i] = $0[i] } }
        let sum = bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[24...])) }
        withUnsafeBytes(of: sum.littleEndian) { for i in 0..<8 { bytes[16 + i] = $0[i] } }
    }
    expectStrataError {
        let m = try Manifest.decode(bytes, path: "fuzz/MANIFEST")
        // What decodes must survive a rewrite.
        let again = try Manifest.decode(try m.encode(), path: "fuzz/MANIFEST.re")
        precondition(again.segments == m.segments && again.nextSegment == m.nextSegment, "manifest rewrite changed it")
        precondition(again.dedup == m.dedup && Set(again.extra.keys) == Set(m.extra.keys), "manifest rewrite changed dedup or dropped a member")
    }
    return 0
}
