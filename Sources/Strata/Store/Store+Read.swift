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
            try openPartitionsLocked(filter)
            try StoreScanner.scan(catalog: catalog, filter: filter, annotations: catalog.annotations, buffers: &readBuffers, body)
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
/// Opening reads the MANIFEST, the id index's header and coverage and the
/// segment summaries (`index/stats.sum`) and opens every listed segment file
/// (so a compaction cannot delete its view), but reads no footer and no table
/// slot: a `get` reads the index pages its id hashes to (SPEC.md §5.2), a
/// partition's footers are read when a `get`, scan or export first touches
/// it, and they keep no per-example ids in memory. Memory and time follow
/// what is touched.
// @unchecked: its mutable state (index, buffers, the catalog's lazily read footers, `skipped`) is touched only under `lock`.
public final class StoreReader: @unchecked Sendable {
    public let path: String
    let catalog: SegmentCatalog
    let manifest: Manifest
    /// Keyed by example id whatever the store's dedup key (Index/DedupIndex.swift).
    var index = DedupIndex(key: .content)
    /// Summaries of sealed segments from `index/stats.sum`, by sequence (SPEC.md §5.6);
    /// only those matching the manifest's (sequence, partition).
    let digests: [UInt64: SegmentDigest]
    let lock = Lock()
    var buffers = ReadBuffers()
    /// The descriptors of the snapshot's files (SPEC.md §7.2).
    let pins: PinnedFileSystem

    /// Salvage mode (`--skip-damaged`): damaged segments and blocks are skipped
    /// and listed in `skipped` instead of failing the open or the scan.
    public let skipDamaged: Bool
    /// What salvage mode skipped (file, offset, reason).
    public private(set) var skipped: [StrataError] = []

    public init(path: String, fileSystem: FileSystem = PosixFileSystem.shared, skipDamaged: Bool = false) throws {
        self.path = path
        self.skipDamaged = skipDamaged
        let mp = path + "/" + Format.manifestFileName
        // Every file of the snapshot is opened now and held (SPEC.md §7.2), so a
        // compaction that deletes them later cannot make this reader fail; their
        // footers are read when a partition is first touched.
        let snap = try PinnedSnapshot.pin(root: path, fs: fileSystem)
        pins = snap.fs
        manifest = snap.manifest
        catalog = SegmentCatalog(fs: snap.fs, root: path)
        do {
            try catalog.loadDictionaries(for: manifest)
            let listed = manifest.segments.filter { !snap.vanishedActive.contains($0.sequence) }
            for entry in listed { try catalog.register(entry) }
            digests = SegmentDigest.load(fs: snap.fs, storePath: path, manifest: manifest)
            // The index file is keyed by the store's dedup key: usable here only when that is the id.
            let storeKey = try? DedupKey(manifest: manifest.dedup, path: mp)
            let digests = self.digests
            _ = try index.load(fs: snap.fs, storePath: path, segments: listed.map(\.sequence), catalog: catalog,
                               useFile: storeKey?.isExampleID == true, paged: true, knownBlocks: { digests[$0]?.blocks })
        } catch {
            catalog.closeAll()
            snap.fs.unpinAll()
            throw error
        }
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
    /// In salvage mode a segment that fails to open is listed in `skipped` and left out.
    func openPartitions(_ filter: ScanFilter) throws {
        for p in catalog.sortedPartitions where filter.includes(p) {
            guard skipDamaged else { try catalog.open(partition: p); continue }
            try catalog.open(partition: p) { e in
                self.skipped.append(StrataError(.corruption, "segment skipped: \(e.message)", path: e.path, offset: e.offset))
            }
        }
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
            guard skipDamaged else {
                return try StoreScanner.scan(catalog: catalog, filter: filter, annotations: catalog.annotations, buffers: &buffers, body)
            }
            try FoldingScanner.scan(catalog: catalog, filter: filter, annotations: catalog.annotations, buffers: &buffers,
                                    onDamage: { self.skipped.append($0) }) { try body($0.example) }
        }
    }

    public func close() {
        catalog.closeAll()
        pins.unpinAll()
    }
}
