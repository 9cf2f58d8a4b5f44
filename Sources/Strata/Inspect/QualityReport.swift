/// The quality part of `strata stats` (the event-log pipeline's dataset checks,
/// the fine-tuning loader's stats view, production capture's feedback signals), accumulated during the same
/// scan as `StoreStatistics`.
public struct QualityReport: Sendable {
    /// Character-length distribution of one text field.
    public struct LengthStats: Sendable {
        public var count = 0
        public var min = 0
        public var median = 0
        public var p90 = 0
        public var max = 0
        public var mean = 0.0
    }

    /// One dataset check (minimum rows, no empty required field, field rules).
    public struct Check: Sendable {
        public var name: String
        public var passed: Bool
        public var detail: String
    }

    /// Field → distribution of lengths in characters (Unicode scalars… as Swift `String.count`).
    public var lengths: [String: LengthStats] = [:]
    /// Examples whose required text field is empty, by field ("chat.messages" for an empty chat).
    public var emptyRequired: [String: Int] = [:]
    public var withFeedback = 0
    public var positiveFeedback = 0
    public var negativeFeedback = 0
    public var corrected = 0
    public var excluded = 0
    public var examples = 0
    public var checks: [Check] = []

    public var feedbackShare: Double? { examples > 0 ? Double(withFeedback) / Double(examples) : nil }

    /// Fields whose length fine-tuning filters and ETL prompt limits care about.
    public static let fields = ["instruction", "input", "output", "prompt", "response", "message"]
}

/// Exact length histograms (length → count): bounded by distinct lengths, not by examples.
struct QualityAccumulator {
    var histograms: [String: [Int: Int]] = [:]
    var report = QualityReport()

    mutating func length(_ field: String, _ s: String) { histograms[field, default: [:]][s.count, default: 0] += 1 }

    mutating func add(_ f: FoldedExample) {
        if f.isExcluded { report.excluded += 1; return }
        report.examples += 1
        if f.positiveFeedback + f.negativeFeedback > 0 { report.withFeedback += 1 }
        if f.positiveFeedback > 0 { report.positiveFeedback += 1 }
        if f.negativeFeedback > 0 { report.negativeFeedback += 1 }
        if f.isCorrected { report.corrected += 1 }
        func required(_ field: String, _ s: String) { if s.isEmpty { report.emptyRequired[field, default: 0] += 1 } }
        switch f.example.content {
        case let .instruction(i, input, o):
            length("instruction", i); length("input", input); length("output", o)
            required("instruction", i); required("output", o)
        case let .promptResponse(p, r):
            length("prompt", p); length("response", r)
            required("prompt", p); required("response", r)
        case let .chat(ms):
            if ms.isEmpty { report.emptyRequired["chat.messages", default: 0] += 1 }
            if ms.contains(where: { $0.content.isEmpty }) { report.emptyRequired["message.content", default: 0] += 1 }
            for m in ms { length("message", m.content) }
        }
    }

    /// Finishes distributions and runs the checks; `minRows` is the event-log pipeline's minimum row count.
    func finish(minRows: Int) -> QualityReport {
        var r = report
        for (field, h) in histograms {
            let keys = h.keys.sorted()
            let n = h.values.reduce(0, +)
            var s = QualityReport.LengthStats(count: n, min: keys.first ?? 0, max: keys.last ?? 0)
            s.mean = n > 0 ? Double(h.reduce(0) { $0 + $1.key * $1.value }) / Double(n) : 0
            func quantile(_ q: Double) -> Int {
                let rank = Swift.max(1, Int((q * Double(n)).rounded(.up)))
                var seen = 0
                for k in keys { seen += h[k]!; if seen >= rank { return k } }
                return keys.last ?? 0
            }
            s.median = quantile(0.5)
            s.p90 = quantile(0.9)
            r.lengths[field] = s
        }
        r.checks = [
            QualityReport.Check(name: "min_rows", passed: r.examples >= minRows, detail: "\(r.examples) examples, minimum \(minRows)"),
            QualityReport.Check(name: "required_fields_non_empty", passed: r.emptyRequired.isEmpty,
                                detail: r.emptyRequired.isEmpty ? "no empty required field"
                                    : r.emptyRequired.sorted { $0.key < $1.key }.map { "\($0.value) with empty \($0.key)" }.joined(separator: ", ")),
        ]
        return r
    }
}

extension StoreStatistics {
    /// Statistics and the quality report from one folded scan of the snapshot
    /// (only the examples `predicate` selects, when given), with one check per
    /// field rule (`DataRule`, docs/QUERY.md "Data checks"). `progress` gets
    /// (partitions done, partitions).
    public static func computeWithQuality(_ reader: StoreReader, minRows: Int = 1, predicate: RecordPredicate? = nil,
                                          rules: [DataRule] = [],
                                          progress: ((Int, Int) -> Void)? = nil) throws -> (StoreStatistics, QualityReport) {
        var acc = QualityAccumulator()
        var filter = ScanFilter(includeExcluded: true)
        if let predicate { filter.require(predicate) }
        var ruleState = rules.map { DataRuleState(rule: $0) }
        let s = try compute(reader, filter: filter, visit: { f in
            acc.add(f)
            if !f.isExcluded { for k in ruleState.indices { ruleState[k].add(f.example) } }
        }, progress: progress)
        var report = acc.finish(minRows: minRows)
        report.checks += ruleState.map(\.check)
        return (s, report)
    }
}

extension QualityReport {
    /// The parts of the report that need no scan (counts, empty required
    /// fields, checks); lengths and feedback stay empty (`strata stats --lengths` scans for them).
    public static func fromSummaries(_ s: StoreSummaryStatistics, minRows: Int = 1) -> QualityReport {
        var acc = QualityAccumulator()
        acc.report.examples = s.statistics.records
        acc.report.excluded = s.excluded
        acc.report.emptyRequired = s.emptyRequired
        return acc.finish(minRows: minRows)
    }
}
