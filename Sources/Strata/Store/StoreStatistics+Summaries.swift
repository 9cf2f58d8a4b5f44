/// `strata stats` without a scan (SPEC.md §5.6): the counts of every segment
/// come from `index/stats.sum`, else from its footer (format version 2), and
/// only segments with neither — format version 1 segments, active segments —
/// are read. Excluded examples are taken back out by reading only the ids a
/// segment lists as exclusion candidates.
public struct StoreSummaryStatistics: Sendable {
    public var statistics = StoreStatistics()
    public var duplicates = DuplicateStatistics()
    /// Examples hidden by an exclude annotation (not counted in `statistics`).
    public var excluded = 0
    /// Examples whose required text field is empty, by field (QualityReport's names).
    public var emptyRequired: [String: Int] = [:]
    /// Segments whose counts had to be computed from their blocks.
    public var segmentsRead = 0
}

extension StoreReader {
    /// The counts of one listed segment, and its size on disk.
    func digest(of entry: Manifest.SegmentEntry, read: inout Int) throws -> SegmentDigest? {
        if let d = digests[entry.sequence] { return d }
        try catalog.open(segment: entry.sequence)
        guard let file = catalog.files[entry.sequence] else { return nil }  // an empty active segment the writer removed
        if file.isSealed, file.footer?.counts != nil { return try SegmentDigest(file: file, fs: catalog.fs) }
        read += 1
        if file.isSealed { return try SegmentDigest(file: file, fs: catalog.fs) }
        var b = SegmentBuilder(sequence: entry.sequence, codec: .raw, blockTarget: 0)
        var buffers = ReadBuffers()
        for offset in catalog.blockOffsets[entry.sequence] ?? [] {
            let h = try file.readBlock(at: offset, into: &buffers.block, scratch: &buffers.scratch)
            try buffers.block.withUnsafeBytes { try b.adoptWrittenBlock(at: offset, entries: $0, path: file.path) }
            guard b.blocks.last?.entryCount == h.entryCount else {
                throw StrataError(.corruption, "block declares \(h.entryCount) entries but holds \(b.blocks.last?.entryCount ?? 0)", path: file.path, offset: offset)
            }
        }
        return SegmentDigest(sequence: entry.sequence, partition: entry.partition, blocks: b.blocks.count,
                             fileBytes: file.validLength, rawBytes: b.rawBytes, counts: b.counts)
    }
}

extension StoreStatistics {
    /// Statistics from segment summaries and footers, reading blocks only
    /// where neither has counts (see `StoreSummaryStatistics`).
    public static func fromSummaries(_ reader: StoreReader) throws -> StoreSummaryStatistics {
        var out = StoreSummaryStatistics()
        var parts: [PartitionKey: (stats: PartitionStats, counts: SegmentCounts)] = [:]
        try reader.lock.withLock {
            for entry in reader.manifest.segments {
                guard let d = try reader.digest(of: entry, read: &out.segmentsRead) else { continue }
                var p = parts[entry.partition] ?? (PartitionStats(key: entry.partition), SegmentCounts())
                p.stats.segments += 1
                p.stats.bytes += d.fileBytes
                p.counts.merge(d.counts)
                parts[entry.partition] = p
            }
        }
        // Take excluded examples back out; a partition whose extremes they held is rescanned for them.
        var rescan: Set<PartitionKey> = []
        var seen: Set<ExampleID> = []
        for id in parts.values.flatMap(\.counts.exclusionCandidates) where seen.insert(id).inserted {
            guard let f = try reader.getFolded(id), f.isExcluded else { continue }
            let e = f.original
            let key = PartitionKey(domain: e.domain, month: e.month)
            guard var p = parts[key]?.counts else { continue }
            out.excluded += 1
            p.examples -= 1
            p.byShape[Int(e.shape.rawValue) - 1] -= 1
            if let q = e.qualityScore {
                p.qualityCount -= 1
                p.qualitySum -= q
                p.qualityHistogram[min(9, Int(q * 10))] -= 1
                if q == p.qualityMin || q == p.qualityMax { rescan.insert(key) }
            }
            if e.timestampMillis == p.minTimestamp || e.timestampMillis == p.maxTimestamp { rescan.insert(key) }
            func drop(_ m: inout [String: Int], _ other: inout Int, _ k: String) {
                if let n = m[k] { m[k] = n > 1 ? n - 1 : nil } else { other -= 1 }
            }
            if let s = e.source { drop(&p.sources, &p.otherSources, s) }
            for t in e.tags { drop(&p.tags, &p.otherTags, t) }
            for (i, empty) in Self.emptyRequired(e).enumerated() where empty { p.emptyRequired[i] -= 1 }
            parts[key]!.counts = p
        }
        for key in rescan {
            var c = parts[key]!.counts
            c.qualityMin = .infinity; c.qualityMax = -.infinity
            c.minTimestamp = .max; c.maxTimestamp = .min
            try reader.scan(ScanFilter(domains: [key.domain], fromMonth: key.month, toMonth: key.month)) { e in
                if let q = e.qualityScore { c.qualityMin = min(c.qualityMin, q); c.qualityMax = max(c.qualityMax, q) }
                c.minTimestamp = min(c.minTimestamp, e.timestampMillis)
                c.maxTimestamp = max(c.maxTimestamp, e.timestampMillis)
                return true
            }
            parts[key]!.counts = c
        }
        var s = StoreStatistics()
        var total = SegmentCounts()
        for key in parts.keys.sorted() {
            var (ps, c) = parts[key]!
            ps.records = c.examples
            s.partitions.append(ps)
            s.bytesOnDisk += ps.bytes
            if c.examples > 0 {
                s.byDomain[key.domain, default: 0] += c.examples
                s.byMonth[key.month.description, default: 0] += c.examples
            }
            if c.duplicatesSeen > 0 {
                out.duplicates.total += c.duplicatesSeen
                out.duplicates.byDomain[key.domain, default: 0] += c.duplicatesSeen
            }
            c.exclusionCandidates = []
            total.merge(c)
        }
        s.records = total.examples
        for (i, name) in ["instruction", "prompt_response", "chat"].enumerated() where total.byShape[i] > 0 { s.byShape[name] = total.byShape[i] }
        s.bySource = total.sources.filter { $0.value > 0 }
        if total.otherSources > 0 { s.bySource["(other)"] = total.otherSources }
        s.byTag = total.tags.filter { $0.value > 0 }
        if total.otherTags > 0 { s.byTag["(other)"] = total.otherTags }
        if total.examples > 0 { s.earliest = total.minTimestamp; s.latest = total.maxTimestamp }
        s.qualityCount = total.qualityCount
        if total.qualityCount > 0 {
            s.qualitySum = total.qualitySum
            s.qualityMin = total.qualityMin
            s.qualityMax = total.qualityMax
        }
        s.qualityHistogram = total.qualityHistogram
        for (i, n) in total.emptyRequired.enumerated() where n > 0 { out.emptyRequired[SegmentCounts.requiredFields[i]] = n }
        out.statistics = s
        return out
    }

    /// Which `SegmentCounts.requiredFields` are empty in `e`.
    static func emptyRequired(_ e: Example) -> [Bool] {
        var r = [Bool](repeating: false, count: 6)
        switch e.content {
        case let .instruction(i, _, o): r[0] = i.isEmpty; r[1] = o.isEmpty
        case let .promptResponse(p, resp): r[2] = p.isEmpty; r[3] = resp.isEmpty
        case let .chat(ms): r[4] = ms.isEmpty; r[5] = ms.contains { $0.content.isEmpty }
        }
        return r
    }
}
