/// Read access to one segment file: sealed (footer) or active (frame walk).
/// All reads verify frame checksums before decoding (SPEC.md §3, §7).
public final class SegmentFile {
    public let path: String
    public let sequence: UInt64
    public let partition: PartitionKey
    public let header: SegmentHeader
    let file: ReadableFile
    /// Bytes of the file this reader may look at (a snapshot: frames appended later are ignored).
    public private(set) var validLength: Int64
    /// Present for sealed segments.
    public private(set) var footer: SegmentFooter?
    public private(set) var trailer: SegmentTrailer?
    /// Dictionary for zstd-dict blocks, resolved by the store.
    var dictionary: ZstdDictionary?

    public var isSealed: Bool { footer != nil }

    /// What a frame walk of an active segment found.
    public struct WalkResult {
        public var blocks: [(offset: Int64, header: FrameHeader)] = []
        /// Offset where valid data ends.
        public var validEnd: Int64 = Int64(Format.segmentHeaderSize)
        /// Bytes after `validEnd` that form a torn (incomplete) tail.
        public var tornBytes: Int64 = 0
        /// True if a valid footer + trailer were found at the end.
        public var sealed = false
    }

    /// Opens and validates the header; for sealed segments also loads the footer.
    /// - Parameter expectSealed: what the manifest says; a file that turns out
    ///   sealed although listed active is accepted (crash between sealing and
    ///   the manifest update).
    /// - Parameters `opened`, `size`: a file already opened and its size then
    ///   (a read-only snapshot opens every file when it starts, keeping its
    ///   view, and reads headers and footers only when a partition is touched).
    public init(fs: FileSystem, path: String, sequence: UInt64, partition: PartitionKey, expectSealed: Bool,
                opened: ReadableFile? = nil, size sizeAtOpen: Int64? = nil) throws {
        self.path = path
        self.sequence = sequence
        self.partition = partition
        file = try opened ?? fs.openReadable(path)
        let size = try sizeAtOpen ?? file.currentSize()
        var buf: [UInt8] = []
        try file.read(at: 0, count: Format.segmentHeaderSize, into: &buf)
        header = try buf.withUnsafeBytes { try SegmentHeader.decode($0, path: path) }
        guard header.sequence == sequence else {
            throw StrataError(.corruption, "segment header names sequence \(header.sequence), file name says \(sequence)", path: path, offset: 16)
        }
        validLength = size
        var sealedTail = false
        if size >= Int64(Format.segmentHeaderSize + Format.segmentTrailerSize) {
            try file.read(at: size - Int64(Format.segmentTrailerSize), count: Format.segmentTrailerSize, into: &buf)
            sealedTail = buf.withUnsafeBytes { SegmentTrailer.looksSealed($0) }
        }
        if expectSealed || sealedTail {
            try loadFooter(size: size, buffer: &buf)
        }
    }

    /// Reads, verifies and decodes the footer. Without `keepExampleRefs` the
    /// per-example ids are checked but not kept (`exampleRefs()` reads them on demand).
    private func readFooter(size: Int64, buffer buf: inout [UInt8], keepExampleRefs: Bool) throws -> (SegmentTrailer, SegmentFooter) {
        let trailerOffset = size - Int64(Format.segmentTrailerSize)
        guard trailerOffset >= Int64(Format.segmentHeaderSize) else {
            throw StrataError(.corruption, "sealed segment is too short (\(size) bytes) to hold a trailer", path: path, offset: 0)
        }
        try file.readExactly(at: trailerOffset, count: Format.segmentTrailerSize, into: &buf)
        let t = try buf.withUnsafeBytes { try SegmentTrailer.decode($0, path: path, offset: trailerOffset, fileSize: size) }
        try file.readExactly(at: t.footerOffset, count: t.footerFrameLength, into: &buf)
        let f: SegmentFooter = try buf.withUnsafeBytes { raw in
            let h = try FrameCodec.parseHeader(raw, path: path, offset: t.footerOffset)
            guard h.type == FrameType.footer.rawValue, h.frameLength == t.footerFrameLength else {
                throw StrataError(.corruption, "trailer does not point at a footer frame", path: path, offset: t.footerOffset)
            }
            guard FrameCodec.checksumMatches(raw, header: h) else {
                throw StrataError(.corruption, "footer checksum mismatch", path: path, offset: t.footerOffset)
            }
            return try SegmentFooter.decodePayload(UnsafeRawBufferPointer(rebasing: raw[Format.frameHeaderSize...]),
                                                   path: path, offset: t.footerOffset + Int64(Format.frameHeaderSize), fileSize: t.footerOffset,
                                                   version: header.version, keepExampleRefs: keepExampleRefs)
        }
        guard f.exampleCount == t.exampleCount, f.annotations.count == t.annotationCount else {
            throw StrataError(.corruption, "trailer counts (\(t.exampleCount) examples) disagree with footer (\(f.exampleCount))", path: path, offset: trailerOffset)
        }
        return (t, f)
    }

