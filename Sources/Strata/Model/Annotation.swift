import Foundation

/// A later fact about a stored example (SPEC.md §4.3): feedback, a correction,
/// exclusion from training, or re-inclusion. Annotations are appended, never
/// written in place; reads fold them into the example (`FoldedExample`).
public struct Annotation: Hashable, Sendable {
    public enum Polarity: UInt8, Sendable { case positive = 1, negative = 2 }

    /// Which part of the content a correction replaces; it must match the shape.
    public enum CorrectionField: UInt8, Sendable {
        /// `output` of an instruction example.
        case output = 1
        /// `response` of a prompt/response example.
        case response = 2
        /// Content of the last `assistant` message of a chat.
        case lastAssistantMessage = 3

        /// The field a correction of an example of `shape` replaces.
        public static func natural(for shape: Shape) -> CorrectionField {
            switch shape {
            case .instruction: .output
            case .promptResponse: .response
            case .chat: .lastAssistantMessage
            }
        }

        public var name: String {
            switch self {
            case .output: "output"
            case .response: "response"
            case .lastAssistantMessage: "last_assistant_message"
            }
        }
    }

    public enum Kind: Hashable, Sendable {
        case feedback(Polarity, rating: Int64?, comment: String?)
        /// `field` nil means "the shape's natural field" (resolved when stored).
        case correction(text: String, field: CorrectionField?)
        case exclude
        case include

        /// SPEC.md §4.3 annotation kind byte.
        public var code: UInt8 {
            switch self {
            case .feedback: 1
            case .correction: 2
            case .exclude: 3
            case .include: 4
            }
        }

        public var name: String {
            switch self {
            case .feedback: "feedback"
            case .correction: "correction"
            case .exclude: "exclude"
            case .include: "include"
            }
        }
    }

    public var kind: Kind
    public var reason: String?
    /// When the fact was recorded (UTC milliseconds since the epoch).
    public var timestampMillis: Int64

    public init(_ kind: Kind, reason: String? = nil, timestampMillis: Int64? = nil) {
        self.kind = kind
        self.reason = reason
        self.timestampMillis = timestampMillis ?? Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    public static func feedback(_ p: Polarity, rating: Int64? = nil, comment: String? = nil, reason: String? = nil) -> Annotation {
        Annotation(.feedback(p, rating: rating, comment: comment), reason: reason)
    }

    public static func correction(_ text: String, reason: String? = nil) -> Annotation {
        Annotation(.correction(text: text, field: nil), reason: reason)
    }

    public static func exclude(reason: String? = nil) -> Annotation { Annotation(.exclude, reason: reason) }
    public static func include(reason: String? = nil) -> Annotation { Annotation(.include, reason: reason) }
}

/// Binary encoding of annotation entries (kind 2) and folded-annotation
/// entries (kind 4), SPEC.md §4.3 and §4.5. Pure: bytes in, bytes out.
///
///     annotation := kind:u8 target:16 timestampMillis:i64 flags:u8 kindBody [str(reason)] [str(comment)]
///     flags      := bit0 reason, bit1 rating, bit2 comment
///     kindBody (1 feedback)   := polarity:u8 [rating:i64]
///     kindBody (2 correction) := field:u8 str(text)
///     kindBody (3 exclude, 4 include) := (empty)
///     folded     := target:16 count:varint str(annotationBody)*
public enum AnnotationCodec {
    static let flagReason: UInt8 = 1
    static let flagRating: UInt8 = 2
    static let flagComment: UInt8 = 4

    /// Appends the annotation body (no entry header). A correction's field must be resolved.
    public static func appendBody(_ a: Annotation, target: ExampleID, to w: inout ByteWriter) {
        w.u8(a.kind.code)
        target.write(to: &w)
        w.i64(a.timestampMillis)
        var flags: UInt8 = a.reason != nil ? flagReason : 0
        var comment: String?
        if case let .feedback(_, rating, c) = a.kind {
            if rating != nil { flags |= flagRating }
            if c != nil { flags |= flagComment }
            comment = c
        }
        w.u8(flags)
        switch a.kind {
        case let .feedback(p, rating, _):
            w.u8(p.rawValue)
            if let rating { w.i64(rating) }
        case let .correction(text, field):
            w.u8((field ?? .output).rawValue)
            w.string(text)
        case .exclude, .include:
            break
        }
        if let r = a.reason { w.string(r) }
        if let comment { w.string(comment) }
    }

