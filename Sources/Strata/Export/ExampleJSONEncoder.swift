import Foundation

/// Streams example entries to JSON text straight from block bytes (SPEC.md §8.2).
enum ExampleJSONEncoder {
    @inline(__always) static func lit(_ s: StaticString, _ out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always) static func str(_ b: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
        JSONWriter.appendString(b, to: &out)
    }

    /// `"YYYY-MM-DDTHH:MM:SS.mmmZ"`, quotes included.
    static func appendTimestamp(_ ms: Int64, _ out: inout [UInt8]) {
        let days = floorDiv(ms, 86_400_000)
        let inDay = Int(ms - days * 86_400_000)
        let (y, m, d) = civilFromDays(Int(days))
        out.append(0x22)
        @inline(__always) func two(_ v: Int) { out.append(UInt8(0x30 + v / 10)); out.append(UInt8(0x30 + v % 10)) }
        if y >= 0 && y <= 9999 {
            two(y / 100); two(y % 100)
        } else {
            out.append(contentsOf: Array(String(y).utf8))
        }
        out.append(0x2D); two(m); out.append(0x2D); two(d)
        out.append(0x54)
        let s = inDay / 1000
        two(s / 3600); out.append(0x3A); two(s / 60 % 60); out.append(0x3A); two(s % 60)
        out.append(0x2E)
        let f = inDay % 1000
        out.append(UInt8(0x30 + f / 100)); two(f % 100)
        out.append(0x5A)
        out.append(0x22)
    }

    static func timestampString(_ ms: Int64) -> String {
        var o: [UInt8] = []
        appendTimestamp(ms, &o)
        return String(decoding: o.dropFirst().dropLast(), as: UTF8.self)
    }

    /// The stored metadata text. JSONL needs one line per object: a line break can only
    /// be whitespace between tokens (inside strings JSON requires escapes), so CR / LF
    /// are written as spaces — the same JSON value; any other byte is copied as is.
    @inline(__always) static func appendMetadata(_ m: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
        guard m.count > 0, memchr(m.baseAddress!, 0x0A, m.count) != nil || memchr(m.baseAddress!, 0x0D, m.count) != nil else {
            out.append(contentsOf: m)
            return
        }
        for b in m { out.append(b == 0x0A || b == 0x0D ? 0x20 : b) }
    }

    @inline(__always) static func appendOptString(_ b: UnsafeRawBufferPointer?, _ out: inout [UInt8]) {
        if let b { str(b, &out) } else { lit("null", &out) }
    }

    @inline(__always) static func appendQuality(_ q: Double?, _ out: inout [UInt8]) {
        if let q { JSONWriter.appendDouble(q, to: &out) } else { lit("null", &out) }
    }

    static func appendTags(_ e: EntryView, _ out: inout [UInt8]) {
        out.append(0x5B)
        for (i, t) in e.tags.enumerated() {
            if i > 0 { out.append(0x2C) }
            str(t, &out)
        }
        out.append(0x5D)
    }

    /// `[{"role","content"},…]`; `correction` (the folded view, SPEC.md §4.6)
    /// replaces the last assistant message's content when there is one.
    static func appendMessages(_ e: EntryView, correction: String? = nil, _ out: inout [UInt8]) {
        let replaced = correction == nil ? nil : e.messages.lastIndex(where: { $0.role == .assistant })
        out.append(0x5B)
        for (i, m) in e.messages.enumerated() {
            if i > 0 { out.append(0x2C) }
            lit("{\"role\":\"", &out)
            appendRoleName(m.role, &out)
            lit("\",\"content\":", &out)
            if i == replaced, let correction { JSONWriter.appendString(correction, to: &out) } else { str(m.content, &out) }
            out.append(0x7D)
        }
        out.append(0x5D)
    }

    @inline(__always) static func appendRoleName(_ r: Role, _ out: inout [UInt8]) {
        switch r {
        case .system: lit("system", &out)
        case .user: lit("user", &out)
        case .assistant: lit("assistant", &out)
        case .tool: lit("tool", &out)
        }
    }

    @inline(__always) static func appendCorrected(_ a: FoldedAnnotations?, _ out: inout [UInt8]) {
        if let c = a?.corrected { JSONWriter.appendString(c, to: &out) } else { lit("null", &out) }
    }

