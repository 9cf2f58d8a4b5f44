import Foundation
@testable import Strata

/// An in-memory reference model of a store's semantics, written from SPEC.md
/// (not from the implementation): dedup per key configuration (§5.3), the
/// placement of entries in partitions and segments (§2, §3, §4), folded
/// annotations (§4.6), durability at commit and loss at a crash (§7),
/// compaction with and without purge (§4.4, §4.5, §7.1), scan order, and the
/// JSONL exports' selection and rendering (§8.2, §8.4, §8.5).
///
/// What it takes from the library: XXH3 (the hash function itself) and the
/// ids the store returns for keyed stores (a keyed id covers 16 key bytes the
/// model does not recompute; `ModelBasedTests` checks them structurally).
struct ReferenceModel {
    struct Config: CustomStringConvertible, Sendable {
        var key: String            // content | content+source | content+metadata.k | prompt_only
        var normalize: DedupKey.Normalization
        var policy: StoreOptions.CommitPolicy
        var dedupKey: DedupKey { try! DedupKey(parsing: key, normalize: normalize.rawValue) }
        var policyName: String {
            switch policy {
            case .everyBatch: "everyBatch"
            case .manual: "manual"
            case let .interval(s): "interval\(Int(s))"
            }
        }
        var description: String { "\(key)/\(normalize.rawValue)/\(policyName)" }
    }

    enum Entry {
        case example(Int)                       // index into `examples`
        case annotation(target: ExampleID, Annotation)
        case folded(target: ExampleID, [Annotation])
        case duplicateSeen(target: ExampleID)
    }

    struct Segment {
        var seq: Int
        var sealed = false
        var compacted = false
        var entries: [Entry] = []
    }

    struct Stored {
        var example: Example
        var id: ExampleID
        var key: [String]
        var partition: String
        var live = true
    }

    struct State {
        var examples: [Stored] = []
        /// Partition path ("domain=D/month=M") → its segments in creation order.
        var partitions: [String: [Segment]] = [:]
        var nextSeq = 1
    }

    let config: Config
    var state = State()
    var committed = State()

    init(config: Config) { self.config = config }

    // MARK: dedup keys (SPEC.md §5.3), as Swift values

    func norm(_ s: String) -> String {
        switch config.normalize {
        case .none: return s
        case .whitespace, .casefold:
            var out = ""
            var pendingSpace = false
            for sc in s.unicodeScalars {
                if sc.properties.isWhitespace { pendingSpace = !out.isEmpty; continue }
                if pendingSpace { out.append(" "); pendingSpace = false }
                if config.normalize == .casefold { out.append(sc.properties.lowercaseMapping) } else { out.unicodeScalars.append(sc) }
            }
            return out
        }
    }

    func key(of e: Example) -> [String] {
        var k: [String] = ["\(e.shape.rawValue)"]
        let dk = config.dedupKey
        switch (dk.kind, e.content) {
        case let (.promptOnly, .instruction(i, input, _)): k += [norm(i), norm(input)]
        case let (.promptOnly, .promptResponse(p, _)): k += [norm(p)]
        case let (.promptOnly, .chat(ms)): k += ms.filter { $0.role != .assistant }.map { "\($0.role.rawValue):" + norm($0.content) }
        case let (_, .instruction(i, input, o)): k += [norm(i), norm(input), norm(o)]
        case let (_, .promptResponse(p, r)): k += [norm(p), norm(r)]
        case let (_, .chat(ms)): k += ms.map { "\($0.role.rawValue):" + norm($0.content) }
        }
        for f in dk.fields {
            switch f {
            case "source": k.append(e.source.map { "s:" + $0 } ?? "absent")
            case "domain": k.append("s:" + e.domain)
            default:
                // metadata.NAME (one level): absent/null, string, integer or boolean (SPEC.md §5.3 tags).
                let name = String(f.dropFirst("metadata.".count))
                let obj = (try? JSONSerialization.jsonObject(with: Data(e.metadataJSON.utf8))) as? [String: Any] ?? [:]
                switch obj[name] {
                case nil, is NSNull: k.append("absent")
                case let s as String: k.append("s:" + s)
                case let n as NSNumber where String(cString: n.objCType) == "c": k.append("b:" + (n.boolValue ? "true" : "false"))
                case let n as NSNumber: k.append("i:\(n.int64Value)")
                default: k.append("?")
                }
            }
        }
        return k
    }

