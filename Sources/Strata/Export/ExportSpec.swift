import Foundation

/// What an export writes (SPEC.md §8).
public enum ExportFormat: String, Sendable, CaseIterable {
    case jsonl, json, parquet

    public var fileExtension: String { rawValue }
}

/// Row layout of a JSONL export (SPEC.md §8.2).
public enum JSONLSchema: String, Sendable, CaseIterable {
    /// Every field; re-ingestable.
    case raw
    /// `{instruction, input, output, metadata}` (ETL module files).
    case alpaca
    /// `{prompt, response}` (production capture).
    case promptResponse = "prompt_response"
    /// `{"messages": [...]}`.
    case chat
}

/// Directory layout of a partitioned export (SPEC.md §8.1).
public enum ExportLayout: String, Sendable, CaseIterable {
    case hive
    /// The ETL module's object names: `{domain}/{YYYY}/{MM}/{NAME}_{YYYY}_{MM}.jsonl`.
    case etl
}

extension ExportSpec {
    /// Sets the partitioned layout by name ("hive" or "etl"; etl implies partitioned).
    /// `option` is the name errors report (`--layout` on the CLI, `layout` in the C ABI).
    public mutating func setLayout(named name: String, option: String) throws {
        guard let l = ExportLayout(rawValue: name) else {
            throw StrataError(.usage, "\(option) must be hive or etl, not '\(name)'", field: option)
        }
        layout = l
        if l == .etl { partitioned = true }
    }
}

extension Exporter {
    /// An export's file mode from octal text: owner read/write at least, no execute bits.
    public static func fileMode(octal text: String, option: String) throws -> UInt32 {
        guard let m = UInt32(text, radix: 8), m & 0o600 == 0o600, m & ~0o666 == 0 else {
            throw StrataError(.usage, "\(option) must be an octal file mode between 600 and 666 (e.g. 600, 640, 644)", field: option)
        }
        return m
    }
}

/// Selection by folded feedback (SPEC.md §8.4).
public enum FeedbackFilter: String, Sendable, CaseIterable {
    /// Drop examples whose negative feedback count exceeds the positive one.
    case dropNegative = "drop-negative"
    /// Keep only examples whose positive feedback count exceeds the negative one.
    case onlyPositive = "only-positive"
}

/// `train=0.8,validation=0.1,test=0.1`: named fractions, assigned by id hash (SPEC.md §8.5).
public struct SplitSpec: Sendable, Equatable, CustomStringConvertible {
    public var names: [String]
    public var fractions: [Double]

    public init(_ parts: [(String, Double)]) throws {
        guard !parts.isEmpty else { throw StrataError(.usage, "a split needs at least one part") }
        names = parts.map(\.0)
        fractions = parts.map(\.1)
        guard Set(names).count == names.count else { throw StrataError(.usage, "split names must be distinct") }
        for n in names {
            guard !n.isEmpty, n.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f || $0 == 0x2d }) else {
                throw StrataError(.usage, "split name '\(n)' must match [a-z0-9_-]+")
            }
        }
        guard fractions.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw StrataError(.usage, "split fractions must be ≥ 0") }
        let total = fractions.reduce(0, +)
        guard abs(total - 1) < 1e-9 else { throw StrataError(.usage, "split fractions must sum to 1 (they sum to \(total))") }
    }

    /// Parses `name=fraction,name=fraction,...`.
    public init(parsing text: String) throws {
        var parts: [(String, Double)] = []
        for item in text.split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let f = Double(kv[1].trimmingCharacters(in: .whitespaces)) else {
                throw StrataError(.usage, "bad split '\(item)': expected name=fraction (e.g. train=0.8,validation=0.1,test=0.1)")
            }
            parts.append((kv[0].trimmingCharacters(in: .whitespaces), f))
        }
        try self.init(parts)
    }

    public var description: String {
        zip(names, fractions).map { "\($0)=\($1)" }.joined(separator: ",")
    }

    /// The position of an id in [0, 1): the id's low 64 bits, top 53 bits as a fraction.
    @inline(__always) public static func unitValue(_ id: ExampleID) -> Double {
        Double(id.low >> 11) * 0x1p-53
    }

    /// Index of the split an id belongs to: the first whose cumulative fraction exceeds `unitValue(id)`.
    @inline(__always) public func index(of id: ExampleID) -> Int {
        let u = SplitSpec.unitValue(id)
        var c = 0.0
        for i in 0..<(fractions.count - 1) {
            c += fractions[i]
            if u < c { return i }
        }
        return fractions.count - 1
    }
}

