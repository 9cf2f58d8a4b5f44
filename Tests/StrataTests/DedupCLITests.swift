import Foundation
import Testing
@testable import Strata

@Suite struct DedupCLITests {
    private let lines = [
        #"{"prompt":"Hi  there","response":"yo","domain":"a","timestamp":"2025-01-01T00:00:00Z","metadata":{"source_key":"k1"}}"#,
        #"{"prompt":"Hi there ","response":"yo","domain":"b","timestamp":"2025-02-01T00:00:00Z","metadata":{"source_key":"k1"}}"#,
        #"{"prompt":"Hi there","response":"yo","domain":"b","timestamp":"2025-02-01T00:00:00Z","metadata":{"source_key":"k2"}}"#,
    ].joined(separator: "\n") + "\n"

    @Test func initFixesTheDedupKeyThatIngestThenUses() throws {
        let store = temporaryStorePath()
        let i = try runStrata(["init", store, "--dedup-key", "content+metadata.source_key", "--normalize", "whitespace", "--json"])
        #expect(i.status == 0, "\(i.stderr)")
        let r = try runStrata(["ingest", store, "--json"], stdin: Data(lines.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(r.jsonLines.last)
        #expect(summary["inserted"] as? Int == 2)
        #expect(summary["duplicates"] as? Int == 1)
        let stats = try #require(try runStrata(["stats", store, "--json"]).jsonLines.last)
        let dups = try #require(stats["duplicates"] as? [String: Any])
        #expect(dups["total"] as? Int == 1)
        #expect((dups["by_domain"] as? [String: Int]) == ["b": 1])
    }

    @Test func initWithAnotherKeyOnAnExistingStoreFailsWithUsage() throws {
        let store = temporaryStorePath()
        #expect(try runStrata(["init", store, "--dedup-key", "prompt_only"]).status == 0)
        #expect(try runStrata(["init", store, "--dedup-key", "prompt_only"]).status == 0)
        let r = try runStrata(["init", store, "--dedup-key", "content"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("dedup key"))
        #expect(try runStrata(["init", temporaryStorePath(), "--dedup-key", "content+bogus"]).status == 64)
    }

    @Test func indexRebuildRestoresADeletedIndex() throws {
        let store = temporaryStorePath()
        #expect(try runStrata(["ingest", store, "--json"], stdin: Data(lines.utf8)).status == 0)
        try FileManager.default.removeItem(atPath: store + "/index/ids.idx")
        let r = try runStrata(["index", "rebuild", store, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try #require(r.jsonLines.last)
        #expect(out["entries"] as? Int == 3)
        #expect(FileManager.default.fileExists(atPath: store + "/index/ids.idx"))
        #expect(try runStrata(["index", "rebuild", temporaryStorePath()]).status == 64)
    }
}
