import Foundation

/// Statistics of one segment, kept incrementally by its writer and stored in
/// its footer (format version 2, SPEC.md §3.3 `counts`) and in the derived
/// summary file `index/stats.sum` (SPEC.md §5.6), so `strata stats` answers
/// without reading blocks.
///
/// They count every example entry the segment holds, whatever later
/// annotations say; `exclusionCandidates` lists the ids whose folded view
/// may be excluded (targets of exclude/include annotations in this segment,
/// and compacted examples whose folded annotations include one), so a reader
/// can take excluded examples back out by reading only those.
struct SegmentCounts: Equatable, Sendable {
    /// Distinct sources / tags kept per segment; further values are counted in `other…`.
    static let maxDistinct = 256
    /// `emptyRequired` slots, in this order (QualityReport's field names).
    static let requiredFields = ["instruction", "output", "prompt", "response", "chat.messages", "message.content"]

    var examples = 0
    /// Indexed by `Shape.rawValue - 1`: instruction, prompt_response, chat.
    var byShape = [0, 0, 0]
    var duplicatesSeen = 0
    var qualityCount = 0
    var qualitySum = 0.0
    var qualityMin = Double.infinity
    var qualityMax = -Double.infinity
    /// 10 buckets of width 0.1 (1.0 falls in the last).
    var qualityHistogram = [Int](repeating: 0, count: 10)
    var minTimestamp = Int64.max
    var maxTimestamp = Int64.min
    /// Examples with an empty required text, per `requiredFields` slot.
    var emptyRequired = [Int](repeating: 0, count: 6)
    var sources: [String: Int] = [:]
    var otherSources = 0
    var tags: [String: Int] = [:]
    var otherTags = 0
    var exclusionCandidates: [ExampleID] = []

    /// The counts every example adds whatever it was counted from: shape, time range, quality.
    private mutating func addScalars(shape: Shape, timestampMillis: Int64, quality: Double?) {
        examples += 1
        byShape[Int(shape.rawValue) - 1] += 1
        minTimestamp = min(minTimestamp, timestampMillis)
        maxTimestamp = max(maxTimestamp, timestampMillis)
        if let q = quality {
            qualityCount += 1
            qualitySum += q
            qualityMin = min(qualityMin, q)
            qualityMax = max(qualityMax, q)
            qualityHistogram[min(9, Int(q * 10))] += 1
        }
    }

    /// Counts one example entry (already decoded by the one entry decoder).
    mutating func add(example v: EntryView) {
        addScalars(shape: v.shape, timestampMillis: v.timestampMillis, quality: v.quality)
        switch v.shape {
        case .instruction:
            if v.first.isEmpty { emptyRequired[0] += 1 }
            if v.third.isEmpty { emptyRequired[1] += 1 }
        case .promptResponse:
            if v.first.isEmpty { emptyRequired[2] += 1 }
            if v.second.isEmpty { emptyRequired[3] += 1 }
        case .chat:
            if v.messages.isEmpty { emptyRequired[4] += 1 }
            if v.messages.contains(where: { $0.content.isEmpty }) { emptyRequired[5] += 1 }
        }
        if let s = v.source { Self.bump(&sources, &otherSources, String(decoding: s, as: UTF8.self)) }
        for t in v.tags { Self.bump(&tags, &otherTags, String(decoding: t, as: UTF8.self)) }
    }

    /// Counts one example entry from the facts its encoder already had
    /// (`ExampleFacts`): the same counts as `add(example:)` of its decoded
    /// entry, without decoding it. `tags` are the example's tags in order.
    mutating func add(facts f: ExampleFacts, tags tagNames: ArraySlice<String>) {
        addScalars(shape: f.shape, timestampMillis: f.timestampMillis, quality: f.quality)
        if f.emptyRequired != 0 {
            for i in 0..<6 where f.emptyRequired & (1 << i) != 0 { emptyRequired[i] += 1 }
        }
        if let s = f.source { Self.bump(&sources, &otherSources, s) }
        for t in tagNames { Self.bump(&tags, &otherTags, t) }
    }

