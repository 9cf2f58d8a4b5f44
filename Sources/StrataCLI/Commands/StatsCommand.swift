import ArgumentParser
import Foundation
import Strata

struct StatsCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Counts, partitions, date range, quality and size of a store.",
        discussion: """
        Answers from the counts every sealed segment keeps (index/stats.sum and segment \
        footers) without reading examples, so it costs the same on a store of any size; \
        excluded examples are left out (the folded view). It prints counts by partition, \
        domain, month, shape, source and tag (at most 256 distinct sources and tags per \
        segment are kept; the rest are counted under "(other)"), dates, quality, duplicate \
        offers and dataset checks (--min-rows; no empty required field). Exit code 65 with \
        --check when a check fails.

        --lengths adds what only reading every example can tell: the length distribution \
        of every text field (min/median/p90/max characters) and the share of examples \
        with feedback. It scans the whole store, with progress on stderr.

        Examples:
          strata stats ./store
          strata stats ./store --lengths --json | jq .quality_report.lengths
          strata stats ./store --min-rows 1000 --check    # nightly gate
          strata stats ./store --rule 'metadata.household.id is not null' --rule 'metadata.rating >= 1 AND metadata.rating <= 5'
          strata stats ./store --where 'domain = "meals"' --from 2025-03-14 --to 2025-03-15
        Without --lengths, --rule, --where, --from or --to, stats answers from the \
        segment summaries without reading examples; with any of them it scans what it selects.
        Each --rule is a predicate (docs/QUERY.md) every example must satisfy; it becomes a check \
        named by its text with the count of violating examples, and implies --check.
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Flag(help: "One JSON object instead of a table.") var json = false
    @Option(help: "Minimum number of examples for the min_rows check.") var minRows: Int = 1
    @Flag(help: "Exit 65 when a dataset check fails.") var check = false
    @Option(name: .customLong("rule"), help: "Field rule every example must satisfy, e.g. 'metadata.household.id is not null' (repeatable; implies --check; scans).")
    var rules: [String] = []
    @OptionGroup var selection: SelectionOptions
    @Flag(help: "Also scan every example for text-length distributions and feedback shares (reads the whole store).") var lengths = false

    func run() throws {
        try runCommand {
            let reader = try StoreReader.open(at: store)
            defer { reader.close() }
            let dataRules = try rules.map { try DataRule(parsing: $0) }
            let check = self.check || !dataRules.isEmpty
            let progress = isatty(2) != 0
            let report = try StatsReport.make(reader, minRows: minRows, predicate: try selection.predicate(), rules: dataRules,
                                              lengths: lengths) { done, total in
                if progress { FileHandle.standardError.write(Data("\rstats: scanned \(done) of \(total) partitions".utf8)) }
            }
            if progress && report.scanned { FileHandle.standardError.write(Data("\n".utf8)) }
            let (s, q, scanned, dups) = (report.statistics, report.quality, report.scanned, report.duplicates)
            defer { if check, !report.failedChecks.isEmpty {
                printError("strata: dataset check failed: " + report.failedChecks.map { "\($0.name) (\($0.detail))" }.joined(separator: "; "))
            } }
            if json {
                print(jsonLine(report.jsonObject(store: store)))
                try failIfChecksFail(q)
                return
            }
            print("store      \(store)")
            print("records    \(s.records)")
            print("on disk    \(formatAmount(Double(s.bytesOnDisk), "B"))")
            if let e = s.earliest, let l = s.latest { print("dates      \(formatTimestampMillis(e)) … \(formatTimestampMillis(l))") }
            if let q = s.averageQualityScore {
                print(String(format: "quality    avg %.3f, min %.3f, max %.3f over %d scored", q, s.qualityMin ?? 0, s.qualityMax ?? 0, s.qualityCount))
            }
            print("duplicates \(dups.total) offers" + (dups.byDomain.isEmpty ? "" : " (" + dups.byDomain.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"))
            print("shapes     " + s.byShape.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("")
            print("partition".padding(toLength: 44, withPad: " ", startingAt: 0) + "records".leftPad(10) + "bytes".leftPad(12) + "segments".leftPad(10))
            for p in s.partitions {
                print(p.key.path.padding(toLength: 44, withPad: " ", startingAt: 0) + String(p.records).leftPad(10) + formatAmount(Double(p.bytes), "B").leftPad(12) + String(p.segments).leftPad(10))
            }
            Self.printQuality(s, q, scanned: scanned)
            try failIfChecksFail(q)
        }
    }

    func failIfChecksFail(_ q: QualityReport) throws {
        if check || !rules.isEmpty, q.checks.contains(where: { !$0.passed }) { throw ExitCode(ExitStatus.dataError.rawValue) }
    }

    static func printQuality(_ s: StoreStatistics, _ q: QualityReport, scanned: Bool) {
        print("")
        print("quality report")
        if s.qualityCount > 0 {
            let peak = max(1, s.qualityHistogram.max() ?? 1)
            for (i, c) in s.qualityHistogram.enumerated() {
                print(String(format: "  %.1f–%.1f ", Double(i) / 10, Double(i + 1) / 10) + String(c).leftPad(9) + " " + String(repeating: "#", count: c * 40 / peak))
            }
            print("  unscored  " + String(s.records - s.qualityCount).leftPad(9))
        }
        if scanned {
            print("  " + "field".padding(toLength: 13, withPad: " ", startingAt: 0) + "count".leftPad(9) + "min".leftPad(8) + "median".leftPad(8) + "p90".leftPad(8) + "max".leftPad(9) + "  (characters)")
            for f in QualityReport.fields {
                guard let l = q.lengths[f] else { continue }
                print("  " + f.padding(toLength: 13, withPad: " ", startingAt: 0) + String(l.count).leftPad(9) + String(l.min).leftPad(8) + String(l.median).leftPad(8)
                      + String(l.p90).leftPad(8) + String(l.max).leftPad(9))
            }
            print(String(format: "  feedback   %d of %d examples (%.1f%%): %d positive, %d negative; %d corrected, %d excluded",
                         q.withFeedback, q.examples, (q.feedbackShare ?? 0) * 100, q.positiveFeedback, q.negativeFeedback, q.corrected, q.excluded))
        } else {
            print("  lengths    (strata stats --lengths scans every example for text lengths and feedback)")
        }
        if !s.bySource.isEmpty { print("  sources    " + s.bySource.sorted { $0.value > $1.value }.prefix(10).map { "\($0.key) \($0.value)" }.joined(separator: ", ")) }
        if !s.byTag.isEmpty { print("  tags       " + s.byTag.sorted { $0.value > $1.value }.prefix(10).map { "\($0.key) \($0.value)" }.joined(separator: ", ")) }
        for c in q.checks { print("  check      \(c.passed ? "pass" : "FAIL") \(c.name): \(c.detail)") }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
