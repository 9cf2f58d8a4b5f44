import Foundation

/// Streams example entries to JSON text straight from block bytes (SPEC.md §8.2).
enum ExampleJSONEncoder {
    @inline(__always) static func lit<O: JSONByteSink & ~Copyable>(_ s: StaticString, _ out: inout O) {
        out.append(s)
    }

    @inline(__always) static func str<O: JSONByteSink & ~Copyable>(_ b: UnsafeRawBufferPointer, _ out: inout O) {
        out.appendJSONString(b)
    }

    @inline(__always) static func str<O: JSONByteSink & ~Copyable>(_ s: String, _ out: inout O) {
        var s = s
        s.withUTF8 { out.appendJSONString(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always) static func str<O: JSONByteSink & ~Copyable>(_ b: [UInt8], _ out: inout O) {
        b.withUnsafeBytes { out.appendJSONString($0) }
    }

    /// The text's UTF-8 bytes as they are.
    @inline(__always) static func raw<O: JSONByteSink & ~Copyable>(_ s: String, _ out: inout O) {
        var s = s
        s.withUTF8 { out.append(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// `JSONWriter.appendDouble`'s text.
    @inline(__always) static func double<O: JSONByteSink & ~Copyable>(_ v: Double, _ out: inout O) {
        guard v.isFinite else { lit("null", &out); return }
        raw(v.description, &out)
    }

    /// `JSONWriter.appendInt64`'s digits.
    @inline(__always) static func int<O: JSONByteSink & ~Copyable>(_ v: Int64, _ out: inout O) {
        out.write(upTo: 20) { d in
            var m = v.magnitude
            var k = 0
            if v < 0 { d[0] = 0x2D; k = 1 }
            var digits = 1
            var t = m
            while t >= 10 { t /= 10; digits &+= 1 }
            k &+= digits
            var j = k
            repeat {
                j &-= 1
                d[j] = UInt8(truncatingIfNeeded: m % 10) &+ 0x30
                m /= 10
            } while m > 0
            return k
        }
    }

    /// The id as 32 lowercase hex digits (`ExampleID.appendHex`'s bytes).
    @inline(__always) static func hex<O: JSONByteSink & ~Copyable>(_ id: ExampleID, _ out: inout O) {
        out.write(upTo: 32) { d in
            let digits: StaticString = "0123456789abcdef"
            let h = digits.utf8Start
            var hi = id.high, lo = id.low
            var j = 16
            while j > 0 {
                j &-= 1
                d[j] = h[Int(hi & 0xF)]
                d[j &+ 16] = h[Int(lo & 0xF)]
                hi >>= 4
                lo >>= 4
            }
            return 32
        }
    }

    /// `"YYYY-MM-DDTHH:MM:SS.mmmZ"`, quotes included.
    static func appendTimestamp<O: JSONByteSink & ~Copyable>(_ ms: Int64, _ out: inout O) {
        let days = floorDiv(ms, 86_400_000)
        let inDay = Int(ms - days * 86_400_000)
        let (y, m, d) = civilFromDays(Int(days))
        guard y >= 0 && y <= 9999 else {
            // Only a damaged or foreign entry: the year in as many digits as it takes.
            var o: [UInt8] = []
            appendTimestampSlow(y: y, m: m, d: d, inDay: inDay, &o)
            o.withUnsafeBytes { out.append(bytes: $0) }
            return
        }
        out.write(upTo: 26) { p in
            @inline(__always) func two(_ at: Int, _ v: Int) { p[at] = UInt8(truncatingIfNeeded: 0x30 &+ v / 10); p[at &+ 1] = UInt8(truncatingIfNeeded: 0x30 &+ v % 10) }
            p[0] = 0x22
            two(1, y / 100); two(3, y % 100)
            p[5] = 0x2D; two(6, m); p[8] = 0x2D; two(9, d)
            p[11] = 0x54
            let s = inDay / 1000
            two(12, s / 3600); p[14] = 0x3A; two(15, s / 60 % 60); p[17] = 0x3A; two(18, s % 60)
            p[20] = 0x2E
            let f = inDay % 1000
            p[21] = UInt8(truncatingIfNeeded: 0x30 &+ f / 100); two(22, f % 100)
            p[24] = 0x5A
            p[25] = 0x22
            return 26
        }
    }

    private static func appendTimestampSlow(y: Int, m: Int, d: Int, inDay: Int, _ out: inout [UInt8]) {
        out.append(0x22)
        func two(_ v: Int) { out.append(UInt8(0x30 + v / 10)); out.append(UInt8(0x30 + v % 10)) }
        out.append(contentsOf: Array(String(y).utf8))
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
    @inline(__always) static func appendMetadata<O: JSONByteSink & ~Copyable>(_ m: UnsafeRawBufferPointer, _ out: inout O) {
        guard m.count > 0, memchr(m.baseAddress!, 0x0A, m.count) != nil || memchr(m.baseAddress!, 0x0D, m.count) != nil else {
            out.append(bytes: m)
            return
        }
        out.write(upTo: m.count) { d in
            for (k, b) in m.enumerated() { d[k] = b == 0x0A || b == 0x0D ? 0x20 : b }
            return m.count
        }
    }

    @inline(__always) static func appendOptString<O: JSONByteSink & ~Copyable>(_ b: UnsafeRawBufferPointer?, _ out: inout O) {
        if let b { str(b, &out) } else { lit("null", &out) }
    }

    @inline(__always) static func appendQuality<O: JSONByteSink & ~Copyable>(_ q: Double?, _ out: inout O) {
        if let q { double(q, &out) } else { lit("null", &out) }
    }

    static func appendTags<O: JSONByteSink & ~Copyable>(_ e: EntryView, _ out: inout O) {
        out.append(0x5B)
        for (i, t) in e.tags.enumerated() {
            if i > 0 { out.append(0x2C) }
            str(t, &out)
        }
        out.append(0x5D)
    }

    /// `[{"role","content"},…]`; `correction` (the folded view, SPEC.md §4.6)
    /// replaces the last assistant message's content when there is one.
    static func appendMessages<O: JSONByteSink & ~Copyable>(_ e: EntryView, correction: String? = nil, _ out: inout O) {
        let replaced = correction == nil ? nil : e.messages.lastIndex(where: { $0.role == .assistant })
        out.append(0x5B)
        for (i, m) in e.messages.enumerated() {
            if i > 0 { out.append(0x2C) }
            lit("{\"role\":\"", &out)
            appendRoleName(m.role, &out)
            lit("\",\"content\":", &out)
            if i == replaced, let correction { str(correction, &out) } else { str(m.content, &out) }
            out.append(0x7D)
        }
        out.append(0x5D)
    }

    @inline(__always) static func appendRoleName<O: JSONByteSink & ~Copyable>(_ r: Role, _ out: inout O) {
        switch r {
        case .system: lit("system", &out)
        case .user: lit("user", &out)
        case .assistant: lit("assistant", &out)
        case .tool: lit("tool", &out)
        }
    }

    @inline(__always) static func appendCorrected<O: JSONByteSink & ~Copyable>(_ a: FoldedAnnotations?, _ out: inout O) {
        if let c = a?.corrected { str(c, &out) } else { lit("null", &out) }
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
    static func appendRecordFields<O: JSONByteSink & ~Copyable>(_ e: EntryView, correction: String? = nil, _ out: inout O) {
        lit("{\"id\":\"", &out)
        hex(e.id, &out)
        switch e.shape {
        case .instruction:
            lit("\",\"shape\":\"instruction\",\"instruction\":", &out)
            str(e.first, &out)
            lit(",\"input\":", &out)
            str(e.second, &out)
            lit(",\"output\":", &out)
            if let correction { str(correction, &out) } else { str(e.third, &out) }
        case .promptResponse:
            lit("\",\"shape\":\"prompt_response\",\"prompt\":", &out)
            str(e.first, &out)
            lit(",\"response\":", &out)
            if let correction { str(correction, &out) } else { str(e.second, &out) }
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
    @inline(__always) static func appendRecordTimestamp<O: JSONByteSink & ~Copyable>(_ ms: Int64, _ out: inout O) {
        if ms >= Example.yearZeroMillis && ms < Example.year10000Millis {
            appendTimestamp(ms, &out)
        } else {
            out.append(0x22)
            raw(formatTimestampMillis(ms), &out)
            out.append(0x22)
        }
    }

    /// One line of `strata scan` / `get` (no newline): the record in its folded
    /// view (`correction`), made line-safe (`JSONWriter.makeLineSafe`) -- the
    /// bytes of `FoldedExample.example.jsonString`.
    static func appendRecordLine<O: JSONByteSink & ~Copyable>(_ e: EntryView, correction: String?, _ out: inout O) {
        let start = out.count
        appendRecordFields(e, correction: correction, &out)
        out.append(0x7D)
        out.makeLineSafe(from: start)
    }

    /// The raw object (no trailing newline): every stored field plus the folded annotations.
    ///
    ///     {"id","shape",<content fields>,"domain","timestamp","quality_score","tags","source",
    ///      "metadata","feedback_positive","feedback_negative","excluded","corrected"}
    static func appendRaw<O: JSONByteSink & ~Copyable>(_ e: EntryView, annotations a: FoldedAnnotations?, _ out: inout O) {
        appendRecordFields(e, &out)
        lit(",\"feedback_positive\":", &out)
        int(a?.feedbackPositive ?? 0, &out)
        lit(",\"feedback_negative\":", &out)
        int(a?.feedbackNegative ?? 0, &out)
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
    static func appendUserTurn<O: JSONByteSink & ~Copyable>(_ e: EntryView, _ out: inout O) {
        if e.shape == .instruction && e.second.count > 0 {
            // One string literal from two pieces (escaping is byte by byte): the
            // instruction's literal without its closing quote, "\n\n", the input's without its opening one.
            out.appendJSONString(e.first, joinedByBlankLine: e.second)
        } else {
            str(e.first, &out)
        }
    }

    /// The target text: the correction if there is one, else output / response.
    @inline(__always) static func appendTarget<O: JSONByteSink & ~Copyable>(_ e: EntryView, _ a: FoldedAnnotations?, _ out: inout O) {
        if let c = a?.corrected { str(c, &out) } else { str(e.shape == .instruction ? e.third : e.second, &out) }
    }

    /// One line of `schema` (no newline). REQUIRES: `represents(schema, e.shape)`.
    static func append<O: JSONByteSink & ~Copyable>(_ schema: JSONLSchema, _ e: EntryView, annotations a: FoldedAnnotations?, systemPrompt: String?, _ out: inout O) {
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
                    str(sp, &out)
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

    /// Metadata keys copied into `conversation_metadata`, in this order.
    static let conversationMetadataKeys = [Array("quality_tier".utf8), Array("source_file".utf8)]

    /// A chat example as a training-file v4 conversation: `conversation_metadata` and one
    /// training pair per assistant message (SPEC.md §8.3).
    static func appendConversation<O: JSONByteSink & ~Copyable>(_ e: EntryView, annotations a: FoldedAnnotations?, _ out: inout O) {
        lit("{\"conversation_metadata\":{\"conversation_id\":\"", &out)
        hex(e.id, &out)
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
        int(Int64(e.messages.count), &out)
        // Training-file v4 conversation_metadata fields (SPEC.md §8.3).
        lit(",\"created_date\":\"", &out)
        raw(String(formatTimestampMillis(e.timestampMillis).prefix(10)), &out)
        lit("\"", &out)
        for (i, key) in conversationMetadataKeys.enumerated() {
            lit(i == 0 ? ",\"quality_tier\":" : ",\"source_file\":", &out)
            if MetadataKeys.mayContain(e.metadata, key), case .string(let v) = JSONPathLookup.value(in: e.metadata, path: [key][...]) {
                str(v, &out)
            } else {
                lit("null", &out)
            }
        }
        lit(",\"feedback_positive\":", &out)
        int(a?.feedbackPositive ?? 0, &out)
        lit(",\"feedback_negative\":", &out)
        int(a?.feedbackNegative ?? 0, &out)
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
            int(Int64(turn), &out)
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
            if i == lastAssistant, let c = a?.corrected { str(c, &out) } else { str(m.content, &out) }
            out.append(0x7D)
        }
        lit("]}", &out)
    }
}
