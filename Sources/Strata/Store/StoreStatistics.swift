/// Store-wide statistics from one scan of a snapshot (`strata stats`).
public struct StoreStatistics: Sendable {
    public struct PartitionStats: Sendable {
        public var key: PartitionKey
        public var records = 0
        public var bytes: Int64 = 0
        public var segments = 0
    }

    public var records = 0
    public var partitions: [PartitionStats] = []
    public var byDomain: [String: Int] = [:]
    public var byMonth: [String: Int] = [:]
    public var byShape: [String: Int] = [:]
    public var bySource: [String: Int] = [:]
    public var byTag: [String: Int] = [:]
    public var earliest: Int64?
    public var latest: Int64?
    public var qualityCount = 0
    public var qualitySum = 0.0
    public var qualityMin: Double?
    public var qualityMax: Double?
    /// Quality histogram: 10 buckets of width 0.1 (1.0 falls in the last).
    public var qualityHistogram = [Int](repeating: 0, count: 10)
    public var bytesOnDisk: Int64 = 0

    public var averageQualityScore: Double? { qualityCount > 0 ? qualitySum / Double(qualityCount) : nil }

    /// Scans every example of the snapshot once (`fromSummaries` answers the same without a scan).
    public static func compute(_ reader: StoreReader) throws -> StoreStatistics { try compute(reader, visit: nil) }

    /// Scans the folded view of the examples `filter` selects, partition by
    /// partition (excluded examples go to `visit` only, for the quality
    /// report); `progress` gets (partitions done, partitions).
    static func compute(_ reader: StoreReader, filter: ScanFilter = ScanFilter(includeExcluded: true),
                        visit: ((FoldedExample) -> Void)?,
                        progress: ((Int, Int) -> Void)? = nil) throws -> StoreStatistics {
        var s = StoreStatistics()
        var parts: [PartitionKey: PartitionStats] = [:]
        let all = reader.partitions.filter { filter.includes($0) }
        for (i, p) in all.enumerated() {
        var one = filter
        (one.domains, one.fromMonth, one.toMonth) = ([p.domain], p.month, p.month)
        try reader.scanFolded(one) { f in
            visit?(f)
            if f.isExcluded { return true }
            let e = f.example
            s.records += 1
            let key = PartitionKey(domain: e.domain, month: e.month)
            parts[key, default: PartitionStats(key: key)].records += 1
            s.byDomain[e.domain, default: 0] += 1
            s.byMonth[e.month.description, default: 0] += 1
            s.byShape[e.shape.name, default: 0] += 1
            if let src = e.source { s.bySource[src, default: 0] += 1 }
            for t in e.tags { s.byTag[t, default: 0] += 1 }
            s.earliest = min(s.earliest ?? .max, e.timestampMillis)
            s.latest = max(s.latest ?? .min, e.timestampMillis)
            if let q = e.qualityScore {
                s.qualityCount += 1
                s.qualitySum += q
                s.qualityMin = min(s.qualityMin ?? q, q)
                s.qualityMax = max(s.qualityMax ?? q, q)
                s.qualityHistogram[min(9, Int(q * 10))] += 1
            }
            return true
        }
        progress?(i + 1, all.count)
        }
        for (_, file) in reader.catalog.files {
            let size = (try? reader.catalog.fs.fileSize(file.path)) ?? 0
            parts[file.partition, default: PartitionStats(key: file.partition)].bytes += size
            parts[file.partition]!.segments += 1
            s.bytesOnDisk += size
        }
        s.partitions = parts.values.sorted { $0.key < $1.key }
        return s
    }
}
