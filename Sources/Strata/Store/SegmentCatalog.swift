/// The readable segments of a store: what `get` and scans read from.
/// Used by the writer and by read-only snapshots alike.
final class SegmentCatalog {
    let fs: FileSystem
    let root: String
    /// By sequence.
    private(set) var files: [UInt64: SegmentFile] = [:]
    /// Block offsets by segment (from footers, walks, or the live writer).
    private(set) var blockOffsets: [UInt64: [Int64]] = [:]
    private(set) var partitions: [PartitionKey: [UInt64]] = [:] {
        // Every mutation adds, removes or updates one key: the count changes exactly when the key set does.
        didSet { if partitions.count != sortedKeys?.count { sortedKeys = nil } }
    }
    /// `partitions`' keys sorted, kept between calls: a scan asks more than once,
    /// and sorting a large store's partitions by domain text is not free.
    private var sortedKeys: [PartitionKey]?
    var dictionaries: [UInt32: ZstdDictionary] = [:]
    /// Segments registered but not read yet; header and footer are read when
    /// their partition is first touched (`open(partition:)`). A read-only
    /// snapshot pins them: the file is open (so a compaction deleting it
    /// cannot take it away) and its size at registration bounds the view. The
    /// writer registers its sealed segments unpinned (no file, no size): it is
    /// the only one who deletes segments, and they never grow.
    private var unopened: [UInt64: (entry: Manifest.SegmentEntry, file: ReadableFile?, size: Int64?)] = [:]
    /// Segments a snapshot opened for some partitions lists outside them: not
    /// pinned, never opened. Touching one is a usage error, so such a snapshot
    /// answers only from whole partitions it holds, never from part of the store.
    private var outOfScope: [UInt64: PartitionKey] = [:]
    /// Annotation refs of the opened partitions (SPEC.md §4.6): from footers
    /// and walks as partitions open, plus what the writer appends (`noteAnnotation`).
    private(set) var annotations = AnnotationMap()

    init(fs: FileSystem, root: String) {
        self.fs = fs
        self.root = root
    }

    func segmentPath(_ p: PartitionKey, _ seq: UInt64) -> String {
        root + "/" + p.path + "/" + Format.segmentFileName(seq)
    }

    /// Adds an opened sealed segment with the annotation refs of its footer
    /// (the writer's recovery and compaction outputs).
    func addSealed(_ file: SegmentFile) {
        guard let footer = file.footer else { return }
        add(file, blockOffsets: footer.blocks.map(\.offset))
        annotations.add(footer: footer, segment: file.sequence)
    }

    /// Records an annotation entry the writer appended (its partition is open:
    /// the writer opens a partition before appending to it).
    func noteAnnotation(_ target: ExampleID, at loc: Location) { annotations.add(target, loc) }

    /// Forgets the annotation refs in `segments` (compacted away).
    func forgetAnnotations(inSegments segments: Set<UInt64>) { annotations.remove(segments: segments) }

    func add(_ file: SegmentFile, blockOffsets offsets: [Int64]) {
        files[file.sequence] = file
        blockOffsets[file.sequence] = offsets
        if partitions[file.partition]?.contains(file.sequence) != true {
            partitions[file.partition, default: []].append(file.sequence)
            partitions[file.partition]!.sort()
        }
        if file.header.dictionaryID != 0 { file.dictionary = dictionaries[file.header.dictionaryID] }
    }

    /// Registers a block the live writer just wrote.
    func noteBlock(segment: UInt64, offset: Int64, validLength: Int64) {
        blockOffsets[segment, default: []].append(offset)
        files[segment]?.restrict(to: validLength)
    }

    /// Forgets segment `seq`, opened or only registered.
    func remove(_ seq: UInt64) {
        unregister(seq)
        guard let f = files.removeValue(forKey: seq) else { return }
        blockOffsets[seq] = nil
        partitions[f.partition]?.removeAll { $0 == seq }
        if partitions[f.partition]?.isEmpty == true { partitions[f.partition] = nil }
        f.close()
    }

    var sortedPartitions: [PartitionKey] {
        if let s = sortedKeys { return s }
        let s = partitions.keys.sorted()
        sortedKeys = s
        return s
    }

    func closeAll() {
        for f in files.values { f.close() }
        files = [:]
        for u in unopened.values { u.file?.close() }
        unopened = [:]
    }

    // MARK: lazy opening (read-only snapshots)

