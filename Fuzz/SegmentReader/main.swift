// libFuzzer target: a whole segment file (SPEC.md §3): header, trailer,
// footer, frame walk (torn tail vs damage), and reading every block.
@testable import Strata

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let path = "/fuzz/domain=d/month=2025-01/seg-0000000001.strata"
    let fs = OneFileSystem(path: path, bytes: Array(UnsafeBufferPointer(start: data, count: size)))
    let key = PartitionKey(domain: "d", month: Month("2025-01")!)
    for sealed in [false, true] {
        expectStrataError {
            let f = try SegmentFile(fs: fs, path: path, sequence: 1, partition: key, expectSealed: sealed)
            defer { f.close() }
            var offsets: [Int64] = []
            if let footer = f.footer { offsets = footer.blocks.map(\.offset) } else {
                let w = try f.walk()
                precondition(w.validEnd + w.tornBytes <= Int64(size), "walk claims more bytes than the file has")
                offsets = w.blocks.map(\.offset)
            }
            var out: [UInt8] = [], scratch: [UInt8] = []
            for o in offsets {
                let h = try f.readBlock(at: o, into: &out, scratch: &scratch)
                try out.withUnsafeBytes { block in
                    var it = EntryIterator(block, path: path, blockOffset: o)
                    var n = 0
                    while let (kind, body, _) = try it.next() {
                        var r = body
                        if kind == EntryKind.example.rawValue { _ = try RecordCodec.decodeExampleBody(&r) }
                        n += 1
                    }
                    _ = h
                }
            }
        }
    }
    return 0
}
