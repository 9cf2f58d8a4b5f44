import Foundation

/// How the fields of an input JSON object map to the fields of a record
/// (docs/INGEST.md). By default every record field is read from the top-level
/// key of the same name; `map(_:to:)` / `apply("TARGET=SOURCE")` redirect a
/// field to a dotted path through nested objects (e.g. `metadata.health_domain`).
public struct IngestMapping: Sendable, Equatable {
    /// A record field that can be read from the input.
    public enum Target: Int, CaseIterable, Sendable, CustomStringConvertible {
        case instruction, input, output, prompt, response, messages
        case domain, timestamp, qualityScore, tags, source, metadata, id, shape

        /// The field's record name (README "The record"), used by the CLI and exports.
        public var name: String {
            switch self {
            case .instruction: "instruction"
            case .input: "input"
            case .output: "output"
            case .prompt: "prompt"
            case .response: "response"
            case .messages: "messages"
            case .domain: "domain"
            case .timestamp: "timestamp"
            case .qualityScore: "quality_score"
            case .tags: "tags"
            case .source: "source"
            case .metadata: "metadata"
            case .id: "id"
            case .shape: "shape"
            }
        }

        public var description: String { name }

        public init?(name: String) {
            guard let t = Target.allCases.first(where: { $0.name == name }) else { return nil }
            self = t
        }

        @inline(__always) var bit: UInt32 { 1 << UInt32(rawValue) }
    }

    /// What to do with top-level keys that no target reads (`--unknown-fields`).
    /// Options shared by every front end (`--unknown-fields`/`--default-timestamp`
    /// on the CLI, `unknown_fields`/`default_timestamp` in the C ABI); `option` is
    /// the name errors report.
    public mutating func setUnknownKeys(named name: String, option: String) throws {
        guard let p = UnknownKeyPolicy(rawValue: name) else {
            throw StrataError(.usage, "\(option) must be keep, drop or reject (not '\(name)')", field: option)
        }
        unknownKeys = p
    }

    public mutating func setDefaultTimestamp(_ text: String, option: String) throws {
        do { defaultTimestampMillis = try IngestLineParser.parseTimestamp(text) } catch let e as StrataError {
            throw StrataError(.usage, "\(option): \(e.message)", field: option)
        }
    }

    public enum UnknownKeyPolicy: String, Sendable, Equatable, CaseIterable {
        /// Keep them, byte for byte, as members of `metadata._extra` (the
        /// default; SPEC.md §4.7, docs/INGEST.md).
        case keep
        /// Validate the value as JSON and drop it (counted in the summary).
        case drop
        /// Reject the line, naming the key.
        case reject
    }

    /// Source path (components) of each target, indexed by `Target.rawValue`.
    public private(set) var paths: [[String]]
    /// Used when the line has no domain field.
    public var defaultDomain: String?
    /// An ISO timestamp without `Z`/offset is taken as UTC instead of rejected.
    public var naiveTimestampsAreUTC: Bool = false
    /// Used when the line has no timestamp field (milliseconds since the epoch).
    public var defaultTimestampMillis: Int64?
    public var unknownKeys: UnknownKeyPolicy = .keep
    /// `--map timestamp=PATH:regex=PATTERN`: the timestamp is read from the
    /// first match of PATTERN in the string at PATH; capture groups 1…6 are
    /// year, month[, day[, hour[, minute[, second]]]] (at least year and month).
    public var timestampPattern: String?
    /// `--map quality_score=PATH:scale=LO..HI`: the number at PATH, within
    /// LO…HI, is mapped linearly onto 0…1.
    public var qualityScale: ClosedRange<Double>?

    public init() {
        paths = Target.allCases.map { [$0.name] }
    }

