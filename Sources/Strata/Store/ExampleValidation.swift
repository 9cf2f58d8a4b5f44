/// Checks a draft before it is stored (the ingest parser checks as it parses;
/// this is the store's own line of defence for library callers).
public enum ExampleValidation {
    /// Latest timestamp accepted: 9999-12-31T23:59:59.999Z.
    public static let maxTimestampMillis: Int64 = 253_402_300_799_999
    /// Earliest timestamp accepted: 1970-01-01T00:00:00Z.
    public static let minTimestampMillis: Int64 = 0

    /// Blank = empty or only JSON whitespace (space, tab, LF, CR): the rule the
    /// ingest parser applies to required text fields, so library and CLI agree.
    static func isBlank(_ d: ExampleDraft, _ s: ExampleDraft.Span) -> Bool {
        d.withBytes(s) { b in b.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 } }
    }

    /// `metadataChecked`: the caller (the ingest parser) already validated the
    /// metadata text with the same lexer (`JSONValidator`); skips a second pass.
    public static func validate(_ d: ExampleDraft, metadataChecked: Bool = false) throws {
        func reject(_ field: String, _ why: String) -> StrataError { StrataError(.invalidInput, why, field: field) }
        let domainOK = d.storage.withUnsafeBytes { all in
            PartitionKey.isValidDomain(UnsafeRawBufferPointer(rebasing: all[d.domain.start..<(d.domain.start + d.domain.count)]))
        }
        guard domainOK else {
            throw reject("domain", "domain '\(d.string(d.domain))' must match [a-z0-9][a-z0-9_-]{0,63}")
        }
        switch d.shape {
        case .instruction:
            guard !isBlank(d, d.first) else { throw reject("instruction", "instruction is empty or only whitespace") }
            guard !isBlank(d, d.third) else { throw reject("output", "output is empty or only whitespace") }
        case .promptResponse:
            guard !isBlank(d, d.first) else { throw reject("prompt", "prompt is empty or only whitespace") }
            guard !isBlank(d, d.second) else { throw reject("response", "response is empty or only whitespace") }
        case .chat:
            guard !d.messages.isEmpty else { throw reject("messages", "a chat needs at least one message") }
            for (i, m) in d.messages.enumerated() where isBlank(d, m.content) {
                throw reject("messages[\(i)].content", "message content is empty or only whitespace")
            }
        }
        if let q = d.qualityScore, !(q.isFinite && q >= 0 && q <= 1) {
            throw reject("quality_score", "quality_score must be a finite number in 0...1, got \(q)")
        }
        guard d.timestampMillis >= minTimestampMillis, d.timestampMillis <= maxTimestampMillis else {
            throw reject("timestamp", "timestamp \(d.timestampMillis) ms is outside 1970-01-01...9999-12-31")
        }
        for (i, t) in d.tags.enumerated() where t.count == 0 {
            throw reject("tags[\(i)]", "tags must be non-empty strings")
        }
        if d.metadata.count > 0 && !metadataChecked {
            do {
                try d.withBytes(d.metadata) { try JSONValidator.validateObject($0) }
            } catch let e as StrataError {
                throw reject("metadata", "metadata must be one JSON object: \(e.message)")
            }
        }
    }
}
