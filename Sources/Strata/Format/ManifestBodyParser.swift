import Foundation

/// Decodes the MANIFEST's JSON body (SPEC.md §2.1) with Strata's own lexer.
///
/// Every command that opens a store reads the manifest first; going through
/// `JSONSerialization` boxed every member and segment entry as `Any` and cost
/// more than the rest of a one-partition scan's open. Here members are read
/// straight into the typed fields; only members this build does not know
/// (copied through on rewrite, SPEC.md §1) are re-serialized as before.
///
/// Stricter than the old decode where that one silently coerced: counters and
/// sequence numbers must be non-negative integer tokens within range, and an
/// optional member, when present, must have its type. Anything else is
/// `.corruption` with the path and the body's file offset, never a trap.
struct ManifestBodyParser {
    private var lx: JSONLexer
    private let path: String
    private var scratch: [UInt8] = []
    /// The name of the member being visited (`object`), compared as bytes:
    /// no `String` per member of every segment entry.
    private var name: [UInt8] = []
    private var depth = 0

    private init(_ p: UnsafePointer<UInt8>, count: Int, path: String) {
        lx = JSONLexer(p, count: count)
        self.path = path
    }

    /// Nesting limit: manifests nest 3 levels; the limit bounds the parser's recursion on hostile bytes.
    static let maxDepth = 100

    /// Offset of the body in the file.
    static let bodyOffset: Int64 = 24

    static func decode(_ body: UnsafeRawBufferPointer, path: String) throws -> Manifest {
        guard let base = body.baseAddress, body.count > 0 else {
            throw StrataError(.corruption, "manifest body is not a JSON object (empty)", path: path, offset: bodyOffset)
        }
        var parser = ManifestBodyParser(base.assumingMemoryBound(to: UInt8.self), count: body.count, path: path)
        do {
            return try parser.manifest()
        } catch let e as StrataError where e.code == .invalidInput {
            // A lexer error: the body is not well-formed JSON.
            throw StrataError(.corruption, "manifest body is not a JSON object: \(e.message)", path: path,
                              offset: bodyOffset + Int64(parser.lx.i))
        }
    }

    private func bad(_ what: String) -> StrataError {
        StrataError(.corruption, "manifest: \(what)", path: path, offset: Self.bodyOffset + Int64(lx.i))
    }

    // MARK: the manifest

    private mutating func manifest() throws -> Manifest {
        lx.skipWhitespace()
        guard lx.peek == 0x7B else { throw StrataError(.invalidInput, "the body must start with '{'") }
        var storeID: String?, created: String?, gen: UInt64?, next: UInt64?, segs: [Manifest.SegmentEntry]?
        var dedup: Manifest.DedupSpec?
        var extra: [String: Manifest.Member] = [:]
        try object { p in
            if p.nameIs("segments") { segs = try p.segmentList() }
            else if p.nameIs("store_id") { storeID = try p.optionalString() }
            else if p.nameIs("created") { created = try p.optionalString() }
            else if p.nameIs("generation") { gen = try p.optionalUInt(max: UInt64.max) }
            else if p.nameIs("next_segment") { next = try p.optionalUInt(max: UInt64.max) }
            else if p.nameIs("dedup") { dedup = try p.dedupSpec() }
            else {
                let key = String(decoding: p.name, as: UTF8.self)
                extra[key] = try p.unknownMember()
            }
        }
        lx.skipWhitespace()
        guard lx.atEnd else { throw StrataError(.invalidInput, "unexpected text after the JSON object") }
        guard let storeID, let created, let gen, let next, let segs else { throw bad("missing or mistyped required members") }
        var m = Manifest(storeID: storeID, created: created)
        m.generation = gen
        m.nextSegment = next
        m.segments = segs
        if let dedup { m.dedup = dedup }
        m.extra = extra
        return m
    }

    /// `[{segment entry}, ...]`, or nil when the value is not an array.
    private mutating func segmentList() throws -> [Manifest.SegmentEntry]? {
        guard lx.peek == 0x5B else { _ = try skipValue(); return nil }
        var out: [Manifest.SegmentEntry] = []
        try array { p in out.append(try p.segmentEntry()) }
        return out
    }

