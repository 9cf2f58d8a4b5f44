/// What a sealed segment holds, in a few dozen bytes: its block count, sizes
/// and counts (SPEC.md §5.6). Kept for every sealed segment in the derived
/// file `index/stats.sum`, so a reader opens a store and answers `stats`
/// without reading footers or blocks.
struct SegmentDigest: Equatable, Sendable {
    var sequence: UInt64
    var partition: PartitionKey
    var blocks: Int
    /// Size of the segment file.
    var fileBytes: Int64
    /// Decompressed size of its blocks.
    var rawBytes: Int64
    var counts: SegmentCounts
}

/// Encoding of `index/stats.sum` (SPEC.md §5.6). Pure.
///
///     0   8  magic "STRSUMS1"
///     8   2  u16 version (1)
///     10  2  u16 reserved, 0
///     12  4  u32 summary count
///     16  8  u64 XXH3-64 of bytes [0, 16) followed by bytes [24, end)
///     24     summary*: seq:u64 str(partition) blocks:varint fileBytes:varint rawBytes:varint counts
enum SummaryFile {
    static let headerSize = 24

    static func encode(_ summaries: [SegmentDigest]) -> [UInt8] {
        var body = ByteWriter(capacity: 64 + summaries.count * 128)
        for s in summaries.sorted(by: { $0.sequence < $1.sequence }) {
            body.u64(s.sequence)
            body.string(s.partition.path)
            body.varint(s.blocks)
            body.varint(UInt64(s.fileBytes))
            body.varint(UInt64(s.rawBytes))
            s.counts.encode(to: &body)
        }
        var w = ByteWriter(capacity: headerSize + body.count)
        w.append(Format.summaryMagic)
        w.u16(Format.summaryVersion)
        w.u16(0)
        w.u32(UInt32(summaries.count))
        w.u64(checksum(header: w.bytes, body: body.bytes))
        w.append(body.bytes)
        return w.bytes
    }

    private static func checksum(header: [UInt8], body: [UInt8]) -> UInt64 {
        let h = XXH64Stream()
        h.update(header[0..<16].map { $0 })
        h.update(body)
        return h.digest
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> [SegmentDigest] {
        guard bytes.count >= headerSize, bytes.prefix(8).elementsEqual(Format.summaryMagic) else {
            throw StrataError(.corruption, "not a Strata summary file (bad magic or truncated)", path: path, offset: 0)
        }
        return try bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw, path: path)
            try r.skip(8)
            let version = try r.u16()
            guard version == Format.summaryVersion else {
                throw StrataError(.unsupportedVersion, "summary file version \(version) is not supported by this build", path: path, offset: 8)
            }
            _ = try r.u16()
            let n = Int(try r.u32())
            let sum = try r.u64()
            guard sum == checksum(header: Array(bytes[0..<16]), body: Array(bytes[headerSize...])) else {
                throw StrataError(.corruption, "summary file checksum mismatch", path: path, offset: 16)
            }
            var out: [SegmentDigest] = []
            out.reserveCapacity(min(n, r.remaining / 16))
            for _ in 0..<n {
                let seq = try r.u64()
                if let last = out.last, last.sequence >= seq { throw r.corruption("summaries not in ascending sequence order") }
                let p = try r.string("partition")
                guard let key = PartitionKey(path: p) else { throw r.corruption("summary names an invalid partition \(p)") }
                let blocks = try r.count("block count", limit: Int(Int32.max))
                let fileBytes = Int64(try r.count("file bytes", limit: Int.max))
                let rawBytes = Int64(try r.count("raw bytes", limit: Int.max))
                out.append(SegmentDigest(sequence: seq, partition: key, blocks: blocks, fileBytes: fileBytes, rawBytes: rawBytes,
                                          counts: try SegmentCounts.decode(&r)))
            }
            guard r.isAtEnd else { throw r.corruption("trailing bytes after the last summary") }
            return out
        }
    }
}

extension SegmentDigest {
    /// The summary of an opened sealed segment: from its footer's counts
    /// (format version 2), else by reading its blocks once (version 1).
    init(file: SegmentFile, fs: FileSystem) throws {
        guard let footer = file.footer else {
            throw StrataError(.corruption, "only sealed segments are summarized", path: file.path)
        }
        var counts = footer.counts
        if counts == nil {
            var b = SegmentBuilder(sequence: file.sequence, codec: .raw, blockTarget: 0)
            var buffers = ReadBuffers()
            for blk in footer.blocks {
                let h = try file.readBlock(at: blk.offset, into: &buffers.block, scratch: &buffers.scratch)
                try buffers.block.withUnsafeBytes { try b.adoptWrittenBlock(at: blk.offset, entries: $0, path: file.path) }
                guard b.blocks.last?.entryCount == h.entryCount else {
                    throw StrataError(.corruption, "block declares \(h.entryCount) entries but holds \(b.blocks.last?.entryCount ?? 0)", path: file.path, offset: blk.offset)
                }
            }
            counts = b.counts
        }
        self.init(sequence: file.sequence, partition: file.partition, blocks: footer.blocks.count,
                  fileBytes: file.validLength, rawBytes: footer.rawBytes, counts: counts!)
    }
}

extension SegmentDigest {
    static func filePath(_ storePath: String) -> String {
        storePath + "/" + Format.indexDirectoryName + "/" + Format.summaryFileName
    }

    /// The summaries in `index/stats.sum` that match a sealed segment of
    /// `manifest` (same sequence and partition). A missing or damaged file
    /// gives none: the file is derived, and readers then open the footers.
    static func load(fs: FileSystem, storePath: String, manifest: Manifest) -> [UInt64: SegmentDigest] {
        let p = filePath(storePath)
        guard fs.fileExists(p), let all = try? SummaryFile.decode(try fs.readFile(p), path: p) else { return [:] }
        let sealed = Dictionary(manifest.segments.filter { $0.state == .sealed }.map { ($0.sequence, $0.partition) }, uniquingKeysWith: { a, _ in a })
        var out: [UInt64: SegmentDigest] = [:]
        for d in all where sealed[d.sequence] == d.partition { out[d.sequence] = d }
        return out
    }
}
