import Foundation

/// Which examples count as duplicates of each other (SPEC.md §5.3). Chosen when
/// a store is created and recorded in the manifest's `dedup` member; opening a
/// store with a different key is a `.usage` error.
public struct DedupKey: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The canonical content (SPEC.md §4.1); with normalization `none` the key is the example id.
        case content
        /// Canonical content plus the named fields (`source`, `domain`, `metadata.a.b`).
        case contentPlusFields = "content+fields"
        /// The prompt side only: instruction + input, prompt, or the non-assistant chat messages.
        case promptOnly = "prompt_only"
    }

    public enum Normalization: String, Sendable, CaseIterable {
        /// Strings as ingested.
        case none
        /// Runs of Unicode White_Space collapsed to one U+0020, leading/trailing removed.
        case whitespace
        /// `whitespace`, then every scalar replaced by its Unicode lowercase mapping.
        case casefold
    }

    public var kind: Kind
    /// Only for `.contentPlusFields`, in the order they enter the key.
    public var fields: [String]
    public var normalize: Normalization

    public init(kind: Kind = .content, fields: [String] = [], normalize: Normalization = .none) {
        self.kind = kind
        self.fields = fields
        self.normalize = normalize
    }

    public static let content = DedupKey()

    /// True when the dedup key of every example is its id (no extra hash).
    public var isExampleID: Bool { kind == .content && normalize == .none }

    /// Parses the CLI form: `content`, `content+FIELD[,FIELD...]`, `prompt_only`.
    public init(parsing text: String, normalize: String = "none") throws {
        guard let n = Normalization(rawValue: normalize) else {
            throw StrataError(.usage, "unknown normalization '\(normalize)' (expected none, whitespace or casefold)", field: "normalize")
        }
        if text == "content" {
            self.init(kind: .content, normalize: n)
        } else if text == "prompt_only" {
            self.init(kind: .promptOnly, normalize: n)
        } else if text.hasPrefix("content+") {
            let fields = text.dropFirst(8).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            self.init(kind: .contentPlusFields, fields: fields, normalize: n)
        } else {
            throw StrataError(.usage, "unknown dedup key '\(text)' (expected content, content+FIELD[,FIELD] or prompt_only)", field: "dedup-key")
        }
        try validate()
    }

    /// Field names are `source`, `domain` or `metadata.` followed by a dotted path of non-empty names.
    public func validate() throws {
        switch kind {
        case .contentPlusFields:
            guard !fields.isEmpty else { throw StrataError(.usage, "content+fields needs at least one field", field: "dedup-key") }
            for f in fields where !DedupKey.isValidField(f) {
                throw StrataError(.usage, "dedup key field '\(f)' is not source, domain or metadata.PATH", field: "dedup-key")
            }
            guard Set(fields).count == fields.count else { throw StrataError(.usage, "dedup key names a field twice", field: "dedup-key") }
        case .content, .promptOnly:
            guard fields.isEmpty else { throw StrataError(.usage, "dedup key \(kind.rawValue) takes no fields", field: "dedup-key") }
        }
    }

    static func isValidField(_ f: String) -> Bool {
        if f == "source" || f == "domain" { return true }
        guard f.hasPrefix("metadata.") else { return false }
        return f.dropFirst(9).split(separator: ".", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty }
    }

    /// The CLI spelling.
    public var description: String {
        (kind == .contentPlusFields ? "content+" + fields.joined(separator: ",") : kind.rawValue) + " (normalize: \(normalize.rawValue))"
    }

    /// The manifest's `dedup` member (SPEC.md §2.1, §5.3).
    var manifestValue: Manifest.DedupSpec {
        Manifest.DedupSpec(key: kind.rawValue, fields: fields, normalize: normalize.rawValue)
    }

    init(manifest spec: Manifest.DedupSpec, path: String) throws {
        guard let k = Kind(rawValue: spec.key), let n = Normalization(rawValue: spec.normalize) else {
            throw StrataError(.corruption, "manifest: dedup member \(spec) is not understood by this build", path: path)
        }
        self.init(kind: k, fields: spec.fields, normalize: n)
        do { try validate() } catch let e as StrataError {
            throw StrataError(.corruption, "manifest: dedup member is invalid: \(e.message)", path: path)
        }
    }

    /// Identifies the key in index file headers (SPEC.md §5.2): XXH3-64 of
    /// `kind "\n" normalize "\n" fields joined by "\n"`.
    var descriptorHash: UInt64 {
        XXH.hash64(Array((kind.rawValue + "\n" + normalize.rawValue + "\n" + fields.joined(separator: "\n")).utf8))
    }
}

/// Computes dedup keys (SPEC.md §5.3) with reused buffers.
struct DedupKeyer {
    let key: DedupKey
    private var w = ByteWriter(capacity: 4 << 10)
    private var norm: [UInt8] = []

    init(_ key: DedupKey) { self.key = key }

