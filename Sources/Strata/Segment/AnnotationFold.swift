/// The one fold of an example's annotations, oldest first (SPEC.md §4.6):
/// feedback is counted (with its ratings and comments), the last of
/// exclude / include decides exclusion, and the last correction of the
/// shape's natural field (output, response, last assistant message — the
/// last only if the chat has one) wins. `FoldedExample`, exports
/// (`FoldedAnnotations`) and compaction's purge all fold through it.
struct AnnotationFold {
    var positive = 0
    var negative = 0
    var ratings: [Int64] = []
    var comments: [String] = []
    var excluded = false
    var exclusionReason: String?
    /// The winning correction's text and reason.
    var correction: String?
    var correctionReason: String?

    init<S: Sequence>(_ annotations: S, shape: Shape, hasAssistant: Bool) where S.Element == Annotation {
        for a in annotations {
            switch a.kind {
            case let .feedback(p, rating, comment):
                if p == .positive { positive += 1 } else { negative += 1 }
                if let rating { ratings.append(rating) }
                if let comment { comments.append(comment) }
            case let .correction(text, field):
                if (field ?? .natural(for: shape)) == .natural(for: shape) && (shape != .chat || hasAssistant) {
                    correction = text
                    correctionReason = a.reason
                }
            case .exclude:
                excluded = true
                exclusionReason = a.reason
            case .include:
                excluded = false
                exclusionReason = nil
            }
        }
    }
}
