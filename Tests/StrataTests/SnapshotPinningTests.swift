import Foundation
import Testing
@testable import Strata

/// A snapshot pins what it reads (SPEC.md §7.2): real reader processes
/// (`scan`, `stats`, `export`, `get`) never fail and always see every example
/// while a real `strata compact` process merges and deletes the segments
/// they are reading.
@Suite(.serialized) struct SnapshotPinningTests {
    static let examples = makeExamples(720, seed: 12, domains: (0..<10).map { "d\($0)" }, months: 3)

    /// 12 writer sessions of 60 examples: each seals one small segment in each
    /// of the 30 partitions (360 sealed segments), like a pipeline appending in
    /// many short runs.
    static let template: String = {
        let path = temporaryStorePath("pinTemplate")
        for run in 0..<12 {
            let s = try! Store.open(at: path)
            try! s.append(contentsOf: Array(examples[(run * 60)..<((run + 1) * 60)]))
            try! s.close()
        }
        return path
    }()

    /// One reader process of the kind `i % 4`; nil when it succeeded with the full count.
    static func read(_ store: String, kind i: Int, scratch: String) -> String? {
        let n = examples.count
        do {
            switch i % 4 {
            case 0:
                let r = try runStrata(["scan", store])
                let lines = r.stdout.split(separator: "\n").count
                return r.status == 0 && lines == n ? nil : "scan exit \(r.status), \(lines) lines: \(r.stderr)"
            case 1:
                let r = try runStrata(["stats", store, "--json"])
                let obj = r.jsonLines.first
                let total = (obj?["by_domain"] as? [String: Int])?.values.reduce(0, +) ?? -1
                return r.status == 0 && total == n ? nil : "stats exit \(r.status), \(total) examples: \(r.stderr)"
            case 2:
                let out = scratch + "/exp\(i)"
                let r = try runStrata(["export", store, "--out", out, "--json"])
                let rows = r.jsonLines.first?["rows"] as? Int ?? -1
                try? FileManager.default.removeItem(atPath: out)
                return r.status == 0 && rows == n ? nil : "export exit \(r.status), \(rows) rows: \(r.stderr)"
            default:
                let id = examples[(i * 37) % n].id
                let r = try runStrata(["get", store, id.hex])
                return r.status == 0 && r.stdout.contains(id.hex) ? nil : "get exit \(r.status): \(r.stderr)"
            }
        } catch {
            return "could not run: \(error)"
        }
    }

    @Test func readerProcessesNeverFailWhileACompactProcessDeletesTheirSegments() throws {
        let scratch = temporaryStorePath("pinScratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var runs = 0
        var failures: [String] = []
        for round in 0..<3 {
            let store = scratch + "/store\(round)"
            try FileManager.default.copyItem(atPath: Self.template, toPath: store)
            let compact = try CrashProcess(["compact", store, "--no-dictionary", "--json"])
            // Two reader loops, as long as the compaction runs.
            let results = Locked((runs: 0, failures: [String]()))
            DispatchQueue.concurrentPerform(iterations: 2) { t in
                var i = t
                while compact.isRunning {
                    let failure = Self.read(store, kind: i, scratch: scratch + "/t\(t)")
                    results.withLock {
                        $0.runs += 1
                        if let failure { $0.failures.append("round \(round), reader \(i % 4): \(failure)") }
                    }
                    i += 1
                }
            }
            compact.wait()
            #expect(compact.status == 0, "round \(round): compact failed")
            let (roundRuns, roundFailures) = results.load()
            // Both reader loops started a run while the compaction ran. (A fixed total
            // tracked the compaction's speed: 12 runs passed until compaction got ~20% faster.)
            #expect(roundRuns >= 2, "round \(round): only \(roundRuns) reader runs overlapped the compaction")
            runs += roundRuns
            failures += roundFailures
            // The compaction really replaced the small segments.
            let after = try StoreReader(path: store)
            #expect(after.manifest.segments.count == 30, "round \(round): \(after.manifest.segments.count) segments after compaction")
            #expect(try after.count == Self.examples.count)
            after.close()
        }
        print("reader runs during 3 compactions: \(runs), failed: \(failures.count)")
        #expect(failures.isEmpty, "\(failures.count) of \(runs) reader runs failed during compaction: \(failures.prefix(5))")
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// A sealed segment the manifest lists but that is gone is damage (exit 65
    /// naming the file), never a usage error (exit 64).
    @Test func missingListedSegmentIsCorruptionNotUsage() throws {
        let store = temporaryStorePath("pinMissing")
        try FileManager.default.copyItem(atPath: Self.template, toPath: store)
        let r0 = try StoreReader(path: store)
        let victim = r0.manifest.segments[5]
        r0.close()
        let p = store + "/" + victim.partition.path + "/" + Format.segmentFileName(victim.sequence)
        try FileManager.default.removeItem(atPath: p)
        for args in [["scan", store], ["stats", store], ["export", store, "--out", store + "-exp"]] {
            let r = try runStrata(args)
            #expect(r.status == 65, "\(args[0]) exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains(Format.segmentFileName(victim.sequence)), "\(args[0]): \(r.stderr)")
        }
        try? FileManager.default.removeItem(atPath: store)
    }
}
