/// The segment a partition is currently appending to (SPEC.md §3.2).
///
/// Entries accumulate in the builder's open block until it reaches the block
/// target, then are compressed into one frame and written. Nothing here
/// fsyncs; the store decides when (commit policy), because fsync per record
/// would be far too slow.
final class ActiveSegment {
    let sequence: UInt64
    let partition: PartitionKey
    let path: String
    let file: WritableFile
    private let fs: FileSystem
    private var builder: SegmentBuilder
    /// Bytes written since the last sync.
    private(set) var needsSync = false
    private(set) var sealed = false

    var codec: BlockCodec { builder.codec }
    var blockTarget: Int { builder.blockTarget }
    /// The blocks written to the file (detached ones not yet written are left out).
    var blocks: ArraySlice<(offset: Int64, entryCount: Int)> { builder.blocks[..<writtenBlockCount] }
    var writtenBlockCount: Int { builder.blocks.count - detached.count }
    /// Closed blocks taken out for compression (`closeBlockDeferred`), in
    /// block order, not yet written: (block index, raw entries, entry count).
    private(set) var detached: [(index: Int, entries: [UInt8], entryCount: Int)] = []
    var rawBytes: Int64 { builder.rawBytes }
    /// True when the footer refs went over the store's budget (read back at sealing).
    var refsDropped: Bool { builder.refsDropped }
    var blockEntries: Int { builder.blockEntries }

    /// Creates a new segment file with its header.
    init(fs: FileSystem, path: String, sequence: UInt64, partition: PartitionKey, codec: BlockCodec, blockTarget: Int, fileMode: UInt32,
         refBudget: FooterRefBudget? = nil) throws {
        self.sequence = sequence
        self.partition = partition
        self.path = path
        self.fs = fs
        builder = SegmentBuilder(sequence: sequence, codec: codec, blockTarget: blockTarget)
        builder.refBudget = refBudget
        file = try Self.createFile(fs: fs, path: path, mode: fileMode, header: SegmentHeader(sequence: sequence).encode())
        needsSync = true
    }

    /// A new segment whose file `SegmentFileCreator` is creating (`file` is its
    /// `CreatedLaterFile`, sized as the header until created).
    init(fs: FileSystem, creating file: CreatedLaterFile, sequence: UInt64, partition: PartitionKey, codec: BlockCodec, blockTarget: Int,
         refBudget: FooterRefBudget? = nil) {
        self.sequence = sequence
        self.partition = partition
        self.path = file.path
        self.fs = fs
        builder = SegmentBuilder(sequence: sequence, codec: codec, blockTarget: blockTarget)
        builder.refBudget = refBudget
        self.file = file
        needsSync = true
    }

    /// Creates a new segment file (O_EXCL | O_NOFOLLOW) and writes its header.
    static func createFile(fs: FileSystem, path: String, mode: UInt32, header: [UInt8]) throws -> WritableFile {
        let file = try fs.createNew(path, mode: mode)
        if file.size != 0 {
            throw StrataError(.corruption, "new segment file already exists with \(file.size) bytes", path: path)
        }
        try file.write(header)
        return file
    }

    /// Reopens a segment a crashed writer left active, continuing after the
    /// blocks `recovered` adopted (recovery then seals it).
    init(fs: FileSystem, reopening path: String, partition: PartitionKey, fileMode: UInt32, recovered: SegmentBuilder) throws {
        sequence = recovered.sequence
        self.partition = partition
        self.path = path
        self.fs = fs
        builder = recovered
        file = try fs.openWritable(path, mode: fileMode)
    }

    /// Bytes on disk plus the open block's raw size (an estimate of the final size).
    var approximateSize: Int64 { file.size + Int64((builder.block.count + detachedBytes) / 2) }
    private var detachedBytes = 0
    /// End of the bytes whose writeback was started (`startWritebackIfDue`).
    private var writebackStarted: Int64 = 0
    /// Writeback is started each time this much more was written, so a
    /// commit's fsyncs find little left (at the end of an ingest they waited
    /// ~0.3 s for ~100 MB) and the disk works while entries are appended.
    static let writebackStep: Int64 = 64 << 10

    private func startWritebackIfDue() {
        let written = file.size - writebackStarted
        guard written >= Self.writebackStep else { return }
        file.startWriteback(offset: writebackStarted, length: written)
        writebackStarted = file.size
    }

    /// Appends one encoded entry (from `RecordCodec` / `AnnotationCodec`); returns where it will live.
    /// With `deferCompression`, a full block is detached for the owner to
    /// compress (in parallel) and write with `writeDetached` before it lets
    /// go of the store lock; otherwise it is compressed and written here.
    /// `example`: the entry's id and counted facts, when the caller has them (ingest), so it is not decoded again.
    func append(entry bytes: UnsafeRawBufferPointer, deferCompression: Bool = false,
                example: (id: ExampleID, facts: ExampleFacts, tags: ArraySlice<String>)? = nil) throws -> Location {
        if builder.needsNewBlock(for: bytes.count) {
            if deferCompression { closeBlockDeferred() } else { try closeBlock() }
        }
        if let example { return builder.add(exampleEntry: bytes, id: example.id, facts: example.facts, tags: example.tags) }
        return try builder.add(entry: bytes)
    }

