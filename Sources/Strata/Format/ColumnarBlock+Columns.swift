/// Read-side view of a columnar block (frame type 5, SPEC.md §3.6) that
/// serves each stream's logical values without reassembling row-format
/// entry bytes: consumers that want columns (the Parquet export) read the
/// strings where they lie in the decompressed streams.
///
/// The view reads the same logical value sequences as `decode`'s reassembly
/// (per example: shape+flags, zigzag delta timestamp, quality, id key,
/// domain/source/tags, texts, roles, metadata; other entries from `others`),
/// and accepts exactly what reassembly followed by `EntryView.decode` and
/// `verifyContent` accepts: the same structure checks, quality range, roles,
/// metadata object text, UTF-8 of every string, the frame's entry count and
/// raw length, no stream bytes left over. The example id is derived from the
/// content as reassembly derives it (SPEC.md §4.1). A change to how a stream
/// encodes its values must change `Cursor.next` together with `reassemble`.
extension ColumnarBlock {
    /// The decompressed streams of one block, indexed by stream id. Reusable
    /// across blocks (buffers keep their capacity).
    struct Columns {
        var streams = [[UInt8]](repeating: [], count: Stream.allCases.count + 1)
        var rawLength = 0
        var entryCount = 0
        var path: String?
        var offset: Int64 = 0

        /// Parses the stream headers of `payload` (the frame's payload) and
        /// decompresses every stream. Damage throws `.corruption` naming `path`
        /// and the frame at `offset` (stream headers: their exact file offset),
        /// as `decode` does.
        mutating func load(_ payload: UnsafeRawBufferPointer, rawLength: Int, entryCount: Int, dictionary: ZstdDictionary?,
                           path: String?, offset: Int64) throws {
            self.rawLength = rawLength
            self.entryCount = entryCount
            self.path = path
            self.offset = offset
            try ColumnarBlock.decompressStreams(payload, rawLength: rawLength, dictionary: dictionary, into: &streams, path: path, offset: offset)
        }

        /// Runs `body` with the start of the labels, texts and metadata streams
        /// (valid only inside `body`): what `Cursor` positions are relative to.
        func withStreamBases<R>(_ body: (_ labels: UnsafeRawPointer?, _ texts: UnsafeRawPointer?, _ metadata: UnsafeRawPointer?) throws -> R) rethrows -> R {
            try streams[Int(Stream.labels.rawValue)].withUnsafeBytes { l in
                try streams[Int(Stream.texts.rawValue)].withUnsafeBytes { t in
                    try streams[Int(Stream.metadata.rawValue)].withUnsafeBytes { m in try body(l.baseAddress, t.baseAddress, m.baseAddress) }
                }
            }
        }

        /// Runs `body` with a cursor over the streams (valid only inside `body`),
        /// then checks the block was read whole (`Cursor.finish`).
        func withCursor<R>(_ body: (inout Cursor) throws -> R) throws -> R {
            func pin(_ i: Int, _ acc: [UnsafeRawBufferPointer]) throws -> R {
                if i == streams.count {
                    let readers = UnsafeMutablePointer<ByteReader>.allocate(capacity: acc.count)
                    readers.initialize(from: acc.map { ByteReader($0, path: path, baseOffset: offset, positionsAreInFile: false) }, count: acc.count)
                    defer {
                        readers.deinitialize(count: acc.count)
                        readers.deallocate()
                    }
                    var c = Cursor(s: CursorReaders(r: readers, path: path, offset: offset), entryCount: entryCount, rawLength: rawLength)
                    let result = try body(&c)
                    try c.finish()
                    return result
                }
                return try streams[i].withUnsafeBytes { try pin(i + 1, acc + [$0]) }
            }
            return try pin(0, [])
        }
    }

    /// The cursor's stream readers, indexed by stream id. `Readers`' subscript
    /// is get/set, so every read copied a reader out and back (retaining and
    /// releasing its path) — tens of times per example on the export's path;
    /// this one lends the reader in place, from memory `withCursor` owns (an
    /// array's in-place access still checked its uniqueness on every read:
    /// ~1.5% of a compacted store's Parquet export). Errors read as `Readers`' do.
    struct CursorReaders {
        /// One reader per stream id (`Stream.allCases.count + 1`), valid inside `withCursor`.
        let r: UnsafeMutablePointer<ByteReader>
        let path: String?
        let offset: Int64
        subscript(_ k: Stream) -> ByteReader {
            _read { yield r[Int(k.rawValue)] }
            nonmutating _modify { yield &r[Int(k.rawValue)] }
        }
        func corruption(_ k: Stream, _ message: String) -> StrataError {
            StrataError(.corruption, "columnar stream \(k.name), byte \(r[Int(k.rawValue)].position): \(message)", path: path, offset: offset)
        }
    }

