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

    init(fs: FileSystem, path: String, sequence: UInt64, dictionaryID: UInt32, codec: BlockCodec, blockTarget: Int, fileMode: UInt32,
         buffers: inout SegmentBuilder.Buffers) throws {
        self.sequence = sequence
        self.path = path
        builder = SegmentBuilder(sequence: sequence, codec: codec, blockTarget: blockTarget, reusing: &buffers)
        file = try fs.createNew(path, mode: fileMode)  // O_EXCL | O_NOFOLLOW
        guard file.size == 0 else {
            throw StrataError(.corruption, "new segment file already exists with \(file.size) bytes", path: path)
        }
        var header = SegmentHeader(dictionaryID: dictionaryID, sequence: sequence)
        header.version = codec.segmentVersion
        try file.write(header.encode())
    }

    /// Bytes on disk so far (the open block not included).
    var size: Int64 { file.size }

    /// Appends an example entry, followed by its folded-annotations entry when
    /// `folded` is not empty; both land in the same block. Returns the example's location.
    func appendExample(_ entry: UnsafeRawBufferPointer, folded: UnsafeRawBufferPointer) throws -> Location {
        if builder.needsNewBlock(for: entry.count + folded.count) { try closeBlock() }
        let loc = try builder.add(entry: entry)
        if folded.count > 0 { _ = try builder.add(entry: folded) }
        return loc
    }

    /// Appends another entry verbatim (an annotation whose target is elsewhere, a duplicate-seen entry).
    func appendOther(_ entry: UnsafeRawBufferPointer) throws -> Location {
        if builder.needsNewBlock(for: entry.count) { try closeBlock() }
        return try builder.add(entry: entry)
    }

    func closeBlock() throws {
        guard let frame = try builder.closeBlock(at: file.size) else { return }
        try file.write(frame)
    }

    var isEmpty: Bool { builder.isEmpty }

    /// Writes footer and trailer, fsyncs and closes. Returns the file size.
    func seal() throws -> Int64 {
        try closeBlock()
        try file.write(builder.sealingTail(footerOffset: file.size))
        try file.sync()
        let size = file.size
        try file.close()
        return size
    }

    func abandon() { try? file.close() }

    /// The builder's buffers, for the next writer (after `seal` or `abandon`).
    func takeBuffers() -> SegmentBuilder.Buffers { builder.takeBuffers() }
}