    private func loadFooter(size: Int64, buffer buf: inout [UInt8]) throws {
        (trailer, footer) = try readFooter(size: size, buffer: &buf, keepExampleRefs: false)
    }

    /// The footer's example refs, sorted by id, read (and verified) again
    /// from the file: open segments keep no per-example ids in memory.
    public func exampleRefs() throws -> [EntryRef] {
        guard footer != nil else { return [] }
        var buf: [UInt8] = []
        return try readFooter(size: trailer.map { $0.footerOffset + Int64($0.footerFrameLength) + Int64(Format.segmentTrailerSize) } ?? validLength,
                              buffer: &buf, keepExampleRefs: true).1.examples
    }

    /// Walks the frames of an active segment from the header on, verifying
    /// every checksum. A torn tail is reported in the result, never thrown;
    /// a damaged frame followed by more data throws `.corruption`.
    ///
    /// - Parameter committed: the segment's committed length from the manifest
    ///   (SPEC.md §7), when it records one. Then a damaged or missing frame
    ///   below it is corruption (committed data), and the first damaged or
    ///   incomplete frame at or past it starts the torn tail, whatever follows
    ///   (uncommitted writes may reach the disk out of order). Without it, a
    ///   damaged frame is a torn tail only when nothing valid follows it.
    public func walk(committed: Int64? = nil) throws -> WalkResult {
        var result = WalkResult()
        // The snapshot boundary: what the file held when this reader opened it.
        let size = validLength
        if let committed, size < committed {
            throw StrataError(.corruption, "active segment has \(size) bytes but its last commit made \(committed) bytes durable: committed data is missing (the file was truncated)", path: path, offset: size)
        }
        var offset = Int64(Format.segmentHeaderSize)
        var buf: [UInt8] = []
        /// Decides what a damaged or incomplete frame at `offset` is: throws for
        /// committed data; returns normally when it starts the torn tail.
        func tear(_ cause: String, scanAfter: Bool) throws {
            if let committed {
                if offset < committed {
                    throw StrataError(.corruption, "\(cause) below the committed length \(committed): committed data is damaged", path: path, offset: offset)
                }
                return
            }
            if scanAfter { try requireNoFrameAfter(offset, size: size, cause: cause) }
        }
        while offset < size {
            let left = size - offset
            if left < Int64(Format.frameHeaderSize) {
                try tear("\(left) bytes after the last frame", scanAfter: false)
                result.tornBytes = left
                break
            }
            try file.readExactly(at: offset, count: Format.frameHeaderSize, into: &buf)
            let h: FrameHeader
            do {
                h = try buf.withUnsafeBytes { try FrameCodec.parseHeader($0, path: path, offset: offset) }
            } catch {
                // A header we cannot parse is a torn tail only if no valid frame follows it.
                try tear("unreadable frame header", scanAfter: true)
                result.tornBytes = left
                break
            }
            if Int64(h.frameLength) > left {
                try tear("frame runs past end of file", scanAfter: true)
                result.tornBytes = left
                break
            }
            try file.readExactly(at: offset, count: h.frameLength, into: &buf)
            let ok = buf.withUnsafeBytes { FrameCodec.checksumMatches($0, header: h) }
            if !ok {
                if committed != nil || offset + Int64(h.frameLength) == size {
                    try tear("frame checksum mismatch", scanAfter: false)
                    result.tornBytes = left
                    break
                }
                throw StrataError(.corruption, "frame checksum mismatch with \(size - offset - Int64(h.frameLength)) bytes of data after it; the segment is damaged in the middle", path: path, offset: offset)
            }
            if h.type == FrameType.footer.rawValue {
                // A footer must be followed by exactly the trailer.
                if offset + Int64(h.frameLength) + Int64(Format.segmentTrailerSize) == size {
                    result.sealed = true
                    break
                }
                if offset + Int64(h.frameLength) + Int64(Format.segmentTrailerSize) > size {
                    result.tornBytes = left  // sealing was interrupted: drop the partial footer
                    break
                }
                throw StrataError(.corruption, "footer frame in the middle of a segment", path: path, offset: offset)
            }
            guard FrameType(rawValue: h.type) != nil else {
                throw StrataError(.corruption, "unknown frame type \(h.type)", path: path, offset: offset)
            }
            result.blocks.append((offset, h))
            offset += Int64(h.frameLength)
            result.validEnd = offset
        }
        if let committed, result.validEnd < committed, !result.sealed {
            throw StrataError(.corruption, "valid frames end at \(result.validEnd), before the committed length \(committed): committed data is damaged", path: path, offset: result.validEnd)
        }
        return result
    }

