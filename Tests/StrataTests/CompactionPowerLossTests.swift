import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// Compaction rewrites sealed segments and swaps them in (SPEC.md §7): a power
/// loss at any operation of it must leave every committed example readable,
/// identical and present exactly once.
@Suite struct CompactionPowerLossTests {
    static func options(_ fs: SimulatedFileSystem) -> StoreOptions {
        var o = StoreOptions()
        o.fileSystem = fs
        o.commitPolicy = .manual
        o.segmentTargetBytes = 3 << 10
        o.blockTargetBytes = 512
        return o
    }

    /// Fills a store (sealed segments), then compacts; returns the op count before compaction.
    static func run(_ fs: SimulatedFileSystem, _ ex: [Example]) -> Int {
        var before = 0
        do {
            let s = try Store.open(at: "/sim/store", options: options(fs))
            try s.append(contentsOf: ex)
            try s.close()
            before = fs.operationCount
            let s2 = try Store.open(at: "/sim/store", options: options(fs))
            var co = CompactionOptions()
            co.dictionary = .never
            co.blockTargetBytes = 2 << 10
            _ = try s2.compactAll(options: co)
            try s2.close()
        } catch {}
        return before
    }

    @Test func compactionInterruptedByPowerLossLosesNothing() throws {
        var landed = 0
        for seed in UInt64(1)...24 {
            let ex = makeExamples(160, seed: Int(seed), domains: ["alpha", "beta"], months: 1)
            let dry = SimulatedFileSystem(seed: seed)
            let before = Self.run(dry, ex)
            let total = dry.operationCount
            #expect(total > before + 5, "seed \(seed): compaction did no file-system work")
            var rng = SeededRNG(seed: seed &* 77)
            let fs = SimulatedFileSystem(seed: seed)
            fs.cutPowerAfter = Int.random(in: before...total, using: &rng)
            _ = Self.run(fs, ex)
            if fs.isDead { landed += 1 }
            let after = fs.crash(seed: seed, mode: seed % 2 == 0 ? .tornWrite : .dropUnsynced)
            let context = "seed \(seed): power cut after op \(fs.cutPowerAfter!) (compaction ops \(before)...\(total))"
            do {
                let s = try Store.open(at: "/sim/store", options: Self.options(after))
                defer { try? s.close() }
                var seen: [ExampleID: Int] = [:]
                let byID = Dictionary(uniqueKeysWithValues: ex.map { ($0.id, $0) })
                try s.scan { e in
                    #expect(byID[e.id] == e, "\(context): wrong data")
                    seen[e.id, default: 0] += 1
                    return true
                }
                #expect(seen.count == ex.count, "\(context): \(ex.count - seen.count) committed examples lost")
                #expect(seen.values.allSatisfy { $0 == 1 }, "\(context): an example appears twice (old and new segments both live)")
                for e in ex.prefix(20) { #expect(try s.get(e.id) == e, "\(context): get") }
            } catch {
                Issue.record("\(context): reopen failed: \(error)")
            }
        }
        #expect(landed >= 12, "only \(landed) power cuts landed inside compaction")
    }
}
