/// The readable segments of a store: what `get` and scans read from.
/// Used by the writer and by read-only snapshots alike.
final class SegmentCatalog {
    let fs: FileSystem
    let root: String
    /// By sequence.
    private(set) var files: [UInt64: SegmentFile] = [:]
    /// Block offsets by segment (from footers, walks, or the live writer).
    private(set) var blockOffsets: [UInt64: [Int64]] = [:]
    private(set) var partitions: [PartitionKey: [UInt64]] = [:]
    var dictionaries: [UInt32: ZstdDictionary] = [:]

    init(fs: FileSystem, root: String) {
        self.fs = fs
        self.root = root
    }

    func segmentPath(_ p: PartitionKey, _ seq: UInt64) -> String {
        root + "/" + p.path + "/" + Format.segmentFileName(seq)
    }

    func add(_ file: SegmentFile, blockOffsets offsets: [Int64]) {
        files[file.sequence] = file
        blockOffsets[file.sequence] = offsets
        partitions[file.partition, default: []].append(file.sequence)
        partitions[file.partition]!.sort()
        if file.header.dictionaryID != 0 { file.dictionary = dictionaries[file.header.dictionaryID] }
    }

    /// Registers a block the live writer just wrote.
    func noteBlock(segment: UInt64, offset: Int64, validLength: Int64) {
        blockOffsets[segment, default: []].append(offset)
        files[segment]?.restrict(to: validLength)
    }

    func remove(_ seq: UInt64) {
        guard let f = files.removeValue(forKey: seq) else { return }
        blockOffsets[seq] = nil
        partitions[f.partition]?.removeAll { $0 == seq }
        if partitions[f.partition]?.isEmpty == true { partitions[f.partition] = nil }
        f.close()
    }

    var sortedPartitions: [PartitionKey] { partitions.keys.sorted() }

    func closeAll() {
        for f in files.values { f.close() }
        files = [:]
    }

    /// Visits every entry of every block of the segment, in order.
    /// With `onDamage`, a block that fails its checksum or decompression is
    /// reported to it and skipped instead of failing the visit (`--skip-damaged`).
    func forEachEntry(segment seq: UInt64, buffers: inout ReadBuffers, onDamage: ((StrataError) -> Void)? = nil,
                      _ body: (_ kind: UInt8, _ entry: inout ByteReader, _ loc: Location) throws -> Bool) throws -> Bool {
        guard let file = files[seq], let offsets = blockOffsets[seq] else { return true }
        for (bi, offset) in offsets.enumerated() {
            let h: FrameHeader
            do {
                h = try file.readBlock(at: offset, into: &buffers.block, scratch: &buffers.scratch)
            } catch let e as StrataError where e.code == .corruption && onDamage != nil {
                onDamage?(e)
                continue
            }
            let keepGoing: Bool = try buffers.block.withUnsafeBytes { raw in
                var it = EntryIterator(raw, path: file.path, blockOffset: offset)
                var i: UInt32 = 0
                while let (kind, entry, _) = try it.next() {
                    var e = entry
                    if try !body(kind, &e, Location(segment: seq, blockIndex: UInt32(bi), entryIndex: i)) { return false }
                    i += 1
                }
                guard Int(i) == h.entryCount else {
                    throw StrataError(.corruption, "block declares \(h.entryCount) entries but holds \(i)", path: file.path, offset: offset)
                }
                return true
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
        // Listed active but sealed on disk (a close the manifest does not know of
        // yet): the footer is trusted only if a walk ends at it (SPEC.md §7).
        var trustFooter = file.footer != nil
        if trustFooter, entry.state == .active, entry.committed != nil { trustFooter = try file.walk(committed: entry.committed).sealed }
        if let footer = file.footer, trustFooter {
            add(file, blockOffsets: footer.blocks.map(\.offset))
            annotations.add(footer: footer, segment: entry.sequence)
        } else {
            let walk = try file.walk(committed: entry.committed)
            file.restrict(to: walk.validEnd)
            add(file, blockOffsets: walk.blocks.map(\.offset))
            try collectAnnotations(segment: entry.sequence, into: &annotations, buffers: &buffers)
        }
        return file
    }
}
