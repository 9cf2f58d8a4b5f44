import Foundation
import Testing
@testable import Strata

@Suite struct ExportCLITests {
    @Test func exportCommandWritesThenReportsUpToDateAndRawOutputReingests() throws {
        let store = temporaryStorePath()
        do {
            let s = try Store.open(at: store)
            try s.append(contentsOf: makeExamples(200))
            try s.close()
        }
        let out = temporaryStorePath("cli-out")
        let args = ["export", store, "--format", "jsonl", "--out", out, "--meta-header", "--domain", "alpha", "--min-quality", "0.2", "--json"]
        let first = try runStrata(args)
        #expect(first.status == 0, "\(first.stderr)")
        let a = try #require(first.jsonLines.last)
        #expect(a["up_to_date"] as? Bool == false)
        let want = makeExamples(200).filter { $0.domain == "alpha" && ($0.qualityScore ?? -1) >= 0.2 }.count
        #expect(a["rows"] as? Int == want)
        let second = try runStrata(args)
        #expect(second.jsonLines.last?["up_to_date"] as? Bool == true)
        // The CLI's own ingest reads the export back (the _meta line is skipped).
        let copy = temporaryStorePath("cli-copy")
        let ing = try runStrata(["ingest", copy, out + "/data.jsonl", "--json"])
        #expect(ing.status == 0, "\(ing.stderr)")
        #expect(ing.jsonLines.last?["inserted"] as? Int == want)
        // Human summary.
        let text = try runStrata(Array(args.dropLast()))
        #expect(text.stdout.contains("upToDate   true"))
    }

    @Test func exportCommandRejectsBadOptionsWithUsageExitCode() throws {
        let store = temporaryStorePath()
        do { let s = try Store.open(at: store); try s.append(contentsOf: makeExamples(3)); try s.close() }
        for bad in [["--format", "json", "--partitioned"], ["--split", "train=0.5"], ["--format", "xml"], ["--from-month", "2025-13"]] {
            let r = try runStrata(["export", store, "--out", temporaryStorePath("bad")] + bad)
            #expect(r.status == 64, "\(bad): \(r.stderr)")
        }
    }
}
