/// Writes one compacted segment (SPEC.md §3, §4.5): zstd blocks, optionally
/// with the partition's dictionary, an example entry and its folded
/// annotations always in the same block, then footer and trailer; the file is
/// fsynced when sealed. The file is an orphan until the manifest lists it.
final class CompactSegmentWriter {
    let sequence: UInt64
    let path: String
    private let file: WritableFile
    private let codec: BlockCodec
    private let blockTarget: Int
    private var block = ByteWriter(capacity: 1 << 20)
    private var blockEntries = 0
    private var blockRefs: [(isExample: Bool, id: ExampleID, entry: Int)] = []
    private var blocks: [(offset: Int64, entryCount: Int)] = []
    private var exampleRefs: [EntryRef] = []
    private var annotationRefs: [EntryRef] = []
    private var minTimestamp = Int64.max
    private var maxTimestamp = Int64.min
    private var rawBytes: Int64 = 0
    private var frame: [UInt8] = []
    private var scratch: [UInt8] = []
    /// Called after each block frame is written (crash-test step hook).
    var afterBlock: (() throws -> Void)?

    init(fs: FileSystem, path: String, sequence: UInt64, dictionaryID: UInt32, codec: BlockCodec, blockTarget: Int, fileMode: UInt32) throws {
        self.sequence = sequence
        self.path = path
        self.codec = codec
        self.blockTarget = blockTarget
        file = try fs.createNew(path, mode: fileMode)  // O_EXCL | O_NOFOLLOW
        guard file.size == 0 else {
            throw StrataError(.corruption, "new segment file already exists with \(file.size) bytes", path: path)
        }
        try file.write(SegmentHeader(dictionaryID: dictionaryID, sequence: sequence).encode())
    }

    /// Bytes on disk so far (the open block not included).
    var size: Int64 { file.size }

    /// Appends an example entry, followed by its folded-annotations entry when
    /// `folded` is not empty; both land in the same block. Returns the example's location.
    func appendExample(_ entry: UnsafeRawBufferPointer, folded: UnsafeRawBufferPointer, id: ExampleID, timestamp: Int64) throws -> Location {
        if blockEntries > 0 && block.count + entry.count + folded.count > blockTarget { try closeBlock() }
        let loc = Location(segment: sequence, blockIndex: UInt32(blocks.count), entryIndex: UInt32(blockEntries))
        block.append(entry)
        blockRefs.append((true, id, blockEntries))
        blockEntries += 1
        if folded.count > 0 {
            block.append(folded)
            blockEntries += 1
        }
        minTimestamp = min(minTimestamp, timestamp)
        maxTimestamp = max(maxTimestamp, timestamp)
        return loc
    }

    /// Appends another entry verbatim (an annotation whose target is elsewhere, a duplicate-seen entry).
    func appendOther(_ entry: UnsafeRawBufferPointer, annotationTarget: ExampleID?) throws -> Location {
        if blockEntries > 0 && block.count + entry.count > blockTarget { try closeBlock() }
        let loc = Location(segment: sequence, blockIndex: UInt32(blocks.count), entryIndex: UInt32(blockEntries))
        block.append(entry)
        if let t = annotationTarget { blockRefs.append((false, t, blockEntries)) }
        blockEntries += 1
        return loc
    }

    func closeBlock() throws {
        guard blockEntries > 0 else { return }
        let offset = file.size
        frame.removeAll(keepingCapacity: true)
        try block.bytes.withUnsafeBytes {
            try FrameCodec.appendBlock(entries: $0, entryCount: blockEntries, codec: codec, scratch: &scratch, to: &frame)
        }
        try file.write(frame)
        let bi = blocks.count
        blocks.append((offset, blockEntries))
        for r in blockRefs {
            let ref = EntryRef(id: r.id, blockIndex: bi, entryIndex: r.entry)
            if r.isExample { exampleRefs.append(ref) } else { annotationRefs.append(ref) }
        }
        rawBytes += Int64(block.count)
        block.bytes.removeAll(keepingCapacity: true)
        blockEntries = 0
        blockRefs.removeAll(keepingCapacity: true)
        try afterBlock?()
    }

    var isEmpty: Bool { blocks.isEmpty && blockEntries == 0 }

    /// Writes footer and trailer, fsyncs and closes. Returns the file size.
    func seal() throws -> Int64 {
        try closeBlock()
        var footer = SegmentFooter()
        footer.blocks = blocks
        footer.examples = exampleRefs.sorted { $0.id < $1.id }
        footer.annotations = annotationRefs
        footer.minTimestamp = minTimestamp
        footer.maxTimestamp = maxTimestamp
        footer.rawBytes = rawBytes
        footer.encodeSealingTail(footerOffset: file.size, into: &frame)
        try file.write(frame)
        try file.sync()
        let size = file.size
        try file.close()
        return size
    }

    func abandon() { try? file.close() }
}
