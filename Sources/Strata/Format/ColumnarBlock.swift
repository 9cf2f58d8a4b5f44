import Foundation

/// The record-aware columnar block codec (frame type 5, SPEC.md §3.6).
/// Pure: bytes in, bytes out.
///
/// A block's entries (SPEC.md §4) are split into streams by kind of value
/// (all free text together, all metadata together, timestamps together, …),
/// and each stream is compressed on its own, so zstd sees long runs of like
/// values instead of interleaved fields. The free text of every field shares
/// one stream: on high-entropy text the shared vocabulary (a prompt's words
/// recur in its response) is worth more than separating the fields (~9%
/// smaller at 256 KiB blocks, measured). Decoding reassembles exactly the
/// row-format entry bytes the block was made of, so every reader keeps using
/// the one entry decoder (`BlockCursor`, `EntryView`) and its checks; this
/// file only has to be bounds-checked and reproduce bytes.
///
/// The example id is not stored: it is the hash of the content (and id key)
/// that the block stores (SPEC.md §4.1), so the decoder recomputes it. The
/// encoder refuses an entry whose id is not that hash.
enum ColumnarBlock {
    /// SPEC.md §3.6: the layout version byte at the start of the payload.
    static let layoutVersion: UInt8 = 1
    /// SPEC.md §3.6: bytes of one stream header.
    static let streamHeaderSize = 10

    /// SPEC.md §3.6 stream ids, in the order they appear in a payload.
    enum Stream: UInt8, CaseIterable {
        case kinds = 1, others, shapes, timestamps, qualities, idKeys, labels, texts, roles, metadata

        var name: String {
            switch self {
            case .kinds: "kinds"
            case .others: "others"
            case .shapes: "shapes"
            case .timestamps: "timestamps"
            case .qualities: "qualities"
            case .idKeys: "idKeys"
            case .labels: "labels"
            case .texts: "texts"
            case .roles: "roles"
            case .metadata: "metadata"
            }
        }
    }

    /// SPEC.md §3.6 stream encodings.
    enum Encoding: UInt8 {
        /// 3: the `texts` stream coded with the segment dictionary's word model (SPEC.md §6.1).
        case stored = 0, zstd = 1, zstdDict = 2, words = 3
    }

    /// Quality scores that are a whole number of 1/10000 are stored as that
    /// number + 1 (SPEC.md §3.6 `qualities`).
    static let qualityScale = 10_000.0

    // MARK: Encoding

    /// Splits `entries` (a block of SPEC.md §4 entries) into streams, compresses
    /// each with zstd at `level` (and the segment's dictionary, if any), and
    /// appends the payload to `out`. Throws `.invalidInput` on an entry the
    /// columnar layout cannot reproduce (malformed, or an id that is not the
    /// hash of its content).
    static func encode(_ entries: UnsafeRawBufferPointer, level: Int32, dictionary: ZstdDictionary?,
                       appendingTo out: inout [UInt8]) throws {
        try EncoderWorkspace.current.encode(entries, level: level, dictionary: dictionary, appendingTo: &out)
    }

    /// The encoder's buffers, kept per thread and reused from block to block:
    /// compaction writes hundreds of blocks, and stream buffers allocated per
    /// block (each above glibc's mmap threshold) were mapped, faulted in and
    /// unmapped every time (~10% of compaction's CPU in `perf`).
    final class EncoderWorkspace {
        private var streams = [ByteWriter](repeating: ByteWriter(), count: Stream.allCases.count + 1)
        private var data: [UInt8] = []
        private var view = EntryView()
        /// zstd's output for one stream (raw memory: no zero-fill of the bound per stream).
        private var zbuf = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        /// The word model's output for the texts stream.
        private var coded: [UInt8] = []

        deinit { zbuf.deallocate() }

        static var current: EncoderWorkspace {
            let key = "strata.columnar.encoder"
            if let c = Thread.current.threadDictionary[key] as? EncoderWorkspace { return c }
            let c = EncoderWorkspace()
            Thread.current.threadDictionary[key] = c
            return c
        }