/// Everything that defines an export except where it goes.
public struct ExportSpec: Sendable, Equatable {
    public var format: ExportFormat = .jsonl
    public var schema: JSONLSchema = .raw
    /// JSONL only: first line `{"_meta":{...}}` (training-file JSONL).
    public var metaHeader = false
    public var domains: [String] = []
    public var fromMonth: Month?
    public var toMonth: Month?
    /// Examples without a quality score are excluded when set.
    public var minQuality: Double?
    public var tags: [String] = []
    /// true: every tag in `tags` must be present; false: any of them.
    public var allTags = false
    public var source: String?
    public var shapes: [Shape] = []
    public var feedback: FeedbackFilter?
    public var includeExcluded = false
    public var split: SplitSpec?
    public var partitioned = false
    /// Chat schema: a system message put before converted instruction / prompt_response examples.
    public var systemPrompt: String?
    /// Name recorded in the JSON document and `_meta` header (default: the output directory's name).
    public var name: String?
    /// `--where` / `--from` / `--to` (docs/QUERY.md), ANDed with the rest; nil = none.
    public var predicate: RecordPredicate?
    /// Partitioned layout: Hive (`domain=D/month=M/part-00000.EXT`) or the ETL
    /// module's object names (`D/YYYY/MM/NAME_YYYY_MM.jsonl`). SPEC.md §8.1.
    public var layout: ExportLayout = .hive
    /// Base name of the data file (`NAME.EXT` unpartitioned, `NAME_YYYY_MM.jsonl`
    /// in the ETL layout); nil = "data".
    public var fileName: String?

    public init(format: ExportFormat = .jsonl, schema: JSONLSchema = .raw) {
        self.format = format
        self.schema = schema
    }

