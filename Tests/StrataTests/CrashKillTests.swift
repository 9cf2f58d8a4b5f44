import Foundation
import Testing
@testable import Strata

/// SIGKILLs a real `strata ingest` process at varied moments and checks that
/// every example it acknowledged as committed is intact, and that nothing
/// returned is partial or corrupt.
@Suite(.serialized) struct CrashKillTests {
    /// Writes `n` distinct prompt/response lines and returns the file and the examples.
    static func makeInput(_ n: Int, at path: String) throws -> [ExampleID: Example] {
        var text = ""
        var byID: [ExampleID: Example] = [:]
        for i in 0..<n {
            let prompt = "Question \(i): " + String(repeating: "how does the seam overlap work? ", count: 1 + i % 7)
            let response = "Answer \(i) — " + String(repeating: "it depends on the membrane. ", count: 1 + i % 11)
            let domain = ["roofing", "support", "sales"][i % 3]
            let ts = Int64(1_735_689_600_000) + Int64(i % 5) * 2_678_400_000
            let e = Example(content: .promptResponse(prompt: prompt, response: response), domain: domain, timestampMillis: ts,
                            metadataJSON: #"{"i":\#(i)}"#)
            byID[e.id] = e
            text += #"{"prompt":"\#(prompt)","response":"\#(response)","domain":"\#(domain)","timestamp":\#(ts),"metadata":{"i":\#(i)}}"# + "\n"
        }
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return byID
    }

    @Test(arguments: 0..<24)
    func committedExamplesSurviveSIGKILLDuringIngest(iteration: Int) throws {
        let store = temporaryStorePath("kill\(iteration)")
        let input = store + "-input.jsonl"
        let expected = try Self.makeInput(6000, at: input)
        // Commit every 250 records so kills land between, during and after commits.
        let p = try CrashProcess(["ingest", store, input, "--json", "--commit-every", "250"], readOutput: true)
        // Wait for a varied number of acknowledged commits (0–5), then kill after a varied
        // delay, so kills land before the first commit, between, during and after commits.
        let wantCommits = iteration % 6
        var commitsSeen = 0
        if wantCommits > 0 {
            p.readLines { line in
                if line["inserted"] is Int { commitsSeen += 1 }
                return commitsSeen >= wantCommits
            }
        }
        p.kill(afterMicroseconds: UInt32((iteration * 7919) % 15_000))
        let acknowledged = p.lines.compactMap { $0["inserted"] as? Int }.max() ?? 0

        guard FileManager.default.fileExists(atPath: store + "/MANIFEST") else {
            #expect(acknowledged == 0)
            return
        }
        let s = try Store.open(at: store)
        defer { try? s.close() }
        // Input order: the first `acknowledged` lines were committed.
        #expect(s.count >= acknowledged, "acknowledged \(acknowledged) but only \(s.count) recovered")
        print("kill iteration \(iteration): acknowledged \(acknowledged), recovered \(s.count), recovery: \(s.recoveryEvents.map(\.kind.rawValue))")
        var seen = 0
        try s.scan { e in
            #expect(expected[e.id] == e, "recovered example differs from input")
            seen += 1
            return true
        }
        #expect(seen == s.count)
        for (id, e) in expected.prefix(200) {
            if let got = try s.get(id) { #expect(got == e) }
        }
    }
}
