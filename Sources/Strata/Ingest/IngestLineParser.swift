import Foundation

/// Parses one input line (a JSON object) into an `ExampleDraft`, in a single
/// pass over the bytes, validating the whole line as strict RFC 8259 JSON.
///
/// Fields the mapping reads are extracted as they are met (strings unescaped
/// straight into `draft.storage`); nested mapped paths (`metadata.x`) are found
/// while metadata is scanned, and metadata is kept as its exact source text.
/// Nesting is tracked with an explicit stack (no recursion), capped at
/// `maxDepth`. Nothing is allocated per line once the buffers have grown.
/// Errors are `.invalidInput` with `field` set; the caller sets `line`.
public struct IngestLineParser {
    public let mapping: IngestMapping
    /// Deepest nesting of objects/arrays accepted (the line's object is depth 1).
    public static let maxDepth = 512

    /// The `id` field of the last parsed line as written (a span of
    /// `draft.storage`), and its value; nil when the line had none. The caller
    /// compares it with the computed id.
    public private(set) var idSpan: ExampleDraft.Span?
    public private(set) var id: ExampleID?
    /// Top-level keys of the last line that no target reads (kept in
    /// `metadata._extra`, dropped or rejected per `mapping.unknownKeys`).
    public private(set) var unknownKeyCount = 0
    /// Raw byte ranges (`"key": value`, as written) of the last line's unknown
    /// top-level members, in line order; valid for the line just parsed.
    public private(set) var unknownMembers: [Range<Int>] = []
    /// Top-level keys a raw export writes for the folded view (SPEC.md §8.2):
    /// derived from annotations, validated and not re-ingested (so a raw export
    /// re-ingests to the same examples), never counted as unknown.
    static let exportFoldedKeys = ["feedback_positive", "feedback_negative", "excluded", "corrected"].map { Array($0.utf8) }

    /// Byte equality with a literal: length first, then memcmp (the generic
    /// `elementsEqual` over `String.UTF8View` cost ~1% of ingest, per key).
    @inline(__always) static func equals(_ b: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        b.count == s.utf8CodeUnitCount && (b.count == 0 || memcmp(b.baseAddress!, s.utf8Start, b.count) == 0)
    }

    static func isExportFoldedKey(_ raw: UnsafeRawBufferPointer) -> Bool {
        exportFoldedKeys.contains { raw.elementsEqual($0) }
    }

    /// Reserved metadata keys Strata writes (SPEC.md §4.7).
    public static let extraKey = "_extra"
    public static let structuredKey = "_structured"

    let trie: IngestTrie
    let timestampRegex: NSRegularExpression?
    /// Start of the unknown top-level member being read, or -1.
    private var pendingUnknown = -1
    /// Reserved keys found directly in the line's metadata (bit 0 `_extra`, bit 1 `_structured`).
    private var reservedInMetadata: UInt8 = 0
    /// Content targets given as a JSON object/array (bits), and which of those were arrays.
    private var structured: UInt32 = 0
    private var structuredArrays: UInt32 = 0
    private var stack: [Frame] = []
    private var scratch: [UInt8] = []
    private var metaScratch: [UInt8] = []
    private var keyScratch: [UInt8] = []

    private struct Frame {
        var isArray: Bool
        var kind: Kind
        /// Trie node for keys of this object, or -1 when nothing below is mapped.
        var node: Int
        /// Offset of the opening bracket (for raw capture).
        var start: Int
        var captureMetadata: Bool
    }

    private enum Kind: UInt8 { case generic, messages, message, tags }

    /// What the value being parsed is for.
    private enum Slot: Equatable {
        case none
        case field(IngestMapping.Target)
        case role, content, tag
    }

    public init(mapping: IngestMapping = IngestMapping()) throws {
        self.mapping = mapping
        self.trie = try IngestTrie(mapping)
        if let pattern = mapping.timestampPattern {
            try IngestMapping.checkTimestampPattern(pattern)
            timestampRegex = try NSRegularExpression(pattern: pattern)
        } else {
            timestampRegex = nil
        }
        if let d = mapping.defaultDomain {
            guard Array(d.utf8).withUnsafeBytes({ IngestLineParser.isValidDomain($0) }) else {
                throw StrataError(.usage, "default domain '\(d)' must match [a-z0-9][a-z0-9_-]{0,63}", field: "domain")
            }
        }
        stack.reserveCapacity(IngestLineParser.maxDepth + 1)
        scratch.reserveCapacity(64)
        keyScratch.reserveCapacity(64)
    }

    private func fail(_ t: IngestMapping.Target, _ message: String) -> StrataError {
        StrataError(.invalidInput, message, field: trie.pathNames[t.rawValue])
    }