    /// The record's fields in its own names (README "The record"), the opening
    /// brace included and the closing one not:
    ///
    ///     {"id","shape",<content fields>,"domain","timestamp","quality_score","tags","source","metadata"
    ///
    /// The one encoder of a record: `strata scan` (with `correction`, the folded
    /// view) and the raw export schema (stored content) both write through it,
    /// and it writes the bytes `Example.appendJSON` writes for the same example
    /// (metadata CR / LF as spaces, which `makeLineSafe` would make of them).
    /// `correction` replaces the shape's natural field: output, response, or
    /// the last assistant message (none: the content as stored).
    static func appendRecordFields(_ e: EntryView, correction: String? = nil, _ out: inout [UInt8]) {
        lit("{\"id\":\"", &out)
        e.id.appendHex(to: &out)
        switch e.shape {
        case .instruction:
            lit("\",\"shape\":\"instruction\",\"instruction\":", &out)
            str(e.first, &out)
            lit(",\"input\":", &out)
            str(e.second, &out)
            lit(",\"output\":", &out)
            if let correction { JSONWriter.appendString(correction, to: &out) } else { str(e.third, &out) }
        case .promptResponse:
            lit("\",\"shape\":\"prompt_response\",\"prompt\":", &out)
            str(e.first, &out)
            lit(",\"response\":", &out)
            if let correction { JSONWriter.appendString(correction, to: &out) } else { str(e.second, &out) }
        case .chat:
            lit("\",\"shape\":\"chat\",\"messages\":", &out)
            appendMessages(e, correction: correction, &out)
        }
        lit(",\"domain\":", &out)
        str(e.domain, &out)
        lit(",\"timestamp\":", &out)
        appendRecordTimestamp(e.timestampMillis, &out)
        lit(",\"quality_score\":", &out)
        appendQuality(e.quality, &out)
        lit(",\"tags\":", &out)
        appendTags(e, &out)
        lit(",\"source\":", &out)
        appendOptString(e.source, &out)
        lit(",\"metadata\":", &out)
        appendMetadata(e.metadata, &out)
    }

    /// The record's timestamp as `Example.appendJSON` writes it: years 0...9999
    /// (all a store accepts) by `appendTimestamp`, any other instant (only a
    /// damaged or foreign entry) as `formatTimestampMillis` spells it.
    @inline(__always) static func appendRecordTimestamp(_ ms: Int64, _ out: inout [UInt8]) {
        if ms >= Example.yearZeroMillis && ms < Example.year10000Millis {
            appendTimestamp(ms, &out)
        } else {
            out.append(0x22)
            out.append(contentsOf: formatTimestampMillis(ms).utf8)
            out.append(0x22)
        }
    }

    /// One line of `strata scan` / `get` (no newline): the record in its folded
    /// view (`correction`), made line-safe (`JSONWriter.makeLineSafe`) -- the
    /// bytes of `FoldedExample.example.jsonString`.
    static func appendRecordLine(_ e: EntryView, correction: String?, _ out: inout [UInt8]) {
        let start = out.count
        appendRecordFields(e, correction: correction, &out)
        out.append(0x7D)
        JSONWriter.makeLineSafe(&out, from: start)
    }

    /// The raw object (no trailing newline): every stored field plus the folded annotations.
    ///
    ///     {"id","shape",<content fields>,"domain","timestamp","quality_score","tags","source",
    ///      "metadata","feedback_positive","feedback_negative","excluded","corrected"}
    static func appendRaw(_ e: EntryView, annotations a: FoldedAnnotations?, _ out: inout [UInt8]) {
        appendRecordFields(e, &out)
        lit(",\"feedback_positive\":", &out)
        JSONWriter.appendInt64(a?.feedbackPositive ?? 0, to: &out)
        lit(",\"feedback_negative\":", &out)
        JSONWriter.appendInt64(a?.feedbackNegative ?? 0, to: &out)
        if a?.excluded == true { lit(",\"excluded\":true,\"corrected\":", &out) } else { lit(",\"excluded\":false,\"corrected\":", &out) }
        appendCorrected(a, &out)
        out.append(0x7D)
    }

    /// Whether the schema can represent this shape (chat examples have no alpaca / prompt_response form).
    @inline(__always) static func represents(_ schema: JSONLSchema, _ shape: Shape) -> Bool {
        switch schema {
        case .raw, .chat: true
        case .alpaca, .promptResponse: shape != .chat
        }
    }

    /// The user turn of an instruction example: instruction, then a blank line and the input when the input is not empty.
    static func appendUserTurn(_ e: EntryView, _ out: inout [UInt8]) {
        if e.shape == .instruction && e.second.count > 0 {
            // One string literal from two pieces: write the instruction unterminated, then "\n\n" + input.
            var tmp: [UInt8] = []
            tmp.reserveCapacity(e.first.count + e.second.count + 2)
            tmp.append(contentsOf: e.first)
            tmp.append(0x0A); tmp.append(0x0A)
            tmp.append(contentsOf: e.second)
            tmp.withUnsafeBytes { str($0, &out) }
        } else {
            str(e.first, &out)
        }
    }

    /// The target text: the correction if there is one, else output / response.
    @inline(__always) static func appendTarget(_ e: EntryView, _ a: FoldedAnnotations?, _ out: inout [UInt8]) {
        if let c = a?.corrected { JSONWriter.appendString(c, to: &out) } else { str(e.shape == .instruction ? e.third : e.second, &out) }
    }