        func encode(_ entries: UnsafeRawBufferPointer, level: Int32, dictionary: ZstdDictionary?,
                    appendingTo out: inout [UInt8]) throws {
            for i in streams.indices { streams[i].bytes.removeAll(keepingCapacity: true) }
            try split(entries)
            // Header first (the stored lengths are known only after compressing), then the data.
            data.removeAll(keepingCapacity: true)
            var headers = ByteWriter(capacity: 2 + Stream.allCases.count * streamHeaderSize)
            headers.u8(layoutVersion)
            headers.u8(UInt8(Stream.allCases.filter { streams[Int($0.rawValue)].count > 0 }.count))
            for k in Stream.allCases {
                try streams[Int(k.rawValue)].bytes.withUnsafeBytes { raw in
                    guard raw.count > 0 else { return }
                    var enc = Encoding.stored
                    var stored = raw.count
                    // The dictionary carries a word model only where it measured smaller than zstd on this domain's text (SPEC.md §6).
                    if k == .texts, raw.count >= 64, let model = dictionary?.wordModel,
                       let n = model.encode(raw, into: &coded) {
                        enc = .words
                        stored = n
                        data.append(contentsOf: coded[0..<n])
                    } else if raw.count >= 64 {
                        let bound = ZstdCodec.compressBound(raw.count)
                        if zbuf.count < bound {
                            zbuf.deallocate()
                            zbuf = .allocate(byteCount: max(bound, 64 << 10), alignment: 16)
                        }
                        let n = try ZstdCodec.compress(raw, level: level, dictionary: dictionary, into: zbuf)
                        if n < raw.count {
                            enc = dictionary != nil ? .zstdDict : .zstd
                            stored = n
                            data.append(contentsOf: UnsafeRawBufferPointer(rebasing: zbuf[0..<n]))
                        }
                    }
                    if enc == .stored { data.append(contentsOf: raw) }
                    headers.u8(k.rawValue)
                    headers.u8(enc.rawValue)
                    headers.u32(UInt32(raw.count))
                    headers.u32(UInt32(stored))
                }
            }
            out.append(contentsOf: headers.bytes)
            out.append(contentsOf: data)
        }

        /// The `texts` stream (SPEC.md §3.6) of `entries`, for training and judging word models.
        func texts(of entries: UnsafeRawBufferPointer) throws -> [UInt8] {
            for i in streams.indices { streams[i].bytes.removeAll(keepingCapacity: true) }
            try split(entries)
            return streams[Int(Stream.texts.rawValue)].bytes
        }

        /// Splits the entries into `streams` (SPEC.md §3.6 "Streams").
        private func split(_ entries: UnsafeRawBufferPointer) throws {
            @inline(__always) func w(_ k: Stream, _ body: (inout ByteWriter) -> Void) { body(&streams[Int(k.rawValue)]) }
            func str(_ k: Stream, _ b: UnsafeRawBufferPointer) { w(k) { $0.varint(b.count); $0.append(b) } }
            var previousTimestamp: Int64 = 0
            var it = EntryIterator(entries, path: nil, blockOffset: 0)
            while let (kind, body, bodyBytes) = try it.next() {
                w(.kinds) { $0.u8(kind) }
                guard kind == EntryKind.example.rawValue else {
                    str(.others, bodyBytes)
                    continue
                }
                var r = body
                try view.decode(&r)
                do { try view.verifyContent(r) } catch {
                    throw StrataError(.invalidInput, "columnar block: an example entry does not verify, its id could not be derived", cause: error)
                }
                var flags: UInt8 = 0
                if view.quality != nil { flags |= RecordCodec.flagQuality }
                if view.source != nil { flags |= RecordCodec.flagSource }
                if view.idKey != nil { flags |= RecordCodec.flagIDKey }
                let shape = view.shape.rawValue
                w(.shapes) { $0.u8(shape); $0.u8(flags) }
                let delta = Int64(bitPattern: UInt64(bitPattern: view.timestampMillis) &- UInt64(bitPattern: previousTimestamp))
                previousTimestamp = view.timestampMillis
                w(.timestamps) { $0.varint(UInt64(bitPattern: (delta << 1) ^ (delta >> 63))) }
                if let q = view.quality {
                    let k = (q * qualityScale).rounded()
                    if k >= 0, k <= qualityScale, (k / qualityScale).bitPattern == q.bitPattern {
                        w(.qualities) { $0.varint(UInt64(k) + 1) }
                    } else {
                        w(.qualities) { $0.varint(0); $0.f64(q) }
                    }
                }
                if let key = view.idKey { w(.idKeys) { key.write(to: &$0) } }
                str(.labels, view.domain)
                if let src = view.source { str(.labels, src) }
                let tagCount = view.tags.count
                w(.labels) { $0.varint(tagCount) }
                for t in view.tags { str(.labels, t) }
                switch view.shape {
                case .instruction:
                    str(.texts, view.first); str(.texts, view.second); str(.texts, view.third)
                case .promptResponse:
                    str(.texts, view.first); str(.texts, view.second)
                case .chat:
                    let messages = view.messages
                    w(.roles) { $0.varint(messages.count); for m in messages { $0.u8(m.role.rawValue) } }
                    for m in messages { str(.texts, m.content) }
                }
                str(.metadata, view.metadata)
            }
        }
    }

