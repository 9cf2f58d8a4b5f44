/// Frame encoding and validation (SPEC.md §3.1). Pure: bytes in, bytes out.
public struct FrameHeader: Equatable, Sendable {
    public var checksum: UInt64
    public var type: UInt8
    public var storedLength: Int
    public var rawLength: Int
    public var entryCount: Int

    public var frameLength: Int { Format.frameHeaderSize + storedLength }
}

public enum FrameCodec {
    /// Appends a complete frame (header + payload) to `out`.
    public static func appendFrame(type: FrameType, payload: UnsafeRawBufferPointer, rawLength: Int, entryCount: Int,
                                   to out: inout [UInt8]) {
        precondition(payload.count <= Format.maxFramePayload && rawLength <= Format.maxFramePayload, "frame too large")
        let start = out.count
        var w = ByteWriter(capacity: Format.frameHeaderSize)
        w.u64(0)
        w.u8(type.rawValue)
        w.u8(0); w.u8(0); w.u8(0)
        w.u32(UInt32(payload.count))
        w.u32(UInt32(rawLength))
        w.u32(UInt32(entryCount))
        out.append(contentsOf: w.bytes)
        out.append(contentsOf: payload)
        let sum = out.withUnsafeBytes { all in
            XXH.hash64(UnsafeRawBufferPointer(rebasing: all[(start + 8)...]))
        }
        withUnsafeBytes(of: sum.littleEndian) { s in for i in 0..<8 { out[start + i] = s[i] } }
    }

    /// Compresses `entries` as a block frame with `codec` and appends it to `out`.
    public static func appendBlock(entries: UnsafeRawBufferPointer, entryCount: Int, codec: BlockCodec,
                                   scratch: inout [UInt8], to out: inout [UInt8]) throws {
        scratch.removeAll(keepingCapacity: true)
        let type: FrameType
        switch codec {
        case .lz4:
            LZ4Codec.compress(entries, appendingTo: &scratch)
            type = .lz4Block
        case let .zstd(level, dict):
            try ZstdCodec.compress(entries, level: level, dictionary: dict, appendingTo: &scratch)
            type = dict == nil ? .zstdBlock : .zstdDictBlock
        case .raw:
            scratch.append(contentsOf: entries)
            type = .rawBlock
        case let .columnar(level, dict):
            try ColumnarBlock.encode(entries, level: level, dictionary: dict, appendingTo: &scratch)
            type = .columnarBlock
        }
        scratch.withUnsafeBytes { appendFrame(type: type, payload: $0, rawLength: entries.count, entryCount: entryCount, to: &out) }
    }

    /// Parses a frame header from the first 24 bytes of `bytes`. Validates
    /// lengths and type but not the checksum (the payload may not be loaded yet).
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String?, offset: Int64) throws -> FrameHeader {
        var r = ByteReader(bytes, path: path, baseOffset: offset)
        let checksum = try r.u64("frame checksum")
        let type = try r.u8("frame type")
        try r.skip(3)
        let stored = Int(try r.u32("frame stored length"))
        let raw = Int(try r.u32("frame raw length"))
        let count = Int(try r.u32("frame entry count"))
        guard stored <= Format.maxFramePayload, raw <= Format.maxFramePayload else {
            throw StrataError(.corruption, "frame declares \(stored) stored / \(raw) raw bytes, over the 64 MiB limit", path: path, offset: offset)
        }
        return FrameHeader(checksum: checksum, type: type, storedLength: stored, rawLength: raw, entryCount: count)
    }

    /// True when `frame` (header + payload, exactly `frameLength` bytes) matches its checksum.
    public static func checksumMatches(_ frame: UnsafeRawBufferPointer, header: FrameHeader) -> Bool {
        XXH.hash64(UnsafeRawBufferPointer(rebasing: frame[8..<header.frameLength])) == header.checksum
    }

    /// Decompresses a verified block frame's payload into `out` (raw entries).
    /// `segmentVersion` is the version of the segment the frame is in: a
    /// columnar block (type 5) in a segment older than version 3 is corruption (SPEC.md §1).
    public static func decodeBlockPayload(_ payload: UnsafeRawBufferPointer, header: FrameHeader, dictionary: ZstdDictionary?,
                                          segmentVersion: UInt16, into out: inout [UInt8], path: String?, offset: Int64) throws {
        let ok: Bool
        switch FrameType(rawValue: header.type) {
        case .columnarBlock:
            guard segmentVersion >= Format.columnarSegmentVersion else {
                throw StrataError(.corruption, "columnar block (frame type 5) in a version \(segmentVersion) segment", path: path, offset: offset)
            }
            try ColumnarBlock.decode(payload, rawLength: header.rawLength, entryCount: header.entryCount, dictionary: dictionary,
                                     into: &out, path: path, offset: offset)
            ok = true
        case .lz4Block: ok = LZ4Codec.decompress(payload, rawLength: header.rawLength, into: &out)
        case .zstdBlock: ok = ZstdCodec.decompress(payload, rawLength: header.rawLength, into: &out)
        case .zstdDictBlock:
            guard let dictionary else {
                throw StrataError(.corruption, "zstd-dict block but the segment's dictionary is not available", path: path, offset: offset)
            }
            ok = ZstdCodec.decompress(payload, rawLength: header.rawLength, dictionary: dictionary, into: &out)
        case .rawBlock:
            out.removeAll(keepingCapacity: true)
            out.append(contentsOf: payload)
            ok = payload.count == header.rawLength
        default:
            throw StrataError(.corruption, "frame type \(header.type) is not a block", path: path, offset: offset)
        }
        guard ok else {
            throw StrataError(.corruption, "block payload does not decompress to its declared \(header.rawLength) bytes", path: path, offset: offset)
        }
    }
}

/// How blocks are compressed.
public enum BlockCodec {
    case lz4
    case zstd(level: Int32, dictionary: ZstdDictionary?)
    case raw
    /// Record-aware columnar blocks (SPEC.md §3.6), compaction's codec.
    case columnar(level: Int32, dictionary: ZstdDictionary?)

    public var name: String {
        switch self {
        case .lz4: "lz4"
        case .zstd(_, let d): d == nil ? "zstd" : "zstd-dict"
        case .raw: "raw"
        case .columnar: "zstd-columnar"
        }
    }

    /// The version of a segment whose blocks use this codec (SPEC.md §3.0).
    public var segmentVersion: UInt16 {
        if case .columnar = self { return Format.columnarSegmentVersion }
        return Format.segmentVersion
    }
}

/// Iterates the entries of a decompressed block (SPEC.md §4).
public struct EntryIterator {
    var reader: ByteReader

    /// REQUIRES: `bytes` stays live while iterating.
    public init(_ bytes: UnsafeRawBufferPointer, path: String?, blockOffset: Int64) {
        reader = ByteReader(bytes, path: path, baseOffset: blockOffset, positionsAreInFile: false)
    }

    /// Returns the next entry's kind and a reader over exactly its body, or nil at the end.
    public mutating func next() throws -> (kind: UInt8, body: ByteReader, bodyBytes: UnsafeRawBufferPointer)? {
        if reader.isAtEnd { return nil }
        let start = reader.position
        let length = try reader.count("entry length", limit: reader.remaining)
        guard length >= 1 else { throw reader.corruption("empty entry", at: start) }
        let kind = try reader.u8("entry kind")
        let body = try reader.slice(length - 1, "entry body")
        let sub = ByteReader(body, path: reader.path, baseOffset: reader.baseOffset, positionsAreInFile: false)
        return (kind, sub, body)
    }
}