    /// The 128-bit dedup key of a draft whose example id is `id`.
    mutating func key(of d: ExampleDraft, id: ExampleID) throws -> ExampleID {
        if key.isExampleID { return id }
        w.bytes.removeAll(keepingCapacity: true)
        switch key.kind {
        case .content, .contentPlusFields:
            w.u8(d.shape.rawValue)
            switch d.shape {
            case .instruction: str(d, d.first); str(d, d.second); str(d, d.third)
            case .promptResponse: str(d, d.first); str(d, d.second)
            case .chat:
                w.u32(UInt32(d.messages.count))
                for m in d.messages { w.u8(m.role.rawValue); str(d, m.content) }
            }
        case .promptOnly:
            w.u8(d.shape.rawValue)
            switch d.shape {
            case .instruction: str(d, d.first); str(d, d.second)
            case .promptResponse: str(d, d.first)
            case .chat:
                let kept = d.messages.filter { $0.role != .assistant }
                w.u32(UInt32(kept.count))
                for m in kept { w.u8(m.role.rawValue); str(d, m.content) }
            }
        }
        if key.kind == .contentPlusFields { try appendFields(d) }
        return XXH.hash128(w.bytes)
    }

    mutating func key(of e: Example) throws -> ExampleID {
        if key.isExampleID { return e.id }
        return try key(of: ExampleDraft(e), id: e.id)
    }

    /// u32 length + normalized bytes.
    private mutating func str(_ d: ExampleDraft, _ span: ExampleDraft.Span) {
        d.withBytes(span) { raw in
            if key.normalize == .none {
                w.u32(UInt32(raw.count))
                w.append(raw)
            } else {
                TextNormalizer.normalize(raw, casefold: key.normalize == .casefold, into: &norm)
                w.u32(UInt32(norm.count))
                w.append(norm)
            }
        }
    }

    /// Per field: u32str(name) tag:u8 [u32str(value)] (SPEC.md §5.3). Field values are not normalized.
    private mutating func appendFields(_ d: ExampleDraft) throws {
        var metadata: [String: Any]?
        for f in key.fields {
            w.u32(UInt32(f.utf8.count))
            w.append(Array(f.utf8))
            if f == "source" {
                if let s = d.source { w.u8(1); d.withBytes(s) { w.u32(UInt32($0.count)); w.append($0) } } else { w.u8(0) }
                continue
            }
            if f == "domain" {
                w.u8(1)
                d.withBytes(d.domain) { w.u32(UInt32($0.count)); w.append($0) }
                continue
            }
            if metadata == nil {
                let text = d.metadata.count == 0 ? Data("{}".utf8) : d.withBytes(d.metadata) { Data($0) }
                guard let obj = (try? JSONSerialization.jsonObject(with: text)) as? [String: Any] else {
                    throw StrataError(.invalidInput, "metadata is not a JSON object", field: "metadata")
                }
                metadata = obj
            }
            var value: Any? = metadata
            for part in f.dropFirst(9).split(separator: ".") {
                value = (value as? [String: Any])?[String(part)]
            }
            switch value {
            case nil, is NSNull:
                w.u8(0)
            case let s as String:
                w.u8(1)
                var s = s
                s.withUTF8 { w.u32(UInt32($0.count)); w.append($0) }
            case let n as NSNumber:
                // JSONSerialization marks true/false with objCType "c"; integers with i/l/q/Q.
                let t = String(cString: n.objCType)
                if t == "c" {
                    w.u8(2)
                    let s = n.boolValue ? "true" : "false"
                    w.u32(UInt32(s.utf8.count)); w.append(Array(s.utf8))
                } else if t != "d" && t != "f" {
                    w.u8(3)
                    let s = t == "Q" ? String(n.uint64Value) : String(n.int64Value)
                    w.u32(UInt32(s.utf8.count)); w.append(Array(s.utf8))
                } else {
                    throw StrataError(.invalidInput, "dedup key field \(f) is a non-integer number; key fields must be strings, integers, booleans or null", field: f)
                }
            default:
                throw StrataError(.invalidInput, "dedup key field \(f) is an object or array; key fields must be strings, integers, booleans or null", field: f)
            }
        }
    }
}

/// Text normalization for dedup keys (SPEC.md §5.3).
enum TextNormalizer {
    /// `whitespace`: every maximal run of scalars with the Unicode White_Space
    /// property becomes one U+0020; runs at the start and end are removed.
    /// `casefold` additionally replaces each scalar by its full lowercase
    /// mapping (Unicode Lowercase_Mapping, no locale, no context).
    static func normalize(_ raw: UnsafeRawBufferPointer, casefold: Bool, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        var pendingSpace = false
        if !raw.contains(where: { $0 >= 0x80 }) {
            // ASCII: White_Space is 0x09...0x0D and 0x20.
            for b in raw {
                if b == 0x20 || (b >= 0x09 && b <= 0x0D) {
                    pendingSpace = !out.isEmpty
                    continue
                }
                if pendingSpace { out.append(0x20); pendingSpace = false }
                out.append(casefold && b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
            }
            return
        }
        let s = String(decoding: raw, as: UTF8.self)
        for scalar in s.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace { out.append(0x20); pendingSpace = false }
            if casefold {
                out.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
    }
}
