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
    /// Examples with feedback or a correction (the training-file v4 document's "human reviewed").
    var humanReviewed = 0
    /// Training-file v4 `scaffolding_distribution`: metadata.scaffolding.{persona_key, emotional_arc_key, training_topic_key}.
    var personas: [String: Int] = [:]
    var emotionalArcs: [String: Int] = [:]
    var trainingTopics: [String: Int] = [:]
    static let scaffoldingPaths: [(key: [[UInt8]], name: String)] = [
        ([Array("scaffolding".utf8), Array("persona_key".utf8)], "personas"),
        ([Array("scaffolding".utf8), Array("emotional_arc_key".utf8)], "emotional_arcs"),
        ([Array("scaffolding".utf8), Array("training_topic_key".utf8)], "training_topics"),
    ]

    /// Key used in the source distribution for examples without a source.
    static let noSource = "(none)"

    /// Conversation id of the last training-file turn seen (runs of one id are one conversation).
    private var lastTurnConversation: [UInt8]?

    /// What `add` takes from one example: everything that needs the entry's
    /// bytes (metadata lookups, strings), so encode threads can compute it and
    /// the totals are still added in row order (the same sums as one thread).
    struct Row {
        var conversationID: [UInt8]?
        var reviewed: Bool
        var scaffolding: (String?, String?, String?)
        var shape: Shape
        var assistantMessages: Int
        var quality: Double?
        var tags: [String]
        var source: String?

        init(_ e: EntryView, annotations a: FoldedAnnotations?) {
            conversationID = TrainingTurns.conversationID(e)
            if let a, a.feedbackPositive + a.feedbackNegative > 0 || a.corrected != nil { reviewed = true } else { reviewed = false }
            let scaffolded = MetadataKeys.mayContain(e.metadata, ExportStats.scaffoldingPaths[0].key[0])
            func key(_ k: Int) -> String? {
                guard scaffolded, case .string(let v) = JSONPathLookup.value(in: e.metadata, path: ExportStats.scaffoldingPaths[k].key[...]) else { return nil }
                return String(decoding: v, as: UTF8.self)
            }
            scaffolding = (key(0), key(1), key(2))
            shape = e.shape
            assistantMessages = e.shape == .chat ? e.messages.reduce(0) { $0 + ($1.role == .assistant ? 1 : 0) } : 0
            quality = e.quality
            tags = e.tags.map { String(decoding: $0, as: UTF8.self) }
            source = e.source.map { String(decoding: $0, as: UTF8.self) }
        }
    }

    func add(_ e: EntryView, partition: PartitionKey, annotations a: FoldedAnnotations? = nil) {
        add(Row(e, annotations: a), partition: partition)
    }

    func add(_ r: Row, partition: PartitionKey) {
        examples += 1
        if let cid = r.conversationID {
            if cid != lastTurnConversation { conversations += 1 }
            lastTurnConversation = cid
        }
        if r.reviewed { humanReviewed += 1 }
        if let v = r.scaffolding.0 { personas[v, default: 0] += 1 }
        if let v = r.scaffolding.1 { emotionalArcs[v, default: 0] += 1 }
        if let v = r.scaffolding.2 { trainingTopics[v, default: 0] += 1 }
        if r.shape == .chat {
            conversations += 1
            trainingPairs += r.assistantMessages
        } else {
            trainingPairs += 1
        }
        if let q = r.quality {
            qualityCount += 1
            qualitySum += q
            qualityMin = min(qualityMin ?? q, q)
            qualityMax = max(qualityMax ?? q, q)
        }
        byDomain[partition.domain, default: 0] += 1
        byMonth[partition.month.description, default: 0] += 1
        for t in r.tags { byTag[t, default: 0] += 1 }
        bySource[r.source ?? Self.noSource, default: 0] += 1
        byShape[r.shape.name, default: 0] += 1
    }

    var qualitySummary: [String: Any] {
        [
            "avg_quality_score": qualityCount > 0 ? qualitySum / Double(qualityCount) as Any : NSNull(),
            "min_quality_score": qualityMin ?? NSNull(),
            "max_quality_score": qualityMax ?? NSNull(),
            "scored_count": qualityCount,
            "human_reviewed_count": humanReviewed,
            "human_reviewed_percentage": examples > 0 ? (Double(humanReviewed) * 1000 / Double(examples)).rounded() / 10 : 0,
        ]
    }

    var scaffoldingDistribution: [String: Any] {
        ["personas": personas, "emotional_arcs": emotionalArcs, "training_topics": trainingTopics]
    }

    /// The single domain of the rows (the v4 document's `vertical`), or nil.
    var vertical: String? { byDomain.count == 1 ? byDomain.keys.first : nil }

    var distributions: [String: Any] {
        ["domain": byDomain, "month": byMonth, "tag": byTag, "source": bySource, "shape": byShape]
    }
}
