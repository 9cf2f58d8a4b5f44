/// Walks one segment file frame by frame for `strata dump`, reporting every
/// structure with its file offset. Damage is reported as an item, and the walk
/// stops there: a dump must work on exactly the files that are broken.
public enum DumpItem {
    case header(SegmentHeader)
    case frame(offset: Int64, header: FrameHeader, checksumOK: Bool)
    /// `position` is the entry's byte offset inside the decompressed block.
    case entry(blockOffset: Int64, index: Int, position: Int, length: Int, kind: UInt8, id: ExampleID?, example: Example?)
    case footer(offset: Int64, footer: SegmentFooter)
    case trailer(offset: Int64, trailer: SegmentTrailer)
    case damage(offset: Int64, message: String)
}

public enum SegmentDumper {
    public static func kindName(_ kind: UInt8) -> String {
        switch kind {
        case EntryKind.example.rawValue: "example"
        case EntryKind.annotation.rawValue: "annotation"
        case EntryKind.duplicateSeen.rawValue: "duplicate_seen"
        case 4: "folded_annotations"
        default: "kind-\(kind)"
        }
    }

    public static func frameTypeName(_ t: UInt8) -> String {
        switch FrameType(rawValue: t) {
        case .lz4Block: "lz4"
        case .zstdBlock: "zstd"
        case .zstdDictBlock: "zstd-dict"
        case .rawBlock: "raw"
        case .columnarBlock: "zstd-columnar"
        case .footer: "footer"
        case nil: "unknown-\(t)"
        }
    }

    /// Dumps frames starting at `start` (a frame boundary; nil = the first
    /// frame), stopping after `limit` entries. `storeRoot` locates the dictionary of zstd-dict blocks.
    public static func dump(path: String, fileSystem fs: FileSystem = PosixFileSystem.shared, start: Int64? = nil, limit: Int? = nil,
                            storeRoot: String? = nil, _ body: (DumpItem) -> Void) throws {
        let file = try fs.openReadable(path)
        defer { file.close() }
        let size = try file.currentSize()
        var buf: [UInt8] = []
        try file.readExactly(at: 0, count: min(Int(size), Format.segmentHeaderSize), into: &buf)
        let header = try buf.withUnsafeBytes { try SegmentHeader.decode($0, path: path) }
        if start == nil { body(.header(header)) }
        // zstd-dict blocks need the store's dictionary (SPEC.md §6).
        var dictionary: ZstdDictionary?
        if header.dictionaryID != 0, let storeRoot {
            let p = storeRoot + "/" + Format.dictionaryDirectory + "/" + Format.dictionaryFileName(header.dictionaryID)
            dictionary = try? DictionaryFile.decode(try fs.readFile(p), expectedID: header.dictionaryID, path: p)
        }
        var offset = start ?? Int64(Format.segmentHeaderSize)
        guard offset >= Int64(Format.segmentHeaderSize), offset < size else {
            throw StrataError(.usage, "offset \(offset) is outside the frames of this segment (\(Format.segmentHeaderSize)..<\(size))", path: path)
        }
        var emitted = 0
        var block: [UInt8] = []
        while offset < size {
            if let limit, emitted >= limit { return }
            let left = size - offset
            if left == Int64(Format.segmentTrailerSize) {
                try file.readExactly(at: offset, count: Format.segmentTrailerSize, into: &buf)
                if buf.withUnsafeBytes({ SegmentTrailer.looksSealed($0) }) {
                    do {
                        let t = try buf.withUnsafeBytes { try SegmentTrailer.decode($0, path: path, offset: offset, fileSize: size) }
                        body(.trailer(offset: offset, trailer: t))
                    } catch let e as StrataError { body(.damage(offset: offset, message: e.message)) }
                    return
                }
            }
            guard left >= Int64(Format.frameHeaderSize) else {
                body(.damage(offset: offset, message: "\(left) trailing bytes: too few for a frame header (torn tail)"))
                return
            }
            try file.readExactly(at: offset, count: Format.frameHeaderSize, into: &buf)
            let h: FrameHeader
            do {
                h = try buf.withUnsafeBytes { try FrameCodec.parseHeader($0, path: path, offset: offset) }
            } catch let e as StrataError {
                body(.damage(offset: offset, message: e.message + (start != nil ? " (is \(offset) a frame boundary? run dump without --offset to list them)" : "")))
                return
            }
            guard Int64(h.frameLength) <= left else {
                body(.frame(offset: offset, header: h, checksumOK: false))
                body(.damage(offset: offset, message: "frame declares \(h.frameLength) bytes, only \(left) remain (torn tail or not a frame boundary)"))
                return
            }
            try file.readExactly(at: offset, count: h.frameLength, into: &buf)
            let ok = buf.withUnsafeBytes { FrameCodec.checksumMatches($0, header: h) }
            body(.frame(offset: offset, header: h, checksumOK: ok))
            if !ok {
                body(.damage(offset: offset, message: "frame checksum mismatch; payload not decoded"))
            } else if h.type == FrameType.footer.rawValue {
                do {
                    let f = try buf.withUnsafeBytes { raw in
                        try SegmentFooter.decodePayload(UnsafeRawBufferPointer(rebasing: raw[Format.frameHeaderSize...]), path: path,
                                                        offset: offset + Int64(Format.frameHeaderSize), fileSize: offset,
                                                        version: header.version)
                    }
                    body(.footer(offset: offset, footer: f))
                } catch let e as StrataError { body(.damage(offset: e.offset ?? offset, message: e.message)) }
            } else {
                do {
                    try buf.withUnsafeBytes { raw in
                        try FrameCodec.decodeBlockPayload(UnsafeRawBufferPointer(rebasing: raw[Format.frameHeaderSize...]), header: h,
                                                          dictionary: dictionary, segmentVersion: header.version, into: &block, path: path, offset: offset)
                    }
                    try block.withUnsafeBytes { raw in
                        try BlockCursor.forEach(raw, path: path, blockOffset: offset, declaredCount: h.entryCount) { e in
                            if let limit, emitted >= limit { return false }
                            var r = e.body
                            var id: ExampleID?
                            var example: Example?
                            if e.kind == EntryKind.example.rawValue {
                                example = try RecordCodec.decodeExampleBody(&r)
                                id = example?.id
                            } else if e.body.remaining >= 16 {
                                id = try ExampleID.read(from: &r)  // kinds 2–4 start with the target id
                            }
                            body(.entry(blockOffset: offset, index: e.index, position: e.range.lowerBound, length: e.range.count,
                                        kind: e.kind, id: id, example: example))
                            emitted += 1
                            return true
                        }
                    }
                } catch let e as StrataError {
                    body(.damage(offset: offset, message: e.message))
                }
            }
            offset += Int64(h.frameLength)
        }
    }
}
