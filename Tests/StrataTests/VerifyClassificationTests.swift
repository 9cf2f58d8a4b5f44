import Foundation
import Testing
@testable import Strata

/// `strata verify` never cries wolf: after a killed ingest or compaction it
/// says "recoverable" (exit 3), never "damaged" (65); `--repair` recovers and
/// then reports intact (0); while a writer ingests or compacts, an intact
/// store verifies as intact. All with real processes.
@Suite(.serialized) struct VerifyClassificationTests {
    static func verify(_ store: String, _ extra: [String] = []) throws -> CLIResult {
        try runStrata(["verify", store, "--quiet"] + extra)
    }

    @Test func verifyAfterAKilledIngestIsRecoverableNeverDamagedAndRepairMakesItIntact() throws {
        let input = RealProcessCrashTests.Input.shared
        let file = try input.slice(0, 600)
        var statuses: [Int32: Int] = [:]
        for i in 0..<16 {
            let store = temporaryStorePath("vkill\(i)")
            if i % 2 == 1 {  // half the stores hold sealed data from an earlier, completed run
                #expect(try runStrata(["ingest", store, try input.slice(600, 700)]).status == 0)
            }
            _ = try RealProcessCrashTests.ingestAndKill(store: store, file: file, lines: 600, commitEvery: 30,
                                                        commits: 1 + i % 5, delayMicros: UInt32((i * 7_919) % 40_000))
            guard FileManager.default.fileExists(atPath: store + "/MANIFEST") else { continue }
            let r = try Self.verify(store)
            statuses[r.status, default: 0] += 1
            #expect(r.status == 0 || r.status == 3, "trial \(i): verify exit \(r.status) after a killed ingest:\n\(r.stdout)\(r.stderr)")
            if r.status == 3 { #expect(r.stdout.contains("RECOVERABLE"), "trial \(i): \(r.stdout)") }
            let repaired = try Self.verify(store, ["--repair"])
            #expect(repaired.status == 0, "trial \(i): verify --repair exit \(repaired.status):\n\(repaired.stdout)\(repaired.stderr)")
            try? FileManager.default.removeItem(atPath: store)
        }
        print("verify after killed ingest: exit codes \(statuses)")
    }

    @Test func verifyAfterAKilledCompactionIsRecoverableNeverDamaged() throws {
        var statuses: [Int32: Int] = [:]
        for i in 0..<12 {
            let store = temporaryStorePath("vckill\(i)")
            try FileManager.default.copyItem(atPath: CompactionKillTests.template, toPath: store)
            // Every compaction step (the fault-injecting runner ends itself there), then
            // the product killed at random moments.
            if i < 7 {
                let p = try CrashProcess(["compact", store, "--dictionary", "never", "--block-kib", "16", "--crash-at", "\(i + 1)"], binary: faultBinary)
                p.wait()
                #expect(p.status == 137, "trial \(i): the compaction did not reach step \(i + 1)")
            } else {
                try CrashProcess(["compact", store, "--no-dictionary", "--block-kib", "16"]).kill(afterMicroseconds: UInt32(50_000 + i * 37_000))
            }
            let r = try Self.verify(store)
            statuses[r.status, default: 0] += 1
            #expect(r.status == 0 || r.status == 3, "trial \(i): verify exit \(r.status) after a killed compaction:\n\(r.stdout)\(r.stderr)")
            let repaired = try Self.verify(store, ["--repair"])
            #expect(repaired.status == 0, "trial \(i): verify --repair exit \(repaired.status):\n\(repaired.stdout)\(repaired.stderr)")
            try? FileManager.default.removeItem(atPath: store)
        }
        print("verify after killed compaction: exit codes \(statuses)")
    }

    @Test func verifyWhileAWriterIngestsOrCompactsReportsAnIntactStoreIntact() throws {
        let input = RealProcessCrashTests.Input.shared
        var runs = 0
        var bad: [String] = []
        for phase in ["ingest", "compact"] {
            let store = temporaryStorePath("vlive\(phase)")
            try FileManager.default.copyItem(atPath: CompactionKillTests.template, toPath: store)
            let p = try CrashProcess(phase == "ingest"
                ? ["ingest", store, try input.slice(0, 900), "--commit-every", "5"]  // duplicates: appends duplicate-seen entries
                : ["compact", store, "--no-dictionary", "--block-kib", "4"])
            while p.isRunning {
                let r = try Self.verify(store)
                runs += 1
                if r.status != 0 { bad.append("\(phase): exit \(r.status):\n\(r.stdout)") }
            }
            p.wait()
            try? FileManager.default.removeItem(atPath: store)
        }
        print("verify runs during a live writer: \(runs), not intact: \(bad.count)")
        #expect(runs >= 2)
        #expect(bad.isEmpty, "\(bad.count) of \(runs): \(bad.prefix(3))")
    }
}