    private static func bump(_ map: inout [String: Int], _ other: inout Int, _ key: String) {
        // One hash for a value already counted (the common case), not two.
        if let i = map.index(forKey: key) {
            map.values[i] += 1
        } else if map.count < maxDistinct {
            map[key] = 1
        } else {
            other += 1
        }
    }

    /// Counts a non-example entry by its kind and body.
    mutating func add(kind: UInt8, body: ByteReader) throws {
        switch EntryKind(rawValue: kind) {
        case .duplicateSeen: duplicatesSeen += 1
        case .annotation:
            var r = body
            let annKind = try r.u8("annotation kind")
            if annKind == 3 || annKind == 4 { exclusionCandidates.append(try ExampleID.read(from: &r)) }
        case .foldedAnnotations:
            var r = body
            let (target, anns) = try AnnotationCodec.decodeFolded(&r)
            if anns.contains(where: { $0.kind.code == 3 || $0.kind.code == 4 }) {
                exclusionCandidates.append(target)
            }
        case .example, nil: break
        }
    }

    // MARK: encoding (SPEC.md §3.3 `counts`)

    func encode(to w: inout ByteWriter) {
        w.varint(examples)
        for n in byShape { w.varint(n) }
        w.varint(duplicatesSeen)
        w.varint(qualityCount)
        if qualityCount > 0 {
            w.f64(qualitySum); w.f64(qualityMin); w.f64(qualityMax)
            for n in qualityHistogram { w.varint(n) }
        }
        w.i64(minTimestamp)
        w.i64(maxTimestamp)
        for n in emptyRequired { w.varint(n) }
        func map(_ m: [String: Int], _ other: Int) {
            w.varint(m.count)
            for k in m.keys.sorted() { w.string(k); w.varint(m[k]!) }
            w.varint(other)
        }
        map(sources, otherSources)
        map(tags, otherTags)
        w.varint(exclusionCandidates.count)
        for id in exclusionCandidates { id.write(to: &w) }
    }

    static func decode(_ r: inout ByteReader) throws -> SegmentCounts {
        var c = SegmentCounts()
        let limit = Int(Int32.max)
        c.examples = try r.count("example count", limit: limit)
        for i in 0..<3 { c.byShape[i] = try r.count("shape count", limit: limit) }
        guard c.byShape.reduce(0, +) == c.examples else { throw r.corruption("shape counts do not add up to the example count") }
        c.duplicatesSeen = try r.count("duplicate count", limit: limit)
        c.qualityCount = try r.count("quality count", limit: c.examples)
        if c.qualityCount > 0 {
            c.qualitySum = try r.f64("quality sum")
            c.qualityMin = try r.f64("quality min")
            c.qualityMax = try r.f64("quality max")
            guard c.qualityMin >= 0, c.qualityMin <= c.qualityMax, c.qualityMax <= 1, c.qualitySum.isFinite else {
                throw r.corruption("quality summary out of range")
            }
            for i in 0..<10 { c.qualityHistogram[i] = try r.count("quality histogram", limit: c.qualityCount) }
        }
        c.minTimestamp = try r.i64("min timestamp")
        c.maxTimestamp = try r.i64("max timestamp")
        for i in 0..<6 { c.emptyRequired[i] = try r.count("empty required count", limit: c.examples) }
        func map(_ what: StaticString) throws -> ([String: Int], Int) {
            let n = try r.count(what, limit: maxDistinct)
            var m: [String: Int] = [:]
            for _ in 0..<n { let k = try r.string(what); m[k] = try r.count(what, limit: limit) }
            guard m.count == n else { throw r.corruption("\(what) lists a value twice") }
            return (m, try r.count(what, limit: limit))
        }
        (c.sources, c.otherSources) = try map("source counts")
        (c.tags, c.otherTags) = try map("tag counts")
        let nc = try r.count("exclusion candidates", limit: r.remaining / 16)
        c.exclusionCandidates.reserveCapacity(nc)
        for _ in 0..<nc { c.exclusionCandidates.append(try ExampleID.read(from: &r)) }
        return c
    }