    /// One line of `schema` (no newline). REQUIRES: `represents(schema, e.shape)`.
    static func append(_ schema: JSONLSchema, _ e: EntryView, annotations a: FoldedAnnotations?, systemPrompt: String?, _ out: inout [UInt8]) {
        switch schema {
        case .raw:
            appendRaw(e, annotations: a, &out)
        case .alpaca:
            lit("{\"instruction\":", &out)
            str(e.first, &out)
            lit(",\"input\":", &out)
            if e.shape == .instruction { str(e.second, &out) } else { lit("\"\"", &out) }
            lit(",\"output\":", &out)
            appendTarget(e, a, &out)
            lit(",\"metadata\":", &out)
            appendMetadata(e.metadata, &out)
            out.append(0x7D)
        case .promptResponse:
            lit("{\"prompt\":", &out)
            appendUserTurn(e, &out)
            lit(",\"response\":", &out)
            appendTarget(e, a, &out)
            out.append(0x7D)
        case .chat:
            lit("{\"messages\":", &out)
            if e.shape == .chat {
                appendMessages(e, correction: a?.corrected, &out)
            } else {
                out.append(0x5B)
                if let sp = systemPrompt {
                    lit("{\"role\":\"system\",\"content\":", &out)
                    JSONWriter.appendString(sp, to: &out)
                    lit("},", &out)
                }
                lit("{\"role\":\"user\",\"content\":", &out)
                appendUserTurn(e, &out)
                lit("},{\"role\":\"assistant\",\"content\":", &out)
                appendTarget(e, a, &out)
                lit("}]", &out)
            }
            out.append(0x7D)
        }
    }

    /// A chat example as a training-file v4 conversation: `conversation_metadata` and one
    /// training pair per assistant message (SPEC.md §8.3).
    static func appendConversation(_ e: EntryView, annotations a: FoldedAnnotations?, _ out: inout [UInt8]) {
        lit("{\"conversation_metadata\":{\"conversation_id\":\"", &out)
        e.id.appendHex(to: &out)
        lit("\",\"domain\":", &out)
        str(e.domain, &out)
        lit(",\"timestamp\":", &out)
        appendTimestamp(e.timestampMillis, &out)
        lit(",\"quality_score\":", &out)
        appendQuality(e.quality, &out)
        lit(",\"tags\":", &out)
        appendTags(e, &out)
        lit(",\"source\":", &out)
        appendOptString(e.source, &out)
        lit(",\"metadata\":", &out)
        appendMetadata(e.metadata, &out)
        lit(",\"total_turns\":", &out)
        JSONWriter.appendInt64(Int64(e.messages.count), to: &out)
        // Training-file v4 conversation_metadata fields (SPEC.md §8.3).
        lit(",\"created_date\":\"", &out)
        out.append(contentsOf: formatTimestampMillis(e.timestampMillis).prefix(10).utf8)
        lit("\"", &out)
        for key in ["quality_tier", "source_file"] {
            out.append(contentsOf: ",\"\(key)\":".utf8)
            if case .string(let v) = JSONPathLookup.value(in: e.metadata, path: [Array(key.utf8)][...]) {
                JSONWriter.appendString(v, to: &out)
            } else {
                lit("null", &out)
            }
        }
        lit(",\"feedback_positive\":", &out)
        JSONWriter.appendInt64(a?.feedbackPositive ?? 0, to: &out)
        lit(",\"feedback_negative\":", &out)
        JSONWriter.appendInt64(a?.feedbackNegative ?? 0, to: &out)
        lit(a?.excluded == true ? ",\"excluded\":true" : ",\"excluded\":false", &out)
        lit("},\"messages\":", &out)
        appendMessages(e, &out)
        lit(",\"training_pairs\":[", &out)
        var turn = 0
        let lastAssistant = e.messages.lastIndex(where: { $0.role == .assistant })
        for (i, m) in e.messages.enumerated() where m.role == .assistant {
            // The user input is the nearest user message before this reply; the
            // history is every non-system message before that input.
            var u = i - 1
            while u >= 0 && e.messages[u].role != .user { u -= 1 }
            if turn > 0 { out.append(0x2C) }
            turn += 1
            lit("{\"turn_number\":", &out)
            JSONWriter.appendInt64(Int64(turn), to: &out)
            lit(",\"system_prompt\":", &out)
            if let s = e.messages[..<i].first(where: { $0.role == .system }) { str(s.content, &out) } else { lit("null", &out) }
            lit(",\"conversation_history\":[", &out)
            var first = true
            for k in 0..<max(u, 0) where e.messages[k].role != .system {
                if !first { out.append(0x2C) }
                first = false
                lit("{\"role\":\"", &out)
                appendRoleName(e.messages[k].role, &out)
                lit("\",\"content\":", &out)
                str(e.messages[k].content, &out)
                out.append(0x7D)
            }
            lit("],\"current_user_input\":", &out)
            if u >= 0 { str(e.messages[u].content, &out) } else { lit("\"\"", &out) }
            lit(",\"target_response\":", &out)
            if i == lastAssistant, let c = a?.corrected { JSONWriter.appendString(c, to: &out) } else { str(m.content, &out) }
            out.append(0x7D)
        }
        lit("]}", &out)
    }
}