    /// Parses `line` into `draft` (which is reset first).
    public mutating func parse(_ line: UnsafeRawBufferPointer, into draft: inout ExampleDraft) throws {
        draft.reset()
        idSpan = nil
        id = nil
        unknownKeyCount = 0
        unknownMembers.removeAll(keepingCapacity: true)
        pendingUnknown = -1
        reservedInMetadata = 0
        structured = 0
        structuredArrays = 0
        stack.removeAll(keepingCapacity: true)
        guard let base = line.baseAddress, line.count > 0 else {
            throw StrataError(.invalidInput, "empty line: expected a JSON object")
        }
        // The bound pointer is only used inside this call, while `line` is valid.
        let p = base.assumingMemoryBound(to: UInt8.self)
        var lx = JSONLexer(p, count: line.count)
        try scan(&lx, into: &draft)
        let keep = mapping.unknownKeys == .keep && !unknownMembers.isEmpty
        if keep || structured != 0 { try addReservedMetadata(p, keepUnknown: keep, into: &draft) }
        try finish(&draft)
    }

    /// Appends `_extra` (the unknown top-level members, as written) and
    /// `_structured` (which content fields were JSON objects/arrays) to the
    /// line's metadata object (SPEC.md §4.7).
    private mutating func addReservedMetadata(_ p: UnsafePointer<UInt8>, keepUnknown: Bool, into draft: inout ExampleDraft) throws {
        if keepUnknown && reservedInMetadata & 1 != 0 {
            throw StrataError(.invalidInput, "metadata already has a key '_extra', where unknown top-level fields are kept; rename it, or pass --unknown-fields drop", field: "metadata._extra")
        }
        if structured != 0 && reservedInMetadata & 2 != 0 {
            throw StrataError(.invalidInput, "metadata already has a key '_structured', where Strata records structured content fields; rename it", field: "metadata._structured")
        }
        // Duplicate unknown keys would make `_extra` ambiguous.
        if keepUnknown && unknownMembers.count > 1 {
            func key(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> {
                var e = r.lowerBound + 1
                while p[e] != 0x22 { e += p[e] == 0x5C ? 2 : 1 }
                return UnsafeBufferPointer(start: p + r.lowerBound, count: e + 1 - r.lowerBound)
            }
            for a in 1..<unknownMembers.count {
                let ka = key(unknownMembers[a])
                for b in 0..<a where key(unknownMembers[b]).elementsEqual(ka) {
                    let name = String(decoding: ka.dropFirst().dropLast(), as: UTF8.self)
                    throw StrataError(.invalidInput, "top-level key '\(name)' appears twice (it would be kept in metadata._extra)", field: name)
                }
            }
        }
        // Built in a reused buffer: no allocation per record once it has grown.
        var old: [UInt8] = []
        swap(&old, &metaScratch)  // unique owner: reuse its capacity
        old.removeAll(keepingCapacity: true)
        if draft.metadata.count == 0 { old.append(contentsOf: [0x7B, 0x7D]) } else { draft.withBytes(draft.metadata) { old.append(contentsOf: $0) } }
        defer { swap(&old, &metaScratch) }
        // The captured metadata is an object: '{' … '}'; is anything but whitespace inside?
        let close = old.count - 1
        var k = 1
        while k < close, old[k] == 0x20 || old[k] == 0x0A || old[k] == 0x0D || old[k] == 0x09 { k += 1 }
        var needComma = k < close
        old.removeLast()
        if keepUnknown {
            if needComma { old.append(0x2C) }
            old.append(contentsOf: #""_extra":{"#.utf8)
            for (n, r) in unknownMembers.enumerated() {
                if n > 0 { old.append(0x2C) }
                old.append(contentsOf: UnsafeBufferPointer(start: p + r.lowerBound, count: r.count))
            }
            old.append(0x7D)
            needComma = true
        }
        if structured != 0 {
            if needComma { old.append(0x2C) }
            old.append(contentsOf: #""_structured":{"#.utf8)
            var first = true
            // Alphabetical order of the field names.
            for t in [IngestMapping.Target.input, .instruction, .output, .prompt, .response] where structured & t.bit != 0 {
                if !first { old.append(0x2C) }
                first = false
                old.append(contentsOf: "\"\(t.name)\":\"\(structuredArrays & t.bit != 0 ? "array" : "object")\"".utf8)
            }
            old.append(0x7D)
        }
        old.append(0x7D)
        draft.metadata = draft.store(old)
    }

    // Per-line state the scan fills and `finish` checks.
    private var seen: UInt32 = 0
    private var haveTimestamp = false
    private var explicitShape: Shape?
    private var msgRole: Role?
    private var msgContent: ExampleDraft.Span?
    private var msgIndex = 0

    private mutating func scan(_ lx: inout JSONLexer, into draft: inout ExampleDraft) throws {
        seen = 0
        haveTimestamp = false
        explicitShape = nil
        msgIndex = 0
        lx.skipWhitespace()
        guard lx.peek == 0x7B else {
            throw lx.error(lx.atEnd ? "empty line: expected a JSON object" : "a line must be one JSON object, starting with '{'")
        }
        stack.append(Frame(isArray: false, kind: .generic, node: IngestTrie.root, start: lx.i, captureMetadata: false))
        lx.i += 1
        // State: expecting the first key (or '}') of a just-opened object = 0,
        // the first element (or ']') of a just-opened array = 1, after a value = 2.
        var state = 0
        while true {
            if state == 2 {
                if pendingUnknown >= 0 && stack.count == 1 {
                    unknownMembers.append(pendingUnknown..<lx.i)
                    pendingUnknown = -1
                }
                lx.skipWhitespace()
                let c = lx.peek
                let top = stack[stack.count - 1]
                if c == 0x2C {
                    lx.i += 1
                    if top.isArray {
                        lx.skipWhitespace()
                        try value(&lx, slot: elementSlot(top), node: -1, into: &draft, state: &state)
                    } else {
                        lx.skipWhitespace()
                        guard lx.peek == 0x22 else { throw lx.error("expected a key string after ','") }
                        try member(&lx, into: &draft, state: &state)
                    }
                    continue
                }
                if c == (top.isArray ? 0x5D : 0x7D) {
                    lx.i += 1
                    if try close(&lx, into: &draft) { break }
                    continue
                }
                throw lx.error(lx.atEnd ? "unexpected end of line inside \(top.isArray ? "an array" : "an object")"
                                        : "expected ',' or '\(top.isArray ? "]" : "}")'")
            } else if state == 0 {
                lx.skipWhitespace()
                if lx.peek == 0x7D {
                    lx.i += 1
                    if try close(&lx, into: &draft) { break }
                    state = 2
                    continue
                }
                guard lx.peek == 0x22 else { throw lx.error(lx.atEnd ? "unexpected end of line inside an object" : "expected a key string or '}'") }
                try member(&lx, into: &draft, state: &state)
            } else {
                lx.skipWhitespace()
                if lx.peek == 0x5D {
                    lx.i += 1
                    if try close(&lx, into: &draft) { break }
                    state = 2
                    continue
                }
                let top = stack[stack.count - 1]
                try value(&lx, slot: elementSlot(top), node: -1, into: &draft, state: &state)
            }
        }
        lx.skipWhitespace()
        guard lx.atEnd else { throw lx.error("unexpected characters after the JSON object") }
    }

    /// Slot of an array element, by the array's kind.
    /// (Elements of `messages` are recognised in `value` by the frame kind.)
    @inline(__always) private func elementSlot(_ top: Frame) -> Slot {
        top.kind == .tags ? .tag : .none
    }

    /// Reads `"key": ` and then the value. `lx.i` is at the key's quote.
    @inline(__always) private mutating func member(_ lx: inout JSONLexer, into draft: inout ExampleDraft, state: inout Int) throws {
        lx.i += 1
        let keyStart = lx.i
        let top = stack[stack.count - 1]
        let wantKey = top.node >= 0 || top.kind == .message
        var slot = Slot.none
        var node = -1
        if wantKey {
            try lx.scanString(copy: false, into: &keyScratch)
            let rawEnd = lx.i - 1
            // The raw bytes equal the key unless it has escapes; then unescape it.
            var hasEscape = false
            var k = keyStart
            while k < rawEnd { if lx.p[k] == 0x5C { hasEscape = true; break }; k += 1 }
            // A static function, not a local one: a local function that assigned
            // `slot` and `node` made every access to them a dynamic exclusivity
            // check (swift_beginAccess, ~8% of ingest's instructions).
            if hasEscape {
                keyScratch.removeAll(keepingCapacity: true)
                lx.i = keyStart
                try lx.scanString(copy: true, into: &keyScratch)
                (slot, node) = keyScratch.withUnsafeBytes { Self.keySlot($0, in: top, trie: trie) }
            } else {
                // keyStart..<rawEnd lies inside the line buffer.
                (slot, node) = Self.keySlot(UnsafeRawBufferPointer(start: lx.p + keyStart, count: rawEnd - keyStart), in: top, trie: trie)
            }
            // Unknown: no field is read from this key (a key that only leads
            // to mapped paths below it, e.g. `info` for `info.ts`, is kept whole too).
            if stack.count == 1 && (node < 0 || trie.nodes[node].target == nil)
                && !IngestLineParser.isExportFoldedKey(UnsafeRawBufferPointer(start: lx.p + keyStart, count: rawEnd - keyStart)) {
                if mapping.unknownKeys == .reject {
                    let name = String(decoding: UnsafeBufferPointer(start: lx.p + keyStart, count: rawEnd - keyStart), as: UTF8.self)
                    throw StrataError(.invalidInput, "unknown top-level key '\(name)' (mapped fields: see docs/INGEST.md; --unknown-fields keep stores it in metadata._extra)", field: name)
                }
                unknownKeyCount += 1
                pendingUnknown = keyStart - 1
            }
        } else {
            try lx.scanString(copy: false, into: &keyScratch)
        }
        if top.captureMetadata {
            // Direct keys of metadata: note the reserved ones (raw compare; escapes in them are not recognised).
            let key = UnsafeRawBufferPointer(start: lx.p + keyStart, count: lx.i - 1 - keyStart)
            if Self.equals(key, "_extra") { reservedInMetadata |= 1 }  // IngestLineParser.extraKey
            if Self.equals(key, "_structured") { reservedInMetadata |= 2 }  // IngestLineParser.structuredKey
        }
        lx.skipWhitespace()
        guard lx.peek == 0x3A else { throw lx.error("expected ':' after a key") }
        lx.i += 1
        lx.skipWhitespace()
        if case .field(let t) = slot {
            if seen & t.bit != 0 { throw fail(t, "duplicate key '\(trie.pathNames[t.rawValue])'") }
            seen |= t.bit
        } else if top.kind == .message && slot != .none {
            let dupe = slot == .role ? msgRole != nil : msgContent != nil
            if dupe {
                throw StrataError(.invalidInput, "duplicate key in messages[\(msgIndex)]",
                                  field: "\(trie.pathNames[IngestMapping.Target.messages.rawValue])[\(msgIndex)].\(slot == .role ? "role" : "content")")
            }
        }
        try value(&lx, slot: slot, node: node, into: &draft, state: &state)
    }

    /// The slot and trie node of object key `key` inside `top` (`.none`, -1: not read).
    @inline(__always) private static func keySlot(_ key: UnsafeRawBufferPointer, in top: Frame, trie: IngestTrie) -> (Slot, Int) {
        if top.kind == .message {
            if equals(key, "role") { return (.role, -1) }
            if equals(key, "content") { return (.content, -1) }
            return (.none, -1)
        }
        let node = trie.child(of: top.node, key: key)
        if node >= 0, let t = trie.nodes[node].target { return (.field(t), node) }
        return (.none, node)
    }

    /// Pushes a container frame, enforcing the depth limit.
    @inline(__always) private mutating func push(_ f: Frame, _ lx: inout JSONLexer, state: inout Int) throws {
        guard stack.count < IngestLineParser.maxDepth else {
            throw lx.error("nesting deeper than \(IngestLineParser.maxDepth) levels")
        }
        stack.append(f)
        lx.i += 1
        state = f.isArray ? 1 : 0
    }

    /// Parses one value at `lx.i` (whitespace already skipped) for `slot`.
    private mutating func value(_ lx: inout JSONLexer, slot: Slot, node: Int, into draft: inout ExampleDraft, state: inout Int) throws {
        let c = lx.peek
        let parent = stack[stack.count - 1]
        if parent.kind == .messages {
            guard c == 0x7B else { throw StrataError(.invalidInput, "messages[\(msgIndex)] must be an object {role, content}", field: trie.pathNames[IngestMapping.Target.messages.rawValue]) }
            msgRole = nil
            msgContent = nil
            try push(Frame(isArray: false, kind: .message, node: -1, start: lx.i, captureMetadata: false), &lx, state: &state)
            return
        }
        switch slot {
        case .none:
            try plainValue(&lx, node: node, state: &state)
        case .field(let t):
            do {
                try fieldValue(&lx, t, node: node, into: &draft, state: &state)
            } catch var e as StrataError {
                if e.field == nil { e.field = trie.pathNames[t.rawValue] }
                throw e
            }
        case .role, .content:
            // Built only on error paths: no allocation per message.
            func name() -> String { "\(trie.pathNames[IngestMapping.Target.messages.rawValue])[\(msgIndex)].\(slot == .role ? "role" : "content")" }
            guard c == 0x22 else { throw StrataError(.invalidInput, "must be a string", field: name()) }
            lx.i += 1
            do {
                if slot == .role {
                    scratch.removeAll(keepingCapacity: true)
                    try lx.scanString(copy: true, into: &scratch)
                    guard let r = scratch.withUnsafeBytes({ Role(utf8: $0) }) else {
                        throw StrataError(.invalidInput, "role '\(String(decoding: scratch, as: UTF8.self))' is not one of system, user, assistant, tool")
                    }
                    msgRole = r
                } else {
                    let s = draft.storage.count
                    try lx.scanString(copy: true, into: &draft.storage)
                    msgContent = ExampleDraft.Span(start: s, count: draft.storage.count - s)
                }
            } catch var e as StrataError {
                e.field = name()
                throw e
            }
            state = 2
        case .tag:
            guard c == 0x22 else { throw StrataError(.invalidInput, "tags must be strings", field: trie.pathNames[IngestMapping.Target.tags.rawValue]) }
            lx.i += 1
            try storeTag(&lx, into: &draft)
            state = 2
        }
    }

    private mutating func storeTag(_ lx: inout JSONLexer, into draft: inout ExampleDraft) throws {
        let s = draft.storage.count
        try lx.scanString(copy: true, into: &draft.storage)
        guard draft.storage.count > s else { throw fail(.tags, "tags must not be empty strings") }
        draft.tags.append(ExampleDraft.Span(start: s, count: draft.storage.count - s))
    }

    /// A value nobody reads as a field: validated, and descended into when a
    /// mapped path continues below it (`node` >= 0).
    @inline(__always) private mutating func plainValue(_ lx: inout JSONLexer, node: Int, state: inout Int) throws {
        switch lx.peek {
        case 0x22:
            lx.i += 1
            try lx.scanString(copy: false, into: &scratch)
            state = 2
        case 0x7B:
            let hasChildren = node >= 0 && trie.nodes[node].childCount > 0
            try push(Frame(isArray: false, kind: .generic, node: hasChildren ? node : -1, start: lx.i, captureMetadata: false), &lx, state: &state)
        case 0x5B:
            try push(Frame(isArray: true, kind: .generic, node: -1, start: lx.i, captureMetadata: false), &lx, state: &state)
        case 0x2D, 0x30...0x39:
            _ = try lx.scanNumber()
            state = 2
        case 0x74, 0x66, 0x6E:
            _ = try lx.scanLiteral()
            state = 2
        default:
            throw lx.error(lx.atEnd ? "unexpected end of line: expected a value" : "unexpected character: expected a JSON value")
        }
    }

    /// A value read into a record field.
    private mutating func fieldValue(_ lx: inout JSONLexer, _ t: IngestMapping.Target, node: Int, into draft: inout ExampleDraft, state: inout Int) throws {
        let c = lx.peek
        state = 2
        if c == 0x6E {  // null
            _ = try lx.scanLiteral()
            switch t {
            case .input, .source, .qualityScore, .tags, .metadata, .id, .shape: return  // null = absent
            default: throw fail(t, "must not be null")
            }
        }
        if c == 0x7B || c == 0x5B, t == .instruction || t == .input || t == .output || t == .prompt || t == .response {
            // A structured value: kept as its canonical JSON text (SPEC.md §4.7).
            let s = draft.storage.count
            try CanonicalJSON.append(&lx, depth: stack.count + 1, maxDepth: IngestLineParser.maxDepth, into: &draft.storage)
            let span = ExampleDraft.Span(start: s, count: draft.storage.count - s)
            structured |= t.bit
            if c == 0x5B { structuredArrays |= t.bit }
            switch t {
            case .instruction, .prompt: draft.first = span
            case .input, .response: draft.second = span
            default: draft.third = span
            }
            return
        }
        switch t {
        case .instruction, .input, .output, .prompt, .response, .domain, .source:
            guard c == 0x22 else { throw fail(t, t == .domain || t == .source ? "must be a string" : "must be a string (or a JSON object/array, kept as canonical JSON text)") }
            lx.i += 1
            let s = draft.storage.count
            try lx.scanString(copy: true, into: &draft.storage)
            let span = ExampleDraft.Span(start: s, count: draft.storage.count - s)
            switch t {
            case .instruction, .prompt: draft.first = span
            case .input, .response: draft.second = span
            case .output: draft.third = span
            case .domain: draft.domain = span
            default: draft.source = span
            }
        case .id:
            guard c == 0x22 else { throw fail(t, "must be a string of 32 hex digits") }
            lx.i += 1
            let s = draft.storage.count
            try lx.scanString(copy: true, into: &draft.storage)
            let span = ExampleDraft.Span(start: s, count: draft.storage.count - s)
            guard let v = draft.withBytes(span, { IngestLineParser.parseID($0) }) else {
                throw fail(t, "'\(draft.string(span))' is not a Strata id (32 hex digits); if it is another tool's id, keep it out with --map id= (or map it elsewhere)")
            }
            idSpan = span
            id = v
        case .shape:
            guard c == 0x22 else { throw fail(t, "must be a string: instruction, prompt_response or chat") }
            lx.i += 1
            scratch.removeAll(keepingCapacity: true)
            try lx.scanString(copy: true, into: &scratch)
            let sh: Shape? = scratch.withUnsafeBytes { b in
                b.elementsEqual("instruction".utf8) ? .instruction
                    : b.elementsEqual("prompt_response".utf8) ? .promptResponse
                    : b.elementsEqual("chat".utf8) ? .chat : nil
            }
            guard let sh else { throw fail(t, "'\(String(decoding: scratch, as: UTF8.self))' is not one of instruction, prompt_response, chat") }
            explicitShape = sh
        case .messages:
            guard c == 0x5B else { throw fail(t, "must be an array of {role, content} objects") }
            try push(Frame(isArray: true, kind: .messages, node: -1, start: lx.i, captureMetadata: false), &lx, state: &state)
        case .tags:
            if c == 0x22 {
                lx.i += 1
                try storeTag(&lx, into: &draft)
            } else {
                guard c == 0x5B else { throw fail(t, "must be an array of strings (or one string)") }
                try push(Frame(isArray: true, kind: .tags, node: -1, start: lx.i, captureMetadata: false), &lx, state: &state)
            }
        case .metadata:
            guard c == 0x7B else { throw fail(t, "must be a JSON object") }
            let hasChildren = node >= 0 && trie.nodes[node].childCount > 0
            try push(Frame(isArray: false, kind: .generic, node: hasChildren ? node : -1, start: lx.i, captureMetadata: true), &lx, state: &state)
        case .qualityScore:
            guard c == 0x2D || (c >= 0x30 && c <= 0x39) else { throw fail(t, "must be a number in 0...1 (or null)") }
            let r = try lx.scanNumber()
            var v = lx.doubleValue(r)
            if let scale = mapping.qualityScale {
                guard v.isFinite, scale.contains(v) else {
                    throw fail(t, "\(String(decoding: UnsafeBufferPointer(start: lx.p + r.lowerBound, count: r.count), as: UTF8.self)) is outside the scale \(scale.lowerBound)..\(scale.upperBound)")
                }
                v = (v - scale.lowerBound) / (scale.upperBound - scale.lowerBound)
            }
            guard v.isFinite, v >= 0, v <= 1 else {
                throw fail(t, "\(String(decoding: UnsafeBufferPointer(start: lx.p + r.lowerBound, count: r.count), as: UTF8.self)) is not in 0...1")
            }
            draft.qualityScore = v
        case .timestamp:
            if let re = timestampRegex {
                guard c == 0x22 else { throw fail(t, "must be a string (the timestamp is taken from it with the mapping's regex)") }
                lx.i += 1
                scratch.removeAll(keepingCapacity: true)
                try lx.scanString(copy: true, into: &scratch)
                draft.timestampMillis = try timestampFromPattern(re, String(decoding: scratch, as: UTF8.self))
            } else if c == 0x22 {
                lx.i += 1
                scratch.removeAll(keepingCapacity: true)
                try lx.scanString(copy: true, into: &scratch)
                draft.timestampMillis = try scratch.withUnsafeBytes { try parseISO($0) }
            } else if c == 0x2D || (c >= 0x30 && c <= 0x39) {
                let r = try lx.scanNumber()
                draft.timestampMillis = try epochMillis(lx.doubleValue(r))
            } else {
                throw fail(t, "must be an ISO 8601 string or a number of epoch seconds/milliseconds")
            }
            haveTimestamp = true
        }
    }

    /// Pops the container just closed; returns true when it was the line's object.
    @inline(__always) private mutating func close(_ lx: inout JSONLexer, into draft: inout ExampleDraft) throws -> Bool {
        let f = stack.removeLast()
        if f.captureMetadata {
            // Exact source text, brackets included: f.start..<lx.i is inside the line.
            let s = draft.storage.count
            draft.storage.append(contentsOf: UnsafeBufferPointer(start: lx.p + f.start, count: lx.i - f.start))
            draft.metadata = ExampleDraft.Span(start: s, count: draft.storage.count - s)
        } else if f.kind == .message {
            let name = trie.pathNames[IngestMapping.Target.messages.rawValue]
            guard let role = msgRole else { throw StrataError(.invalidInput, "messages[\(msgIndex)] has no role", field: "\(name)[\(msgIndex)].role") }
            guard let content = msgContent, !isBlank(draft, content) else {
                throw StrataError(.invalidInput, "messages[\(msgIndex)] has no content (or it is empty)", field: "\(name)[\(msgIndex)].content")
            }
            draft.messages.append((role, content))
            msgIndex += 1
        }
        return stack.isEmpty
    }

    @inline(__always) private func isBlank(_ d: ExampleDraft, _ s: ExampleDraft.Span) -> Bool {
        ExampleValidation.isBlank(d, s)
    }

    /// Checks what the whole line must provide, and picks the shape.
    private mutating func finish(_ draft: inout ExampleDraft) throws {
        let seen = self.seen
        func has(_ t: IngestMapping.Target) -> Bool { seen & t.bit != 0 }
        let chat = has(.messages)
        let pr = has(.prompt) || has(.response)
        let ins = has(.instruction) || has(.output) || has(.input)
        let detected: Shape
        switch (chat, pr, ins) {
        case (true, false, false): detected = .chat
        case (false, true, false): detected = .promptResponse
        case (false, false, true): detected = .instruction
        case (false, false, false):
            if let e = explicitShape { detected = e } else {
                throw StrataError(.invalidInput, "no content: expected instruction/input/output, prompt/response or messages", field: "shape")
            }
        default:
            throw StrataError(.invalidInput, "content fields of more than one shape (instruction/output, prompt/response, messages); use one", field: "shape")
        }
        if let e = explicitShape, e != detected {
            throw StrataError(.invalidInput, "shape is '\(e.name)' but the content fields are those of '\(detected.name)'", field: "shape")
        }
        draft.shape = detected
        func need(_ t: IngestMapping.Target, _ span: ExampleDraft.Span) throws {
            guard has(t) else { throw fail(t, "missing (required for shape \(detected.name))") }
            guard !isBlank(draft, span) else { throw fail(t, "must not be empty (required for shape \(detected.name))") }
        }
        switch detected {
        case .instruction: try need(.instruction, draft.first); try need(.output, draft.third)
        case .promptResponse: try need(.prompt, draft.first); try need(.response, draft.second)
        case .chat:
            guard !draft.messages.isEmpty else { throw fail(.messages, "must hold at least one {role, content} message") }
        }
        if has(.domain) {
            guard draft.withBytes(draft.domain, { IngestLineParser.isValidDomain($0) }) else {
                throw fail(.domain, "'\(draft.string(draft.domain))' is not a valid domain: it must match [a-z0-9][a-z0-9_-]{0,63}")
            }
        } else if let d = mapping.defaultDomain {
            draft.domain = draft.store(d)
        } else {
            throw fail(.domain, "missing; map it (--map domain=PATH) or give a default domain")
        }
        if !haveTimestamp {
            guard let t = mapping.defaultTimestampMillis else {
                throw fail(.timestamp, "missing; map it (--map timestamp=PATH) or give a default timestamp")
            }
            draft.timestampMillis = t
        }
    }

    // MARK: - Field syntax

    static func isValidDomain(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 1, b.count <= 64 else { return false }
        for (k, c) in b.enumerated() {
            let ok = (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || (k > 0 && (c == 0x5F || c == 0x2D))
            if !ok { return false }
        }
        return true
    }

    static func parseID(_ b: UnsafeRawBufferPointer) -> ExampleID? {
        guard b.count == 32 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for k in 0..<32 {
            let c = b[k]
            let v: UInt64
            switch c {
            case 0x30...0x39: v = UInt64(c - 0x30)
            case 0x61...0x66: v = UInt64(c - 0x57)
            case 0x41...0x46: v = UInt64(c - 0x37)
            default: return nil
            }
            if k < 16 { h = h << 4 | v } else { l = l << 4 | v }
        }
        return ExampleID(high: h, low: l)
    }

    /// The instant the first match of `re` in `text` names: groups 1…6 are
    /// year, month, day, hour, minute, second (missing groups: day 1, 00:00:00), UTC.
    private func timestampFromPattern(_ re: NSRegularExpression, _ text: String) throws -> Int64 {
        let ns = text as NSString
        guard let m = re.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)) else {
            throw fail(.timestamp, "'\(text)' does not match the timestamp regex '\(re.pattern)'")
        }
        var parts = [1970, 1, 1, 0, 0, 0]
        for g in 1...min(6, re.numberOfCaptureGroups) {
            let r = m.range(at: g)
            guard r.location != NSNotFound, let v = Int(ns.substring(with: r)), v >= 0 else {
                throw fail(.timestamp, "'\(text)': capture group \(g) of the timestamp regex is not a number")
            }
            parts[g - 1] = v
        }
        let text8 = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
        guard parts[0] <= 9999 else { throw fail(.timestamp, "'\(text)': year \(parts[0]) is outside 1970...9999") }
        return try Array(text8.utf8).withUnsafeBytes { try parseISO($0) }
    }