    /// Rejects combinations that make no sense.
    public func validate() throws {
        if partitioned && format == .json {
            throw StrataError(.usage, "--partitioned applies to jsonl and parquet, not to the single JSON document")
        }
        if metaHeader && format != .jsonl { throw StrataError(.usage, "--meta-header applies to --format jsonl only") }
        if layout == .etl && (format != .jsonl || !partitioned) {
            throw StrataError(.usage, "--layout etl writes partitioned JSONL (D/YYYY/MM/NAME_YYYY_MM.jsonl): use it with --format jsonl")
        }
        if let n = fileName {
            guard !n.isEmpty, n.utf8.count <= 100, !n.hasPrefix("."), !n.hasPrefix("_"),
                  n.unicodeScalars.allSatisfy({ ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" || $0 == ".") && $0.isASCII }) else {
                throw StrataError(.usage, "--file-name '\(n)' must be letters, digits, '_', '-', '.', not starting with '.' or '_'")
            }
            if split != nil && layout != .etl { throw StrataError(.usage, "--file-name names the single data file; with --split the files are named by split") }
            if partitioned && layout == .hive { throw StrataError(.usage, "--file-name does not apply to the Hive layout (files are part-NNNNN); use --layout etl") }
        }
        if format != .jsonl && schema != .raw { throw StrataError(.usage, "--schema applies to --format jsonl only") }
        if let q = minQuality, !(q >= 0 && q <= 1) { throw StrataError(.usage, "--min-quality must be in 0...1") }
        if let f = fromMonth, let t = toMonth, t < f { throw StrataError(.usage, "--to-month is before --from-month") }
        for d in domains where !PartitionKey.isValidDomain(d) {
            throw StrataError(.usage, "domain '\(d)' must match [a-z0-9][a-z0-9_-]{0,63}")
        }
    }

    /// The spec as a JSON object (recorded in `_strata_export.json` and the JSON document).
    /// Two specs select and shape rows identically iff these objects are equal.
    public var jsonObject: [String: Any] {
        var o: [String: Any] = [
            "format": format.rawValue,
            "schema": schema.rawValue,
            "meta_header": metaHeader,
            "domains": domains.sorted(),
            "tags": tags.sorted(),
            "all_tags": allTags,
            "shapes": shapes.map(\.name).sorted(),
            "include_excluded": includeExcluded,
            "partitioned": partitioned,
        ]
        o["from_month"] = fromMonth?.description ?? NSNull()
        o["to_month"] = toMonth?.description ?? NSNull()
        o["min_quality"] = minQuality ?? NSNull()
        o["source"] = source ?? NSNull()
        o["feedback"] = feedback?.rawValue ?? NSNull()
        o["split"] = split.map { s in zip(s.names, s.fractions).map { ["name": $0, "fraction": $1] as [String: Any] } } ?? NSNull()
        o["system_prompt"] = systemPrompt ?? NSNull()
        o["name"] = name ?? NSNull()
        if let predicate { o["where"] = predicate.text }
        if layout != .hive { o["layout"] = layout.rawValue }
        if let fileName { o["file_name"] = fileName }
        if format == .parquet { o["dataset_dir"] = "data" }
        return o
    }

    /// Canonical text of `jsonObject`: compact, keys sorted, numbers as Swift's
    /// shortest round-trip decimal (written by hand: JSONSerialization costs
    /// milliseconds on first use, which a one-partition export notices).
    public var canonicalJSON: String {
        var o: [UInt8] = []
        o.reserveCapacity(512)
        func key(_ k: StaticString) {
            o.append(o.isEmpty ? 0x7B : 0x2C)
            o.append(0x22)
            o.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
            o.append(0x22); o.append(0x3A)
        }
        func str(_ v: String?) { if let v { JSONWriter.appendString(v, to: &o) } else { o.append(contentsOf: Array("null".utf8)) } }
        func bool(_ v: Bool) { o.append(contentsOf: Array((v ? "true" : "false").utf8)) }
        func strs(_ v: [String]) {
            o.append(0x5B)
            for (i, x) in v.enumerated() { if i > 0 { o.append(0x2C) }; JSONWriter.appendString(x, to: &o) }
            o.append(0x5D)
        }
        key("all_tags"); bool(allTags)
        // Parquet data files moved under `data/` (SPEC.md §8.1): a spec text that
        // differs from older exports' makes their repeat rewrite into the new layout.
        if format == .parquet { key("dataset_dir"); str("data") }
        key("domains"); strs(domains.sorted())
        key("feedback"); str(feedback?.rawValue)
        // Only when set, so specs written before these existed keep their text.
        if let fileName { key("file_name"); str(fileName) }
        key("format"); str(format.rawValue)
        key("from_month"); str(fromMonth?.description)
        key("include_excluded"); bool(includeExcluded)
        if layout != .hive { key("layout"); str(layout.rawValue) }
        key("meta_header"); bool(metaHeader)
        key("min_quality"); if let q = minQuality { JSONWriter.appendDouble(q, to: &o) } else { str(nil) }
        key("name"); str(name)
        key("partitioned"); bool(partitioned)
        key("schema"); str(schema.rawValue)
        key("shapes"); strs(shapes.map(\.name).sorted())
        key("source"); str(source)
        key("split")
        if let split {
            o.append(0x5B)
            for i in split.names.indices {
                if i > 0 { o.append(0x2C) }
                o.append(contentsOf: Array("{\"fraction\":".utf8))
                JSONWriter.appendDouble(split.fractions[i], to: &o)
                o.append(contentsOf: Array(",\"name\":".utf8))
                JSONWriter.appendString(split.names[i], to: &o)
                o.append(0x7D)
            }
            o.append(0x5D)
        } else {
            str(nil)
        }
        key("system_prompt"); str(systemPrompt)
        key("tags"); strs(tags.sorted())
        key("to_month"); str(toMonth?.description)
        // Only when set, so specs written before `where` existed keep their text.
        if let predicate { key("where"); str(predicate.text) }
        o.append(0x7D)
        return String(decoding: o, as: UTF8.self)
    }

    public static func == (a: ExportSpec, b: ExportSpec) -> Bool { a.canonicalJSON == b.canonicalJSON }

    /// Partition-level part of the filter.
    func includes(_ p: PartitionKey) -> Bool {
        if !domains.isEmpty, !domains.contains(p.domain) { return false }
        if let fromMonth, p.month < fromMonth { return false }
        if let toMonth, toMonth < p.month { return false }
        if let predicate, !predicate.mayMatch(p) { return false }
        return true
    }
}

/// The folded view of the annotations of one example (feedback, exclusion,
/// correction), as compaction / the annotation log provide it.
public struct FoldedAnnotations: Sendable, Equatable {
    public var feedbackPositive: Int64 = 0
    public var feedbackNegative: Int64 = 0
    public var excluded = false
    /// The corrected output (instruction) / response (prompt_response) / last assistant message (chat).
    public var corrected: String?

    public init(feedbackPositive: Int64 = 0, feedbackNegative: Int64 = 0, excluded: Bool = false, corrected: String? = nil) {
        self.feedbackPositive = feedbackPositive
        self.feedbackNegative = feedbackNegative
        self.excluded = excluded
        self.corrected = corrected
    }

    public static let none = FoldedAnnotations()

    /// Folds an example's annotations, oldest first, as `FoldedExample` does: feedback
    /// counts, the last exclude/include wins, the last correction of the shape's
    /// natural field (output / response / last assistant message) wins.
    public init(folding anns: [Annotation], shape: Shape, hasAssistant: Bool) {
        let fold = AnnotationFold(anns, shape: shape, hasAssistant: hasAssistant)
        self.init(feedbackPositive: Int64(fold.positive), feedbackNegative: Int64(fold.negative),
                  excluded: fold.excluded, corrected: fold.correction)
    }
}

/// Where an export reads folded annotations from. Until annotations exist in
/// the store, exports use no source and every example has `FoldedAnnotations.none`.
public protocol ExportAnnotationSource: AnyObject {
    func annotations(for id: ExampleID) -> FoldedAnnotations?
}