    // MARK: Decoding

    /// Parses the stream headers of a columnar payload and decompresses every
    /// stream into `buffers[streamID]` (REQUIRES: `buffers.count` is
    /// `Stream.allCases.count + 1`; buffers keep their capacity). Every length
    /// is checked against `rawLength` and the frame; damage throws
    /// `.corruption` naming `path` and the frame at `offset` (stream headers:
    /// their exact file offset). Shared by reassembly and the column view.
    static func decompressStreams(_ payload: UnsafeRawBufferPointer, rawLength: Int, dictionary: ZstdDictionary?,
                                  into buffers: inout [[UInt8]], path: String?, offset: Int64) throws {
        // Stream headers: positions in the file (the payload follows the 24-byte frame header).
        var h = ByteReader(payload, path: path, baseOffset: offset + Int64(Format.frameHeaderSize))
        let version = try h.u8("columnar layout version")
        guard version == layoutVersion else { throw h.corruption("unknown columnar layout version \(version)", at: 0) }
        let count = Int(try h.u8("columnar stream count"))
        guard count <= Stream.allCases.count else { throw h.corruption("columnar block declares \(count) streams, at most \(Stream.allCases.count) exist", at: 1) }
        var declared: [(stream: Stream, encoding: Encoding, raw: Int, stored: Int, at: Int)] = []
        var lastID: UInt8 = 0
        var rawTotal = 0
        var storedTotal = 0
        for _ in 0..<count {
            let at = h.position
            let id = try h.u8("stream id")
            guard let k = Stream(rawValue: id) else { throw h.corruption("unknown columnar stream id \(id)", at: at) }
            guard id > lastID else { throw h.corruption("columnar stream \(k.name) out of order or repeated", at: at) }
            lastID = id
            let eb = try h.u8("stream encoding")
            guard let e = Encoding(rawValue: eb) else { throw h.corruption("unknown encoding \(eb) of stream \(k.name)", at: at + 1) }
            let raw = Int(try h.u32("stream raw length"))
            let stored = Int(try h.u32("stream stored length"))
            // The streams never hold more than the entries they rebuild (SPEC.md §3.6),
            // which also bounds what a lying header can make the reader allocate.
            rawTotal += raw
            storedTotal += stored
            guard raw > 0, rawTotal <= rawLength else {
                throw h.corruption("stream \(k.name) declares \(raw) raw bytes (streams total \(rawTotal), block \(rawLength))", at: at + 2)
            }
            guard storedTotal <= payload.count else {
                throw h.corruption("stream \(k.name) declares \(stored) stored bytes, past the end of the frame", at: at + 6)
            }
            guard e != .words || k == .texts else {
                throw h.corruption("stream \(k.name) declares the word-model encoding, which only the texts stream may use", at: at + 1)
            }
            guard e != .stored || stored == raw else {
                throw h.corruption("stored stream \(k.name) declares \(stored) stored bytes for \(raw) raw", at: at + 6)
            }
            declared.append((k, e, raw, stored, at))
        }
        guard h.position + storedTotal == payload.count else {
            throw h.corruption("columnar streams hold \(storedTotal) bytes, the frame \(payload.count - h.position)", at: h.position)
        }

        // Decompress every stream into its own buffer.
        for i in buffers.indices { buffers[i].removeAll(keepingCapacity: true) }
        var dataAt = h.position
        for d in declared {
            let src = UnsafeRawBufferPointer(rebasing: payload[dataAt..<(dataAt + d.stored)])
            let ok: Bool
            switch d.encoding {
            case .stored:
                buffers[Int(d.stream.rawValue)].append(contentsOf: src)
                ok = true
            case .zstd:
                ok = ZstdCodec.decompress(src, rawLength: d.raw, into: &buffers[Int(d.stream.rawValue)])
            case .zstdDict:
                guard let dictionary else {
                    throw StrataError(.corruption, "columnar stream \(d.stream.name) needs the segment's dictionary, which is not available",
                                      path: path, offset: offset + Int64(Format.frameHeaderSize + d.at))
                }
                ok = ZstdCodec.decompress(src, rawLength: d.raw, dictionary: dictionary, into: &buffers[Int(d.stream.rawValue)])
            case .words:
                guard let model = dictionary?.wordModel else {
                    throw StrataError(.corruption, "columnar stream \(d.stream.name) needs the word model of the segment's dictionary, which has none",
                                      path: path, offset: offset + Int64(Format.frameHeaderSize + d.at))
                }
                ok = model.decode(src, rawLength: d.raw, into: &buffers[Int(d.stream.rawValue)])
            }
            guard ok, buffers[Int(d.stream.rawValue)].count == d.raw else {
                throw StrataError(.corruption, "columnar stream \(d.stream.name) does not decompress to its declared \(d.raw) bytes",
                                  path: path, offset: offset + Int64(Format.frameHeaderSize + dataAt))
            }
            dataAt += d.stored
        }

    }