    /// A timestamp given as text (`--default-timestamp`): an ISO 8601 instant
    /// with `Z`/offset, a date (`2025-03-14`, midnight UTC), or a number of
    /// epoch seconds/milliseconds, with the rules of a `timestamp` field.
    public static func parseTimestamp(_ text: String) throws -> Int64 {
        let p = try IngestLineParser(mapping: IngestMapping())
        if let v = Double(text), text.first.map({ $0.isNumber || $0 == "-" }) == true {
            return try p.epochMillis(v)
        }
        return try Array(text.utf8).withUnsafeBytes { try p.parseISO($0) }
    }

    /// 1970-01-01T00:00:00Z ..< 10000-01-01T00:00:00Z in milliseconds.
    static let maxMillis: Int64 = Int64(daysFromCivil(10000, 1, 1)) * 86_400_000

    private func epochMillis(_ v: Double) throws -> Int64 {
        guard v.isFinite else { throw fail(.timestamp, "number is out of range") }
        // Below 1e11 a number is seconds (1e11 s is year 5138); above, milliseconds.
        let ms = (abs(v) < 1e11 ? v * 1000 : v).rounded()
        guard ms >= 0, ms < Double(IngestLineParser.maxMillis) else {
            throw fail(.timestamp, "epoch value \(v) is outside years 1970...9999")
        }
        return Int64(ms)
    }

