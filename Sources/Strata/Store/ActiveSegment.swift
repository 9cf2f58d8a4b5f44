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
    private var builder: SegmentBuilder
    /// Bytes written since the last sync.
    private(set) var needsSync = false
    private(set) var sealed = false

    var codec: BlockCodec { builder.codec }
    var blockTarget: Int { builder.blockTarget }
    var blocks: [(offset: Int64, entryCount: Int)] { builder.blocks }
    var rawBytes: Int64 { builder.rawBytes }
    var blockEntries: Int { builder.blockEntries }

    /// Creates a new segment file with its header.
    init(fs: FileSystem, path: String, sequence: UInt64, partition: PartitionKey, codec: BlockCodec, blockTarget: Int, fileMode: UInt32) throws {
        self.sequence = sequence
        self.partition = partition
        self.path = path
        builder = SegmentBuilder(sequence: sequence, codec: codec, blockTarget: blockTarget)
        file = try fs.createNew(path, mode: fileMode)  // O_EXCL | O_NOFOLLOW
        if file.size != 0 {
            throw StrataError(.corruption, "new segment file already exists with \(file.size) bytes", path: path)
        }
        try file.write(SegmentHeader(sequence: sequence).encode())
        needsSync = true
    }

    /// Reopens a segment a crashed writer left active, continuing after the
    /// blocks `recovered` adopted (recovery then seals it).
    init(fs: FileSystem, reopening path: String, partition: PartitionKey, fileMode: UInt32, recovered: SegmentBuilder) throws {
        sequence = recovered.sequence
        self.partition = partition
        self.path = path
        builder = recovered
        file = try fs.openWritable(path, mode: fileMode)
    }

    /// Bytes on disk plus the open block's raw size (an estimate of the final size).
    var approximateSize: Int64 { file.size + Int64(builder.block.count / 2) }

    /// Appends one encoded entry (from `RecordCodec` / `AnnotationCodec`); returns where it will live.
    func append(entry bytes: UnsafeRawBufferPointer) throws -> Location {
        if builder.needsNewBlock(for: bytes.count) { try closeBlock() }
        return try builder.add(entry: bytes)
    }

    /// Compresses and writes the open block, if any.
    func closeBlock() throws {
        guard let frame = try builder.closeBlock(at: file.size) else { return }
        try file.write(frame)
        needsSync = true
    }

    /// Block file offset for a block index, if the block has been written.
    func blockOffset(_ index: Int) -> Int64? { index < builder.blocks.count ? builder.blocks[index].offset : nil }

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
        try file.write(builder.sealingTail(footerOffset: file.size))
        needsSync = true
        sealed = true
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
