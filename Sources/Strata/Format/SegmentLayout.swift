/// Segment header, footer and trailer encoding (SPEC.md §3.0, §3.3). Pure.
public struct SegmentHeader: Equatable, Sendable {
    public var version: UInt16 = Format.segmentVersion
    public var dictionaryID: UInt32
    public var sequence: UInt64

    public init(dictionaryID: UInt32 = 0, sequence: UInt64) {
        self.dictionaryID = dictionaryID
        self.sequence = sequence
    }

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: Format.segmentHeaderSize)
        w.append(Format.segmentMagic)
        w.u16(version)
        w.u16(0)
        w.u32(dictionaryID)
        w.u64(sequence)
        w.u64(XXH.hash64(w.bytes))
        return w.bytes
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String?) throws -> SegmentHeader {
        guard bytes.count >= Format.segmentHeaderSize else {
            throw StrataError(.corruption, "segment header truncated (\(bytes.count) of \(Format.segmentHeaderSize) bytes)", path: path, offset: 0)
        }
        guard bytes.prefix(8).elementsEqual(Format.segmentMagic) else {
            throw StrataError(.corruption, "not a Strata segment (bad magic)", path: path, offset: 0)
        }
        var r = ByteReader(bytes, path: path)
        try r.skip(8)
        let version = try r.u16()
        _ = try r.u16()
        let dict = try r.u32()
        let seq = try r.u64()
        let sum = try r.u64()
        guard XXH.hash64(UnsafeRawBufferPointer(rebasing: bytes[0..<24])) == sum else {
            throw StrataError(.corruption, "segment header checksum mismatch", path: path, offset: 24)
        }
        guard version >= Format.oldestReadableVersion, version <= Format.newestReadableSegmentVersion else {
            throw StrataError(.unsupportedVersion, "segment format version \(version) is not supported by this build (reads \(Format.oldestReadableVersion)...\(Format.newestReadableSegmentVersion)); upgrade strata", path: path, offset: 8)
        }
        var h = SegmentHeader(dictionaryID: dict, sequence: seq)
        h.version = version
        return h
    }
}

/// Where one entry lives inside a segment.
public struct EntryRef: Equatable, Sendable {
    public var id: ExampleID
    public var blockIndex: Int
    public var entryIndex: Int
}

/// The decoded footer of a sealed segment (SPEC.md §3.3).
public struct SegmentFooter: Equatable, Sendable {
    public var blocks: [(offset: Int64, entryCount: Int)] = []
    /// Sorted by id.
    public var examples: [EntryRef] = []
    /// In append order.
    public var annotations: [EntryRef] = []
    public var minTimestamp: Int64 = .max
    public var maxTimestamp: Int64 = .min
    public var rawBytes: Int64 = 0
    /// Number of example refs. Equals `examples.count` unless the footer was
    /// decoded without them (`keepExampleRefs: false`: readers keep footers
    /// in memory without the per-example ids, SPEC.md §3.3).
    public var exampleCount = 0
    /// Present in format version 2 footers (SPEC.md §3.3 `counts`).
    var counts: SegmentCounts?

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.blocks.elementsEqual(b.blocks, by: { $0 == $1 }) && a.examples == b.examples && a.annotations == b.annotations
            && a.minTimestamp == b.minTimestamp && a.maxTimestamp == b.maxTimestamp && a.rawBytes == b.rawBytes
            && a.exampleCount == b.exampleCount && a.counts == b.counts
    }

    public func encodePayload() -> [UInt8] {
        var w = ByteWriter(capacity: 32 + blocks.count * 6 + examples.count * 20)
        w.varint(blocks.count)
        for b in blocks { w.varint(UInt64(b.offset)); w.varint(b.entryCount) }
        w.varint(examples.count)
        for e in examples { e.id.write(to: &w); w.varint(e.blockIndex); w.varint(e.entryIndex) }
        w.varint(annotations.count)
        for a in annotations { a.id.write(to: &w); w.varint(a.blockIndex); w.varint(a.entryIndex) }
        w.i64(minTimestamp)
        w.i64(maxTimestamp)
        w.varint(UInt64(rawBytes))
        // Version 2 footers carry the counts; version 1 footers end here.
        if let counts { counts.encode(to: &w) }
        return w.bytes
    }

    /// Decodes a footer of a segment whose header has format `version`.
    /// With `keepExampleRefs` false the example refs are validated (sorted,
    /// in range) but not kept: `exampleCount` still says how many there are.
    public static func decodePayload(_ bytes: UnsafeRawBufferPointer, path: String?, offset: Int64, fileSize: Int64,
                                     version: UInt16 = Format.segmentVersion, keepExampleRefs: Bool = true) throws -> SegmentFooter {
        var r = ByteReader(bytes, path: path, baseOffset: offset)
        var f = SegmentFooter()
        let nb = try r.count("block count", limit: r.remaining)
        f.blocks.reserveCapacity(nb)
        var last: Int64 = -1
        for _ in 0..<nb {
            let off = Int64(bitPattern: try r.varint("block offset"))
            guard off > last, off >= Int64(Format.segmentHeaderSize), off < fileSize else {
                throw r.corruption("footer block offset \(off) out of order or outside the file")
            }
            last = off
            f.blocks.append((off, try r.count("block entry count", limit: Format.maxFramePayload)))
        }
        /// Reads `n` refs; `sorted` requires strictly increasing ids; `keep` false validates only.
        func refs(_ what: StaticString, sorted: Bool, keep: Bool) throws -> (count: Int, refs: [EntryRef]) {
            let n = try r.count(what, limit: r.remaining / 18)
            var out: [EntryRef] = []
            if keep { out.reserveCapacity(n) }
            var previous: ExampleID?
            for _ in 0..<n {
                let id = try ExampleID.read(from: &r)
                let bi = try r.count("block index", limit: max(0, nb - 1))
                let ei = try r.count("entry index", limit: f.blocks.isEmpty ? 0 : f.blocks[bi].entryCount)
                // Sorted, not strictly: segments written before keyed ids (SPEC.md
                // §4.1) may list one id twice (two content+FIELD examples); they
                // must still read.
                if sorted {
                    if let p = previous, id < p { throw r.corruption("footer example ids not sorted") }
                    previous = id
                }
                if keep { out.append(EntryRef(id: id, blockIndex: bi, entryIndex: ei)) }
            }
            return (n, out)
        }
        (f.exampleCount, f.examples) = try refs("example count", sorted: true, keep: keepExampleRefs)
        f.annotations = try refs("annotation count", sorted: false, keep: true).refs
        f.minTimestamp = try r.i64()
        f.maxTimestamp = try r.i64()
        f.rawBytes = Int64(bitPattern: try r.varint("raw bytes"))
        if version >= 2 {
            let c = try SegmentCounts.decode(&r)
            guard c.examples == f.exampleCount else {
                throw r.corruption("footer counts \(c.examples) examples, its refs \(f.exampleCount)")
            }
            f.counts = c
        }
        guard r.isAtEnd else { throw r.corruption("trailing bytes after footer") }
        return f
    }
}