    /// Compresses and writes the open block, if any (after any detached ones, keeping block order).
    func closeBlock() throws {
        try writeDetached(frames: nil)
        guard let frame = try builder.closeBlock(at: file.size) else { return }
        try file.write(frame)
        needsSync = true
        startWritebackIfDue()
    }

    /// Takes the open block out for compression by the owner.
    func closeBlockDeferred() {
        guard let b = builder.detachBlock() else { return }
        detached.append((builder.blocks.count - 1, b.entries, b.entryCount))
        detachedBytes += b.entries.count
    }

    /// Writes the detached blocks in order: `frames[i]` is the frame of
    /// `detached[i]` (`FrameCodec.appendBlock` with this segment's codec);
    /// nil compresses them here.
    func writeDetached(frames: [[UInt8]]?) throws {
        guard !detached.isEmpty else { return }
        var scratch: [UInt8] = []
        var own: [UInt8] = []
        for (i, d) in detached.enumerated() {
            let offset = file.size
            if let frames {
                try file.write(frames[i])
            } else {
                own.removeAll(keepingCapacity: true)
                try d.entries.withUnsafeBytes {
                    try FrameCodec.appendBlock(entries: $0, entryCount: d.entryCount, codec: codec, scratch: &scratch, to: &own)
                }
                try file.write(own)
            }
            builder.placeDetachedBlock(d.index, at: offset)
            needsSync = true
        }
        detached.removeAll()
        detachedBytes = 0
        startWritebackIfDue()
    }

    /// Block file offset for a block index, if the block has been written.
    func blockOffset(_ index: Int) -> Int64? { index < writtenBlockCount ? builder.blocks[index].offset : nil }

    /// The id of the example at `loc` in this segment's closed blocks, from
    /// memory (the footer refs the builder keeps); nil if not such an example.
    func exampleID(at loc: Location) -> ExampleID? {
        guard loc.segment == sequence else { return nil }
        return builder.exampleID(blockIndex: Int(loc.blockIndex), entryIndex: Int(loc.entryIndex))
    }

    /// The fsync of what was written so far, to run on another thread while
    /// appends go on (a commit's fsync round); nil when nothing is unsynced.
    /// Counts it as synced: a failed fsync poisons the writer.
    func takeSyncJob() -> (() throws -> Void)? {
        guard needsSync else { return nil }
        needsSync = false
        let file = self.file
        return { try file.sync() }
    }

    func sync() throws {
        guard needsSync else { return }
        try file.sync()
        needsSync = false
    }

    /// Writes footer and trailer and syncs; the segment is immutable afterwards.
    func seal() throws {
        try sealWithoutSync()
        try sync()
    }

    /// Writes footer and trailer; the caller must `sync()` before relying on it
    /// (used to seal many segments and fsync them together).
    func sealWithoutSync() throws {
        try closeBlock()
        let readBack = builder.refsDropped ? try exampleRefsFromBlocks() : nil
        try file.write(builder.sealingTail(footerOffset: file.size, examples: readBack))
        builder.releaseRefBudget()
        needsSync = true
        sealed = true
    }

    /// The example refs of the written blocks, read back from the file (the
    /// builder gave its own up to the ref budget). Every block is written:
    /// `closeBlock` wrote the detached ones.
    private func exampleRefsFromBlocks() throws -> [EntryRef] {
        let reader = try SegmentFile(fs: fs, path: path, sequence: sequence, partition: partition, expectSealed: false)
        defer { reader.close() }
        var refs: [EntryRef] = []
        var buffers = ReadBuffers()
        for (bi, b) in builder.blocks.enumerated() {
            try reader.forEachEntry(inBlockAt: b.offset, buffers: &buffers) { e in
                if e.kind == EntryKind.example.rawValue {
                    var r = e.body
                    refs.append(EntryRef(id: try RecordCodec.peekExampleID(&r), blockIndex: bi, entryIndex: e.index))
                }
                return true
            }
        }
        return refs
    }

    /// The summary of this segment once sealed, from memory: what
    /// `SegmentDigest(file:fs:)` reads back from its footer (the footer is
    /// encoded from the same builder state), without reopening the file.
    var sealedDigest: SegmentDigest? {
        guard sealed else { return nil }
        return SegmentDigest(sequence: sequence, partition: partition, blocks: builder.blocks.count,
                             fileBytes: file.size, rawBytes: builder.rawBytes, counts: builder.counts)
    }

    func close() throws { try file.close() }
}

/// Where an entry lives: segment, block index within the segment, entry index within the block.
public struct Location: Hashable, Sendable {
    public var segment: UInt64
    public var blockIndex: UInt32
    public var entryIndex: UInt32

    public init(segment: UInt64, blockIndex: UInt32, entryIndex: UInt32) {
        self.segment = segment
        self.blockIndex = blockIndex
        self.entryIndex = entryIndex
    }
}
