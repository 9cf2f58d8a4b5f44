import Foundation
import Testing
@testable import Strata
import StrataTestSupport

@Suite struct CompactionCLITests {
    @Test func annotateThenGetShowsFoldedRawAndHistory() throws {
        let path = temporaryStorePath()
        let ex = try makeCompactableStore(path, examples: 600)
        let pr = ex.dropFirst(2).first { $0.shape == .promptResponse }!  // not annotated by makeCompactableStore
        var r = try runStrata(["annotate", path, pr.id.hex, "--correction", "Fixed by CLI", "--reason", "spec"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try runStrata(["annotate", path, pr.id.hex, "--feedback", "positive", "--rating", "5"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try runStrata(["get", path, pr.id.hex])
        #expect(r.jsonLines.first?["response"] as? String == "Fixed by CLI")
        #expect(r.jsonLines.first?["id"] as? String == pr.id.hex)
        r = try runStrata(["get", path, pr.id.hex, "--raw", "--history"])
        #expect(r.jsonLines.first?["response"] as? String == pr.content.responseOrNil)
        #expect(r.jsonLines.dropFirst().map { $0["kind"] as? String } == ["correction", "feedback"])
        r = try runStrata(["annotate", path, String(repeating: "0", count: 32), "--exclude"])
        #expect(r.status == 64)
        #expect(r.stderr.contains(String(repeating: "0", count: 32)))
        r = try runStrata(["annotate", path, pr.id.hex, "--exclude", "--include"])
        #expect(r.status == 64)
    }

    @Test func compactCommandReportsBytesBeforeAndAfterAsJSON() throws {
        let path = temporaryStorePath()
        _ = try makeCompactableStore(path, examples: 1500)
        let before = try foldedView(StoreReader(path: path))
        let r = try runStrata(["compact", path, "--partition", "domain=roofing/month=2025-01", "--level", "5", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.jsonLines
        let part = try #require(lines.first)
        #expect(part["partition"] as? String == "domain=roofing/month=2025-01")
        let b = try #require(part["bytes_before"] as? Int), a = try #require(part["bytes_after"] as? Int)
        #expect(a > 0 && a < b)
        #expect(part["seconds"] is Double)
        #expect(lines.last?["bytes_after"] as? Int == a)
        #expect(try foldedView(StoreReader(path: path)) == before)
        #expect(try runStrata(["compact", path, "--partition", "nonsense"]).status == 64)
    }

    /// Ends a real compaction process (_exit(137), on the fault-injecting file system) at
    /// every step; reopening with the product must give before or after.
    @Test func killedCompactProcessLeavesTheStoreBeforeOrAfterAtEveryStep() throws {
        for step in CompactionStep.allCases {
            let path = temporaryStorePath("kill\(step.rawValue)")
            _ = try makeCompactableStore(path, examples: 1200)
            let beforeFiles = segmentFiles(path)
            let before = try foldedView(StoreReader(path: path))
            let r = try runStrata(["compact", path, "--segment-mib", "1", "--crash-at", "\(step.rawValue)", "--dictionary", "always"],
                                  binary: faultBinary)
            #expect(r.status == 137, "step \(step): \(r.stderr)")
            let store = try Store.open(at: path)
            #expect(try foldedView(store) == before, "step \(step)")
            #expect(store.count == before.count)
            let files = segmentFiles(path)
            let isBefore = files == beforeFiles
            let isAfter = files.filter { $0.hasSuffix(".strata") }.isDisjoint(with: beforeFiles)
            #expect(isBefore || isAfter, "step \(step): \(files.sorted())")
            #expect(isBefore == (step.rawValue < CompactionStep.manifestSwapped.rawValue), "step \(step)")
            try store.close()
        }
    }
}

extension Content {
    var responseOrNil: String? {
        if case let .promptResponse(_, r) = self { return r }
        return nil
    }
}