    static func partition(of e: Example, month: String) -> String { "domain=\(e.domain)/month=\(month)" }

    // MARK: placement

    /// The partition's active segment, created (with the next sequence) on first use.
    mutating func activeIndex(_ p: String) -> Int {
        var segs = state.partitions[p] ?? []
        if let i = segs.lastIndex(where: { !$0.sealed }) { return i }
        segs.append(Segment(seq: state.nextSeq))
        state.nextSeq += 1
        state.partitions[p] = segs
        return segs.count - 1
    }

    mutating func write(_ e: Entry, to p: String) {
        let i = activeIndex(p)
        state.partitions[p]![i].entries.append(e)
    }

    /// Duplicate-seen entries in live segments (SPEC.md §4.4): (target, domain of the partition holding it).
    func duplicateSeen(in s: State) -> [(target: ExampleID, domain: String)] {
        var out: [(ExampleID, String)] = []
        for (p, segs) in s.partitions {
            let domain = String(p.split(separator: "/")[0].dropFirst(7))
            for seg in segs { for case let .duplicateSeen(t) in seg.entries { out.append((t, domain)) } }
        }
        return out
    }

    func liveIndex(key k: [String]) -> Int? { state.examples.firstIndex { $0.live && $0.key == k } }
    func liveIndex(id: ExampleID) -> Int? { state.examples.firstIndex { $0.live && $0.id == id } }

    enum Outcome: Equatable { case inserted, duplicate(ExampleID) }

    /// What the store must answer to an append (`assignedID` is the id the
    /// store returned when the model predicts an insert).
    func predict(_ e: Example) -> Outcome {
        if let i = liveIndex(key: key(of: e)) { return .duplicate(state.examples[i].id) }
        return .inserted
    }

    mutating func append(_ e: Example, month: String, id: ExampleID) -> Outcome {
        let p = Self.partition(of: e, month: month)
        let k = key(of: e)
        if let i = liveIndex(key: k) {
            write(.duplicateSeen(target: state.examples[i].id), to: p)
            return .duplicate(state.examples[i].id)
        }
        state.examples.append(Stored(example: e, id: id, key: k, partition: p))
        write(.example(state.examples.count - 1), to: p)
        return .inserted
    }

    mutating func annotate(_ id: ExampleID, _ a: Annotation) {
        guard let i = liveIndex(id: id) else { return }
        write(.annotation(target: id, a), to: state.examples[i].partition)
    }

    mutating func commit() { committed = state }

    /// Power loss: only committed state survives; recovery seals what was active.
    mutating func crashAndRecover() {
        state = committed
        sealAll()
        committed = state
    }

    /// Clean close and reopen: everything committed and sealed.
    mutating func closeAndReopen() {
        sealAll()
        committed = state
    }

    mutating func sealAll() {
        for (p, segs) in state.partitions {
            state.partitions[p] = segs.filter { !$0.entries.isEmpty }.map { var s = $0; s.sealed = true; return s }
        }
    }

    // MARK: folded view (SPEC.md §4.6)

    struct Folded {
        var original: Example
        var id: ExampleID
        var annotations: [Annotation]
        var excluded = false
        var positive = 0
        var negative = 0
        var corrected: String?
        var content: Content
    }

    /// Annotations of the live example `i`: its kind-4 bodies, then kind-2
    /// entries naming it in its partition, by (segment sequence, position).
    func annotations(of i: Int, in s: State) -> [Annotation] {
        let st = s.examples[i]
        var out: [Annotation] = []
        for seg in (s.partitions[st.partition] ?? []).sorted(by: { $0.seq < $1.seq }) {
            var afterExample = false
            for e in seg.entries {
                switch e {
                case let .example(j): afterExample = j == i
                case let .folded(t, list): if afterExample && t == st.id { out = list + out }; afterExample = false
                case let .annotation(t, a): if t == st.id { out.append(a) }; afterExample = false
                case .duplicateSeen: afterExample = false
                }
            }
        }
        return out
    }

