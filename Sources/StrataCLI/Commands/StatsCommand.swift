import ArgumentParser
import Foundation
import Strata

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Counts, partitions, date range, quality and size of a store.",
        discussion: "Example: strata stats ./store --json | jq .by_domain"
    )

    @Argument(help: "Store directory.") var store: String
    @Flag(help: "One JSON object instead of a table.") var json = false

    func run() throws {
        try runCommand {
            let reader = try StoreReader.open(at: store)
            defer { reader.close() }
            let s = try StoreStatistics.compute(reader)
            let dups = try reader.duplicateStatistics()
            if json {
                var obj: [String: Any] = [
                    "records": s.records,
                    "partitions": s.partitions.map { ["domain": $0.key.domain, "month": $0.key.month.description, "records": $0.records, "bytes": $0.bytes, "segments": $0.segments] },
                    "by_domain": s.byDomain, "by_month": s.byMonth, "by_shape": s.byShape, "by_source": s.bySource, "by_tag": s.byTag,
                    "date_range": ["earliest": s.earliest.map(formatTimestampMillis) as Any? ?? NSNull(), "latest": s.latest.map(formatTimestampMillis) as Any? ?? NSNull()],
                    "average_quality_score": s.averageQualityScore as Any? ?? NSNull(),
                    "quality": ["count": s.qualityCount, "min": s.qualityMin as Any? ?? NSNull(), "max": s.qualityMax as Any? ?? NSNull(),
                                "histogram": s.qualityHistogram.enumerated().map { ["from": Double($0.offset) / 10, "to": Double($0.offset + 1) / 10, "count": $0.element] }],
                    "bytes_on_disk": s.bytesOnDisk,
                ]
                obj["store"] = store
                obj["duplicates"] = ["total": dups.total, "by_domain": dups.byDomain]
                print(jsonLine(obj))
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
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
