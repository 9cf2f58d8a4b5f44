/// Training-file turns in the v4 document (SPEC.md §8.3): instruction /
/// prompt_response examples whose metadata carries a conversation id
/// (`metadata._extra.conversation_id`, where ingest keeps a turn line's own
/// key, or `metadata.conversation_id`) are written as `conversations[]` with
/// their `training_pairs`, grouped by consecutive runs of the same id in
/// export order (bounded memory: one conversation at a time).
enum TrainingTurns {
    static let extraPath = [Array("_extra".utf8), Array("conversation_id".utf8)]
    static let directPath = [Array("conversation_id".utf8)]
    static let conversationIDKey = Array("conversation_id".utf8)

    /// The raw JSON text of the example's conversation id (a string or number), or nil.
    static func conversationID(_ e: EntryView) -> [UInt8]? {
        guard e.shape != .chat, MetadataKeys.mayContain(e.metadata, conversationIDKey) else { return nil }
        for path in [extraPath, directPath] {
            if let raw = JSONPathLookup.rawValue(in: e.metadata, path: path[...]) {
                switch JSONPathLookup.value(in: e.metadata, path: path[...]) {
                case .string, .number: return Array(raw)
                default: continue
                }
            }
        }
        return nil
    }

    /// One open conversation: its first turn's fields and its encoded pairs.
    final class Run {
        let id: [UInt8]
        let domain: [UInt8]
        let firstTimestamp: Int64
        let metadata: [UInt8]
        var pairs: [UInt8] = []
        var turns = 0

        init(id: [UInt8], first e: EntryView) {
            self.id = id
            domain = Array(e.domain)
            firstTimestamp = e.timestampMillis
            metadata = Array(e.metadata)
        }

        func add(_ e: EntryView, annotations a: FoldedAnnotations?) {
            func raw(_ keys: [String], or fallback: StaticString) {
                if let r = JSONPathLookup.rawValue(in: e.metadata, path: keys.map { Array($0.utf8) }[...]) {
                    ExampleJSONEncoder.appendMetadata(r, &pairs)
                } else {
                    ExampleJSONEncoder.lit(fallback, &pairs)
                }
            }
            if turns > 0 { pairs.append(0x2C) }
            turns += 1
            ExampleJSONEncoder.lit("{\"id\":", &pairs); raw(["_extra", "id"], or: "null")
            ExampleJSONEncoder.lit(",\"conversation_id\":", &pairs); pairs.append(contentsOf: id)
            ExampleJSONEncoder.lit(",\"turn_number\":", &pairs); raw(["_extra", "turn_number"], or: "null")
            ExampleJSONEncoder.lit(",\"system_prompt\":", &pairs); raw(["_extra", "system_prompt"], or: "null")
            ExampleJSONEncoder.lit(",\"conversation_history\":", &pairs); raw(["_extra", "conversation_history"], or: "[]")
            ExampleJSONEncoder.lit(",\"current_user_input\":", &pairs); ExampleJSONEncoder.str(e.first, &pairs)
            ExampleJSONEncoder.lit(",\"emotional_context\":", &pairs); raw(["_extra", "emotional_context"], or: "null")
            ExampleJSONEncoder.lit(",\"target_response\":", &pairs)
            if let c = a?.corrected { JSONWriter.appendString(c, to: &pairs) } else {
                ExampleJSONEncoder.str(e.shape == .instruction ? e.third : e.second, &pairs)
            }
            ExampleJSONEncoder.lit(",\"training_metadata\":", &pairs); raw(["_extra", "training_metadata"], or: "null")
            ExampleJSONEncoder.lit(",\"example_id\":\"", &pairs); e.id.appendHex(to: &pairs)
            ExampleJSONEncoder.lit("\",\"quality_score\":", &pairs); ExampleJSONEncoder.appendQuality(e.quality, &pairs)
            ExampleJSONEncoder.lit("}", &pairs)
        }

        /// `{"conversation_metadata":{…},"training_pairs":[…]}`.
        func write<O: JSONByteSink & ~Copyable>(to out: inout O) {
            metadata.withUnsafeBytes { m in
                func string(_ key: String) {
                    if case .string(let v) = JSONPathLookup.value(in: m, path: [Array(key.utf8)][...]) { ExampleJSONEncoder.str(v, &out) } else {
                        ExampleJSONEncoder.lit("null", &out)
                    }
                }
                ExampleJSONEncoder.lit("{\"conversation_metadata\":{\"conversation_id\":", &out)
                id.withUnsafeBytes { out.append(bytes: $0) }
                ExampleJSONEncoder.lit(",\"source_file\":", &out); string("source_file")
                ExampleJSONEncoder.lit(",\"created_date\":\"", &out)
                ExampleJSONEncoder.raw(String(formatTimestampMillis(firstTimestamp).prefix(10)), &out)
                ExampleJSONEncoder.lit("\",\"total_turns\":", &out); ExampleJSONEncoder.int(Int64(turns), &out)
                ExampleJSONEncoder.lit(",\"quality_tier\":", &out); string("quality_tier")
                ExampleJSONEncoder.lit(",\"scaffolding\":", &out)
                if let s = JSONPathLookup.rawValue(in: m, path: [Array("scaffolding".utf8)][...]) { ExampleJSONEncoder.appendMetadata(s, &out) } else {
                    ExampleJSONEncoder.lit("null", &out)
                }
                ExampleJSONEncoder.lit(",\"domain\":", &out)
                domain.withUnsafeBytes { ExampleJSONEncoder.str($0, &out) }
                ExampleJSONEncoder.lit(",\"metadata\":", &out)
                ExampleJSONEncoder.appendMetadata(m.count > 0 ? m : UnsafeRawBufferPointer(start: nil, count: 0), &out)
                if m.count == 0 { ExampleJSONEncoder.lit("{}", &out) }
                ExampleJSONEncoder.lit("},\"training_pairs\":[", &out)
                pairs.withUnsafeBytes { out.append(bytes: $0) }
                ExampleJSONEncoder.lit("]}", &out)
            }
        }
    }
}