    private mutating func segmentEntry() throws -> Manifest.SegmentEntry {
        let start = lx.i
        guard lx.peek == 0x7B else { throw bad("segment entry at byte \(start + 1) is malformed (not an object)") }
        var seq: UInt64?, partition: PartitionKey?, state: Manifest.SegmentEntry.State?, committed: Int64?
        var codec = "lz4", dict: UInt32 = 0
        var mistyped: String?
        try object { p in
            if p.nameIs("seq") { seq = try p.optionalUInt(max: UInt64.max) }
            else if p.nameIs("partition") { partition = try p.optionalPartitionKey() }
            else if p.nameIs("state") { state = try p.optionalState() }
            else if p.nameIs("codec") {
                if let c = try p.optionalString() { codec = c } else { mistyped = "codec" }
            } else if p.nameIs("dict") {
                if let d = try p.optionalUInt(max: UInt64(UInt32.max)) { dict = UInt32(d) } else { mistyped = "dict" }
            } else if p.nameIs("committed") {
                if let c = try p.optionalUInt(max: UInt64(Int64.max)) { committed = Int64(c) } else { mistyped = "committed" }
            } else {
                _ = try p.skipValue()
            }
        }
        guard let seq, let partition, let state else {
            throw bad("segment entry at byte \(start + 1) is malformed (seq, partition or state missing or invalid)")
        }
        if let mistyped {
            throw bad(mistyped == "committed" ? "segment entry \(seq) has an invalid committed length"
                                              : "segment entry \(seq) has a mistyped \(mistyped)")
        }
        if let committed {
            guard state == .active, committed >= Int64(Format.segmentHeaderSize) else {
                throw bad("segment entry \(seq) has an invalid committed length")
            }
        }
        return Manifest.SegmentEntry(sequence: seq, partition: partition, state: state, codec: codec, dictionaryID: dict,
                                     committed: committed)
    }

    /// `{"key": S, "fields": [S...], "normalize": S}`; `fields` and `normalize` are optional.
    private mutating func dedupSpec() throws -> Manifest.DedupSpec {
        let start = lx.i
        var key: String?, fields: [String]? = [], normalize: String? = "none"
        var ok = lx.peek == 0x7B
        if ok {
            try object { p in
                if p.nameIs("key") { key = try p.optionalString() }
                else if p.nameIs("fields") { fields = try p.optionalStringArray() }
                else if p.nameIs("normalize") { normalize = try p.optionalString() }
                else { _ = try p.skipValue() }
            }
        } else {
            _ = try skipValue()
        }
        ok = ok && key != nil && fields != nil && normalize != nil
        guard ok, let key, let fields, let normalize else {
            let text = String(decoding: UnsafeBufferPointer(start: lx.p + start, count: lx.i - start), as: UTF8.self)
            throw bad("dedup member \(text) is not understood by this build")
        }
        return Manifest.DedupSpec(key: key, fields: fields, normalize: normalize)
    }

    /// A member this build does not interpret, serialized as the writer does (SPEC.md §1).
    private mutating func unknownMember() throws -> Manifest.Member {
        let r = try skipValue()
        let raw = UnsafeBufferPointer(start: lx.p + r.lowerBound, count: r.count)
        // A string without escapes is already in the serializer's form (the lexer
        // rejected raw control bytes; non-ASCII text is written as UTF-8).
        if raw.first == 0x22, !raw.contains(0x5C) { return Manifest.Member(json: Array(raw)) }
        guard let value = try? JSONSerialization.jsonObject(with: Data(buffer: raw), options: .fragmentsAllowed),
              let member = try? Manifest.Member(value: value) else {
            throw bad("a member could not be copied through")
        }
        return member
    }

    // MARK: values

    /// Visits each member of the object at `lx.i`, its name in `name`; `body`
    /// must read `name` before consuming the value (a nested object reuses it).
    private mutating func object(_ body: (inout ManifestBodyParser) throws -> Void) throws {
        guard lx.peek == 0x7B else { throw StrataError(.invalidInput, "expected '{'") }
        try enter()
        lx.i += 1
        lx.skipWhitespace()
        if lx.peek == 0x7D { lx.i += 1; depth -= 1; return }
        while true {
            lx.skipWhitespace()
            guard lx.peek == 0x22 else { throw lx.error("expected a string key") }
            lx.i += 1
            name.removeAll(keepingCapacity: true)
            try lx.scanString(copy: true, into: &name)
            lx.skipWhitespace()
            guard lx.peek == 0x3A else { throw lx.error("expected ':' after a key") }
            lx.i += 1
            lx.skipWhitespace()
            try body(&self)
            lx.skipWhitespace()
            let c = lx.peek
            lx.i += 1
            if c == 0x2C { continue }
            if c == 0x7D { depth -= 1; return }
            lx.i -= 1
            throw lx.error(lx.atEnd ? "unexpected end: unclosed object" : "expected ',' or '}'")
        }
    }