    /// `YYYY-MM-DD(T| )HH:MM:SS[.fraction](Z|±HH:MM)`; the fraction is
    /// truncated to milliseconds.
    private func parseISO(_ b: UnsafeRawBufferPointer) throws -> Int64 {
        let text = { String(decoding: b, as: UTF8.self) }
        let format = "expected YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM) or YYYY-MM-DD"
        func bad(_ why: String) -> StrataError { fail(.timestamp, "'\(text())': \(why)") }
        func num(_ at: Int, _ len: Int) throws -> Int {
            guard at + len <= b.count else { throw bad(format) }
            var v = 0
            for k in at..<(at + len) {
                let d = b[k] &- 0x30
                guard d < 10 else { throw bad(format) }
                v = v * 10 + Int(d)
            }
            return v
        }
        func expect(_ at: Int, _ c: UInt8) throws { guard at < b.count, b[at] == c else { throw bad(format) } }
        let year = try num(0, 4)
        try expect(4, 0x2D)
        let month = try num(5, 2)
        try expect(7, 0x2D)
        let day = try num(8, 2)
        // A date alone (`2025-03-14`) is midnight UTC of that day.
        let dateOnly = b.count == 10
        guard dateOnly || (b.count > 10 && (b[10] == 0x54 || b[10] == 0x74 || b[10] == 0x20)) else { throw bad(format) }
        let hour = try dateOnly ? 0 : num(11, 2)
        if !dateOnly { try expect(13, 0x3A) }
        let minute = try dateOnly ? 0 : num(14, 2)
        if !dateOnly { try expect(16, 0x3A) }
        let second = try dateOnly ? 0 : num(17, 2)
        var k = dateOnly ? 10 : 19
        var millis = 0
        if k < b.count, b[k] == 0x2E {
            k += 1
            let fs = k
            while k < b.count, b[k] &- 0x30 < 10 {
                if k - fs < 3 { millis = millis * 10 + Int(b[k] - 0x30) }
                k += 1
            }
            guard k > fs else { throw bad("fraction needs digits after '.'") }
            for _ in min(3, k - fs)..<3 { millis *= 10 }
        }
        var offsetMinutes = 0
        if dateOnly {
        } else if k == b.count {
            guard mapping.naiveTimestampsAreUTC else {
                throw bad("no UTC offset; add 'Z' (or ±HH:MM), or pass --naive-timestamps-utc to read such times as UTC")
            }
        } else if b[k] == 0x5A || b[k] == 0x7A {
            k += 1
        } else if b[k] == 0x2B || b[k] == 0x2D {
            let sign = b[k] == 0x2D ? -1 : 1
            let oh = try num(k + 1, 2)
            try expect(k + 3, 0x3A)
            let om = try num(k + 4, 2)
            guard oh <= 23, om <= 59 else { throw bad("invalid UTC offset") }
            offsetMinutes = sign * (oh * 60 + om)
            k += 6
        } else {
            throw bad(format)
        }
        guard k == b.count else { throw bad(format) }
        guard year >= 1970 && year <= 9999 else { throw bad("year must be within 1970...9999") }
        guard month >= 1 && month <= 12 else { throw bad("invalid month") }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        // A switch, not an array literal: no allocation per timestamp.
        let dim: Int
        switch month {
        case 2: dim = leap ? 29 : 28
        case 4, 6, 9, 11: dim = 30
        default: dim = 31
        }
        guard day >= 1 && day <= dim else { throw bad("invalid day of month") }
        guard hour <= 23, minute <= 59, second <= 59 else { throw bad("invalid time of day") }
        let days = Int64(daysFromCivil(year, month, day))
        let ms = ((days * 24 + Int64(hour)) * 60 + Int64(minute) - Int64(offsetMinutes)) * 60_000 + Int64(second) * 1000 + Int64(millis)
        guard ms >= 0, ms < IngestLineParser.maxMillis else { throw bad("instant is outside years 1970...9999 UTC") }
        return ms
    }
}