    /// Reassembles the row-format entries of a columnar payload into `out`
    /// (exactly `rawLength` bytes, `entryCount` entries). Every length is
    /// checked; damage throws `.corruption` naming `path` and the frame at
    /// `offset` (stream headers: their exact file offset).
    static func decode(_ payload: UnsafeRawBufferPointer, rawLength: Int, entryCount: Int, dictionary: ZstdDictionary?,
                       into out: inout [UInt8], path: String?, offset: Int64) throws {
        var buffers = [[UInt8]](repeating: [], count: Stream.allCases.count + 1)
        try decompressStreams(payload, rawLength: rawLength, dictionary: dictionary, into: &buffers, path: path, offset: offset)

        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(rawLength)
        try withStreamReaders(buffers, path: path, offset: offset) { r in
            try reassemble(&r, entryCount: entryCount, rawLength: rawLength, into: &out)
        }
    }

    /// Readers over the decompressed streams, indexed by stream id. Their
    /// errors name the frame's offset and the stream.
    struct Readers {
        var r: [ByteReader]
        let path: String?
        let offset: Int64
        subscript(_ k: Stream) -> ByteReader {
            get { r[Int(k.rawValue)] }
            set { r[Int(k.rawValue)] = newValue }
        }
        func corruption(_ k: Stream, _ message: String) -> StrataError {
            StrataError(.corruption, "columnar stream \(k.name), byte \(r[Int(k.rawValue)].position): \(message)", path: path, offset: offset)
        }
    }