/// The 40-byte trailer of a sealed segment (SPEC.md §3.3).
public struct SegmentTrailer: Equatable, Sendable {
    public var footerOffset: Int64
    public var footerFrameLength: Int
    public var exampleCount: Int
    public var annotationCount: Int

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: Format.segmentTrailerSize)
        w.u64(UInt64(footerOffset))
        w.u64(UInt64(footerFrameLength))
        w.u32(UInt32(exampleCount))
        w.u32(UInt32(annotationCount))
        w.u64(XXH.hash64(w.bytes))
        w.append(Format.segmentTrailerMagic)
        return w.bytes
    }

    /// True when the last 8 bytes of a file are the trailer magic.
    public static func looksSealed(_ tail: UnsafeRawBufferPointer) -> Bool {
        tail.count >= 8 && tail.suffix(8).elementsEqual(Format.segmentTrailerMagic)
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String?, offset: Int64, fileSize: Int64) throws -> SegmentTrailer {
        guard bytes.count == Format.segmentTrailerSize, looksSealed(bytes) else {
            throw StrataError(.corruption, "sealed segment trailer missing or damaged", path: path, offset: offset)
        }
        var r = ByteReader(bytes, path: path, baseOffset: offset)
        let fo = Int64(bitPattern: try r.u64())
        let fl = try r.u64()
        let ec = Int(try r.u32())
        let ac = Int(try r.u32())
        let sum = try r.u64()
        guard XXH.hash64(UnsafeRawBufferPointer(rebasing: bytes[0..<24])) == sum else {
            throw StrataError(.corruption, "segment trailer checksum mismatch", path: path, offset: offset + 24)
        }
        guard fo >= Int64(Format.segmentHeaderSize), fl >= UInt64(Format.frameHeaderSize),
              fl <= UInt64(Format.frameHeaderSize + Format.maxFramePayload),
              fo + Int64(fl) == offset else {
            throw StrataError(.corruption, "segment trailer points outside the file (footer at \(fo), \(fl) bytes)", path: path, offset: offset)
        }
        return SegmentTrailer(footerOffset: fo, footerFrameLength: Int(fl), exampleCount: ec, annotationCount: ac)
    }
}

extension SegmentFooter {
    /// The bytes that seal a segment (SPEC.md §3.3): the footer frame followed
    /// by the trailer, for a footer that will start at `footerOffset`.
    public func encodeSealingTail(footerOffset: Int64, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        let payload = encodePayload()
        payload.withUnsafeBytes {
            FrameCodec.appendFrame(type: .footer, payload: $0, rawLength: payload.count, entryCount: 0, to: &out)
        }
        let trailer = SegmentTrailer(footerOffset: footerOffset, footerFrameLength: out.count,
                                     exampleCount: max(exampleCount, examples.count), annotationCount: annotations.count)
        out.append(contentsOf: trailer.encode())
    }
}
