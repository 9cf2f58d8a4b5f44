import Foundation
import Testing
@testable import Strata

/// SIGKILLs real `strata ingest` processes at varied moments — during store
/// creation, recovery, ingest, commits, sealing on close — into fresh stores
/// and stores that already hold sealed data, sometimes twice in a row (the
/// second kill lands in the recovery of the first), and checks each time:
/// every example acknowledged by a commit event (`--json` prints
/// `{"event":"commit","read":N,...}` after each durable commit; the first N
/// input lines are then committed) is present and identical; nothing returned
/// is partial or foreign; recovery is complete (a second open finds nothing to
/// do) and a snapshot reader sees the same store.
@Suite(.serialized) struct RealProcessCrashTests {
    /// Distinct examples over 3 domains × 3 months, as JSONL; shared by all iterations.
    struct Input {
        let path: String
        let lines: [Example]
        let byID: [ExampleID: Example]
        static let shared = try! Input(count: 900)

        init(count: Int) throws {
            path = temporaryStorePath("killInput") + ".jsonl"
            var text = ""
            var lines: [Example] = []
            for i in 0..<count {
                let domain = ["claims", "notes", "chat"][i % 3]
                let ts = Int64(1_735_689_600_000) + Int64(i % 3) * 2_678_400_000 + Int64(i)
                let prompt = "Prompt \(i) " + String(repeating: "lorem ipsum ", count: i % 13)
                let response = "Response \(i) é " + String(repeating: "dolor sit ", count: i % 17)
                let e = Example(content: .promptResponse(prompt: prompt, response: response), domain: domain, timestampMillis: ts,
                                qualityScore: Double(i % 10) / 10, tags: ["k\(i % 4)"], metadataJSON: #"{"i":\#(i)}"#)
                lines.append(e)
                text += #"{"prompt":"\#(prompt)","response":"\#(response)","domain":"\#(domain)","timestamp":\#(ts),"quality_score":\#(Double(i % 10) / 10),"tags":["k\#(i % 4)"],"metadata":{"i":\#(i)}}"# + "\n"
            }
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            self.lines = lines
            byID = Dictionary(uniqueKeysWithValues: lines.map { ($0.id, $0) })
        }

        /// A file with lines [from, to) of the input.
        func slice(_ from: Int, _ to: Int) throws -> String {
            let all = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            let p = path + "-\(from)-\(to).jsonl"
            if !FileManager.default.fileExists(atPath: p) {
                try (all[from..<to].joined(separator: "\n") + "\n").write(toFile: p, atomically: true, encoding: .utf8)
            }
            return p
        }
    }

    /// Runs `strata ingest STORE FILE --json`, kills it after `commits` commit
    /// events plus `delayMicros`, and returns how many leading lines of FILE
    /// were acknowledged as committed (all of them if the process finished).
    static func ingestAndKill(store: String, file: String, lines: Int, commitEvery: Int, commits: Int, delayMicros: UInt32) throws -> Int {
        let p = try CrashProcess(["ingest", store, file, "--json", "--commit-every", "\(commitEvery)"], readOutput: true)
        var seen = 0
        if commits > 0 {
            p.readLines { line in
                if line["event"] as? String == "commit" { seen += 1 }
                return seen >= commits
            }
        }
        p.kill(afterMicroseconds: delayMicros)
        let acknowledged = p.lines.filter { $0["event"] as? String == "commit" }.compactMap { $0["read"] as? Int }.max() ?? 0
        // The final summary is printed after close(): everything was committed.
        let finished = p.lines.contains { $0["event"] as? String != "commit" && $0["read"] is Int }
        return finished ? lines : acknowledged
    }

    /// Opens the store after the kills and checks it against what was acknowledged.
    static func verify(store: String, committed: [Example], context: String) throws {
        let input = Input.shared
        guard FileManager.default.fileExists(atPath: store + "/MANIFEST") else {
            #expect(committed.isEmpty, "\(context): no MANIFEST but \(committed.count) examples were acknowledged")
            return
        }
        let count: Int
        do {
            let s = try Store.open(at: store)
            var seen = Set<ExampleID>()
            try s.scan { e in
                #expect(input.byID[e.id] == e, "\(context): scan returned an example not in the input")
                #expect(seen.insert(e.id).inserted, "\(context): scan returned an example twice")
                return true
            }
            // Every acknowledged example was scanned (and so is identical to its input line)...
            let missing = committed.filter { !seen.contains($0.id) }
            #expect(missing.isEmpty, "\(context): \(missing.count) acknowledged examples lost")
            // ...and point reads agree (a sample: each get decompresses a block).
            for e in committed.enumerated().filter({ $0.offset % 37 == 0 || $0.offset == committed.count - 1 }).map(\.element) {
                #expect(try s.get(e.id) == e, "\(context): get of an acknowledged example failed")
            }
            #expect(s.count == seen.count, "\(context): count \(s.count) but scan saw \(seen.count)")
            count = s.count
            try s.close()
        }
        // Recovery was complete: the next open has nothing to repair, and a
        // snapshot reader agrees.
        let again = try Store.open(at: store)
        #expect(again.recoveryEvents.isEmpty, "\(context): second open still recovered: \(again.recoveryEvents)")
        #expect(again.count == count)
        try again.close()
        let r = try StoreReader(path: store)
        let seen = try r.count
        #expect(seen == count, "\(context): reader sees \(seen), writer \(count)")
        r.close()
    }

    @Test(arguments: 0..<120)
    func acknowledgedExamplesSurviveSIGKILLAtAnyMoment(iteration i: Int) throws {
        let input = Input.shared
        let store = temporaryStorePath("rkill\(i)")
        var committed: [Example] = []
        var base = 0
        // A third of the stores already hold sealed data from a completed run.
        if i % 3 == 1 {
            base = 200
            let n = try Self.ingestAndKill(store: store, file: try input.slice(0, base), lines: base, commitEvery: 100, commits: .max, delayMicros: 0)
            #expect(n == base, "the preparatory ingest did not finish")
            committed += input.lines[0..<base]
        }
        let file = try input.slice(base, input.lines.count)
        let lines = input.lines.count - base
        let commitEvery = [40, 120, 300][i % 3]
        let delay = UInt32((i &* 2_654_435_761) % 30_000)  // 0–30 ms after the chosen commit
        let n = try Self.ingestAndKill(store: store, file: file, lines: lines, commitEvery: commitEvery, commits: i % 5, delayMicros: delay)
        committed += input.lines[base..<(base + n)]
        var context = "iteration \(i): acknowledged \(n) of \(lines), commit every \(commitEvery), kill \(delay) µs after commit \(i % 5)"
        // Every fourth iteration: a second ingest of the rest, killed within
        // milliseconds — while it recovers what the first kill left.
        if i % 4 == 3 && base + n < input.lines.count {
            let rest = try input.slice(base + n, input.lines.count)
            let m = try Self.ingestAndKill(store: store, file: rest, lines: input.lines.count - base - n, commitEvery: 40,
                                           commits: 0, delayMicros: UInt32(1_000 + (i * 977) % 12_000))
            committed += input.lines[(base + n)..<(base + n + m)]
            context += "; second kill acknowledged \(m)"
        }
        print("kill \(context)")
        try Self.verify(store: store, committed: committed, context: context)
        try? FileManager.default.removeItem(atPath: store)
    }
}
