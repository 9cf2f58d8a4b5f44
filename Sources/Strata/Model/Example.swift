import Foundation

/// The shape of an example's content (SPEC.md §4.2).
public enum Shape: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case instruction = 1
    case promptResponse = 2
    case chat = 3

    /// Name used in JSON, the CLI and exports.
    public var name: String {
        switch self {
        case .instruction: "instruction"
        case .promptResponse: "prompt_response"
        case .chat: "chat"
        }
    }

    public var description: String { name }

    public init?(name: String) {
        switch name {
        case "instruction": self = .instruction
        case "prompt_response": self = .promptResponse
        case "chat": self = .chat
        default: return nil
        }
    }
}

/// Chat roles (SPEC.md §4.2).
public enum Role: UInt8, Sendable, CaseIterable {
    case system = 1, user = 2, assistant = 3, tool = 4

    public var name: String {
        switch self {
        case .system: "system"
        case .user: "user"
        case .assistant: "assistant"
        case .tool: "tool"
        }
    }

    public init?(name: String) {
        switch name {
        case "system": self = .system
        case "user": self = .user
        case "assistant": self = .assistant
        case "tool": self = .tool
        default: return nil
        }
    }

    /// Same as `init(name:)` on raw UTF-8 bytes, without allocating.
    public init?(utf8 b: UnsafeRawBufferPointer) {
        // memcmp: the generic elementsEqual over String.UTF8View cost ~360
        // instructions per chat message at ingest.
        @inline(__always) func eq(_ s: StaticString) -> Bool { memcmp(b.baseAddress!, s.utf8Start, s.utf8CodeUnitCount) == 0 }
        switch b.count {
        case 4 where eq("user"): self = .user
        case 4 where eq("tool"): self = .tool
        case 6 where eq("system"): self = .system
        case 9 where eq("assistant"): self = .assistant
        default: return nil
        }
    }
}

public struct Message: Hashable, Sendable {
    public var role: Role
    public var content: String
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// What an example says: one of the three shapes.
public enum Content: Hashable, Sendable {
    case instruction(instruction: String, input: String, output: String)
    case promptResponse(prompt: String, response: String)
    case chat([Message])

    public var shape: Shape {
        switch self {
        case .instruction: .instruction
        case .promptResponse: .promptResponse
        case .chat: .chat
        }
    }
}

/// A training example as the library user sees it (SPEC.md §4.2).
public struct Example: Hashable, Sendable {
    /// XXH3-128 of the canonical content; computed by the store, see `CanonicalContent`.
    /// In a `content+fields` store the id also covers `idKey` (SPEC.md §4.1).
    public var id: ExampleID
    /// The dedup key a keyed id covers (SPEC.md §4.1, §4.2 flag bit 2): set on
    /// examples read from a `content+fields` store, nil for plain content ids.
    /// The store assigns it on append; a value set by the caller is ignored.
    public var idKey: ExampleID? = nil
    public var content: Content
    public var domain: String
    /// UTC instant, milliseconds since the Unix epoch.
    public var timestampMillis: Int64
    public var qualityScore: Double?
    public var tags: [String]
    public var source: String?
    /// The metadata object's exact JSON text ("{}" when absent).
    public var metadataJSON: String

    public init(content: Content, domain: String, timestampMillis: Int64, qualityScore: Double? = nil,
                tags: [String] = [], source: String? = nil, metadataJSON: String = "{}") {
        self.init(verifiedID: CanonicalContent.id(of: content), content: content, domain: domain, timestampMillis: timestampMillis,
                  qualityScore: qualityScore, tags: tags, source: source, metadataJSON: metadataJSON)
    }

    /// An example whose id is already known to be its content's hash (the
    /// public init computes it; `EntryView.verifyContent` checked a stored one).
    init(verifiedID: ExampleID, content: Content, domain: String, timestampMillis: Int64, qualityScore: Double?,
         tags: [String], source: String?, metadataJSON: String) {
        id = verifiedID
        self.content = content
        self.domain = domain
        self.timestampMillis = timestampMillis
        self.qualityScore = qualityScore
        self.tags = tags
        self.source = source
        self.metadataJSON = metadataJSON
    }

    public var shape: Shape { content.shape }

    /// "YYYY-MM" of the timestamp in UTC: the second partition key.
    public var month: Month { Month(timestampMillis: timestampMillis) }
}

/// A calendar month in UTC, the second partition key.
public struct Month: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int  // 1...12

    public init(year: Int, month: Int) {
        self.year = year
        self.month = month
    }

    public init(timestampMillis: Int64) {
        let days = Int(floorDiv(timestampMillis, 86_400_000))
        let (y, m, _) = civilFromDays(days)
        self.init(year: y, month: m)
    }

    /// Parses "YYYY-MM".
    public init?(_ text: String) {
        let u = Array(text.utf8)
        guard u.count == 7, u[4] == UInt8(ascii: "-"),
              let y = Int(String(decoding: u[0..<4], as: UTF8.self)),
              let m = Int(String(decoding: u[5..<7], as: UTF8.self)), (1...12).contains(m) else { return nil }
        self.init(year: y, month: m)
    }

    public static func < (a: Self, b: Self) -> Bool { (a.year, a.month) < (b.year, b.month) }

    public var description: String {
        let y = String(year)
        let m = month < 10 ? "0\(month)" : "\(month)"
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + m
    }

    /// First millisecond of the month (UTC).
    public var startMillis: Int64 { Int64(daysFromCivil(year, month, 1)) * 86_400_000 }
}

@inline(__always) func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

/// Howard Hinnant's days-from-civil: proleptic Gregorian, UTC.
public func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (m + 9) % 12
    let doy = (153 * mp + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

/// Inverse of `daysFromCivil`.
public func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
    let z = z0 + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let y = yoe + era * 400
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (m <= 2 ? y + 1 : y, m, d)
}