    static func fold(_ e: Example, id: ExampleID, _ list: [Annotation]) -> Folded {
        var f = Folded(original: e, id: id, annotations: list, content: e.content)
        for a in list {
            switch a.kind {
            case let .feedback(p, _, _): if p == .positive { f.positive += 1 } else { f.negative += 1 }
            case .exclude: f.excluded = true
            case .include: f.excluded = false
            case let .correction(text, _):
                f.corrected = text
                switch f.content {
                case let .instruction(i, input, _): f.content = .instruction(instruction: i, input: input, output: text)
                case let .promptResponse(p, _): f.content = .promptResponse(prompt: p, response: text)
                case var .chat(ms):
                    if let k = ms.lastIndex(where: { $0.role == .assistant }) { ms[k].content = text }
                    f.content = .chat(ms)
                }
            }
        }
        return f
    }

    func folded(_ i: Int, in s: State) -> Folded { Self.fold(s.examples[i].example, id: s.examples[i].id, annotations(of: i, in: s)) }

    /// Live examples in scan order: partitions by (domain, month), segments by sequence, then position.
    func scanOrder(in s: State) -> [Int] {
        var out: [Int] = []
        for p in s.partitions.keys.sorted(by: { Self.partitionOrder($0, $1) }) {
            for seg in s.partitions[p]!.sorted(by: { $0.seq < $1.seq }) {
                for case let .example(i) in seg.entries where s.examples[i].live { out.append(i) }
            }
        }
        return out
    }

    static func partitionOrder(_ a: String, _ b: String) -> Bool {
        func parts(_ p: String) -> (String, String) {
            let c = p.split(separator: "/")
            return (String(c[0].dropFirst(7)), String(c[1].dropFirst(6)))
        }
        return parts(a) < parts(b)
    }

    // MARK: compaction (SPEC.md §7.1, §4.4, §4.5)

    /// Returns whether any partition was compacted (the store then committed).
    @discardableResult
    mutating func compactAll(purge: Bool) -> Bool {
        var ranAny = false
        for p in state.partitions.keys.sorted(by: { Self.partitionOrder($0, $1) }) {
            let segs = state.partitions[p]!
            let inputs = segs.filter(\.sealed)
            if inputs.isEmpty { continue }
            let carriesAnnotations = inputs[0].entries.contains { if case .annotation = $0 { return true }; return false }
            if inputs.count == 1 && inputs[0].compacted && !carriesAnnotations && !purge { continue }
            ranAny = true
            // 1. kind-2 bodies of the inputs by target, in order.
            var collected: [ExampleID: [Annotation]] = [:]
            var targetsInOrder: [ExampleID] = []
            for seg in inputs.sorted(by: { $0.seq < $1.seq }) {
                for case let .annotation(t, a) in seg.entries {
                    if collected[t] == nil { targetsInOrder.append(t) }
                    collected[t, default: []].append(a)
                }
            }
            var out: [Entry] = []
            var purged: Set<ExampleID> = []
            for seg in inputs.sorted(by: { $0.seq < $1.seq }) {
                var k = 0
                while k < seg.entries.count {
                    let e = seg.entries[k]
                    k += 1
                    switch e {
                    case let .example(i):
                        var bodies: [Annotation] = []
                        if k < seg.entries.count, case let .folded(t, list) = seg.entries[k], t == state.examples[i].id {
                            bodies = list
                            k += 1
                        }
                        let id = state.examples[i].id
                        bodies += collected.removeValue(forKey: id) ?? []
                        if purge && Self.fold(state.examples[i].example, id: id, bodies).excluded {
                            state.examples[i].live = false
                            purged.insert(id)
                            continue
                        }
                        out.append(.example(i))
                        if !bodies.isEmpty { out.append(.folded(target: id, bodies)) }
                    case let .duplicateSeen(t):
                        if purged.contains(t) { continue }
                        out.append(e)
                    case .annotation, .folded:
                        continue
                    }
                }
            }
            // Annotations whose target was not in the inputs are carried over, by target id.
            for t in targetsInOrder.sorted() {
                for a in collected[t] ?? [] { out.append(.annotation(target: t, a)) }
            }
            var kept = segs.filter { !$0.sealed }
            if !out.isEmpty {
                kept.append(Segment(seq: state.nextSeq, sealed: true, compacted: true, entries: out))
                state.nextSeq += 1
            }
            state.partitions[p] = kept
        }
        if ranAny { commit() }
        return ranAny
    }

