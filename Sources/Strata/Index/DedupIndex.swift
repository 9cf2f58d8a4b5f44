/// The store-wide dedup index (SPEC.md §5): dedup key → location of the
/// example that holds it. Used by the writer (keyed by its dedup key) and by
/// read-only snapshots (keyed by example id).
///
/// Committed entries live in the compact `IdTable` (fingerprint + packed
/// location, confirmed against the record on a fingerprint hit). Entries
/// appended since the last commit live in `pending` with their full key, so
/// a duplicate inside one batch is caught without reading an unwritten block;
/// `pending` is merged into the table at commit (the index snapshot is only
/// written then, so it never claims uncommitted data).
final class DedupIndex {
    struct PendingRef { var id: ExampleID; var location: Location }

    let key: DedupKey
    var keyer: DedupKeyer
    /// The committed table; with `paged`, only what was added since the load
    /// (DedupIndex+Paged.swift).
    var table = IdTable()
    /// Keys whose location does not fit `PackedLocation` (practically never used).
    private(set) var overflow: [ExampleID: Location] = [:]
    private(set) var pending: [ExampleID: PendingRef] = [:]
    /// id → location of pending entries, only when keys are not ids.
    private var pendingByID: [ExampleID: Location] = [:]
    /// Decompressed blocks recently read for confirmations. Several, because
    /// an ingest interleaving partitions alternates between their segments.
    private var cache: [(segment: UInt64, block: Int, bytes: [UInt8], starts: [Int])] = []
    private var cacheNext = 0
    /// Sealed segments' sorted id lists, read on demand by `locate` when keys are not ids.
    private var footerRefs: [UInt64: [EntryRef]] = [:]
    private var scratch: [UInt8] = []
    static let cachedBlocks = 16
    /// The key computed by the last dedup check, for the insert that follows it.
    var currentKey = ExampleID(high: 0, low: 0)
    var lastSnapshotError: StrataError?
    /// Committed entries added since the last snapshot was written.
    var changedSinceSnapshot = 0
    /// Read-only snapshots (`load(deferCatchUpChecks: true)`): ids caught up
    /// from blocks the index file does not cover, first occurrence each, not
    /// yet looked up in `paged`. `lookup` consults them last, so an older
    /// entry of the file still wins, which is the answer the per-id check
    /// gives; the check itself (a page read per id) runs only when every key
    /// must be counted (`resolveDeferredCatchUp`).
    private(set) var deferred: [ExampleID: Location] = [:]
    private var defersCatchUpChecks = false
    /// Pending entries beyond this are flushed into the table early (bounded RAM under manual commits).
    static let pendingLimit = 1 << 16

    init(key: DedupKey) {
        self.key = key
        keyer = DedupKeyer(key)
    }

    /// The committed table of the index file, looked up page by page instead
    /// of loaded (`load(paged: true)`: read-only snapshots, and the writer
    /// until it needs the whole table, DedupIndex+Paged.swift); `table` then
    /// holds only what was added since (caught up or inserted).
    var paged: PagedIdTable?
    /// Lookups answered through `paged` (the writer loads the table after many).
    var pagedLookups = 0
    /// Blocks of each segment the index file on disk covers (as loaded or
    /// last written); nil when unknown (rebuilt, not written yet).
    var fileCoverage: [UInt64: Int]?

    /// Keys in the index, exact: deferred caught-up ids are checked first
    /// (`resolveDeferredCatchUp`: index pages and blocks may be read, hence throws).
    func count(catalog: SegmentCatalog) throws -> Int {
        try resolveDeferredCatchUp(catalog: catalog)
        return count
    }
    /// Keys checked into the index: every key, except deferred caught-up ids
    /// of a read-only snapshot not resolved yet (`count(catalog:)` resolves
    /// them). The writer never defers, so for it this is every key.
    var count: Int { table.count + overflow.count + pending.count + (paged?.count ?? 0) }
    /// RAM held by the committed part, for the bytes-per-example figure.
    var memoryBytes: Int { table.memoryBytes + overflow.count * 64 }

    // MARK: lookups