    /// Registers a manifest-listed segment without reading it: opens the
    /// file and notes its size. An active segment the writer already removed
    /// (empty) is skipped.
    func register(_ entry: Manifest.SegmentEntry) throws {
        let p = segmentPath(entry.partition, entry.sequence)
        let file: ReadableFile
        do {
            file = try fs.openReadable(p)
        } catch let e as StrataError where e.code == .notFound && entry.state == .active {
            return
        }
        unopened[entry.sequence] = (entry, file, try file.currentSize())
        note(partition: entry.partition, segment: entry.sequence)
    }

    /// Registers a manifest-listed segment outside a snapshot's partitions
    /// (not opened, not pinned): it is listed, and touching it throws.
    func registerOutOfScope(_ entry: Manifest.SegmentEntry) {
        outOfScope[entry.sequence] = entry.partition
        note(partition: entry.partition, segment: entry.sequence)
    }

    private func requireInScope(_ seq: UInt64) throws {
        guard let p = outOfScope[seq] else { return }
        throw StrataError(.usage, "this snapshot was opened for some partitions only and \(p) is not one of them; open it for the whole store",
                          path: segmentPath(p, seq))
    }

    /// Registers a sealed segment of the writer without touching its file:
    /// nothing is opened or read until its partition is (SPEC.md §7, lazy opening).
    func registerSealed(_ entry: Manifest.SegmentEntry) {
        unopened[entry.sequence] = (entry, nil, nil)
        note(partition: entry.partition, segment: entry.sequence)
    }

    /// True when segment `seq` is registered and its partition not opened yet.
    func isUnopened(_ seq: UInt64) -> Bool { unopened[seq] != nil }

    private func note(partition: PartitionKey, segment: UInt64) {
        // One lookup; manifests list segments in ascending order, so this appends.
        partitions[partition, default: []].insertSorted(segment)
    }

    /// Reads the footers (or walks) of every registered segment of `p` and
    /// collects its annotations. Cheap when already open. With `onDamage`, a
    /// segment that fails to open as corrupt is reported and left out.
    func open(partition p: PartitionKey, onDamage: ((StrataError) -> Void)? = nil) throws {
        if !outOfScope.isEmpty, let seq = partitions[p]?.first(where: { outOfScope[$0] != nil }) { try requireInScope(seq) }
        guard let seqs = partitions[p], seqs.contains(where: { unopened[$0] != nil }) else { return }
        var buffers = ReadBuffers()
        for seq in seqs { try openRegistered(seq, buffers: &buffers, onDamage: onDamage) }
    }

    /// Opens one registered segment (its footer, or a walk) and collects its
    /// annotation refs; no-op when it is open or unknown.
    private func openRegistered(_ seq: UInt64, buffers: inout ReadBuffers, onDamage: ((StrataError) -> Void)?) throws {
        guard let u = unopened.removeValue(forKey: seq) else { return }
        let p = u.entry.partition
        do {
            let file = try SegmentFile(fs: fs, path: segmentPath(p, seq), sequence: seq, partition: p,
                                       expectSealed: u.entry.state == .sealed, opened: u.file, size: u.size)
            try adopt(file, entry: u.entry, annotations: &annotations, buffers: &buffers)
        } catch let e as StrataError where e.code == .corruption && onDamage != nil {
            // Salvage (`--skip-damaged`): the segment is reported and forgotten.
            if files[seq] != nil { remove(seq) }
            partitions[p]?.removeAll { $0 == seq }
            if partitions[p]?.isEmpty == true { partitions[p] = nil }
            u.file?.close()
            onDamage?(e)
        } catch {
            // Stays registered: a damaged segment fails every touch, not just the first.
            if files[seq] == nil { unopened[seq] = u }
            throw error
        }
    }

    /// Opens segment `seq` alone, not its whole partition: for work on that
    /// segment's blocks that folds no annotations (index catch-up and
    /// confirmations). A later `open(partition:)` opens the rest; the
    /// annotation refs it collected stay (folding needs the whole partition's).
    func openOnly(segment seq: UInt64) throws {
        try requireInScope(seq)
        guard unopened[seq] != nil else { return }
        var buffers = ReadBuffers()
        try openRegistered(seq, buffers: &buffers, onDamage: nil)
    }

    /// Opens the partition holding segment `seq` (the rest of it, when the
    /// segment itself was opened alone by `openOnly`).
    func open(segment seq: UInt64) throws {
        try requireInScope(seq)
        if let p = unopened[seq]?.entry.partition ?? files[seq]?.partition { try open(partition: p) }
    }

    /// Opens every registered segment (for work that needs the whole store).
    func openAll() throws {
        if let seq = outOfScope.keys.min() { try requireInScope(seq) }
        for p in Set(unopened.values.map(\.entry.partition)) { try open(partition: p) }
    }