    private static func withStreamReaders(_ buffers: [[UInt8]], path: String?, offset: Int64,
                                          _ body: (inout Readers) throws -> Void) throws {
        // Pin every buffer for the readers' lifetime (nested closures over a fixed count).
        func pin(_ i: Int, _ acc: [UnsafeRawBufferPointer]) throws {
            if i == buffers.count {
                var readers = Readers(r: acc.map { ByteReader($0, path: path, baseOffset: offset, positionsAreInFile: false) },
                                      path: path, offset: offset)
                return try body(&readers)
            }
            try buffers[i].withUnsafeBytes { try pin(i + 1, acc + [$0]) }
        }
        try pin(0, [])
    }

    /// Rebuilds the entries from the stream readers (SPEC.md §3.6 "Reassembly").
    private static func reassemble(_ s: inout Readers, entryCount: Int, rawLength: Int, into out: inout [UInt8]) throws {
        var w = ByteWriter()
        swap(&w.bytes, &out)
        defer { swap(&w.bytes, &out) }
        var canonical = ByteWriter(capacity: 4 << 10)
        var tags: [UnsafeRawBufferPointer] = []
        var messages: [(role: UInt8, content: UnsafeRawBufferPointer)] = []
        var previousTimestamp: Int64 = 0
        var entries = 0

        func bytes(_ k: Stream) throws -> UnsafeRawBufferPointer {
            do {
                let n = try s[k].count("string length", limit: s[k].remaining)
                return try s[k].slice(n, "string")
            } catch { throw s.corruption(k, "truncated string") }
        }
        func varint(_ k: Stream) throws -> UInt64 {
            do { return try s[k].varint("varint") } catch { throw s.corruption(k, "truncated or overlong varint") }
        }
        func u8(_ k: Stream) throws -> UInt8 {
            do { return try s[k].u8("u8") } catch { throw s.corruption(k, "truncated") }
        }
        @inline(__always) func strSize(_ b: UnsafeRawBufferPointer) -> Int { RecordCodec.varintSize(UInt64(b.count)) + b.count }

        while !s[.kinds].isAtEnd {
            entries += 1
            guard entries <= entryCount else { throw s.corruption(.kinds, "more than the \(entryCount) entries the frame declares") }
            let kind = try u8(.kinds)
            guard kind == EntryKind.example.rawValue else {
                let body = try bytes(.others)
                w.varint(1 + body.count)
                w.u8(kind)
                w.append(body)
                guard w.count <= rawLength else { throw s.corruption(.others, "entries exceed the block's \(rawLength) bytes") }
                continue
            }
            let shapeByte = try u8(.shapes)
            guard let shape = Shape(rawValue: shapeByte) else { throw s.corruption(.shapes, "unknown shape \(shapeByte)") }
            let flags = try u8(.shapes)
            guard flags & ~(RecordCodec.flagQuality | RecordCodec.flagSource | RecordCodec.flagIDKey) == 0 else {
                throw s.corruption(.shapes, "unknown example flags \(flags)")
            }
            let zz = try varint(.timestamps)
            let delta = Int64(bitPattern: zz >> 1) ^ -Int64(bitPattern: zz & 1)
            let timestamp = Int64(bitPattern: UInt64(bitPattern: previousTimestamp) &+ UInt64(bitPattern: delta))
            previousTimestamp = timestamp
            var quality: Double?
            if flags & RecordCodec.flagQuality != 0 {
                let k = try varint(.qualities)
                if k == 0 {
                    do { quality = try s[.qualities].f64("quality") } catch { throw s.corruption(.qualities, "truncated quality") }
                } else {
                    guard k - 1 <= UInt64(qualityScale) else { throw s.corruption(.qualities, "quality \(k - 1)/10000 out of range") }
                    quality = Double(k - 1) / qualityScale
                }
            }
            var idKey: ExampleID?
            if flags & RecordCodec.flagIDKey != 0 {
                do { idKey = try ExampleID.read(from: &s[.idKeys]) } catch { throw s.corruption(.idKeys, "truncated id key") }
            }
            let domain = try bytes(.labels)
            let source: UnsafeRawBufferPointer? = flags & RecordCodec.flagSource != 0 ? try bytes(.labels) : nil
            let tagCount = Int(min(try varint(.labels), UInt64(Int.max)))
            guard tagCount <= s[.labels].remaining else { throw s.corruption(.labels, "tag count \(tagCount) exceeds the stream") }
            tags.removeAll(keepingCapacity: true)
            for _ in 0..<tagCount { tags.append(try bytes(.labels)) }

            // Content, in canonical form for the id (SPEC.md §4.1) as it is read.
            canonical.bytes.removeAll(keepingCapacity: true)
            canonical.u8(shapeByte)
            var fields: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) = (EntryView.emptyBytes, EntryView.emptyBytes, EntryView.emptyBytes)
            var contentSize = 0
            func field(_ k: Stream) throws -> UnsafeRawBufferPointer {
                let b = try bytes(k)
                canonical.u32(UInt32(truncatingIfNeeded: b.count))
                canonical.append(b)
                contentSize += strSize(b)
                return b
            }
            messages.removeAll(keepingCapacity: true)
            switch shape {
            case .instruction:
                fields = (try field(.texts), try field(.texts), try field(.texts))
            case .promptResponse:
                fields.0 = try field(.texts)
                fields.1 = try field(.texts)
            case .chat:
                let n = Int(min(try varint(.roles), UInt64(Int.max)))
                guard n <= s[.roles].remaining else { throw s.corruption(.roles, "message count \(n) exceeds the stream") }
                canonical.u32(UInt32(truncatingIfNeeded: n))
                contentSize += RecordCodec.varintSize(UInt64(n))
                for _ in 0..<n {
                    let role = try u8(.roles)
                    canonical.u8(role)
                    contentSize += 1
                    messages.append((role, try field(.texts)))
                }
            }
            let metadata = try bytes(.metadata)
            if let idKey { idKey.write(to: &canonical) }
            let id = XXH.hash128(canonical.bytes)

            var bodyLength = 1 + 16 + 8 + 1 + (idKey == nil ? 0 : 16) + (quality == nil ? 0 : 8)
            bodyLength += strSize(domain) + (source.map(strSize) ?? 0) + RecordCodec.varintSize(UInt64(tags.count))
            for t in tags { bodyLength += strSize(t) }
            bodyLength += contentSize + strSize(metadata)
            let entrySize = RecordCodec.varintSize(UInt64(bodyLength + 1)) + 1 + bodyLength
            guard w.count + entrySize <= rawLength else { throw s.corruption(.kinds, "entries exceed the block's \(rawLength) bytes") }

            w.varint(bodyLength + 1)
            w.u8(EntryKind.example.rawValue)
            w.u8(shapeByte)
            id.write(to: &w)
            w.i64(timestamp)
            w.u8(flags)
            if let idKey { idKey.write(to: &w) }
            if let quality { w.f64(quality) }
            w.varint(domain.count); w.append(domain)
            if let source { w.varint(source.count); w.append(source) }
            w.varint(tags.count)
            for t in tags { w.varint(t.count); w.append(t) }
            switch shape {
            case .instruction:
                w.varint(fields.0.count); w.append(fields.0)
                w.varint(fields.1.count); w.append(fields.1)
                w.varint(fields.2.count); w.append(fields.2)
            case .promptResponse:
                w.varint(fields.0.count); w.append(fields.0)
                w.varint(fields.1.count); w.append(fields.1)
            case .chat:
                w.varint(messages.count)
                for m in messages { w.u8(m.role); w.varint(m.content.count); w.append(m.content) }
            }
            w.varint(metadata.count); w.append(metadata)
        }
        guard entries == entryCount else { throw s.corruption(.kinds, "\(entries) entries, the frame declares \(entryCount)") }
        guard w.count == rawLength else { throw s.corruption(.kinds, "entries fill \(w.count) bytes, the frame declares \(rawLength)") }
        for k in Stream.allCases where !s[k].isAtEnd {
            throw s.corruption(k, "\(s[k].remaining) bytes left after the last entry")
        }
    }
}
