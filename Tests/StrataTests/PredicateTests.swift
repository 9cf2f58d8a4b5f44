import Foundation
import Testing
@testable import Strata

/// The `--where` predicate language (docs/QUERY.md): parsing, semantics,
/// partition pruning, and the same language in the library and the CLI.
@Suite struct PredicateTests {
    private func ex(_ meta: String, domain: String = "alpha", ts: String = "2025-03-14T10:00:00Z", q: Double? = 0.7,
                    tags: [String] = ["reviewed"]) throws -> Example {
        Example(content: .promptResponse(prompt: "What is TPO?", response: "A membrane."), domain: domain,
                timestampMillis: try IngestLineParser.parseTimestamp(ts), qualityScore: q, tags: tags, source: "capture",
                metadataJSON: meta)
    }

    private func m(_ predicate: String, _ e: Example) throws -> Bool { try RecordPredicate(parsing: predicate).matches(e) }

    @Test func comparisonsOnMetadataPathsAndOwnFields() throws {
        let e = try ex(#"{"complexity_level": "advanced", "turns": 4, "scaffolding": {"persona": "anxious_investor", "depth": 2}, "flags": ["a", "b"], "reviewed": true, "note": null, "empty": ""}"#)
        #expect(try m(#"metadata.complexity_level = "advanced""#, e))
        #expect(try !m(#"metadata.complexity_level = "basic""#, e))
        #expect(try m(#"metadata.complexity_level != 'basic'"#, e))
        #expect(try m("metadata.turns >= 4 AND metadata.turns < 5 and metadata.turns > 3.5 AND metadata.turns <= 4", e))
        #expect(try !m("metadata.turns > 4", e))
        #expect(try m(#"metadata.scaffolding.persona in ("anxious_investor", "retiree")"#, e))
        #expect(try m(#"metadata.scaffolding.persona NOT IN ("retiree")"#, e))
        #expect(try m("metadata.scaffolding.depth = 2", e))
        #expect(try m(#"metadata.flags = "b""#, e))  // any element
        #expect(try m(#"metadata.flags != "c""#, e))
        #expect(try m("metadata.reviewed = true", e))
        #expect(try m("metadata.note exists AND metadata.note is null AND metadata.missing is null AND metadata.missing not exists", e))
        #expect(try !m("metadata.missing exists", e))
        #expect(try m("metadata.empty is empty AND metadata.note is empty AND metadata.turns is not empty", e))
        // Missing or null never compares, not even with !=.
        #expect(try !m(#"metadata.missing != "x""#, e))
        #expect(try !m(#"metadata.note != "x""#, e))
        // A string is not a number: not ordered, but unequal.
        #expect(try !m("metadata.complexity_level > 1", e))
        #expect(try m("metadata.complexity_level != 1", e))
        // Own fields.
        #expect(try m(#"domain = "alpha" AND source = "capture" AND shape = "prompt_response" AND tags = "reviewed""#, e))
        #expect(try m("quality_score >= 0.7 AND quality_score < 0.71", e))
        #expect(try m(#"prompt = "What is TPO?" AND instruction not exists"#, e))
        #expect(try m(#"timestamp >= "2025-03-14T09:59:59Z" AND timestamp < "2025-03-14T10:00:01Z""#, e))
        #expect(try !m(#"timestamp < "2025-03-14""#, e))
        #expect(try m(#"id = "\#(e.id.hex)""#, e))
        let unscored = try ex("{}", q: nil)
        #expect(try m("quality_score is null", unscored))
        #expect(try !m("quality_score < 0.5", unscored))
    }

    @Test func malformedPredicatesAreUsageErrorsNamingThePosition() {
        func err(_ text: String) -> String? {
            do { _ = try RecordPredicate(parsing: text); return nil } catch let e as StrataError {
                #expect(e.code == .usage)
                return e.message
            } catch { return nil }
        }
        #expect(err(#"metadata.a = "x" OR metadata.b = 1"#)?.contains("OR is not supported") == true)
        #expect(err("metadata.a = advanced")?.contains("quote strings") == true)
        #expect(err("metadata.a = null")?.contains("IS NULL") == true)
        #expect(err(#"colour = "red""#)?.contains("unknown field 'colour'") == true)
        #expect(err("metadata = 1")?.contains("name a key inside metadata") == true)
        #expect(err(#"metadata.a = "x" AND"#)?.contains("expected a field path") == true)
        #expect(err(#"metadata.a ~ "x""#)?.contains("at character 12") == true)
        #expect(err(#"timestamp > "last week""#)?.contains("not a timestamp") == true)
        #expect(err(#"metadata.a in ("x", "y""#)?.contains("expected ',' or ')'") == true)
    }

    @Test func domainAndTimeClausesPrunePartitions() throws {
        let p = try RecordPredicate(parsing: #"domain in ("alpha", "beta") AND domain != "beta" AND timestamp >= "2025-03-14T00:00:00Z" AND timestamp < "2025-04-01""#)
        #expect(p.domains == ["alpha", "beta"])
        #expect(p.mayMatch(PartitionKey(domain: "alpha", month: Month(year: 2025, month: 3))))
        #expect(!p.mayMatch(PartitionKey(domain: "alpha", month: Month(year: 2025, month: 4))))  // `to` is exclusive
        #expect(!p.mayMatch(PartitionKey(domain: "alpha", month: Month(year: 2025, month: 2))))
        #expect(!p.mayMatch(PartitionKey(domain: "gamma", month: Month(year: 2025, month: 3))))
        var f = ScanFilter.all
        f.require(p)
        #expect(f.domains == ["alpha", "beta"])
        #expect(f.fromMonth == Month(year: 2025, month: 3) && f.toMonth == Month(year: 2025, month: 3))
        // A metadata-only predicate prunes nothing.
        #expect(try RecordPredicate(parsing: "metadata.x = 1").mayMatch(PartitionKey(domain: "z", month: Month(year: 1999, month: 1))))
    }

    @Test func libraryScanFilterAndCLIWhereSelectTheSameExamples() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        let levels = ["basic", "intermediate", "advanced"]
        var expected = Set<ExampleID>()
        let lo = try IngestLineParser.parseTimestamp("2025-03-14T00:00:00Z"), hi = try IngestLineParser.parseTimestamp("2025-03-20T12:00:00Z")
        for i in 0..<60 {
            let day = 1 + i % 28
            let e = try ex(#"{"complexity_level": "\#(levels[i % 3])", "turn": \#(i)}"#, domain: i % 2 == 0 ? "alpha" : "beta",
                           ts: String(format: "2025-03-%02dT%02d:00:00Z", day, i % 24))
            let e2 = Example(content: .promptResponse(prompt: "q\(i)", response: "r"), domain: e.domain, timestampMillis: e.timestampMillis,
                             qualityScore: Double(i % 10) / 10, tags: [], source: nil, metadataJSON: e.metadataJSON)
            _ = try store.append(e2)
            if i % 3 == 2 && e2.qualityScore! >= 0.5 && e2.timestampMillis >= lo && e2.timestampMillis < hi {
                expected.insert(e2.id)
            }
        }
        try store.commit()
        try store.close()
        #expect(!expected.isEmpty)
        var filter = ScanFilter.all
        filter.require(try RecordPredicate(parsing: #"metadata.complexity_level = "advanced" AND quality_score >= 0.5 AND timestamp >= "2025-03-14T00:00:00Z" AND timestamp < "2025-03-20T12:00:00Z""#))
        let reader = try StoreReader(path: path)
        var got = Set<ExampleID>()
        try reader.scan(filter) { got.insert($0.id); return true }
        reader.close()
        #expect(got == expected)
        // The CLI: several --where ANDed, and --from/--to finer than a month.
        let r = try runStrata(["scan", path, "--where", #"metadata.complexity_level = "advanced""#, "--where", "quality_score >= 0.5",
                               "--from", "2025-03-14T00:00:00Z", "--to", "2025-03-20T12:00:00Z"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Set(r.jsonLines.compactMap { ($0["id"] as? String).flatMap(ExampleID.init(hex:)) }) == expected)
        // Export applies the same predicate.
        let out = path + "-export"
        let x = try runStrata(["export", path, "--out", out, "--where", #"metadata.complexity_level = "advanced""#, "--where", "quality_score >= 0.5",
                               "--from", "2025-03-14T00:00:00Z", "--to", "2025-03-20T12:00:00Z", "--json"])
        #expect(x.status == 0, "\(x.stderr)")
        #expect(x.jsonLines.last?["rows"] as? Int == expected.count)
        let bad = try runStrata(["scan", path, "--where", "metadata.level = advanced"])
        #expect(bad.status == 64 && bad.stderr.contains("quote strings"))
    }
}
