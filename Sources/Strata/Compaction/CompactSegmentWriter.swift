/// Writes one compacted segment (SPEC.md §3, §4.5): zstd blocks, optionally
/// with the partition's dictionary, an example entry and its folded
/// annotations always in the same block, then footer and trailer; the file is
/// fsynced when sealed. The file is an orphan until the manifest lists it.
/// Blocks, refs and counts are the shared `SegmentBuilder`'s.
final class CompactSegmentWriter {
    let sequence: UInt64
    let path: String
    private let file: WritableFile
    private var builder: SegmentBuilder
    /// Encodes a full block while this thread builds the next (nil: every block here).
    private let encoder: CompactionBlockEncoder?
    /// The block the encoder has (its index and raw bytes), not yet written.
    private var inFlight: (index: Int, rawBytes: Int)?
    /// Frame buffers for the blocks encoded on this thread, kept from partition to partition.
    private let frames: CompactionBuffers.Frames

    init(fs: FileSystem, path: String, sequence: UInt64, dictionaryID: UInt32, codec: BlockCodec, blockTarget: Int, fileMode: UInt32,
         buffers: inout SegmentBuilder.Buffers, frames: CompactionBuffers.Frames = .init(), encoder: CompactionBlockEncoder? = nil) throws {
        self.sequence = sequence
        self.path = path
        self.encoder = encoder
        self.frames = frames
        builder = SegmentBuilder(sequence: sequence, codec: codec, blockTarget: blockTarget, reusing: &buffers)
        file = try fs.createNew(path, mode: fileMode)  // O_EXCL | O_NOFOLLOW
        guard file.size == 0 else {
            throw StrataError(.corruption, "new segment file already exists with \(file.size) bytes", path: path)
        }
        var header = SegmentHeader(dictionaryID: dictionaryID, sequence: sequence)
        header.version = codec.segmentVersion
        try file.write(header.encode())
    }

    /// Whether the file, with every block closed so far written, is smaller
    /// than `target` bytes: what a serial writer's size would answer. Waits
    /// for the block in flight only when its frame could decide it.
    func isSmaller(than target: Int64) throws -> Bool {
        if let f = inFlight, file.size + Int64(Self.frameBound(f.rawBytes)) >= target { try writeInFlight() }
        return file.size < target
    }

    /// A bound on a block's frame size from its raw size: generous, as it only
    /// decides whether to wait for the frame (columnar streams, zstd's own
    /// bound, the frame header).
    static func frameBound(_ raw: Int) -> Int { 2 * raw + (64 << 10) }

    /// Appends an example entry, followed by its folded-annotations entry when
    /// `folded` is not empty; both land in the same block. Returns the example's location.
    func appendExample(_ entry: UnsafeRawBufferPointer, folded: UnsafeRawBufferPointer) throws -> Location {
        if builder.needsNewBlock(for: entry.count + folded.count) { try closeBlock(last: false) }
        let loc = try builder.add(entry: entry)
        if folded.count > 0 { _ = try builder.add(entry: folded) }
        return loc
    }

    /// Appends another entry verbatim (an annotation whose target is elsewhere, a duplicate-seen entry).
    func appendOther(_ entry: UnsafeRawBufferPointer) throws -> Location {
        if builder.needsNewBlock(for: entry.count) { try closeBlock(last: false) }
        return try builder.add(entry: entry)
    }

    /// Closes the open block. With the encoder idle and more blocks to come,
    /// the encoder takes it; otherwise it is encoded here (meanwhile the
    /// encoder finishes the previous one), and both are written in block order.
    private func closeBlock(last: Bool) throws {
        guard let b = builder.detachBlock() else { return try writeInFlight() }
        let index = builder.blocks.count - 1
        if let encoder, !last, inFlight == nil {
            encoder.start(entries: b.entries, entryCount: b.entryCount, codec: builder.codec)
            inFlight = (index, b.entries.count)
            return
        }
        frames.frame.removeAll(keepingCapacity: true)
        try b.entries.withUnsafeBytes {
            try FrameCodec.appendBlock(entries: $0, entryCount: b.entryCount, codec: builder.codec, scratch: &frames.scratch, to: &frames.frame)
        }
        try writeInFlight()
        builder.placeDetachedBlock(index, at: file.size)
        try file.write(frames.frame)
    }

    /// Writes the encoder's block, if it has one, at the end of the file.
    private func writeInFlight() throws {
        guard let f = inFlight, let encoder else { return }
        inFlight = nil
        let frame = try encoder.finish()
        builder.placeDetachedBlock(f.index, at: file.size)
        try file.write(frame)
    }

    var isEmpty: Bool { builder.isEmpty }

    /// Writes footer and trailer, fsyncs and closes. Returns the file size.
    func seal() throws -> Int64 {
        try closeBlock(last: true)
        try file.write(builder.sealingTail(footerOffset: file.size))
        try file.sync()
        let size = file.size
        try file.close()
        return size
    }

    /// Closes the file unsealed; a block in flight is waited for (the encoder takes one job at a time).
    func abandon() {
        if inFlight != nil, let encoder { _ = try? encoder.finish() }
        inFlight = nil
        try? file.close()
    }

    /// The builder's buffers, for the next writer (after `seal` or `abandon`).
    func takeBuffers() -> SegmentBuilder.Buffers { builder.takeBuffers() }
}
