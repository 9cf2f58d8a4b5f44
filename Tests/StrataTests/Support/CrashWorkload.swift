import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// What a workload did, from the point of view of a client that only trusts
/// what the API acknowledged.
struct Ledger {
    /// Examples whose `commit()` (or `close()`) returned: must survive anything.
    var committed: [ExampleID: Example] = [:]
    /// Every example ever handed to `append`: the only things a reader may return.
    var appended: [ExampleID: Example] = [:]
    /// Appended since the last acknowledged commit.
    var pending: [ExampleID: Example] = [:]
    /// The first error the workload hit (power loss or injected fault).
    var stoppedBy: Error?

    mutating func acknowledgeCommit() {
        committed.merge(pending) { a, _ in a }
        pending = [:]
    }
}

/// A seeded ingest/commit/close/reopen workload over a store on `fs`.
/// Deterministic for a given seed, so a dry run tells how many file-system
/// operations a full run makes and what they are.
struct CrashWorkload {
    let seed: UInt64
    let options: StoreOptions
    let pool: [Example]
    let storePath: String

    init(seed: UInt64, fs: SimulatedFileSystem) {
        self.seed = seed
        var rng = SeededRNG(seed: seed)
        var o = StoreOptions()
        o.fileSystem = fs
        o.commitPolicy = .manual
        o.segmentTargetBytes = [2 << 10, 6 << 10, 64 << 10].randomElement(using: &rng)!
        o.blockTargetBytes = [256, 1 << 10, 4 << 10].randomElement(using: &rng)!
        options = o
        pool = makeExamples(90, seed: Int(seed % 997) + 1, domains: ["alpha", "beta", "gamma"], months: 2)
        storePath = fs.root + "/store"
    }

    func options(on fs: SimulatedFileSystem) -> StoreOptions {
        var o = options
        o.fileSystem = fs
        return o
    }

    /// Runs until done or until the first error, which is recorded in the ledger.
    func run(on fs: SimulatedFileSystem) -> Ledger {
        var ledger = Ledger()
        var rng = SeededRNG(seed: seed ^ 0xA5A5)
        var next = 0
        do {
            let sessions = Int.random(in: 1...3, using: &rng)
            for _ in 0..<sessions {
                let store = try Store.open(at: storePath, options: options(on: fs))
                let rounds = Int.random(in: 2...5, using: &rng)
                for _ in 0..<rounds {
                    let k = Int.random(in: 1...10, using: &rng)
                    var batch = Array(pool[min(next, pool.count)..<min(next + k, pool.count)])
                    next += k
                    // Re-append something already seen now and then: must stay a duplicate.
                    if next > k, Bool.random(using: &rng) { batch.append(pool[Int.random(in: 0..<min(next - k, pool.count), using: &rng)]) }
                    if batch.isEmpty { break }
                    for e in batch { ledger.appended[e.id] = e; ledger.pending[e.id] = e }
                    try store.append(contentsOf: batch)
                    if Int.random(in: 0..<10, using: &rng) < 7 {
                        try store.commit()
                        ledger.acknowledgeCommit()
                    }
                }
                if Int.random(in: 0..<10, using: &rng) < 6 {
                    try store.close()
                    ledger.acknowledgeCommit()
                }
                // Otherwise the writer is dropped without close(): its deinit
                // closes it, which may commit more, but nothing is acknowledged.
            }
        } catch {
            ledger.stoppedBy = error
        }
        return ledger
    }
}

/// Checks a recovered store against the ledger: every committed example is
/// present and identical; everything returned was appended, exactly.
func verifyRecovered(_ store: Store, _ ledger: Ledger, context: String) throws {
    for (id, e) in ledger.committed {
        let got = try store.get(id)
        #expect(got == e, "committed example \(id) lost or changed (\(context))")
    }
    var seen = Set<ExampleID>()
    try store.scan { e in
        #expect(ledger.appended[e.id] == e, "scan returned an example that was never appended (\(context))")
        #expect(seen.insert(e.id).inserted, "scan returned \(e.id) twice (\(context))")
        return true
    }
    #expect(Set(ledger.committed.keys).isSubset(of: seen), "scan misses committed examples (\(context))")
    #expect(store.count == seen.count, "count \(store.count) != scanned \(seen.count) (\(context))")
}

/// Opens the store on a post-crash file system, verifies it, and checks it is
/// writable again (append, commit, reopen).
func reopenAndVerify(_ w: CrashWorkload, on fs: SimulatedFileSystem, _ ledger: Ledger, context: String) throws {
    let store = try Store.open(at: w.storePath, options: w.options(on: fs))
    try verifyRecovered(store, ledger, context: context)
    let extra = makeExamples(3, seed: 5000 + Int(w.seed % 1000), domains: ["alpha"], months: 1)
    try store.append(contentsOf: extra)
    try store.close()
    var ledger2 = ledger
    for e in extra { ledger2.appended[e.id] = e; ledger2.committed[e.id] = e }
    let again = try Store.open(at: w.storePath, options: w.options(on: fs))
    defer { try? again.close() }
    try verifyRecovered(again, ledger2, context: context + ", after a second session")
}
