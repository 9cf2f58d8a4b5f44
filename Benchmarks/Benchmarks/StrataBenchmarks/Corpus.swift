import Foundation
import Strata

/// The benchmark corpus: JSONL from tools/gen_corpus.py (deterministic), made
/// once and cached under /tmp. Size from STRATA_BENCH_MB (default 64).
enum Corpus {
    static let megabytes = Int(ProcessInfo.processInfo.environment["STRATA_BENCH_MB"] ?? "") ?? 64

    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let path: String = {
        let p = "/tmp/strata-bench-corpus-\(megabytes)mb.jsonl"
        if !FileManager.default.fileExists(atPath: p) {
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            proc.arguments = ["python3", root + "/tools/gen_corpus.py", "--size-mb", String(megabytes), "--seed", "42", "--out", p + ".tmp"]
            try! proc.run()
            proc.waitUntilExit()
            precondition(proc.terminationStatus == 0, "corpus generation failed")
            try! FileManager.default.moveItem(atPath: p + ".tmp", toPath: p)
        }
        return p
    }()

    static let bytes: [UInt8] = Array(FileManager.default.contents(atPath: path)!)

    /// Parsed examples of the corpus (for library-level append benchmarks).
    static let examples: [Example] = {
        let store = scratchStore("parse")
        defer { try? store.close() }
        let ing = try! Ingester(store: store, mapping: IngestMapping())
        try! ing.ingest(data: bytes)
        var out: [Example] = []
        try! store.scan { out.append($0); return true }
        return out
    }()

    static func scratchStore(_ name: String, options: StoreOptions = StoreOptions()) -> Store {
        let p = "/tmp/strata-bench-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        return try! Store.open(at: p, options: options)
    }

    /// A committed, closed store holding the corpus (built once).
    static let storePath: String = {
        let p = "/tmp/strata-bench-store-\(megabytes)mb-\(getpid())"
        try? FileManager.default.removeItem(atPath: p)
        var o = StoreOptions()
        o.commitPolicy = .manual
        let s = try! Store.open(at: p, options: o)
        let ing = try! Ingester(store: s, mapping: IngestMapping())
        try! ing.ingest(data: bytes)
        try! ing.commit()
        try! s.close()
        return p
    }()

    /// The same store after `compactAll` (columnar zstd blocks, SPEC.md §3.6), built once.
    static let compactedStorePath: String = {
        let p = "/tmp/strata-bench-compacted-\(megabytes)mb-\(getpid())"
        try? FileManager.default.removeItem(atPath: p)
        let s = try! Store.open(at: p)
        let ing = try! Ingester(store: s, mapping: IngestMapping())
        try! ing.ingest(data: bytes)
        try! ing.commit()
        _ = try! s.compactAll()
        try! s.close()
        return p
    }()

    static func removeStore(_ s: Store) {
        let p = s.path
        try? s.close()
        try? FileManager.default.removeItem(atPath: p)
    }
}