    // MARK: export (SPEC.md §8.2, §8.4, §8.5): expected files, byte for byte

    func exportFiles(_ spec: ExportSpec) -> (files: [String: [UInt8]], skipped: Int) {
        exportRows(spec, render: true)
    }

    /// The selected rows per file, for the JSON document (`data.json` /
    /// `NAME.json`) and Parquet (same names, `.parquet`, or the Hive layout).
    func documentRows(_ spec: ExportSpec) -> [String: [Folded]] {
        var out: [String: [Folded]] = [:]
        let ext = spec.format.fileExtension
        if !spec.partitioned {
            if let split = spec.split { for n in split.names { out[n + "." + ext] = [] } } else { out["data." + ext] = [] }
        }
        _ = exportRows(spec, render: false) { name, f in out[name, default: []].append(f) }
        return out
    }

    private func exportRows(_ spec: ExportSpec, render: Bool, row: ((String, Folded) -> Void)? = nil) -> (files: [String: [UInt8]], skipped: Int) {
        let s = committed
        var files: [String: [UInt8]] = [:]
        var skipped = 0
        let ext = spec.format.fileExtension
        if !spec.partitioned {
            if let split = spec.split { for n in split.names { files[n + "." + ext] = [] } } else { files["data." + ext] = [] }
        }
        for i in scanOrder(in: s) {
            let st = s.examples[i]
            let e = st.example
            let month = String(st.partition.split(separator: "/")[1].dropFirst(6))
            if !spec.domains.isEmpty && !spec.domains.contains(e.domain) { continue }
            if let f = spec.fromMonth, month < f.description { continue }
            if let t = spec.toMonth, month > t.description { continue }
            if let q = spec.minQuality { guard let eq = e.qualityScore, eq >= q else { continue } }
            if !spec.tags.isEmpty {
                let ok = spec.allTags ? spec.tags.allSatisfy(e.tags.contains) : spec.tags.contains(where: e.tags.contains)
                if !ok { continue }
            }
            if let src = spec.source, e.source != src { continue }
            if !spec.shapes.isEmpty && !spec.shapes.contains(e.shape) { continue }
            let f = folded(i, in: s)
            if f.excluded && !spec.includeExcluded { continue }
            switch spec.feedback {
            case .dropNegative?: if f.negative > f.positive { continue }
            case .onlyPositive?: if !(f.positive > f.negative) { continue }
            default: break
            }
            var line: [UInt8] = []
            if render {
                guard var l = Self.render(f, schema: spec.schema, systemPrompt: spec.systemPrompt) else { skipped += 1; continue }
                l.append(0x0A)
                line = l
            }
            var name: String
            if let split = spec.split {
                let u = Double(st.id.low >> 11) * 0x1p-53
                var acc = 0.0
                var chosen = split.names.count - 1
                for (k, fr) in split.fractions.enumerated() {
                    acc += fr
                    if u < acc { chosen = k; break }
                }
                name = split.names[chosen]
                if !spec.partitioned { name += "." + ext }
                else { name = "split=\(name)/\(st.partition)/part-00000.\(ext)" }
            } else {
                name = spec.partitioned ? "\(st.partition)/part-00000.\(ext)" : "data.\(ext)"
            }
            files[name, default: []] += line
            row?(name, f)
        }
        return (files, skipped)
    }

