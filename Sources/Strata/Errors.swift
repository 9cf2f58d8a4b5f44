/// The one error type of Strata.
///
/// `code` is a growable set of well-known values (add new ones in an extension
/// next to the code that throws them); `message` is written for the person who
/// reads it and says what to do next; `path`/`offset` locate damage on disk;
/// `line`/`field` locate bad input; `cause` keeps the underlying error.
public struct StrataError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    public var path: String?
    public var offset: Int64?
    public var line: Int?
    public var field: String?
    public var cause: Error?
    /// Where in Strata's source the error was raised (for bug reports).
    public var sourceLocation: String

    public init(
        _ code: Code, _ message: String, path: String? = nil, offset: Int64? = nil,
        line: Int? = nil, field: String? = nil, cause: Error? = nil,
        fileID: String = #fileID, sourceLine: Int = #line
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.line = line
        self.field = field
        self.cause = cause
        self.sourceLocation = "\(fileID):\(sourceLine)"
    }

    public var description: String {
        var parts: [String] = []
        if let path { parts.append(offset.map { "\(path) at offset \($0)" } ?? path) }
        else if let offset { parts.append("offset \(offset)") }
        if let line { parts.append("line \(line)") }
        if let field { parts.append("field '\(field)'") }
        let location = parts.isEmpty ? "" : parts.joined(separator: ", ") + ": "
        var text = "\(location)\(message) [\(code)]"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}

extension StrataError.Code {
    /// Bytes on disk fail a checksum, magic, bound or invariant check.
    public static let corruption = Self("corruption")
    /// A file written by a newer, incompatible format version.
    public static let unsupportedVersion = Self("unsupported-version")
    /// An operating-system I/O call failed (errno in the message).
    public static let io = Self("io")
    /// The device is full (ENOSPC / EDQUOT).
    public static let noSpace = Self("no-space")
    /// Another writer holds the store lock.
    public static let locked = Self("locked")
    /// A previous write or fsync failed; the writer refuses further writes.
    public static let poisoned = Self("poisoned")
    /// An example or annotation failed validation.
    public static let invalidInput = Self("invalid-input")
    /// No such example / store / partition.
    public static let notFound = Self("not-found")
    /// The caller used the API or CLI wrongly (bad option, closed store...).
    public static let usage = Self("usage")
    /// The store's permissions or ownership are unsafe.
    public static let permission = Self("permission")
}
