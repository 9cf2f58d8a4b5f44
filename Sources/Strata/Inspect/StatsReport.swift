import Foundation

/// What `strata stats` reports, shared by the CLI and the C ABI (so the Python
/// package answers from the same summaries). Without a selection, a rule or
/// `lengths` it reads only segment summaries and footers (SPEC.md §5.6): its
/// cost follows the number of segments, not of examples. Otherwise it scans
/// the examples selected.
public struct StatsReport: Sendable {
    public var statistics: StoreStatistics
    public var quality: QualityReport
    public var duplicates: DuplicateStatistics
    /// Whether the examples were read (lengths and feedback are only known then).
    public var scanned: Bool

    /// The report on `reader`'s snapshot; `progress` gets (partitions done, partitions) while scanning.
    public static func make(_ reader: StoreReader, minRows: Int = 1, predicate: RecordPredicate? = nil, rules: [DataRule] = [],
                            lengths: Bool = false, progress: ((Int, Int) -> Void)? = nil) throws -> StatsReport {
        let summary = try StoreStatistics.fromSummaries(reader)
        var report = StatsReport(statistics: summary.statistics, quality: QualityReport.fromSummaries(summary, minRows: minRows),
                                 duplicates: summary.duplicates, scanned: false)
        if lengths || predicate != nil || !rules.isEmpty {
            (report.statistics, report.quality) = try StoreStatistics.computeWithQuality(reader, minRows: minRows, predicate: predicate,
                                                                                          rules: rules, progress: progress)
            report.scanned = true
        }
        return report
    }

    public var failedChecks: [QualityReport.Check] { quality.checks.filter { !$0.passed } }

    /// `strata stats --json`'s object. `histogramAsCounts` keeps the C ABI's
    /// original shape of `quality.histogram` (ten counts instead of {from, to, count} objects).
    public func jsonObject(store: String, histogramAsCounts: Bool = false) -> [String: Any] {
        let s = statistics
        func opt(_ v: Any?) -> Any { v ?? NSNull() }
        let histogram: Any = histogramAsCounts ? s.qualityHistogram
            : s.qualityHistogram.enumerated().map { ["from": Double($0.offset) / 10, "to": Double($0.offset + 1) / 10, "count": $0.element] }
        var q: [String: Any] = [
            "examples": quality.examples, "excluded": quality.excluded,
            "empty_required_fields": quality.emptyRequired,
            "checks": quality.checks.map { ["name": $0.name, "passed": $0.passed, "detail": $0.detail] },
        ]
        if scanned {
            q["lengths"] = quality.lengths.mapValues { ["count": $0.count, "min": $0.min, "median": $0.median, "p90": $0.p90, "max": $0.max, "mean": $0.mean] }
            q["feedback"] = ["with_feedback": quality.withFeedback, "share": opt(quality.feedbackShare), "positive": quality.positiveFeedback,
                             "negative": quality.negativeFeedback, "corrected": quality.corrected] as [String: Any]
        }
        return [
            "store": store,
            "records": s.records,
            "partitions": s.partitions.map { ["domain": $0.key.domain, "month": $0.key.month.description, "records": $0.records, "bytes": $0.bytes, "segments": $0.segments] },
            "by_domain": s.byDomain, "by_month": s.byMonth, "by_shape": s.byShape, "by_source": s.bySource, "by_tag": s.byTag,
            "date_range": ["earliest": opt(s.earliest.map(formatTimestampMillis)), "latest": opt(s.latest.map(formatTimestampMillis))],
            "average_quality_score": opt(s.averageQualityScore),
            "quality": ["count": s.qualityCount, "min": opt(s.qualityMin), "max": opt(s.qualityMax), "histogram": histogram] as [String: Any],
            "bytes_on_disk": s.bytesOnDisk,
            "duplicates": ["total": duplicates.total, "by_domain": duplicates.byDomain] as [String: Any],
            "quality_report": q,
        ]
    }
}