    /// Walks the entries of a block in order. Strings handed out are views
    /// into the decompressed streams.
    struct Cursor {
        var s: CursorReaders
        let entryCount: Int
        let rawLength: Int
        private(set) var entries = 0
        /// Bytes the reassembled entries would fill (checked against the frame).
        private var size = 0
        private var previousTimestamp: Int64 = 0
        private var canonical = ByteWriter(capacity: 4 << 10)

        init(s: CursorReaders, entryCount: Int, rawLength: Int) {
            self.s = s
            self.entryCount = entryCount
            self.rawLength = rawLength
        }

        /// Where `slice` (handed out by `next`) starts in stream `k`.
        func position(of slice: UnsafeRawBufferPointer, in k: Stream) -> Int {
            guard let p = slice.baseAddress, let base = s[k].bytes.baseAddress else { return 0 }
            return p - base
        }

        /// The next entry's kind without consuming it, nil at the end.
        func peekKind() -> UInt8? {
            let k = s[.kinds]
            return k.isAtEnd ? nil : k.bytes[k.position]
        }

        private mutating func bytes(_ k: Stream) throws -> UnsafeRawBufferPointer {
            do {
                let n = try s[k].count("string length", limit: s[k].remaining)
                return try s[k].slice(n, "string")
            } catch { throw s.corruption(k, "truncated string") }
        }
        private mutating func varint(_ k: Stream) throws -> UInt64 {
            do { return try s[k].varint("varint") } catch { throw s.corruption(k, "truncated or overlong varint") }
        }
        private mutating func u8(_ k: Stream) throws -> UInt8 {
            do { return try s[k].u8("u8") } catch { throw s.corruption(k, "truncated") }
        }
        private func utf8(_ b: UnsafeRawBufferPointer, _ k: Stream, _ what: String) throws {
            guard UTF8Check.isValid(b) else { throw s.corruption(k, "\(what) is not valid UTF-8") }
        }
        @inline(__always) private static func strSize(_ b: UnsafeRawBufferPointer) -> Int { RecordCodec.varintSize(UInt64(b.count)) + b.count }