    /// A tear leaves only garbage after it: if a complete, checksum-valid
    /// frame starts anywhere after `offset`, the damage is in the middle of
    /// the file and must be reported, not truncated away.
    private func requireNoFrameAfter(_ offset: Int64, size: Int64, cause: String) throws {
        var tail: [UInt8] = []
        try file.readExactly(at: offset, count: Int(size - offset), into: &tail)
        let found: Int? = tail.withUnsafeBytes { raw in
            var p = 1
            while p + Format.frameHeaderSize <= raw.count {
                // Cheap filters first: known type and zero reserved bytes.
                let t = raw[p + 8]
                if (t >= 1 && t <= 5) || t == FrameType.footer.rawValue, raw[p + 9] == 0, raw[p + 10] == 0, raw[p + 11] == 0,
                   let h = try? FrameCodec.parseHeader(UnsafeRawBufferPointer(rebasing: raw[p...]), path: nil, offset: 0),
                   p + h.frameLength <= raw.count,
                   FrameCodec.checksumMatches(UnsafeRawBufferPointer(rebasing: raw[p..<(p + h.frameLength)]), header: h) {
                    return p
                }
                p += 1
            }
            return nil
        }
        if let found {
            throw StrataError(.corruption, "\(cause), but a valid frame follows at offset \(offset + Int64(found)); the segment is damaged in the middle", path: path, offset: offset)
        }
    }

    /// Limits this reader to `length` bytes (snapshot boundary).
    func restrict(to length: Int64) { validLength = length }

    /// Reads, verifies and decompresses the block frame at `offset` into `out`.
    public func readBlock(at offset: Int64, into out: inout [UInt8], scratch: inout [UInt8]) throws -> FrameHeader {
        let h = try readFrame(at: offset, into: &scratch)
        try scratch.withUnsafeBytes { raw in
            try FrameCodec.decodeBlockPayload(UnsafeRawBufferPointer(rebasing: raw[Format.frameHeaderSize...]), header: h,
                                              dictionary: dictionary, segmentVersion: header.version, into: &out, path: path, offset: offset)
        }
        return h
    }

    /// Reads the frame at `offset` into `out` (header and payload, checksum
    /// verified) without decoding its payload (`readBlock` decodes it; the
    /// Parquet column path decodes columnar payloads itself).
    func readFrame(at offset: Int64, into out: inout [UInt8]) throws -> FrameHeader {
        guard offset >= Int64(Format.segmentHeaderSize), offset + Int64(Format.frameHeaderSize) <= validLength else {
            throw StrataError(.corruption, "block offset \(offset) is outside the segment", path: path, offset: offset)
        }
        try file.readExactly(at: offset, count: Format.frameHeaderSize, into: &out)
        let h = try out.withUnsafeBytes { try FrameCodec.parseHeader($0, path: path, offset: offset) }
        guard offset + Int64(h.frameLength) <= validLength else {
            throw StrataError(.corruption, "block at \(offset) runs past the end of the segment", path: path, offset: offset)
        }
        try file.readExactly(at: offset, count: h.frameLength, into: &out)
        guard out.withUnsafeBytes({ FrameCodec.checksumMatches($0, header: h) }) else {
            throw StrataError(.corruption, "block checksum mismatch", path: path, offset: offset)
        }
        return h
    }

    /// Block offsets in order: from the footer when sealed, else by walking.
    public func blockOffsets() throws -> [Int64] {
        if let footer { return footer.blocks.map(\.offset) }
        return try walk().blocks.map(\.offset).filter { $0 < validLength }
    }

    public func close() { file.close() }
}