    /// Location of the example holding `k`, if any. Fingerprint hits are
    /// confirmed by reading the record at the candidate location.
    func lookup(_ k: ExampleID, catalog: SegmentCatalog) throws -> Location? {
        if let p = pending[k] { return p.location }
        if let packed = try table.find(k, { try confirm(k, at: PackedLocation.unpack($0), catalog: catalog) }) {
            return PackedLocation.unpack(packed)
        }
        if let paged {
            pagedLookups += 1
            if let packed = try paged.find(k, { try confirm(k, at: PackedLocation.unpack($0), catalog: catalog) }) {
                return PackedLocation.unpack(packed)
            }
        }
        if !overflow.isEmpty, let l = overflow[k] { return l }
        if !deferred.isEmpty, let l = deferred[k] { return l }
        return nil
    }

    /// Checks the deferred caught-up ids against the rest of the index and
    /// adds those it lacks, as an eager catch-up would have (for `count`).
    /// Each id leaves the overlay while it is looked up (or it finds itself);
    /// if a lookup throws, that id and the unchecked rest stay deferred, so
    /// later lookups still find them.
    func resolveDeferredCatchUp(catalog: SegmentCatalog) throws {
        guard !deferred.isEmpty else { return }
        for (k, loc) in deferred {
            deferred[k] = nil
            do {
                if try lookup(k, catalog: catalog) == nil { insertCommitted(k, at: loc) }
            } catch {
                deferred[k] = loc
                throw error
            }
        }
    }

    /// A caught-up key at `loc`: checked now, or deferred (first occurrence kept).
    private func catchUpInsert(_ k: ExampleID, at loc: Location, catalog: SegmentCatalog) throws -> Int {
        if defersCatchUpChecks {
            guard deferred[k] == nil else { return 0 }
            deferred[k] = loc
            return 1
        }
        guard try lookup(k, catalog: catalog) == nil else { return 0 }
        insertCommitted(k, at: loc)
        return 1
    }

