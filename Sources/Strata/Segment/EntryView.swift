/// The one decoder of example entries (SPEC.md §4.2). Every reader of
/// example bytes — `get`, scans, exports, compaction, verify, dump, index
/// rebuild, recovery and the segment statistics — goes through `decode`,
/// so a byte string one of them rejects, all of them reject.
///
/// The strings are views into the decompressed block: nothing is copied or
/// allocated per entry once the tag/message arrays have grown. Valid only
/// while the block buffer is. `decode` checks the structure (lengths, shape,
/// flags, quality range, roles, metadata is an object text, no trailing
/// bytes); `verifyContent` adds what only the content can tell (UTF-8 and
/// the id recomputed from the content). `RecordCodec.decodeExampleBody`
/// builds the owning `Example` from a decoded view.
struct EntryView {
    static var emptyBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    var shape: Shape = .instruction
    var id = ExampleID(high: 0, low: 0)
    var timestampMillis: Int64 = 0
    var quality: Double?
    var domain = EntryView.emptyBytes
    var source: UnsafeRawBufferPointer?
    var tags: [UnsafeRawBufferPointer] = []
    /// instruction / prompt
    var first = EntryView.emptyBytes
    /// input / response
    var second = EntryView.emptyBytes
    /// output
    var third = EntryView.emptyBytes
    var messages: [(role: Role, content: UnsafeRawBufferPointer)] = []
    var metadata = EntryView.emptyBytes
    /// The dedup-key material of a keyed id (SPEC.md §4.1, §4.2 flag bit 2),
    /// nil for a plain content id.
    var idKey: ExampleID?
    /// Canonical-content scratch for `verifyContent`.
    private var canonical = ByteWriter(capacity: 4 << 10)

    init() {
        tags.reserveCapacity(16)
        messages.reserveCapacity(16)
    }

    @inline(__always) private static func bytes(_ r: inout ByteReader, _ what: StaticString) throws -> UnsafeRawBufferPointer {
        let n = try r.count(what, limit: r.remaining)
        return try r.slice(n, what)
    }

    /// Reads only the shape (for passes that skip some shapes cheaply).
    static func peekShape(_ r: ByteReader) -> Shape? {
        r.remaining > 0 ? Shape(rawValue: r.bytes[r.position]) : nil
    }

    /// Decodes an example body (after length and kind), throwing `.corruption`
    /// on malformed structure. `r` must cover exactly the body.
    mutating func decode(_ r: inout ByteReader) throws {
        let sb = try r.u8("shape")
        guard let s = Shape(rawValue: sb) else { throw r.corruption("unknown shape \(sb)") }
        shape = s
        id = try ExampleID.read(from: &r)
        timestampMillis = try r.i64("timestamp")
        let flags = try r.u8("flags")
        guard flags & ~(RecordCodec.flagQuality | RecordCodec.flagSource | RecordCodec.flagIDKey) == 0 else { throw r.corruption("unknown example flags \(flags)") }
        idKey = flags & RecordCodec.flagIDKey != 0 ? try ExampleID.read(from: &r) : nil
        if flags & RecordCodec.flagQuality != 0 {
            let q = try r.f64("quality_score")
            guard q.isFinite, q >= 0, q <= 1 else { throw r.corruption("quality_score \(q) out of 0...1") }
            quality = q
        } else {
            quality = nil
        }
        domain = try Self.bytes(&r, "domain")
        source = flags & RecordCodec.flagSource != 0 ? try Self.bytes(&r, "source") : nil
        let tagCount = try r.count("tag count", limit: r.remaining)
        tags.removeAll(keepingCapacity: true)
        for _ in 0..<tagCount { tags.append(try Self.bytes(&r, "tag")) }
        messages.removeAll(keepingCapacity: true)
        switch s {
        case .instruction:
            first = try Self.bytes(&r, "instruction")
            second = try Self.bytes(&r, "input")
            third = try Self.bytes(&r, "output")
        case .promptResponse:
            first = try Self.bytes(&r, "prompt")
            second = try Self.bytes(&r, "response")
            third = Self.emptyBytes
        case .chat:
            first = Self.emptyBytes
            second = Self.emptyBytes
            third = Self.emptyBytes
            let n = try r.count("message count", limit: r.remaining)
            for _ in 0..<n {
                let rb = try r.u8("role")
                guard let role = Role(rawValue: rb) else { throw r.corruption("unknown role \(rb)") }
                messages.append((role, try Self.bytes(&r, "content")))
            }
        }
        metadata = try Self.bytes(&r, "metadata")
        // Found by fuzzing (Fuzz/RecordDecoder): an empty metadata text and
        // bytes left over after the last field were accepted, so two different
        // byte strings decoded to the same example and re-encoding changed it.
        // The writer always writes at least "{}" and the entry length covers
        // exactly the body (SPEC.md §4, §4.2); anything else is malformed.
        guard metadata.first == UInt8(ascii: "{") else { throw r.corruption("metadata is not a JSON object text") }
        guard r.isAtEnd else { throw r.corruption("\(r.remaining) unexpected bytes after the example's last field") }
    }