    /// Visits each element of the array at `lx.i`; `body` must consume it.
    private mutating func array(_ body: (inout ManifestBodyParser) throws -> Void) throws {
        guard lx.peek == 0x5B else { throw StrataError(.invalidInput, "expected '['") }
        try enter()
        lx.i += 1
        lx.skipWhitespace()
        if lx.peek == 0x5D { lx.i += 1; depth -= 1; return }
        while true {
            lx.skipWhitespace()
            try body(&self)
            lx.skipWhitespace()
            let c = lx.peek
            lx.i += 1
            if c == 0x2C { continue }
            if c == 0x5D { depth -= 1; return }
            lx.i -= 1
            throw lx.error(lx.atEnd ? "unexpected end: unclosed array" : "expected ',' or ']'")
        }
    }

    private mutating func enter() throws {
        depth += 1
        guard depth <= Self.maxDepth else { throw lx.error("nesting deeper than \(Self.maxDepth) levels") }
    }

    /// Validates and skips any value; returns its byte range.
    @discardableResult
    private mutating func skipValue() throws -> Range<Int> {
        let start = lx.i
        switch lx.peek {
        case 0x7B: try object { p in _ = try p.skipValue() }
        case 0x5B: try array { p in _ = try p.skipValue() }
        case 0x22:
            lx.i += 1
            try lx.scanString(copy: false, into: &scratch)
        case 0x2D, 0x30...0x39: _ = try lx.scanNumber()
        case 0x74, 0x66, 0x6E: _ = try lx.scanLiteral()
        default: throw lx.error(lx.atEnd ? "unexpected end: expected a value" : "unexpected character: expected a JSON value")
        }
        return start..<lx.i
    }

    private func nameIs(_ s: StaticString) -> Bool {
        name.count == s.utf8CodeUnitCount && name.withUnsafeBufferPointer { memcmp($0.baseAddress!, s.utf8Start, name.count) == 0 }
    }

    /// `"active"` or `"sealed"` at `lx.i`, or nil (value skipped) for anything else.
    private mutating func optionalState() throws -> Manifest.SegmentEntry.State? {
        guard lx.peek == 0x22 else { _ = try skipValue(); return nil }
        lx.i += 1
        scratch.removeAll(keepingCapacity: true)
        try lx.scanString(copy: true, into: &scratch)
        let sealed: StaticString = "sealed", active: StaticString = "active"
        func equals(_ s: StaticString) -> Bool {
            scratch.count == s.utf8CodeUnitCount && scratch.withUnsafeBufferPointer { memcmp($0.baseAddress!, s.utf8Start, s.utf8CodeUnitCount) == 0 }
        }
        return equals(sealed) ? .sealed : equals(active) ? .active : nil
    }

    /// The string at `lx.i`, or nil (value skipped) when it is another type.
    private mutating func optionalString() throws -> String? {
        guard lx.peek == 0x22 else { _ = try skipValue(); return nil }
        lx.i += 1
        scratch.removeAll(keepingCapacity: true)
        try lx.scanString(copy: true, into: &scratch)
        return String(decoding: scratch, as: UTF8.self)
    }

    /// The partition key string at `lx.i`, or nil (value skipped) when it is another type or not a valid key.
    private mutating func optionalPartitionKey() throws -> PartitionKey? {
        guard lx.peek == 0x22 else { _ = try skipValue(); return nil }
        lx.i += 1
        scratch.removeAll(keepingCapacity: true)
        try lx.scanString(copy: true, into: &scratch)
        return scratch.withUnsafeBufferPointer { PartitionKey(pathBytes: $0) }
    }

    /// The non-negative integer token at `lx.i` if it is at most `max`, else nil (value skipped).
    private mutating func optionalUInt(max: UInt64) throws -> UInt64? {
        let r = try skipValue()
        guard lx.p[r.lowerBound] != 0x2D else { return nil }
        var v: UInt64 = 0
        for k in r {
            let d = lx.p[k] &- 0x30
            guard d < 10 else { return nil }  // a fraction, an exponent or not a number
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            v = s
        }
        return v <= max ? v : nil
    }

    /// `[S, ...]` at `lx.i`, or nil (value skipped) when it is not an array of strings.
    private mutating func optionalStringArray() throws -> [String]? {
        guard lx.peek == 0x5B else { _ = try skipValue(); return nil }
        var out: [String]? = []
        try array { p in
            if let s = try p.optionalString() { out?.append(s) } else { out = nil }
        }
        return out
    }
}
