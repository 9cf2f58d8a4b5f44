import Foundation
import Testing
@testable import Strata

/// SIGKILLs real `strata compact` processes at varied moments: every example
/// stays present exactly once and identical, recovery is complete (a second
/// open has nothing to repair), and a snapshot reader agrees.
@Suite(.serialized) struct CompactionKillTests {
    /// A store with three sealed segments per partition (three completed ingests), built once.
    static let template: String = {
        let input = RealProcessCrashTests.Input.shared
        let path = temporaryStorePath("compactTemplate")
        for (a, b) in [(0, 300), (300, 600), (600, 900)] {
            let r = try! runStrata(["ingest", path, try! input.slice(a, b), "--json"])
            precondition(r.status == 0, "template ingest failed: \(r.stderr)")
        }
        return path
    }()

    @Test(arguments: 0..<30)
    func compactionKilledAtAnyMomentLosesNothing(iteration i: Int) throws {
        let input = RealProcessCrashTests.Input.shared
        let store = temporaryStorePath("ckill\(i)")
        try FileManager.default.copyItem(atPath: Self.template, toPath: store)
        let p = try CrashProcess(["compact", store, "--no-dictionary", "--block-kib", "16", "--json"])
        let delay = UInt32((i * 16_699) % 500_000)  // 0–500 ms: a full run takes ~0.4 s (startup, 3 partitions: rewrite, swap; index rebuild)
        let killed = p.kill(afterMicroseconds: delay)
        let context = "iteration \(i): killed after \(delay) µs (exit reason \(killed ? "killed" : "finished"))"
        var count = 0
        do {
            let s = try Store.open(at: store)
            var seen: [ExampleID: Int] = [:]
            try s.scan { e in
                #expect(input.byID[e.id] == e, "\(context): wrong data")
                seen[e.id, default: 0] += 1
                return true
            }
            #expect(seen.count == input.lines.count, "\(context): \(input.lines.count - seen.count) examples lost")
            #expect(seen.values.allSatisfy { $0 == 1 }, "\(context): an example appears twice")
            count = s.count
            try s.close()
        }
        let again = try Store.open(at: store)
        #expect(again.recoveryEvents.isEmpty, "\(context): second open still recovering: \(again.recoveryEvents)")
        try again.close()
        let r = try StoreReader(path: store)
        let seen = try r.count
        #expect(seen == count, "\(context): reader sees \(seen), writer \(count)")
        r.close()
        try? FileManager.default.removeItem(atPath: store)
    }
}
