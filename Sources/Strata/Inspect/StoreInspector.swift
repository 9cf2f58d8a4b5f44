/// What `strata inspect` shows: per-segment facts from headers, footers and
/// the manifest. Sealed segments are described from their footer alone (fast);
/// active segments, which have no footer yet, are walked and their blocks read.
public struct SegmentSummary: Sendable {
    public var sequence: UInt64
    public var partition: PartitionKey
    /// Path relative to the store.
    public var path: String
    /// "active", "sealed" or "compacted" (sealed and zstd-compressed).
    public var state: String
    public var codec: String
    /// zstd level when the manifest records it.
    public var level: Int?
    public var dictionaryID: UInt32
    public var storedBytes: Int64 = 0
    public var rawBytes: Int64 = 0
    public var blocks = 0
    public var entries = 0
    public var examples = 0
    public var annotations = 0
    /// Exact for active and lz4 segments; nil for compacted ones (not told apart from folded entries without reading blocks).
    public var duplicatesSeen: Int? = 0
    /// Entries that are neither examples nor annotations.
    public var otherEntries = 0
    public var minTimestamp: Int64?
    public var maxTimestamp: Int64?
    public var tornBytes: Int64 = 0

    public var ratio: Double? { storedBytes > 0 && rawBytes > 0 ? Double(rawBytes) / Double(storedBytes) : nil }
}

public struct PartitionSummary: Sendable {
    public var key: PartitionKey
    public var segments: [SegmentSummary] = []

    func sum(_ f: (SegmentSummary) -> Int) -> Int { segments.reduce(0) { $0 + f($1) } }
    public var examples: Int { sum(\.examples) }
    public var annotations: Int { sum(\.annotations) }
    public var duplicatesSeen: Int { sum { $0.duplicatesSeen ?? 0 } }
    public var blocks: Int { sum(\.blocks) }
    public var storedBytes: Int64 { segments.reduce(0) { $0 + $1.storedBytes } }
    public var rawBytes: Int64 { segments.reduce(0) { $0 + $1.rawBytes } }
    public var ratio: Double? { storedBytes > 0 && rawBytes > 0 ? Double(rawBytes) / Double(storedBytes) : nil }
    public var minTimestamp: Int64? { segments.compactMap(\.minTimestamp).min() }
    public var maxTimestamp: Int64? { segments.compactMap(\.maxTimestamp).max() }
    public func count(state: String) -> Int { segments.filter { $0.state == state }.count }
}

public struct StoreInspection: Sendable {
    public var storeID: String
    public var created: String
    public var generation: UInt64
    public var dedupKey: String
    public var partitions: [PartitionSummary] = []
    public var dictionaryFiles: [String] = []

    public var segments: [SegmentSummary] { partitions.flatMap(\.segments) }
}

public enum StoreInspector {
    /// Inspects the whole store, or only segments whose partition passes `include`.
    public static func inspect(path: String, fileSystem fs: FileSystem = PosixFileSystem.shared,
                               include: (PartitionKey) -> Bool = { _ in true },
                               segment only: UInt64? = nil) throws -> StoreInspection {
        let mp = path + "/" + Format.manifestFileName
        guard fs.fileExists(mp) else { throw StrataError(.notFound, "no Strata store here (MANIFEST missing)", path: path) }
        let m = try Manifest.decode(try fs.readFile(mp), path: mp)
        var out = StoreInspection(storeID: m.storeID, created: m.created, generation: m.generation,
                                  dedupKey: m.dedup.key)
        if fs.isDirectory(path + "/dicts") {
            out.dictionaryFiles = ((try? fs.listDirectory(path + "/dicts")) ?? []).filter { !$0.hasSuffix(".tmp") }.sorted()
        }
        let levels = (m.extra["levels"]?.value as? [String: Any]) ?? [:]
        var parts: [PartitionKey: PartitionSummary] = [:]
        for e in m.segments where include(e.partition) && (only == nil || only == e.sequence) {
            let rel = e.partition.path + "/" + Format.segmentFileName(e.sequence)
            var s = SegmentSummary(sequence: e.sequence, partition: e.partition, path: rel,
                                   state: e.state == .active ? "active" : (e.codec.hasPrefix("zstd") ? "compacted" : "sealed"),
                                   codec: e.codec, level: (levels[String(e.sequence)] as? Int), dictionaryID: e.dictionaryID)
            try describe(&s, file: path + "/" + rel, entry: e, fs: fs)
            parts[e.partition, default: PartitionSummary(key: e.partition)].segments.append(s)
        }
        out.partitions = parts.values.sorted { $0.key < $1.key }
        return out
    }

    static func describe(_ s: inout SegmentSummary, file: String, entry e: Manifest.SegmentEntry, fs: FileSystem) throws {
        let seg = try SegmentFile(fs: fs, path: file, sequence: e.sequence, partition: e.partition, expectSealed: e.state == .sealed)
        defer { seg.close() }
        s.storedBytes = try fs.fileSize(file)
        s.dictionaryID = seg.header.dictionaryID
        if let f = seg.footer {
            if e.state == .active { s.state = "sealed" }
            s.blocks = f.blocks.count
            s.entries = f.blocks.reduce(0) { $0 + $1.entryCount }
            s.examples = f.exampleCount
            s.annotations = f.annotations.count
            // The footer lists examples and annotations; the other entries are duplicate offers,
            // plus folded annotations in compacted segments (SPEC.md §4.5).
            s.otherEntries = max(0, s.entries - s.examples - s.annotations)
            s.duplicatesSeen = s.state == "compacted" ? nil : s.otherEntries
            s.rawBytes = f.rawBytes
            if f.exampleCount > 0 { s.minTimestamp = f.minTimestamp; s.maxTimestamp = f.maxTimestamp }
            return
        }
        let walk = try seg.walk()
        seg.restrict(to: walk.validEnd)
        s.tornBytes = walk.tornBytes
        s.blocks = walk.blocks.count
        var block: [UInt8] = [], scratch: [UInt8] = []
        for (offset, h) in walk.blocks {
            s.entries += h.entryCount
            s.rawBytes += Int64(h.rawLength)
            _ = try seg.readBlock(at: offset, into: &block, scratch: &scratch)
            try block.withUnsafeBytes { raw in
                try BlockCursor.forEach(raw, path: file, blockOffset: offset, declaredCount: h.entryCount) { e in
                    let body = e.body
                    switch e.kind {
                    case EntryKind.example.rawValue:
                        s.examples += 1
                        // id (16) follows the shape byte; the timestamp follows the id.
                        var r = body
                        _ = try r.u8("shape")
                        _ = try ExampleID.read(from: &r)
                        let ts = try r.i64("timestamp")
                        s.minTimestamp = min(s.minTimestamp ?? ts, ts)
                        s.maxTimestamp = max(s.maxTimestamp ?? ts, ts)
                    case EntryKind.annotation.rawValue: s.annotations += 1
                    case EntryKind.duplicateSeen.rawValue: s.duplicatesSeen = (s.duplicatesSeen ?? 0) + 1; s.otherEntries += 1
                    default: s.otherEntries += 1
                    }
                    return true
                }
            }
        }
    }
}