    /// Checks what the structure cannot: every string is valid UTF-8 and the
    /// stored id is the hash of the content (a mismatch means bytes were
    /// damaged in a way the frame checksum missed). `r` is the reader `decode`
    /// consumed, for the error's file and offset.
    mutating func verifyContent(_ r: ByteReader) throws {
        func utf8(_ b: UnsafeRawBufferPointer, _ what: String) throws {
            guard UTF8Check.isValid(b) else { throw r.corruption("\(what) is not valid UTF-8") }
        }
        try utf8(domain, "domain")
        if let source { try utf8(source, "source") }
        for t in tags { try utf8(t, "tag") }
        try utf8(metadata, "metadata")
        canonical.bytes.removeAll(keepingCapacity: true)
        canonical.u8(shape.rawValue)
        func str(_ b: UnsafeRawBufferPointer, _ what: String) throws {
            try utf8(b, what)
            canonical.u32(UInt32(b.count))
            canonical.append(b)
        }
        switch shape {
        case .instruction: try str(first, "instruction"); try str(second, "input"); try str(third, "output")
        case .promptResponse: try str(first, "prompt"); try str(second, "response")
        case .chat:
            canonical.u32(UInt32(messages.count))
            for m in messages { canonical.u8(m.role.rawValue); try str(m.content, "content") }
        }
        // A keyed id (SPEC.md §4.1) covers the content and then the id key.
        if let idKey { idKey.write(to: &canonical) }
        let computed = XXH.hash128(canonical.bytes)
        guard computed == id else { throw r.corruption("stored id \(id) does not match content hash \(computed)") }
    }

    /// The month of the timestamp.
    var month: Month { Month(timestampMillis: timestampMillis) }

    /// The owning example. REQUIRES: `verifyContent` passed (strings are valid UTF-8).
    func example() -> Example {
        func s(_ b: UnsafeRawBufferPointer) -> String { String(decoding: b, as: UTF8.self) }
        let content: Content
        switch shape {
        case .instruction: content = .instruction(instruction: s(first), input: s(second), output: s(third))
        case .promptResponse: content = .promptResponse(prompt: s(first), response: s(second))
        case .chat: content = .chat(messages.map { Message(role: $0.role, content: s($0.content)) })
        }
        var e = Example(verifiedID: id, content: content, domain: s(domain), timestampMillis: timestampMillis, qualityScore: quality,
                        tags: tags.map(s), source: source.map(s), metadataJSON: s(metadata))
        e.idKey = idKey
        return e
    }
}

extension RecordCodec {
    /// Decodes an example body (after length and kind) through the one
    /// checked decoder (Segment/EntryView.swift). Throws `.corruption` on any
    /// malformed byte, invalid UTF-8 or an id that does not match the content.
    public static func decodeExampleBody(_ r: inout ByteReader) throws -> Example {
        var v = EntryView()
        try v.decode(&r)
        try v.verifyContent(r)
        return v.example()
    }
}
/// Strict UTF-8 validation (the same rule as `String(validating:as:)`:
/// no overlong forms, no surrogates, nothing above U+10FFFF), without
/// allocating a string.
enum UTF8Check {
    static func isValid(_ b: UnsafeRawBufferPointer) -> Bool {
        let n = b.count
        guard n > 0, let base = b.baseAddress else { return true }
        var i = 0
        while i < n {
            // ASCII fast path, 32 then 8 bytes at a time.
            while i + 32 <= n,
                  (base.loadUnaligned(fromByteOffset: i, as: UInt64.self) | base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
                   | base.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self) | base.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self))
                  & 0x8080_8080_8080_8080 == 0 { i += 32 }
            while i + 8 <= n, base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
            guard i < n else { return true }
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
                i + k < n && b[i + k] >= lo && b[i + k] <= hi
            }
            switch c {
            case 0xC2...0xDF: guard cont(1) else { return false }; i += 2
            case 0xE0: guard cont(1, 0xA0), cont(2) else { return false }; i += 3
            case 0xE1...0xEC, 0xEE...0xEF: guard cont(1), cont(2) else { return false }; i += 3
            case 0xED: guard cont(1, 0x80, 0x9F), cont(2) else { return false }; i += 3
            case 0xF0: guard cont(1, 0x90), cont(2), cont(3) else { return false }; i += 4
            case 0xF1...0xF3: guard cont(1), cont(2), cont(3) else { return false }; i += 4
            case 0xF4: guard cont(1, 0x80, 0x8F), cont(2), cont(3) else { return false }; i += 4
            default: return false
            }
        }
        return true
    }
}