    /// One JSONL row (no newline) in a schema of SPEC.md §8.2; nil = not representable.
    static func render(_ f: Folded, schema: JSONLSchema, systemPrompt: String?) -> [UInt8]? {
        var o = JSONOut()
        let e = f.original
        func userTurn(_ c: Content) -> (String, String)? {
            switch c {
            case let .instruction(i, input, out): return (input.isEmpty ? i : i + "\n\n" + input, out)
            case let .promptResponse(p, r): return (p, r)
            case .chat: return nil
            }
        }
        switch schema {
        case .raw:
            o.raw("{\"id\":\"\(f.id.hex)\",\"shape\":\"\(e.shape.name)\"")
            switch e.content {
            case let .instruction(i, input, out): o.field("instruction", i); o.field("input", input); o.field("output", out)
            case let .promptResponse(p, r): o.field("prompt", p); o.field("response", r)
            case let .chat(ms): o.raw(",\"messages\":"); o.messages(ms)
            }
            o.field("domain", e.domain)
            o.raw(",\"timestamp\":\"\(isoMillis(e.timestampMillis))\"")
            o.raw(",\"quality_score\":" + (e.qualityScore.map { "\($0)" } ?? "null"))
            o.raw(",\"tags\":[")
            for (k, t) in e.tags.enumerated() { if k > 0 { o.raw(",") }; o.string(t) }
            o.raw("]")
            o.raw(",\"source\":"); if let s = e.source { o.string(s) } else { o.raw("null") }
            o.raw(",\"metadata\":"); o.metadata(e.metadataJSON)
            o.raw(",\"feedback_positive\":\(f.positive),\"feedback_negative\":\(f.negative),\"excluded\":\(f.excluded),\"corrected\":")
            if let c = f.corrected { o.string(c) } else { o.raw("null") }
            o.raw("}")
        case .alpaca:
            let ins: (String, String, String)
            switch f.content {
            case let .instruction(i, input, out): ins = (i, input, out)
            case let .promptResponse(p, r): ins = (p, "", r)
            case .chat: return nil
            }
            o.raw("{\"instruction\":"); o.string(ins.0)
            o.field("input", ins.1); o.field("output", ins.2)
            o.raw(",\"metadata\":"); o.metadata(e.metadataJSON); o.raw("}")
        case .promptResponse:
            guard let (p, r) = userTurn(f.content) else { return nil }
            o.raw("{\"prompt\":"); o.string(p); o.field("response", r); o.raw("}")
        case .chat:
            var ms: [Message]
            if case let .chat(m) = f.content { ms = m } else {
                let (u, a) = userTurn(f.content)!
                ms = (systemPrompt.map { [Message(role: .system, content: $0)] } ?? []) + [Message(role: .user, content: u), Message(role: .assistant, content: a)]
            }
            o.raw("{\"messages\":"); o.messages(ms); o.raw("}")
        }
        return o.bytes
    }

    static func isoMillis(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}

/// JSON text per SPEC.md §8.2, written independently of JSONWriter.
struct JSONOut {
    var bytes: [UInt8] = []
    mutating func raw(_ s: String) { bytes += Array(s.utf8) }
    mutating func string(_ s: String) {
        bytes.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: raw("\\\"")
            case 0x5C: raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0x08: raw("\\b")
            case 0x0C: raw("\\f")
            case 0..<0x20: raw(String(format: "\\u%04x", Int(b)))
            default: bytes.append(b)
            }
        }
        bytes.append(0x22)
    }
    mutating func field(_ name: String, _ value: String) { raw(",\"\(name)\":"); string(value) }
    mutating func messages(_ ms: [Message]) {
        raw("[")
        for (k, m) in ms.enumerated() {
            if k > 0 { raw(",") }
            raw("{\"role\":\"\(m.role.name)\",\"content\":"); string(m.content); raw("}")
        }
        raw("]")
    }
    /// The stored text, CR and LF written as spaces (§8.2).
    mutating func metadata(_ m: String) { bytes += m.utf8.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 } }
}
