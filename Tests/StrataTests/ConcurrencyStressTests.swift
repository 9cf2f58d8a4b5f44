import Foundation
import Testing
@testable import Strata

/// A writer appends, commits and rolls segments while snapshot readers (threads
/// with their own file handles, as another process would have) and real
/// `strata stats` processes read: no reader ever sees a torn, foreign or
/// missing committed example.
@Suite(.serialized) struct ConcurrencyStressTests {
    // @unchecked: the counters are touched only under `lock` (through `read`).
    final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var committed = 0          // examples [0, committed) of the pool are committed
        var done = false
        var snapshots = 0
        func read<T>(_ f: (Shared) -> T) -> T { lock.lock(); defer { lock.unlock() }; return f(self) }
    }

    @Test func readersNeverSeeTornOrMissingCommittedExamplesWhileTheWriterRuns() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.segmentTargetBytes = 8 << 10   // roll (seal + manifest update) often
        o.blockTargetBytes = 2 << 10
        o.commitPolicy = .manual
        let pool = makeExamples(1500, seed: 77, domains: ["a", "b", "c"], months: 2)
        let byID = Dictionary(uniqueKeysWithValues: pool.map { ($0.id, $0) })
        let store = try Store.open(at: path, options: o)
        try store.append(contentsOf: Array(pool.prefix(20)))
        try store.commit()
        let shared = Shared()
        shared.committed = 20

        let writer = Thread {
            var next = 20
            while next < pool.count {
                let batch = Array(pool[next..<min(next + 15, pool.count)])
                do {
                    try store.append(contentsOf: batch)
                    try store.commit()
                } catch {
                    Issue.record("writer failed: \(error)")
                    break
                }
                next += batch.count
                shared.read { $0.committed = next }
            }
            shared.read { $0.done = true }
        }
        let readerFailures = Locked<[String]>([])
        @Sendable func fail(_ s: String) { readerFailures.withLock { $0.append(s) } }
        let group = DispatchGroup()
        for r in 0..<3 {
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    let (before, done) = shared.read { ($0.committed, $0.done) }
                    do {
                        let reader = try StoreReader(path: path)
                        defer { reader.close() }
                        var seen = Set<ExampleID>()
                        try reader.scan { e in
                            if byID[e.id] != e { fail("reader \(r): foreign or torn example \(e.id)") }
                            seen.insert(e.id)
                            return true
                        }
                        let missing = pool.prefix(before).filter { !seen.contains($0.id) }.count
                        if missing > 0 { fail("reader \(r): \(missing) examples committed before it opened are missing") }
                        let n = try reader.count
                        if n != seen.count { fail("reader \(r): count \(n) != scanned \(seen.count)") }
                        if let e = pool.prefix(before).randomElement(), try reader.get(e.id) != e { fail("reader \(r): get differs") }
                        shared.read { $0.snapshots += 1 }
                    } catch {
                        fail("reader \(r): \(error)")
                    }
                    if done { break }
                }
            }.start()
        }
        writer.start()
        // Reader processes too: `strata stats --json` must always succeed and
        // count at least what was committed when it started.
        var processRuns = 0
        while !shared.read({ $0.done }) {
            let before = shared.read { $0.committed }
            let res = try runStrata(["stats", path, "--json"])
            processRuns += 1
            #expect(res.status == 0, "strata stats failed while the writer ran: \(res.stderr)")
            if let obj = res.jsonLines.last, let n = obj["records"] as? Int {
                #expect(n >= before, "strata stats saw \(n) records, \(before) were committed before it started")
            } else {
                Issue.record("strata stats printed no records: \(res.stdout)")
            }
        }
        group.wait()
        try store.close()
        #expect(readerFailures.load().isEmpty, "\(readerFailures.load().prefix(5))")
        let snapshots = shared.read { $0.snapshots }
        print("concurrency stress: \(snapshots) reader snapshots, \(processRuns) stats processes")
        #expect(snapshots > 10)
    }
}