        /// Reads the next entry. An example fills `view` (its id derived from
        /// the content) and returns its kind with an empty body; any other
        /// entry returns its kind and a reader over its body. Nil at the end.
        mutating func next(into view: inout EntryView) throws -> (kind: UInt8, body: ByteReader)? {
            if s[.kinds].isAtEnd { return nil }
            entries += 1
            guard entries <= entryCount else { throw s.corruption(.kinds, "more than the \(entryCount) entries the frame declares") }
            let kind = try u8(.kinds)
            guard kind == EntryKind.example.rawValue else {
                let body = try bytes(.others)
                size += RecordCodec.varintSize(UInt64(1 + body.count)) + 1 + body.count
                guard size <= rawLength else { throw s.corruption(.others, "entries exceed the block's \(rawLength) bytes") }
                return (kind, ByteReader(body, path: s.path, baseOffset: s.offset, positionsAreInFile: false))
            }
            let shapeByte = try u8(.shapes)
            guard let shape = Shape(rawValue: shapeByte) else { throw s.corruption(.shapes, "unknown shape \(shapeByte)") }
            let flags = try u8(.shapes)
            guard flags & ~(RecordCodec.flagQuality | RecordCodec.flagSource | RecordCodec.flagIDKey) == 0 else {
                throw s.corruption(.shapes, "unknown example flags \(flags)")
            }
            view.shape = shape
            let zz = try varint(.timestamps)
            let delta = Int64(bitPattern: zz >> 1) ^ -Int64(bitPattern: zz & 1)
            view.timestampMillis = Int64(bitPattern: UInt64(bitPattern: previousTimestamp) &+ UInt64(bitPattern: delta))
            previousTimestamp = view.timestampMillis
            view.quality = nil
            if flags & RecordCodec.flagQuality != 0 {
                let k = try varint(.qualities)
                if k == 0 {
                    let q: Double
                    do { q = try s[.qualities].f64("quality") } catch { throw s.corruption(.qualities, "truncated quality") }
                    // What EntryView.decode checks on the reassembled bytes.
                    guard q.isFinite, q >= 0, q <= 1 else { throw s.corruption(.qualities, "quality_score \(q) out of 0...1") }
                    view.quality = q
                } else {
                    guard k - 1 <= UInt64(qualityScale) else { throw s.corruption(.qualities, "quality \(k - 1)/10000 out of range") }
                    view.quality = Double(k - 1) / qualityScale
                }
            }
            view.idKey = nil
            if flags & RecordCodec.flagIDKey != 0 {
                do { view.idKey = try ExampleID.read(from: &s[.idKeys]) } catch { throw s.corruption(.idKeys, "truncated id key") }
            }
            view.domain = try bytes(.labels)
            try utf8(view.domain, .labels, "domain")
            view.source = nil
            if flags & RecordCodec.flagSource != 0 {
                let src = try bytes(.labels)
                try utf8(src, .labels, "source")
                view.source = src
            }
            let tagCount = Int(min(try varint(.labels), UInt64(Int.max)))
            guard tagCount <= s[.labels].remaining else { throw s.corruption(.labels, "tag count \(tagCount) exceeds the stream") }
            view.tags.removeAll(keepingCapacity: true)
            var bodyLength = 1 + 16 + 8 + 1 + (view.idKey == nil ? 0 : 16) + (view.quality == nil ? 0 : 8)
            bodyLength += Self.strSize(view.domain) + (view.source.map(Self.strSize) ?? 0) + RecordCodec.varintSize(UInt64(tagCount))
            for _ in 0..<tagCount {
                let t = try bytes(.labels)
                try utf8(t, .labels, "tag")
                bodyLength += Self.strSize(t)
                view.tags.append(t)
            }

            // Content, in canonical form for the id (SPEC.md §4.1).
            canonical.bytes.removeAll(keepingCapacity: true)
            canonical.u8(shapeByte)
            func field(_ what: String) throws -> UnsafeRawBufferPointer {
                let b = try bytes(.texts)
                try utf8(b, .texts, what)
                canonical.u32(UInt32(truncatingIfNeeded: b.count))
                canonical.append(b)
                bodyLength += Self.strSize(b)
                return b
            }
            view.messages.removeAll(keepingCapacity: true)
            view.first = EntryView.emptyBytes
            view.second = EntryView.emptyBytes
            view.third = EntryView.emptyBytes
            switch shape {
            case .instruction:
                view.first = try field("instruction")
                view.second = try field("input")
                view.third = try field("output")
            case .promptResponse:
                view.first = try field("prompt")
                view.second = try field("response")
            case .chat:
                let n = Int(min(try varint(.roles), UInt64(Int.max)))
                guard n <= s[.roles].remaining else { throw s.corruption(.roles, "message count \(n) exceeds the stream") }
                canonical.u32(UInt32(truncatingIfNeeded: n))
                bodyLength += RecordCodec.varintSize(UInt64(n))
                for _ in 0..<n {
                    let rb = try u8(.roles)
                    guard let role = Role(rawValue: rb) else { throw s.corruption(.roles, "unknown role \(rb)") }
                    canonical.u8(rb)
                    bodyLength += 1
                    view.messages.append((role, try field("content")))
                }
            }
            view.metadata = try bytes(.metadata)
            guard view.metadata.first == UInt8(ascii: "{") else { throw s.corruption(.metadata, "metadata is not a JSON object text") }
            try utf8(view.metadata, .metadata, "metadata")
            bodyLength += Self.strSize(view.metadata)
            if let idKey = view.idKey { idKey.write(to: &canonical) }
            view.id = XXH.hash128(canonical.bytes)
            size += RecordCodec.varintSize(UInt64(bodyLength + 1)) + 1 + bodyLength
            guard size <= rawLength else { throw s.corruption(.kinds, "entries exceed the block's \(rawLength) bytes") }
            return (kind, ByteReader(EntryView.emptyBytes))
        }

        /// The checks reassembly makes once the last entry is read.
        func finish() throws {
            guard s[.kinds].isAtEnd else { throw s.corruption(.kinds, "\(s[.kinds].remaining) entries left unread") }
            guard entries == entryCount else { throw s.corruption(.kinds, "\(entries) entries, the frame declares \(entryCount)") }
            guard size == rawLength else { throw s.corruption(.kinds, "entries fill \(size) bytes, the frame declares \(rawLength)") }
            for k in Stream.allCases where !s[k].isAtEnd {
                throw s.corruption(k, "\(s[k].remaining) bytes left after the last entry")
            }
        }
    }
}
