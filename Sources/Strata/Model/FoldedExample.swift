/// An example as every read sees it: its stored content with its annotations
/// folded in, in append order (SPEC.md §4.6).
///
/// - `example` is the folded view: a correction replaces the shape's natural
///   field (output, response, or last assistant message); the id stays the
///   id of the original content, which is what dedup keys on.
/// - `original` is the example exactly as ingested.
/// - `annotations` is the full history, oldest first.
public struct FoldedExample: Hashable, Sendable {
    public let original: Example
    public let annotations: [Annotation]
    public let example: Example
    public let isExcluded: Bool
    public let exclusionReason: String?
    public let isCorrected: Bool
    public let correctionReason: String?
    public let positiveFeedback: Int
    public let negativeFeedback: Int
    public let ratings: [Int64]
    public let comments: [String]

    public var id: ExampleID { original.id }
    public var averageRating: Double? { ratings.isEmpty ? nil : Double(ratings.reduce(0, +)) / Double(ratings.count) }

    /// Folds `annotations` (oldest first) into `original`. A correction whose
    /// field does not fit the shape (a chat without an assistant message, say)
    /// is kept in the history but leaves the content unchanged.
    public init(original: Example, annotations: [Annotation]) {
        self.original = original
        self.annotations = annotations
        let hasAssistant: Bool
        if case let .chat(ms) = original.content { hasAssistant = ms.contains { $0.role == .assistant } } else { hasAssistant = false }
        let fold = AnnotationFold(annotations, shape: original.shape, hasAssistant: hasAssistant)
        var e = original
        if let text = fold.correction, let c = FoldedExample.corrected(e.content, text: text, field: .natural(for: e.shape)) {
            e.content = c
        }
        e.id = original.id
        example = e
        isExcluded = fold.excluded
        exclusionReason = fold.exclusionReason
        isCorrected = fold.correction != nil
        correctionReason = fold.correctionReason
        positiveFeedback = fold.positive
        negativeFeedback = fold.negative
        ratings = fold.ratings
        comments = fold.comments
    }

    /// `content` with `field` replaced by `text`, or nil when the field does not apply.
    static func corrected(_ content: Content, text: String, field: Annotation.CorrectionField) -> Content? {
        switch (content, field) {
        case let (.instruction(i, input, _), .output): return .instruction(instruction: i, input: input, output: text)
        case let (.promptResponse(p, _), .response): return .promptResponse(prompt: p, response: text)
        case var (.chat(ms), .lastAssistantMessage):
            guard let i = ms.lastIndex(where: { $0.role == .assistant }) else { return nil }
            ms[i].content = text
            return .chat(ms)
        default: return nil
        }
    }

    public static func == (a: Self, b: Self) -> Bool { a.original == b.original && a.annotations == b.annotations }
    public func hash(into h: inout Hasher) { h.combine(original); h.combine(annotations) }
}