    /// Reads `target` from `sourcePath` (dotted, e.g. "metadata.health_domain").
    /// An empty path means the target is not read at all (e.g. `id=` for input
    /// whose `id` key is some other tool's identifier).
    public mutating func map(_ target: Target, to sourcePath: String) throws {
        if sourcePath.isEmpty {
            paths[target.rawValue] = []
            return
        }
        let parts = sourcePath.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
            throw StrataError(.usage, "source path '\(sourcePath)' for \(target.name) is not a dotted path of key names (e.g. metadata.health_domain)",
                              field: target.name)
        }
        paths[target.rawValue] = parts
    }

    /// Applies one "TARGET=SOURCE[:TRANSFORM=VALUE]" pair, as given to `--map`.
    /// Transforms: `regex=PATTERN` (timestamp only) and `scale=LO..HI`
    /// (quality_score only). The first ':' ends the path, so key names in a
    /// path cannot contain ':'; the pattern is everything after `regex=`.
    public mutating func apply(_ spec: String) throws {
        guard let eq = spec.firstIndex(of: "=") else {
            throw StrataError(.usage, "mapping '\(spec)' must be TARGET=SOURCE, e.g. domain=metadata.health_domain")
        }
        let name = String(spec[..<eq]).trimmingSpaces
        var source = String(spec[spec.index(after: eq)...])
        var transform: String?
        if let colon = source.firstIndex(of: ":") {
            transform = String(source[source.index(after: colon)...])
            source = String(source[..<colon])
        }
        source = source.trimmingSpaces
        guard let target = Target(name: name) else {
            let known = Target.allCases.map(\.name).joined(separator: ", ")
            throw StrataError(.usage, "unknown mapping target '\(name)'; targets are: \(known)", field: name)
        }
        try map(target, to: source)
        guard let transform else { return }
        if transform.hasPrefix("regex="), target == .timestamp {
            let pattern = String(transform.dropFirst(6))
            try IngestMapping.checkTimestampPattern(pattern)
            timestampPattern = pattern
        } else if transform.hasPrefix("scale="), target == .qualityScore {
            let range = transform.dropFirst(6)
            let parts = range.components(separatedBy: "..")
            guard parts.count == 2, let lo = Double(parts[0].trimmingSpaces), let hi = Double(parts[1].trimmingSpaces),
                  lo.isFinite, hi.isFinite, lo < hi else {
                throw StrataError(.usage, "scale '\(range)' must be LO..HI with LO < HI, e.g. scale=1..5", field: name)
            }
            qualityScale = lo...hi
        } else {
            throw StrataError(.usage, "unknown transform '\(transform)' for \(name): use timestamp=PATH:regex=PATTERN or quality_score=PATH:scale=LO..HI", field: name)
        }
    }

    static func checkTimestampPattern(_ pattern: String) throws {
        let re: NSRegularExpression
        do { re = try NSRegularExpression(pattern: pattern) } catch {
            throw StrataError(.usage, "timestamp regex '\(pattern)' is not a valid regular expression", field: "timestamp")
        }
        guard (2...6).contains(re.numberOfCaptureGroups) else {
            throw StrataError(.usage, "timestamp regex '\(pattern)' must have 2 to 6 capture groups: year, month[, day[, hour[, minute[, second]]]]", field: "timestamp")
        }
    }

    /// A mapping from `--map` pairs.
    public init(_ specs: [String]) throws {
        self.init()
        for s in specs { try apply(s) }
    }

    /// The dotted source path of `target`.
    public func sourcePath(for target: Target) -> String { paths[target.rawValue].joined(separator: ".") }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// The mapping's source paths as a trie, flattened so that each node's
/// children are contiguous and keys live in one byte pool: the scanner looks a
/// key up with a length compare and a memcmp, and never allocates.
struct IngestTrie {
    struct Node {
        var keyStart: Int
        var keyCount: Int
        var target: IngestMapping.Target?
        var firstChild: Int
        var childCount: Int
    }

    var nodes: [Node] = []
    var keys: [UInt8] = []
    /// Source path text per target (for error messages).
    var pathNames: [String]
    static let root = 0

    init(_ m: IngestMapping) throws {
        // An unread target is named by its own name in errors.
        pathNames = IngestMapping.Target.allCases.map { m.paths[$0.rawValue].isEmpty ? $0.name : m.sourcePath(for: $0) }
        // Build a nested tree first, then flatten breadth-first.
        final class Tmp {
            var key: [UInt8]
            var target: IngestMapping.Target?
            var children: [Tmp] = []
            init(_ key: [UInt8]) { self.key = key }
        }
        let root = Tmp([])
        for t in IngestMapping.Target.allCases where !m.paths[t.rawValue].isEmpty {
            var node = root
            for part in m.paths[t.rawValue] {
                let k = Array(part.utf8)
                if let c = node.children.first(where: { $0.key == k }) { node = c } else {
                    let c = Tmp(k)
                    node.children.append(c)
                    node = c
                }
            }
            if let other = node.target {
                throw StrataError(.usage, "\(t.name) and \(other.name) are both mapped to '\(m.sourcePath(for: t))'", field: t.name)
            }
            node.target = t
        }
        // Only an object-valued target (metadata) may have mapped paths below it.
        var queue = [root]
        var qi = 0
        while qi < queue.count {
            let n = queue[qi]; qi += 1
            if let t = n.target, t != .metadata, !n.children.isEmpty {
                throw StrataError(.usage, "'\(m.sourcePath(for: t))' is mapped to \(t.name), so no other field can be mapped below it", field: t.name)
            }
            queue.append(contentsOf: n.children)
        }
        // Flatten: queue order is BFS, so children of each node are contiguous.
        var index: [ObjectIdentifier: Int] = [:]
        for (i, n) in queue.enumerated() { index[ObjectIdentifier(n)] = i }
        for n in queue {
            let first = n.children.first.map { index[ObjectIdentifier($0)]! } ?? 0
            nodes.append(Node(keyStart: keys.count, keyCount: n.key.count, target: n.target,
                              firstChild: first, childCount: n.children.count))
            keys.append(contentsOf: n.key)
        }
    }

    /// Index of the child of `node` whose key equals `key`, or -1.
    @inline(__always) func child(of node: Int, key: UnsafeRawBufferPointer) -> Int {
        let n = nodes[node]
        var c = n.firstChild
        let end = n.firstChild + n.childCount
        while c < end {
            let cn = nodes[c]
            if cn.keyCount == key.count {
                let same = keys.withUnsafeBytes { pool in
                    // Same length checked above; memcmp over both in-bounds ranges.
                    key.count == 0 || memcmp(pool.baseAddress! + cn.keyStart, key.baseAddress!, key.count) == 0
                }
                if same { return c }
            }
            c += 1
        }
        return -1
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
