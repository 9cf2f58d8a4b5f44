import Foundation
import Testing
@testable import Strata

/// Field-level data checks (`strata stats --rule`) and stats over a selection.
@Suite struct DataCheckTests {
    /// Event-log pipeline rows: a structured event as input, a plan as output;
    /// `bad` of them have a null household id.
    private func events(_ n: Int, nullHouseholds bad: Set<Int>) -> String {
        (0..<n).map { i in
            let hh = bad.contains(i) ? "null" : #""hh_\#(i % 50)""#
            return #"{"instruction": "Suggest a weekly meal plan", "input": {"event_type": "plan_requested", "household": {"id": \#(hh), "size": \#(1 + i % 5), "restrictions": ["nut_free"]}}, "output": [{"day": "mon", "meal": "lentil soup \#(i)"}], "domain": "meal_planning", "timestamp": "2025-03-\#(String(format: "%02d", 1 + i % 28))T12:00:00Z", "quality_score": \#(Double(i % 10) / 10), "metadata": {"rating": \#(1 + i % 5), "household": {"id": \#(hh)}}}"#
        }.joined(separator: "\n")
    }

    @Test func ruleViolationsFailTheCheckNamingRuleAndCounts() throws {
        let store = temporaryStorePath()
        let ing = try runStrata(["ingest", store, "--json"], stdin: Data(events(100, nullHouseholds: Set(0..<21)).utf8))
        #expect(ing.status == 0, "\(ing.stderr)")
        let r = try runStrata(["stats", store, "--json", "--rule", "metadata.household.id is not null",
                               "--rule", "metadata.rating >= 1 AND metadata.rating <= 5", "--rule", #"domain in ("meal_planning")"#])
        #expect(r.status == 65)
        #expect(r.stderr.contains("rule: metadata.household.id is not null (21 of 100 examples violate it"))
        let checks = try #require((r.jsonLines.last?["quality_report"] as? [String: Any])?["checks"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: checks.map { ($0["name"] as! String, $0) })
        #expect(byName["rule: metadata.household.id is not null"]?["passed"] as? Bool == false)
        #expect(byName["rule: metadata.rating >= 1 AND metadata.rating <= 5"]?["passed"] as? Bool == true)
        #expect(byName[#"rule: domain in ("meal_planning")"#]?["passed"] as? Bool == true)
        // Passing rules exit 0; a range that the data leaves fails.
        let ok = try runStrata(["stats", store, "--rule", "metadata.rating <= 5", "--where", "metadata.household.id is not null"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let range = try runStrata(["stats", store, "--rule", "quality_score >= 0.3"])
        #expect(range.status == 65 && range.stderr.contains("30 of 100 examples violate it"))
    }

    @Test func statsWhereAndTimeBoundsCountOnlyTheSelection() throws {
        let store = temporaryStorePath()
        _ = try runStrata(["ingest", store], stdin: Data(events(56, nullHouseholds: []).utf8))
        let r = try runStrata(["stats", store, "--json", "--from", "2025-03-14", "--to", "2025-03-15"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.jsonLines.last?["records"] as? Int == 2)  // days 14 of two 28-day cycles
        let w = try runStrata(["stats", store, "--json", "--where", "metadata.rating = 5"])
        #expect(w.jsonLines.last?["records"] as? Int == 11)
    }
}
