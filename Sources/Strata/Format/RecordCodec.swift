/// Binary encoding of entries inside a block (SPEC.md §4). Pure: bytes in, bytes out.
///
///     entry   := length:varint kind:u8 body        (length counts kind + body)
///     example := shape:u8 id:16 timestampMillis:i64le flags:u8 [quality:f64le]
///                str(domain) [str(source)] tagCount:varint str(tag)*
///                content str(metadataJSON)
///     str(x)  := byteLength:varint utf8Bytes
public enum RecordCodec {
    static let flagQuality: UInt8 = 1
    static let flagSource: UInt8 = 2
    /// SPEC.md §4.2 bit 2: a 16-byte id key follows the flags and the id covers it (§4.1).
    static let flagIDKey: UInt8 = 4

    /// Appends a complete example entry (header included) to `w`.
    /// `idKey` is written (flag bit 2) when the id is keyed (SPEC.md §4.1).
    public static func appendExampleEntry(_ d: ExampleDraft, id: ExampleID, idKey: ExampleID? = nil, to w: inout ByteWriter) {
        // The body length is computed first so the entry is written in one pass, without a scratch copy.
        var bodyLength = 1 + 1 + 16 + 8 + 1
        if idKey != nil { bodyLength += 16 }
        if d.qualityScore != nil { bodyLength += 8 }
        @inline(__always) func strLen(_ n: Int) -> Int { varintSize(UInt64(n)) + n }
        bodyLength += strLen(d.domain.count)
        if let s = d.source { bodyLength += strLen(s.count) }
        bodyLength += varintSize(UInt64(d.tags.count))
        for t in d.tags { bodyLength += strLen(t.count) }
        switch d.shape {
        case .instruction: bodyLength += strLen(d.first.count) + strLen(d.second.count) + strLen(d.third.count)
        case .promptResponse: bodyLength += strLen(d.first.count) + strLen(d.second.count)
        case .chat:
            bodyLength += varintSize(UInt64(d.messages.count))
            for m in d.messages { bodyLength += 1 + strLen(m.content.count) }
        }
        let metaCount = d.metadata.count == 0 ? 2 : d.metadata.count
        bodyLength += strLen(metaCount)

        let start = w.count
        w.varint(UInt64(bodyLength))
        w.u8(EntryKind.example.rawValue)
        w.u8(d.shape.rawValue)
        id.write(to: &w)
        w.i64(d.timestampMillis)
        var flags: UInt8 = 0
        if d.qualityScore != nil { flags |= flagQuality }
        if d.source != nil { flags |= flagSource }
        if idKey != nil { flags |= flagIDKey }
        w.u8(flags)
        if let idKey { idKey.write(to: &w) }
        if let q = d.qualityScore { w.f64(q) }
        // Strings from one raw view of the storage: an ArraySlice per string
        // retained and released the storage each time (ingest's hottest path).
        d.storage.withUnsafeBytes { st in
            @inline(__always) func str(_ s: ExampleDraft.Span) {
                w.varint(UInt64(s.count))
                w.append(UnsafeRawBufferPointer(rebasing: st[s.start..<(s.start + s.count)]))
            }
            str(d.domain)
            if let s = d.source { str(s) }
            w.varint(UInt64(d.tags.count))
            for t in d.tags { str(t) }
            switch d.shape {
            case .instruction: str(d.first); str(d.second); str(d.third)
            case .promptResponse: str(d.first); str(d.second)
            case .chat:
                w.varint(UInt64(d.messages.count))
                for m in d.messages { w.u8(m.role.rawValue); str(m.content) }
            }
            if d.metadata.count == 0 { w.varint(2); w.append("{}".utf8) } else { str(d.metadata) }
        }
        assert(w.count - start == varintSize(UInt64(bodyLength)) + bodyLength)
    }

    @inline(__always) public static func varintSize(_ v: UInt64) -> Int {
        var n = 1
        var v = v
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    /// Reads only the id of an example body without decoding strings.
    public static func peekExampleID(_ r: inout ByteReader) throws -> ExampleID {
        _ = try r.u8("shape")
        return try ExampleID.read(from: &r)
    }
}