    /// Appends a complete kind-2 entry (length, kind, body).
    public static func appendEntry(_ a: Annotation, target: ExampleID, to w: inout ByteWriter) {
        var body = ByteWriter(capacity: 64)
        appendBody(a, target: target, to: &body)
        w.varint(1 + body.count)
        w.u8(EntryKind.annotation.rawValue)
        w.append(body.bytes)
    }

    /// Decodes an annotation body. Throws `.corruption` on any malformed byte.
    public static func decodeBody(_ r: inout ByteReader) throws -> (target: ExampleID, annotation: Annotation) {
        let code = try r.u8("annotation kind")
        let target = try ExampleID.read(from: &r)
        let ts = try r.i64("annotation timestamp")
        let flags = try r.u8("annotation flags")
        guard flags & ~(flagReason | flagRating | flagComment) == 0 else { throw r.corruption("unknown annotation flags \(flags)") }
        if code != 1 && flags & (flagRating | flagComment) != 0 {
            throw r.corruption("rating or comment flag on a non-feedback annotation")
        }
        var kind: Annotation.Kind
        switch code {
        case 1:
            let pb = try r.u8("feedback polarity")
            guard let p = Annotation.Polarity(rawValue: pb) else { throw r.corruption("unknown feedback polarity \(pb)") }
            let rating = flags & flagRating != 0 ? try r.i64("rating") : nil
            kind = .feedback(p, rating: rating, comment: nil)
        case 2:
            let fb = try r.u8("correction field")
            guard let f = Annotation.CorrectionField(rawValue: fb) else { throw r.corruption("unknown correction field \(fb)") }
            kind = .correction(text: try r.string("correction text"), field: f)
        case 3: kind = .exclude
        case 4: kind = .include
        default: throw r.corruption("unknown annotation kind \(code)")
        }
        let reason = flags & flagReason != 0 ? try r.string("reason") : nil
        if flags & flagComment != 0, case let .feedback(p, rating, _) = kind {
            kind = .feedback(p, rating: rating, comment: try r.string("comment"))
        }
        guard r.isAtEnd else { throw r.corruption("trailing bytes after annotation") }
        return (target, Annotation(kind, reason: reason, timestampMillis: ts))
    }

    /// Reads only the target id of an annotation body.
    public static func peekTarget(_ r: inout ByteReader) throws -> ExampleID {
        _ = try r.u8("annotation kind")
        return try ExampleID.read(from: &r)
    }

    /// Appends a complete kind-4 folded-annotations entry from already-encoded annotation bodies.
    public static func appendFoldedEntry(target: ExampleID, bodies: [[UInt8]], to w: inout ByteWriter) {
        var n = 16 + RecordCodec.varintSize(UInt64(bodies.count))
        for b in bodies { n += RecordCodec.varintSize(UInt64(b.count)) + b.count }
        w.varint(1 + n)
        w.u8(EntryKind.foldedAnnotations.rawValue)
        target.write(to: &w)
        w.varint(bodies.count)
        for b in bodies { w.varint(b.count); w.append(b) }
    }

    /// Decodes a kind-4 body into its target and the raw annotation bodies.
    public static func decodeFoldedBodies(_ r: inout ByteReader) throws -> (target: ExampleID, bodies: [UnsafeRawBufferPointer]) {
        let target = try ExampleID.read(from: &r)
        let n = try r.count("folded annotation count", limit: r.remaining)
        var out: [UnsafeRawBufferPointer] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            let len = try r.count("annotation length", limit: r.remaining)
            out.append(try r.slice(len, "annotation body"))
        }
        guard r.isAtEnd else { throw r.corruption("trailing bytes after folded annotations") }
        return (target, out)
    }

    /// Decodes a kind-4 body into annotations, checking each names `target`.
    public static func decodeFolded(_ r: inout ByteReader) throws -> (target: ExampleID, annotations: [Annotation]) {
        let (target, bodies) = try decodeFoldedBodies(&r)
        var out: [Annotation] = []
        out.reserveCapacity(bodies.count)
        for b in bodies {
            var br = ByteReader(b, path: r.path, baseOffset: r.baseOffset, positionsAreInFile: false)
            let (t, a) = try decodeBody(&br)
            guard t == target else { throw r.corruption("folded annotation names \(t), its record is \(target)") }
            out.append(a)
        }
        return (target, out)
    }
}
