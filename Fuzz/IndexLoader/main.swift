// libFuzzer target: the dedup index snapshot loader (SPEC.md §5.2,
// index/ids.idx), whole (`IndexFile.decode`) and paged (`PagedIdTable`, the
// read-only snapshot's lookups). Bit 0 of the first input byte selects whether
// the checksums are recomputed (header, then version 1's body checksum or
// version 2's coverage/overflow and page checksums, where the header's counts
// fit the input), so the fuzzer reaches the table invariants instead of
// stopping at XXH3.
@testable import Strata

/// The input as a readable file, for the paged loader.
private final class BytesFile: ReadableFile {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var path: String { "fuzz/index/ids.idx" }
    func currentSize() throws -> Int64 { Int64(bytes.count) }
    func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        let start = min(Int(offset), bytes.count), end = min(start + count, bytes.count)
        buffer = Array(bytes[start..<end])
        return end - start
    }
    func close() {}
}

private func put(_ v: UInt64, _ bytes: inout [UInt8], at i: Int) {
    withUnsafeBytes(of: v.littleEndian) { for j in 0..<8 { bytes[i + j] = $0[j] } }
}

private func reseal(_ bytes: inout [UInt8]) {
    let h = Format.indexHeaderSize
    guard bytes.count >= h + 8 else { return }
    put(bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }, &bytes, at: 56)
    guard let header = try? bytes.withUnsafeBytes({ try IndexHeader.decode($0, fileSize: bytes.count, path: "fuzz") }) else {
        // Counts that do not fit: keep the version 1 body checksum as the only one to fix.
        let end = bytes.count - 8
        put(bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[h..<end])) }, &bytes, at: end)
        return
    }
    if header.version == 1 {
        let end = bytes.count - 8
        put(bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[h..<end])) }, &bytes, at: end)
        return
    }
    put(bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[h..<header.metaSumOffset])) }, &bytes, at: header.metaSumOffset)
    for p in 0..<header.pageCount {
        let r = header.pageRange(p)
        let start = header.slotsStart + 16 * r.lowerBound, end = start + 16 * r.count
        put(bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }, &bytes, at: header.pageSumsStart + 8 * p)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 1 == 1 { reseal(&bytes) }
    expectStrataError {
        _ = try IndexFile.decode(bytes, path: "fuzz/index/ids.idx")
    }
    expectStrataError {
        guard let table = try PagedIdTable.open(BytesFile(bytes), path: "fuzz/index/ids.idx") else { return }
        // Lookups across the key space: every page a run reaches is read and checked.
        for i in 0..<UInt64(16) {
            _ = try table.find(ExampleID(high: i &* 0x1111_1111_1111_1111, low: 0)) { _ in false }
        }
    }
    return 0
}
