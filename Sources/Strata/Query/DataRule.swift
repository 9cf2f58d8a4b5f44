/// A field-level data check (`strata stats --rule`, docs/QUERY.md "Data
/// checks"): a predicate every (non-excluded) example must satisfy, e.g.
/// `metadata.household.id is not null`, `quality_score >= 0.5 AND
/// quality_score <= 1`, `metadata.level in ("basic", "advanced")`. The check
/// fails when more than `maxViolations` examples violate it.
public struct DataRule: Sendable {
    public var predicate: RecordPredicate
    public var maxViolations: Int

    public init(_ predicate: RecordPredicate, maxViolations: Int = 0) {
        self.predicate = predicate
        self.maxViolations = maxViolations
    }

    /// A rule from its predicate text (no violation allowed).
    public init(parsing text: String) throws {
        self.init(try RecordPredicate(parsing: text))
    }
}

/// Counts violations of one rule during the stats scan.
struct DataRuleState {
    let rule: DataRule
    var examined = 0
    var violations = 0
    /// Up to 3 violating ids, to start the investigation from.
    var samples: [ExampleID] = []

    init(rule: DataRule) { self.rule = rule }

    mutating func add(_ e: Example) {
        examined += 1
        guard !rule.predicate.matches(e) else { return }
        violations += 1
        if samples.count < 3 { samples.append(e.id) }
    }

    var check: QualityReport.Check {
        let passed = violations <= rule.maxViolations
        var detail = "\(violations) of \(examined) examples violate it"
        if !samples.isEmpty { detail += " (e.g. \(samples.map(\.hex).joined(separator: ", ")))" }
        return QualityReport.Check(name: "rule: \(rule.predicate.text)", passed: passed, detail: detail)
    }
}