    private func unregister(_ seq: UInt64) {
        guard let u = unopened.removeValue(forKey: seq) else { return }
        u.file?.close()
        partitions[u.entry.partition]?.removeAll { $0 == seq }
        if partitions[u.entry.partition]?.isEmpty == true { partitions[u.entry.partition] = nil }
    }

    /// True when the snapshot lists segment `seq`, opened or not.
    func contains(segment seq: UInt64) -> Bool { files[seq] != nil || unopened[seq] != nil || outOfScope[seq] != nil }

    /// Size of a registered segment's file when the snapshot began, opened or not.
    func snapshotSize(_ seq: UInt64) -> Int64? { unopened[seq]?.size ?? files[seq]?.validLength }

    /// Visits every entry of every block of the segment, in order.
    /// With `onDamage`, a block that fails its checksum or decompression is
    /// reported to it and skipped instead of failing the visit (`--skip-damaged`).
    func forEachEntry(segment seq: UInt64, buffers: inout ReadBuffers, onDamage: ((StrataError) -> Void)? = nil,
                      _ body: (_ kind: UInt8, _ entry: inout ByteReader, _ loc: Location) throws -> Bool) throws -> Bool {
        try openOnly(segment: seq)  // callers that fold annotations opened the partition
        guard let file = files[seq], let offsets = blockOffsets[seq] else { return true }
        for (bi, offset) in offsets.enumerated() {
            let keepGoing: Bool
            do {
                keepGoing = try file.forEachEntry(inBlockAt: offset, buffers: &buffers) { e in
                    var r = e.body
                    return try body(e.kind, &r, Location(segment: seq, blockIndex: UInt32(bi), entryIndex: UInt32(e.index)))
                }
            } catch let e as StrataError where e.code == .corruption && onDamage != nil {
                onDamage?(e)
                continue
            }
            if !keepGoing { return false }
        }
        return true
    }
}

/// Reusable buffers for block reads (one per reading thread).
public struct ReadBuffers {
    var block: [UInt8] = []
    var scratch: [UInt8] = []
    public init() {}
}

extension SegmentCatalog {
    /// Opens a manifest-listed segment for a read-only snapshot: sealed ones by
    /// their footer, active ones by a frame walk limited to the complete frames
    /// present now; registers it and collects its annotations. Returns nil for
    /// an active segment the writer removed (empty) after the manifest was read.
    func addSnapshotSegment(_ entry: Manifest.SegmentEntry, annotations: inout AnnotationMap,
                            buffers: inout ReadBuffers) throws -> SegmentFile? {
        let p = segmentPath(entry.partition, entry.sequence)
        let file: SegmentFile
        do {
            file = try SegmentFile(fs: fs, path: p, sequence: entry.sequence, partition: entry.partition,
                                   expectSealed: entry.state == .sealed)
        } catch let e as StrataError where e.code == .notFound && entry.state == .active {
            return nil
        }
        try adopt(file, entry: entry, annotations: &annotations, buffers: &buffers)
        return file
    }

    /// Registers an opened snapshot segment: sealed ones by their footer,
    /// active ones by a frame walk limited to the complete frames present and
    /// checked against the manifest's committed length (SPEC.md §7).
    fileprivate func adopt(_ file: SegmentFile, entry: Manifest.SegmentEntry, annotations: inout AnnotationMap, buffers: inout ReadBuffers) throws {
        // Listed active but sealed on disk (a close the manifest does not know of
        // yet): the footer is trusted only if a walk ends at it (SPEC.md §7).
        var trustFooter = file.footer != nil
        if trustFooter, entry.state == .active, entry.committed != nil { trustFooter = try file.walk(committed: entry.committed).sealed }
        if let footer = file.footer, trustFooter {
            add(file, blockOffsets: footer.blocks.map(\.offset))
            annotations.add(footer: footer, segment: file.sequence)
        } else {
            let walk = try file.walk(committed: entry.committed)
            file.restrict(to: walk.validEnd)
            add(file, blockOffsets: walk.blocks.map(\.offset))
            try collectAnnotations(segment: file.sequence, into: &annotations, buffers: &buffers)
        }
    }
}

extension Array where Element == UInt64 {
    /// Inserts `v` keeping the array ascending and free of duplicates.
    mutating func insertSorted(_ v: UInt64) {
        if let last, last < v { append(v); return }
        let i = partitioningIndex { $0 >= v }
        if i < count, self[i] == v { return }
        insert(v, at: i)
    }

    private func partitioningIndex(where belongs: (UInt64) -> Bool) -> Int {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if belongs(self[mid]) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
