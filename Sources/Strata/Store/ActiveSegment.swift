/// The segment a partition is currently appending to (SPEC.md §3.2).
///
/// Entries accumulate in `block` until it reaches the block target, then are
/// compressed into one frame and written. Nothing here fsyncs; the store
/// decides when (commit policy), because fsync per record would be far too slow.
final class ActiveSegment {
    let sequence: UInt64
    let partition: PartitionKey
    let path: String
    let file: WritableFile
    let codec: BlockCodec
    let blockTarget: Int

    private(set) var block = ByteWriter(capacity: 80 << 10)
    private(set) var blockEntries = 0
    /// (kind, id) of entries in the open block, for the footer.
    private var blockRefs: [(kind: EntryKind, id: ExampleID)] = []
    private(set) var blocks: [(offset: Int64, entryCount: Int)] = []
    private var exampleRefs: [EntryRef] = []
    private var annotationRefs: [EntryRef] = []
    private var minTimestamp = Int64.max
    private var maxTimestamp = Int64.min
    private(set) var rawBytes: Int64 = 0
    private var frameBuffer: [UInt8] = []
    private var scratch: [UInt8] = []
    /// Bytes written since the last sync.
    private(set) var needsSync = false
    private(set) var sealed = false

    /// Creates a new segment file with its header.
    init(fs: FileSystem, path: String, sequence: UInt64, partition: PartitionKey, codec: BlockCodec, blockTarget: Int, fileMode: UInt32) throws {
        self.sequence = sequence
        self.partition = partition
        self.path = path
        self.codec = codec
        self.blockTarget = blockTarget
        file = try fs.createNew(path, mode: fileMode)  // O_EXCL | O_NOFOLLOW
        if file.size != 0 {
            throw StrataError(.corruption, "new segment file already exists with \(file.size) bytes", path: path)
        }
        try file.write(SegmentHeader(sequence: sequence).encode())
        needsSync = true
    }

    /// Reopens an existing active segment after recovery, continuing at `walk.validEnd`.
    init(fs: FileSystem, reopening path: String, sequence: UInt64, partition: PartitionKey, codec: BlockCodec, blockTarget: Int,
         fileMode: UInt32, recovered: RecoveredSegmentState) throws {
        self.sequence = sequence
        self.partition = partition
        self.path = path
        self.codec = codec
        self.blockTarget = blockTarget
        file = try fs.openWritable(path, mode: fileMode)
        blocks = recovered.blocks
        exampleRefs = recovered.examples
        annotationRefs = recovered.annotations
        minTimestamp = recovered.minTimestamp
        maxTimestamp = recovered.maxTimestamp
        rawBytes = recovered.rawBytes
    }

    /// Bytes on disk plus the open block's raw size (an estimate of the final size).
    var approximateSize: Int64 { file.size + Int64(block.count / 2) }

    /// Appends one encoded entry (from `RecordCodec`); returns where it will live.
    func append(entry bytes: UnsafeRawBufferPointer, kind: EntryKind, id: ExampleID, timestamp: Int64) throws -> Location {
        if blockEntries > 0 && block.count + bytes.count > blockTarget { try closeBlock() }
        let loc = Location(segment: sequence, blockIndex: UInt32(blocks.count), entryIndex: UInt32(blockEntries))
        block.append(bytes)
        blockEntries += 1
        blockRefs.append((kind, id))
        if kind == .example {
            minTimestamp = min(minTimestamp, timestamp)
            maxTimestamp = max(maxTimestamp, timestamp)
        }
        return loc
    }

    /// Compresses and writes the open block, if any.
    func closeBlock() throws {
        guard blockEntries > 0 else { return }
        let offset = file.size
        frameBuffer.removeAll(keepingCapacity: true)
        try block.bytes.withUnsafeBytes {
            try FrameCodec.appendBlock(entries: $0, entryCount: blockEntries, codec: codec, scratch: &scratch, to: &frameBuffer)
        }
        try file.write(frameBuffer)
        needsSync = true
        let bi = blocks.count
        blocks.append((offset, blockEntries))
        for (i, r) in blockRefs.enumerated() {
            let ref = EntryRef(id: r.id, blockIndex: bi, entryIndex: i)
            if r.kind == .example { exampleRefs.append(ref) } else if r.kind == .annotation { annotationRefs.append(ref) }
        }
        rawBytes += Int64(block.count)
        block.bytes.removeAll(keepingCapacity: true)
        blockEntries = 0
        blockRefs.removeAll(keepingCapacity: true)
    }

    /// Block file offset for a block index, if the block has been written.
    func blockOffset(_ index: Int) -> Int64? { index < blocks.count ? blocks[index].offset : nil }

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
        var footer = SegmentFooter()
        footer.blocks = blocks
        footer.examples = exampleRefs.sorted { $0.id < $1.id }
        footer.annotations = annotationRefs
        footer.minTimestamp = minTimestamp
        footer.maxTimestamp = maxTimestamp
        footer.rawBytes = rawBytes
        footer.encodeSealingTail(footerOffset: file.size, into: &frameBuffer)
        try file.write(frameBuffer)
        needsSync = true
        sealed = true
    }

    func close() throws { try file.close() }
}

/// What recovery learned about an active segment, to continue appending to it.
struct RecoveredSegmentState {
    var blocks: [(offset: Int64, entryCount: Int)] = []
    var examples: [EntryRef] = []
    var annotations: [EntryRef] = []
    var minTimestamp = Int64.max
    var maxTimestamp = Int64.min
    var rawBytes: Int64 = 0
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