    /// Location of the example with this id (for `get`).
    func locate(id: ExampleID, catalog: SegmentCatalog) throws -> Location? {
        if key.isExampleID { return try lookup(id, catalog: catalog) }
        if let l = pendingByID[id] { return l }
        // Keys are not ids: sealed footers list ids sorted (binary search);
        // the written blocks of unsealed segments are scanned.
        try catalog.openAll()
        for (seq, file) in catalog.files.sorted(by: { $0.key < $1.key }) {
            if file.footer != nil {
                // Ids are read from the footer when first needed (open segments keep
                // none), then kept: only stores whose key is not the id get here.
                let refs: [EntryRef]
                if let cached = footerRefs[seq] { refs = cached } else { refs = try file.exampleRefs(); footerRefs[seq] = refs }
                var lo = 0, hi = refs.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if refs[mid].id < id { lo = mid + 1 } else { hi = mid }
                }
                if lo < refs.count, refs[lo].id == id {
                    let r = refs[lo]
                    return Location(segment: seq, blockIndex: UInt32(r.blockIndex), entryIndex: UInt32(r.entryIndex))
                }
            } else {
                var found: Location?
                var scan = ReadBuffers()
                _ = try catalog.forEachEntry(segment: seq, buffers: &scan) { kind, body, loc in
                    guard kind == EntryKind.example.rawValue else { return true }
                    var r = body
                    if try RecordCodec.peekExampleID(&r) == id { found = loc; return false }
                    return true
                }
                if let found { return found }
            }
        }
        return nil
    }

    /// The writer's ids of examples in its open segments, from memory (the
    /// refs its segment builders keep for the footers), by segment sequence:
    /// a confirmation found there reads no block. Keys must be example ids
    /// for it to apply. The writer registers each segment when it opens it
    /// and forgets it when the segment is sealed.
    private var memorySegments: [UInt64: (Location) -> ExampleID?] = [:]

    func rememberOpenSegment(_ sequence: UInt64, ids: @escaping (Location) -> ExampleID?) {
        memorySegments[sequence] = ids
    }

    func forgetOpenSegment(_ sequence: UInt64) {
        memorySegments[sequence] = nil
    }

    /// Reads the example at `loc` and checks that its dedup key is `k`.
    private func confirm(_ k: ExampleID, at loc: Location, catalog: SegmentCatalog) throws -> Bool {
        if key.isExampleID, let ids = memorySegments[loc.segment], let id = ids(loc) { return id == k }
        guard let e = try entry(at: loc, catalog: catalog, decode: !key.isExampleID) else { return false }
        switch e {
        case let .id(id): return id == k
        case let .example(ex): return try keyer.key(of: ex) == k
        }
    }

    enum EntryContent { case id(ExampleID), example(Example) }

    /// The example entry at `loc` (only its id unless `decode`), nil if the
    /// location holds no example (a stale index): callers then treat it as a miss.
    func entry(at loc: Location, catalog: SegmentCatalog, decode: Bool) throws -> EntryContent? {
        try catalog.openOnly(segment: loc.segment)
        guard let file = catalog.files[loc.segment], let offsets = catalog.blockOffsets[loc.segment],
              Int(loc.blockIndex) < offsets.count else { return nil }
        let bi = Int(loc.blockIndex)
        var slot = cache.firstIndex { $0.segment == loc.segment && $0.block == bi }
        if slot == nil {
            // Locals: two inout accesses to properties of this class would be an exclusivity conflict.
            var bytes: [UInt8] = []
            var sc = scratch
            let h = try file.readBlock(at: offsets[bi], into: &bytes, scratch: &sc)
            scratch = sc
            // One walk records where each entry starts, so later confirmations jump straight to it.
            var starts: [Int] = []
            try bytes.withUnsafeBytes { raw in
                try BlockCursor.forEach(raw, path: file.path, blockOffset: offsets[bi], declaredCount: h.entryCount) { e in
                    starts.append(e.range.lowerBound)
                    return true
                }
            }
            let entry = (segment: loc.segment, block: bi, bytes: bytes, starts: starts)
            if cache.count < DedupIndex.cachedBlocks {
                cache.append(entry)
                slot = cache.count - 1
            } else {
                cache[cacheNext] = entry
                slot = cacheNext
                cacheNext = (cacheNext + 1) % DedupIndex.cachedBlocks
            }
        }
        let starts = cache[slot!].starts
        guard Int(loc.entryIndex) < starts.count else { return nil }
        let start = starts[Int(loc.entryIndex)]
        return try cache[slot!].bytes.withUnsafeBytes { raw in
            // start < raw.count: it was recorded by a walk over these same bytes.
            var it = EntryIterator(UnsafeRawBufferPointer(rebasing: raw[start...]), path: file.path, blockOffset: offsets[bi])
            guard let (kind, body, _) = try it.next(), kind == EntryKind.example.rawValue else { return nil }
            var r = body
            return decode ? .example(try RecordCodec.decodeExampleBody(&r)) : .id(try RecordCodec.peekExampleID(&r))
        }
    }

    /// The decompressed bytes of block `block` of segment `segment` if a
    /// confirmation read it (its entry count already checked against its
    /// frame), so the read that follows a lookup decodes the block once.
    func cachedBlock(segment: UInt64, block: Int) -> [UInt8]? {
        cache.first { $0.segment == segment && $0.block == block }?.bytes
    }

    // MARK: updates

    /// Records an example appended (not yet committed) under key `k`.
    func addPending(_ k: ExampleID, id: ExampleID, at loc: Location) {
        pending[k] = PendingRef(id: id, location: loc)
        if !key.isExampleID { pendingByID[id] = loc }
    }

    /// Moves pending entries into the table. REQUIRES: their blocks are written
    /// (after a commit, or after the writer closed its open blocks).
    func mergePending() {
        guard !pending.isEmpty else { return }
        for (k, p) in pending { insertCommitted(k, at: p.location) }
        pending.removeAll(keepingCapacity: true)  // refilled by the next commit interval: no regrowth and rehash each time
        pendingByID.removeAll(keepingCapacity: false)
    }

    /// Adds a key known to be absent.
    func insertCommitted(_ k: ExampleID, at loc: Location) {
        if let packed = PackedLocation.pack(loc) { table.insert(k, packed: packed) } else { overflow[k] = loc }
        changedSinceSnapshot += 1
    }

    /// Compaction moved examples (SPEC.md §7.1): points each id at its new
    /// location in place. Only for id keys with nothing pending; returns false
    /// when an id is not found at its old location (the caller then rebuilds).
    func relocate(_ moves: [(id: ExampleID, from: Location, to: Location)]) -> Bool {
        guard key.isExampleID, pending.isEmpty else { return false }
        cache.removeAll()
        for m in moves {
            guard let newPacked = PackedLocation.pack(m.to) else { return false }
            if let oldPacked = PackedLocation.pack(m.from), table.replace(m.id, where: { $0 == oldPacked }, with: newPacked) { continue }
            guard overflow[m.id] == m.from else { return false }
            overflow[m.id] = nil
            table.insert(m.id, packed: newPacked)
        }
        changedSinceSnapshot += moves.count
        return true
    }

    func removeAll() {
        fileCoverage = nil
        footerRefs = [:]
        table = IdTable()
        paged = nil
        overflow = [:]
        pending = [:]
        pendingByID = [:]
        cache = []
        changedSinceSnapshot = 0
        deferred = [:]
        defersCatchUpChecks = false
    }

    // MARK: building

    /// Adds the examples of `segment` from block `fromBlock` on, first one of
    /// a key wins. Uses the footer when keys are ids; otherwise reads the blocks.
    func catchUp(segment seq: UInt64, fromBlock: Int, catalog: SegmentCatalog) throws -> Int {
        try catalog.openOnly(segment: seq)
        guard let file = catalog.files[seq], let offsets = catalog.blockOffsets[seq], fromBlock < offsets.count else { return 0 }
        var added = 0
        if key.isExampleID, file.footer != nil {
            for ref in try file.exampleRefs() where ref.blockIndex >= fromBlock {
                added += try catchUpInsert(ref.id, at: Location(segment: seq, blockIndex: UInt32(ref.blockIndex), entryIndex: UInt32(ref.entryIndex)),
                                           catalog: catalog)
            }
            return added
        }
        var scan = ReadBuffers()
        var found: [(ExampleID, Location)] = []
        for bi in fromBlock..<offsets.count {
            found.removeAll(keepingCapacity: true)
            try file.forEachEntry(inBlockAt: offsets[bi], buffers: &scan) { e in
                if e.kind == EntryKind.example.rawValue {
                    var r = e.body
                    let k = key.isExampleID ? try RecordCodec.peekExampleID(&r) : try keyer.key(of: try RecordCodec.decodeExampleBody(&r))
                    found.append((k, Location(segment: seq, blockIndex: UInt32(bi), entryIndex: UInt32(e.index))))
                }
                return true
            }
            for (k, loc) in found { added += try catchUpInsert(k, at: loc, catalog: catalog) }
        }
        return added
    }

    /// What `load` did, for the store's recovery events.
    enum LoadOutcome: Equatable { case loaded(caughtUp: Int), rebuilt(reason: String, entries: Int) }

    /// Loads the snapshot file if it is present, intact, for this key, and
    /// consistent with the catalog; then catches up from the blocks it does
    /// not cover. Otherwise rebuilds from every segment. `segments` are the
    /// manifest's sequences.
    /// `knownBlocks` gives a segment's block count without opening it (a
    /// read-only snapshot's segment summaries, SPEC.md §5.6); nil means
    /// "open it and count". Segments the snapshot fully covers stay unopened.
    /// `paged` (read-only snapshots): a version 2 file is looked up in place
    /// (`PagedIdTable`) instead of loaded; the caller keeps `fs`'s file open.
    func load(fs: FileSystem, storePath: String, segments: [UInt64], catalog: SegmentCatalog, useFile: Bool,
              paged usePages: Bool = false, verifyPages: Bool = false, deferCatchUpChecks: Bool = false,
              knownBlocks: (UInt64) -> Int? = { _ in nil }) throws -> LoadOutcome {
        func blocks(_ seq: UInt64) throws -> Int {
            if let n = knownBlocks(seq) { return n }
            try catalog.openOnly(segment: seq)
            return catalog.blockOffsets[seq]?.count ?? -1
        }
        var reason = "index file missing"
        let path = storePath + "/" + Format.indexDirectoryName + "/" + Format.indexFileName
        if useFile, fs.fileExists(path) {
            do {
                var pagedFile: PagedIdTable?
                if usePages {
                    let f = try fs.openReadable(path)
                    do { pagedFile = try PagedIdTable.open(f, path: path) } catch { f.close(); throw error }
                    if verifyPages { try pagedFile?.verifyAllPages() }  // on failure its deinit closes f
                    if pagedFile == nil { f.close() }  // version 1: loaded whole below
                }
                let snap: IndexSnapshot
                if let p = pagedFile {
                    snap = IndexSnapshot(descriptorHash: p.header.descriptorHash, coverage: p.coverage, table: IdTable(), overflow: p.overflow)
                } else {
                    snap = try IndexFile.decode(try fs.readFile(path), path: path)
                }
                if snap.descriptorHash != key.descriptorHash {
                    reason = "index file was built for another dedup key"
                } else if let stale = try snap.coverage.first(where: { try $0.blocks > 0 && blocks($0.sequence) < Int($0.blocks) }) {
                    reason = "index file covers segment \(stale.sequence) beyond what the store holds"
                } else {
                    removeAll()
                    table = snap.table
                    paged = pagedFile
                    // Only where nothing is added later (a read-only snapshot over a paged file).
                    defersCatchUpChecks = deferCatchUpChecks && pagedFile != nil
                    for (k, l) in snap.overflow { overflow[k] = l }
                    let covered = Dictionary(snap.coverage.map { ($0.sequence, Int($0.blocks)) }, uniquingKeysWith: max)
                    var added = 0
                    for seq in segments.sorted() where try blocks(seq) > covered[seq] ?? 0 {
                        added += try catchUp(segment: seq, fromBlock: covered[seq] ?? 0, catalog: catalog)
                    }
                    changedSinceSnapshot = added
                    fileCoverage = covered
                    return .loaded(caughtUp: added)
                }
            } catch let e as StrataError where e.code == .corruption || e.code == .unsupportedVersion {
                reason = "index file unreadable: \(e.message)"
            }
        } else if !useFile {
            reason = "rebuild requested"
        }
        try rebuild(segments: segments, catalog: catalog)
        return .rebuilt(reason: reason, entries: count)
    }

    /// Builds the table from every segment, sized from the segments' example counts.
    /// `progress` gets (segments done, segments) after each segment.
    func rebuild(segments: [UInt64], catalog: SegmentCatalog, progress: ((Int, Int) -> Void)? = nil) throws {
        removeAll()
        try catalog.openAll()
        let expected = segments.reduce(0) { $0 + (catalog.files[$1]?.footer?.exampleCount ?? 0) }
        table = IdTable(expectedCount: expected)
        for (i, seq) in segments.sorted().enumerated() {
            _ = try catchUp(segment: seq, fromBlock: 0, catalog: catalog)
            progress?(i + 1, segments.count)
        }
        changedSinceSnapshot = max(1, changedSinceSnapshot)
    }

    /// Writes the snapshot. REQUIRES: no pending entries, and every block the
    /// catalog lists is committed (call right after a commit).
    /// `knownBlocks` as for `load`: the block count of a segment the catalog has not opened.
    func writeSnapshot(fs: FileSystem, storePath: String, segments: [UInt64], catalog: SegmentCatalog,
                       fileMode: UInt32, directoryMode: UInt32, knownBlocks: (UInt64) -> Int? = { _ in nil }) throws {
        precondition(pending.isEmpty, "index snapshot with uncommitted entries")
        try materialize()  // the file is written from the whole table
        let coverage = try segments.sorted().map { seq in
            if catalog.isUnopened(seq), let n = knownBlocks(seq) { return (sequence: seq, blocks: UInt64(n)) }
            try catalog.openOnly(segment: seq)
            return (sequence: seq, blocks: UInt64(catalog.blockOffsets[seq]?.count ?? 0))
        }
        try IndexFile.write(table, overflow: overflow, coverage: coverage, descriptorHash: key.descriptorHash,
                            fs: fs, storePath: storePath, fileMode: fileMode, directoryMode: directoryMode)
        changedSinceSnapshot = 0
        fileCoverage = Dictionary(coverage.map { ($0.sequence, Int($0.blocks)) }, uniquingKeysWith: max)
    }
}
