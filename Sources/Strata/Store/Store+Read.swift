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
/// Opening reads the MANIFEST and opens every listed segment file (so a
/// compaction cannot delete its view), but reads no footer, no index and no
/// summary: the id index's header and coverage and the segment summaries
/// (`index/stats.sum`) are read on the first `get` / `count` / statistics
/// that needs them, a `get` reads the index pages its id hashes to (SPEC.md
/// §5.2), a partition's footers are read when a `get`, scan or export first
/// touches it, and they keep no per-example ids in memory. Memory and time
/// follow what is touched: a one-partition scan reads the manifest and that
/// partition only.
///
/// Opened for some partitions (`partitions:`), it pins only their files, so
/// its open does not grow with the store. It still lists every partition;
/// whatever needs a segment outside them (a scan selecting another partition,
/// a `get` whose example lies elsewhere, an index catch-up over other
/// segments, whole-store statistics) throws a usage error instead of
/// answering from part of the store.
// @unchecked: its mutable state (index, buffers, the catalog's lazily read footers, `skipped`) is touched only under `lock`.
public final class StoreReader: @unchecked Sendable {
    public let path: String
    let catalog: SegmentCatalog
    let manifest: Manifest
    /// Keyed by example id whatever the store's dedup key (Index/DedupIndex.swift).
    /// Loaded on first use (`loadedIndex()`).
    private var lazyIndex: DedupIndex?
    /// Summaries of sealed segments from `index/stats.sum`, by sequence (SPEC.md §5.6);
    /// only those matching the manifest's (sequence, partition). Read on first use.
    private var lazyDigests: [UInt64: SegmentDigest]?
    /// The manifest's segments that were still present when the snapshot was pinned.
    private let listed: [Manifest.SegmentEntry]
    let lock = Lock()
    var buffers = ReadBuffers()
    /// The descriptors of the snapshot's files (SPEC.md §7.2).
    let pins: PinnedFileSystem

    /// Salvage mode (`--skip-damaged`): damaged segments and blocks are skipped
    /// and listed in `skipped` instead of failing the open or the scan.
    public let skipDamaged: Bool
    /// What salvage mode skipped (file, offset, reason).
    public private(set) var skipped: [StrataError] = []

    /// `partitions`, when given, selects the partitions this snapshot holds
    /// (see above); nil holds the whole store.
    public init(path: String, fileSystem: FileSystem = PosixFileSystem.shared, skipDamaged: Bool = false,
                partitions inScope: ((PartitionKey) -> Bool)? = nil) throws {
        self.path = path
        self.skipDamaged = skipDamaged
        // Every file of the snapshot (in scope) is opened now and held (SPEC.md §7.2),
        // so a compaction that deletes them later cannot make this reader fail;
        // their footers are read when a partition is first touched.
        let snap = try PinnedSnapshot.pin(root: path, fs: fileSystem) { inScope?($0.partition) ?? true }
        pins = snap.fs
        manifest = snap.manifest
        catalog = SegmentCatalog(fs: snap.fs, root: path)
        listed = manifest.segments.filter { !snap.vanishedActive.contains($0.sequence) }
        do {
            var held = manifest
            if let inScope { held.segments = held.segments.filter { inScope($0.partition) } }
            try catalog.loadDictionaries(for: held)
            for entry in listed {
                if inScope?(entry.partition) ?? true { try catalog.register(entry) } else { catalog.registerOutOfScope(entry) }
            }
        } catch {
            catalog.closeAll()
            snap.fs.unpinAll()
            throw error
        }
    }

    /// The segment summaries, read on first use. REQUIRES: `lock` held (or no other user yet).
    var digests: [UInt64: SegmentDigest] {
        if let d = lazyDigests { return d }
        let d = SegmentDigest.load(fs: pins, storePath: path, manifest: manifest)
        lazyDigests = d
        return d
    }

    /// The id index, loaded on first use: its header and coverage, then the
    /// blocks it does not cover. REQUIRES: `lock` held.
    func loadedIndex() throws -> DedupIndex {
        if let i = lazyIndex { return i }
        let index = DedupIndex(key: .content)
        // The index file is keyed by the store's dedup key: usable here only when that is the id.
        let storeKey = try? DedupKey(manifest: manifest.dedup, path: path + "/" + Format.manifestFileName)
        let digests = self.digests
        _ = try index.load(fs: pins, storePath: path, segments: listed.map(\.sequence), catalog: catalog,
                           useFile: storeKey?.isExampleID == true, paged: true, deferCatchUpChecks: true,
                           knownBlocks: { digests[$0]?.blocks })
        lazyIndex = index
        return index
    }

    /// Examples in the snapshot (loads the index). Throws what stops it from
    /// being exact: an index or segment that cannot be read, or, on a reader
    /// opened for some partitions, a usage error when the count needs segments
    /// outside them (an index file behind the manifest there).
    public var count: Int {
        get throws {
            try lock.withLock { try loadedIndex().count(catalog: catalog) }
        }
    }
    public var partitions: [PartitionKey] { lock.withLock { catalog.sortedPartitions } }

    /// Location of the example with this id; opens its partition.
    func locate(_ id: ExampleID) throws -> Location? {
        let index = try loadedIndex()
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
            return try catalog.readFolded(at: loc, expecting: id, annotations: catalog.annotations, buffers: &buffers,
                                          decoded: lazyIndex)?.example
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
