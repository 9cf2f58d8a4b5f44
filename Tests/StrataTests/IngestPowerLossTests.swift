import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// The real ingest path (two-stage `Ingester`, the engine of `strata ingest`)
/// under simulated power loss. SIGKILL tests cannot check fsync (the page cache
/// survives a killed process); these do: every line acknowledged by an
/// `onCommit` summary (`read` = lines committed, in input order) must survive
/// losing everything that was not fsynced.
@Suite struct IngestPowerLossTests {
    static func input(_ n: Int, seed: Int) -> (text: [UInt8], lines: [Example]) {
        var text = ""
        var lines: [Example] = []
        for i in 0..<n {
            let k = i + seed * 10_007
            let domain = ["x", "y"][k % 2]
            let ts = Int64(1_735_689_600_000) + Int64(k % 2) * 2_678_400_000 + Int64(k)
            let prompt = "Q\(k) " + String(repeating: "abc ", count: k % 9)
            let e = Example(content: .promptResponse(prompt: prompt, response: "A\(k)"), domain: domain, timestampMillis: ts,
                            metadataJSON: #"{"k":\#(k)}"#)
            lines.append(e)
            text += #"{"prompt":"\#(prompt)","response":"A\#(k)","domain":"\#(domain)","timestamp":\#(ts),"metadata":{"k":\#(k)}}"# + "\n"
        }
        return (Array(text.utf8), lines)
    }

    /// Runs an ingest of `text` into a store on `fs`; returns lines acknowledged as committed.
    static func ingest(_ text: [UInt8], fs: SimulatedFileSystem, commitEvery: Int) -> Int {
        var acknowledged = 0
        var o = StoreOptions()
        o.fileSystem = fs
        o.commitPolicy = .manual
        o.segmentTargetBytes = 8 << 10
        o.blockTargetBytes = 1 << 10
        do {
            let store = try Store.open(at: "/sim/store", options: o)
            let ing = try Ingester(store: store, mapping: IngestMapping())
            ing.commitEveryRecords = commitEvery
            ing.onCommit = { acknowledged = $0.read }
            let half = text.count / 2
            let cut = text[..<half].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
            try ing.ingest(data: Array(text[..<cut]))
            try ing.ingest(data: Array(text[cut...]))
            try ing.commit()
            try store.close()
            acknowledged = ing.summary.read
        } catch {}
        return acknowledged
    }

    @Test func ingestAcknowledgementsSurvivePowerLoss() throws {
        var partial = 0
        defer { #expect(partial >= 20, "only \(partial) of 80 power cuts landed mid-ingest: the test is not exercising commits") }
        for seed in 1...80 {
            let (text, lines) = Self.input(150, seed: seed)
            let byID = Dictionary(uniqueKeysWithValues: lines.map { ($0.id, $0) })
            let commitEvery = [7, 25, 60][seed % 3]
            let dry = SimulatedFileSystem(seed: UInt64(seed))
            #expect(Self.ingest(text, fs: dry, commitEvery: commitEvery) == lines.count)
            var rng = SeededRNG(seed: UInt64(seed) &* 1_000_003)
            let fs = SimulatedFileSystem(seed: UInt64(seed))
            fs.cutPowerAfter = Int.random(in: 0...dry.operationCount, using: &rng)
            let acknowledged = Self.ingest(text, fs: fs, commitEvery: commitEvery)
            if acknowledged > 0 && acknowledged < lines.count { partial += 1 }
            let after = fs.crash(seed: UInt64(seed), mode: seed % 2 == 0 ? .tornWrite : .dropUnsynced)
            let context = "seed \(seed): power cut after op \(fs.cutPowerAfter!) of \(dry.operationCount), \(acknowledged) lines acknowledged"
            var o = StoreOptions()
            o.fileSystem = after
            guard after.fileExists("/sim/store/MANIFEST") else {
                #expect(acknowledged == 0, "\(context): store vanished")
                continue
            }
            let store = try Store.open(at: "/sim/store", options: o)
            defer { try? store.close() }
            var seen = Set<ExampleID>()
            try store.scan { e in
                #expect(byID[e.id] == e, "\(context): foreign or damaged example")
                seen.insert(e.id)
                return true
            }
            let lost = lines.prefix(acknowledged).filter { !seen.contains($0.id) }.count
            #expect(lost == 0, "\(context): \(lost) acknowledged lines lost")
        }
    }
}
