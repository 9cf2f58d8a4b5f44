extension Store {
    /// The example with this id, or nil. Sees appended but uncommitted examples too.
    public func get(_ id: ExampleID) throws -> Example? {
        try lock.withLock {
            guard let loc = try dedup.locate(id: id, catalog: catalog) else { return nil }
            return try readFoldedLocked(id, at: loc)?.example
        }
    }

    /// Visits examples of matching partitions in (domain, month, append) order;
    /// `body` returns false to stop. Holds the store lock for the whole scan.
    public func scan(_ filter: ScanFilter = .all, _ body: (Example) throws -> Bool) throws {
        try lock.withLock {
            try guardWrite {
                for seg in active.values { try seg.closeBlock(); try noteWrites(seg) }
            }
            try StoreScanner.scan(catalog: catalog, filter: filter, annotations: annotationMap, buffers: &readBuffers, body)
        }
    }

    /// Partitions present in the store.
    public var partitions: [PartitionKey] { lock.withLock { catalog.sortedPartitions } }
}

enum StoreScanner {
    /// Folded examples (SPEC.md §4.6); excluded ones only with `filter.includeExcluded`.
    static func scan(catalog: SegmentCatalog, filter: ScanFilter, annotations: AnnotationMap, buffers: inout ReadBuffers,
                     _ body: (Example) throws -> Bool) throws {
        try FoldingScanner.scan(catalog: catalog, filter: filter, annotations: annotations, buffers: &buffers) { try body($0.example) }
    }
}

/// A read-only snapshot of a store, usable from any process while a writer
/// runs. It sees the complete frames present when it was opened and never
/// modifies the store (no lock, no recovery).
///
/// Opening reads the MANIFEST, the id index and the segment summaries
/// (`index/stats.sum`) and opens every listed segment file (so a compaction
/// cannot delete its view), but reads no footer: a partition's footers are
/// read when a `get`, scan or export first touches it, and they keep no
/// per-example ids in memory. Memory and time follow what is touched.
public final class StoreReader: @unchecked Sendable {
    public let path: String
    let catalog: SegmentCatalog
    let manifest: Manifest
    /// Keyed by example id whatever the store's dedup key (Index/DedupIndex.swift).
    var index = DedupIndex(key: .content)
    /// Summaries of sealed segments from `index/stats.sum`, by sequence (SPEC.md §5.6);
    /// only those matching the manifest's (sequence, partition).
    let digests: [UInt64: SegmentDigest]
    let lock = Mutex()
    var buffers = ReadBuffers()

    public init(path: String, fileSystem: FileSystem = PosixFileSystem.shared) throws {
        self.path = path
        let mp = path + "/" + Format.manifestFileName
        guard fileSystem.fileExists(mp) else { throw StrataError(.notFound, "no Strata store here (MANIFEST missing)", path: path) }
        manifest = try Manifest.decode(try fileSystem.readFile(mp), path: mp)
        catalog = SegmentCatalog(fs: fileSystem, root: path)
        try catalog.loadDictionaries(for: manifest)
        for entry in manifest.segments { try catalog.register(entry) }
        digests = SegmentDigest.load(fs: fileSystem, storePath: path, manifest: manifest)
        // The index file is keyed by the store's dedup key: usable here only when that is the id.
        let storeKey = try? DedupKey(manifest: manifest.dedup, path: mp)
        let digests = self.digests
        _ = try index.load(fs: fileSystem, storePath: path, segments: manifest.segments.map(\.sequence), catalog: catalog,
                           useFile: storeKey?.isExampleID == true, knownBlocks: { digests[$0]?.blocks })
    }

    public var count: Int { index.count }
    public var partitions: [PartitionKey] { catalog.sortedPartitions }

    /// Location of the example with this id; opens its partition.
    func locate(_ id: ExampleID) throws -> Location? {
        guard let loc = try index.locate(id: id, catalog: catalog) else { return nil }
        try catalog.open(segment: loc.segment)
        return loc
    }

    /// Opens the partitions a scan with `filter` reads.
    func openPartitions(_ filter: ScanFilter) throws {
        for p in catalog.sortedPartitions where filter.includes(p) { try catalog.open(partition: p) }
    }

    public func get(_ id: ExampleID) throws -> Example? {
        try lock.withLock {
            guard let loc = try locate(id) else { return nil }
            return try catalog.readFolded(at: loc, expecting: id, annotations: catalog.annotations, buffers: &buffers)?.example
        }
    }

    public func scan(_ filter: ScanFilter = .all, _ body: (Example) throws -> Bool) throws {
        try lock.withLock {
            try openPartitions(filter)
            try StoreScanner.scan(catalog: catalog, filter: filter, annotations: catalog.annotations, buffers: &buffers, body)
        }
    }

    public func close() { catalog.closeAll() }
}