    /// Adds another segment's counts (for a partition or the store).
    mutating func merge(_ o: SegmentCounts) {
        examples += o.examples
        for i in 0..<3 { byShape[i] += o.byShape[i] }
        duplicatesSeen += o.duplicatesSeen
        qualityCount += o.qualityCount
        qualitySum += o.qualitySum
        qualityMin = min(qualityMin, o.qualityMin)
        qualityMax = max(qualityMax, o.qualityMax)
        for i in 0..<10 { qualityHistogram[i] += o.qualityHistogram[i] }
        minTimestamp = min(minTimestamp, o.minTimestamp)
        maxTimestamp = max(maxTimestamp, o.maxTimestamp)
        for i in 0..<6 { emptyRequired[i] += o.emptyRequired[i] }
        for (k, n) in o.sources { sources[k, default: 0] += n }
        otherSources += o.otherSources
        for (k, n) in o.tags { tags[k, default: 0] += n }
        otherTags += o.otherTags
        exclusionCandidates += o.exclusionCandidates
    }
}

/// What `SegmentCounts` counts of one example, taken from the draft when the
/// ingest parse stage encodes it, so the store stage appends the entry
/// without decoding it again. Tags travel beside it (`EncodedBatch.tagNames`).
struct ExampleFacts: Sendable {
    var shape: Shape
    var timestampMillis: Int64
    var quality: Double?
    /// Bit i set: the text of `SegmentCounts.requiredFields[i]` is empty.
    var emptyRequired: UInt8
    var source: String?
    /// The example's tags: `tagNames[tagStart..<(tagStart + tagCount)]` of its batch.
    var tagStart: Int
    var tagCount: Int

    /// The facts of `d`, with its source and tags as Strings from `strings`
    /// (appended to `tagNames`), exactly as `add(example:)` would count its entry.
    /// (A static function, not an init: an init's parameter is passed owned,
    /// which copied the draft, 4 retains and releases, per example.)
    static func of(_ d: ExampleDraft, strings: inout StringInterner, tagNames: inout [String]) -> ExampleFacts {
        var f = ExampleFacts(shape: d.shape, timestampMillis: d.timestampMillis, quality: d.qualityScore, emptyRequired: 0,
                             source: nil, tagStart: tagNames.count, tagCount: d.tags.count)
        var empty: UInt8 = 0
        switch d.shape {
        case .instruction:
            if d.first.count == 0 { empty |= 1 << 0 }
            if d.third.count == 0 { empty |= 1 << 1 }
        case .promptResponse:
            if d.first.count == 0 { empty |= 1 << 2 }
            if d.second.count == 0 { empty |= 1 << 3 }
        case .chat:
            if d.messages.isEmpty { empty |= 1 << 4 }
            if d.messages.contains(where: { $0.content.count == 0 }) { empty |= 1 << 5 }
        }
        f.emptyRequired = empty
        if let s = d.source { f.source = strings.string(d.storage, s) }
        for t in d.tags { tagNames.append(strings.string(d.storage, t)) }
        return f
    }
}

/// Strings for the byte spans of a draft's source and tags, which repeat:
/// each distinct value is decoded once and its String shared, so counting
/// them allocates nothing per example.
struct StringInterner {
    private var known: [UInt64: (bytes: [UInt8], string: String)] = [:]
    /// Distinct values kept; others are decoded each time (still correct).
    static let limit = 4096

    mutating func string(_ storage: [UInt8], _ span: ExampleDraft.Span) -> String {
        storage.withUnsafeBytes { all in
            let b = UnsafeRawBufferPointer(rebasing: all[span.start..<(span.start + span.count)])
            // FNV-1a: the key only picks the slot; equality is checked on the bytes.
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
            if let e = known[h], e.bytes.count == b.count,
               b.count == 0 || e.bytes.withUnsafeBytes({ memcmp($0.baseAddress!, b.baseAddress!, b.count) }) == 0 {
                return e.string
            }
            let s = String(decoding: b, as: UTF8.self)
            if known[h] == nil && known.count < Self.limit { known[h] = (Array(b), s) }
            return s
        }
    }
}
