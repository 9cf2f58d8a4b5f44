import Foundation

/// Totals and distributions of the rows of one output file, computed in a
/// first streaming pass (bounded memory: one counter per distinct key).
final class ExportStats {
    var examples = 0
    var conversations = 0
    /// One per instruction / prompt_response example, one per assistant message of a chat.
    var trainingPairs = 0
    var qualityCount = 0
    var qualitySum = 0.0
    var qualityMin: Double?
    var qualityMax: Double?
    var byDomain: [String: Int] = [:]
    var byMonth: [String: Int] = [:]
    var byTag: [String: Int] = [:]
    var bySource: [String: Int] = [:]
    var byShape: [String: Int] = [:]

    /// Key used in the source distribution for examples without a source.
    static let noSource = "(none)"

    func add(_ e: EntryView, partition: PartitionKey) {
        examples += 1
        if e.shape == .chat {
            conversations += 1
            for m in e.messages where m.role == .assistant { trainingPairs += 1 }
        } else {
            trainingPairs += 1
        }
        if let q = e.quality {
            qualityCount += 1
            qualitySum += q
            qualityMin = min(qualityMin ?? q, q)
            qualityMax = max(qualityMax ?? q, q)
        }
        byDomain[partition.domain, default: 0] += 1
        byMonth[partition.month.description, default: 0] += 1
        for t in e.tags { byTag[String(decoding: t, as: UTF8.self), default: 0] += 1 }
        bySource[e.source.map { String(decoding: $0, as: UTF8.self) } ?? Self.noSource, default: 0] += 1
        byShape[e.shape.name, default: 0] += 1
    }

    var qualitySummary: [String: Any] {
        [
            "avg_quality_score": qualityCount > 0 ? qualitySum / Double(qualityCount) as Any : NSNull(),
            "min_quality_score": qualityMin ?? NSNull(),
            "max_quality_score": qualityMax ?? NSNull(),
            "scored_count": qualityCount,
        ]
    }

    var distributions: [String: Any] {
        ["domain": byDomain, "month": byMonth, "tag": byTag, "source": bySource, "shape": byShape]
    }
}
