// libFuzzer target: crash recovery (SPEC.md §7) over an arbitrary active
// segment. Each input becomes the bytes of the one segment a store's manifest
// lists as active, on a fresh in-memory file system (the test suite's
// SimulatedFileSystem from the StrataTestSupport target, compiled in); then the store is opened (walk, torn-tail
// truncation, sealing) and scanned. Open may fail only with a StrataError;
// every example a scan returns must be whole (the decoder re-derives its id
// from its content) and be exactly what `get` returns for its id; recovery
// must leave a store that reopens with nothing left to repair.
import Foundation
@testable import Strata

let storePath = "/sim/store"
let segmentPath = storePath + "/domain=d/month=2025-01/seg-0000000001.strata"

/// Manifest and segment bytes of a real store whose writer stopped after a commit.
let template: (manifest: [UInt8], segment: [UInt8], examples: [ExampleID: Example]) = {
    let fs = SimulatedFileSystem()
    var o = StoreOptions()
    o.fileSystem = fs
    o.commitPolicy = .manual
    o.blockTargetBytes = 300
    let ex = (0..<6).map { i in
        Example(content: .promptResponse(prompt: "p\(i)", response: String(repeating: "r", count: (i + 1) * 40)), domain: "d",
                timestampMillis: 1_735_689_600_000 + Int64(i), qualityScore: i % 2 == 0 ? 0.5 : nil, tags: ["t"], metadataJSON: #"{"i":\#(i)}"#)
    }
    let s = try! Store.open(at: storePath, options: o)
    try! s.append(contentsOf: ex)
    try! s.commit()
    let m = fs.contents(storePath + "/MANIFEST")!
    let seg = fs.contents(segmentPath)!
    if let dir = ProcessInfo.processInfo.environment["STRATA_WRITE_RECOVERY_SEED"] {
        try! Data(seg).write(to: URL(fileURLWithPath: dir + "/active-segment"))
    }
    return (m, seg, Dictionary(uniqueKeysWithValues: ex.map { ($0.id, $0) }))
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let t = template
    let fs = SimulatedFileSystem()
    do {
        try fs.createDirectory(storePath + "/domain=d/month=2025-01", mode: 0o700)
        let m = try fs.openWritable(storePath + "/MANIFEST", mode: 0o600)
        try m.write(t.manifest)
        let f = try fs.openWritable(segmentPath, mode: 0o600)
        try f.write(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        fatalError("setup failed: \(error)")
    }
    var o = StoreOptions()
    o.fileSystem = fs
    expectStrataError {
        let s = try Store.open(at: storePath, options: o)
        defer { try? s.close() }
        var scanned: [Example] = []
        try s.scan { e in scanned.append(e); return true }
        for e in scanned { let got = try s.get(e.id); precondition(got == e, "scan and get disagree after recovery") }
        _ = t.examples
        // Recovery must leave a store that reopens cleanly.
        try s.close()
        let again = try Store.open(at: storePath, options: o)
        precondition(again.recoveryEvents.allSatisfy { $0.kind == .removedTemporary }, "second open still recovering: \(again.recoveryEvents)")
        try again.close()
    }
    return 0
}
