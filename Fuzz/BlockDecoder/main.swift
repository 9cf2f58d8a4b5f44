// libFuzzer target: frame header, checksum, block decompression (LZ4, zstd,
// raw, and the columnar block's stream headers, streams and reassembly,
// SPEC.md §3.6) and entry iteration (SPEC.md §3.1, §4). The first byte selects whether the checksum
// is recomputed, so the fuzzer can reach the decompressors and the entry
// parser without forging XXH3 sums.
@testable import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let fixChecksum = data[0] & 1 == 1
    expectStrataError {
        guard bytes.count >= Format.frameHeaderSize else { return }
        var h = try bytes.withUnsafeBytes { try FrameCodec.parseHeader($0, path: "fuzz", offset: 0) }
        guard h.frameLength <= bytes.count else { return }
        // Declared sizes up to 64 MiB are legal; allocating that per input only slows the fuzzer down.
        guard h.rawLength <= 1 << 20 else { return }
        if fixChecksum {
            let sum = bytes.withUnsafeBytes { XXH.hash64(UnsafeRawBufferPointer(rebasing: $0[8..<h.frameLength])) }
            withUnsafeBytes(of: sum.littleEndian) { for i in 0..<8 { bytes[i] = $0[i] } }
            h.checksum = sum
        }
        try bytes.withUnsafeBytes { raw in
            guard FrameCodec.checksumMatches(raw, header: h) else { return }
            var out: [UInt8] = []
            try FrameCodec.decodeBlockPayload(UnsafeRawBufferPointer(rebasing: raw[Format.frameHeaderSize..<h.frameLength]), header: h,
                                              dictionary: nil, segmentVersion: Format.newestReadableSegmentVersion,
                                              into: &out, path: "fuzz", offset: 0)
            precondition(out.count == h.rawLength, "decoded size differs from the declared raw length")
            try out.withUnsafeBytes { block in
                var it = EntryIterator(block, path: "fuzz", blockOffset: 0)
                while let (kind, body, _) = try it.next() {
                    var r = body
                    if kind == EntryKind.example.rawValue { _ = try RecordCodec.decodeExampleBody(&r) }
                }
            }
        }
    }
    return 0
}
