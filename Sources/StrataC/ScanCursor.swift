import Foundation
import Strata
import StrataABI

/// How an example is rendered for C: folded (annotations applied), raw (as
/// ingested), or the Parquet export's row (include/strata.h, strata_store_scan).
enum ExampleView: String {
    case folded, raw, export

    init(code: Int32) throws {
        switch code {
        case 0: self = .folded
        case 1: self = .raw
        case 2: self = .export
        default: throw usage("view must be 0 (folded), 1 (raw) or 2 (export row)", field: "view")
        }
    }

    func render(_ f: FoldedExample) -> [UInt8] {
        var out: [UInt8] = []
        append(f, to: &out)
        return out
    }

    func append(_ f: FoldedExample, to out: inout [UInt8]) {
        switch self {
        case .folded: f.example.appendJSON(to: &out)
        case .raw: f.original.appendJSON(to: &out)
        case .export: Self.appendExportRow(f, to: &out)
        }
    }

    /// The columns of the Parquet export (Exporter.parquetSchema(partitioned: false), SPEC.md §8.7),
    /// in that order: content as ingested, annotations folded into the last four columns.
    static func appendExportRow(_ f: FoldedExample, to out: inout [UInt8]) {
        let e = f.original
        let hasAssistant: Bool
        if case let .chat(ms) = e.content { hasAssistant = ms.contains { $0.role == .assistant } } else { hasAssistant = false }
        let a = FoldedAnnotations(folding: f.annotations, shape: e.shape, hasAssistant: hasAssistant)
        func key(_ k: String) { out.append(contentsOf: ",\"\(k)\":".utf8) }
        func str(_ s: String?) { if let s { JSONWriter.appendString(s, to: &out) } else { out.append(contentsOf: "null".utf8) } }
        out.append(contentsOf: #"{"id":""#.utf8)
        e.id.appendHex(to: &out)
        out.append(contentsOf: #"","shape":""#.utf8)
        out.append(contentsOf: e.shape.name.utf8)
        out.append(UInt8(ascii: "\""))
        key("domain"); str(e.domain)
        key("month"); str(e.month.description)
        key("timestamp"); JSONWriter.appendInt64(e.timestampMillis, to: &out)
        key("quality_score"); if let q = e.qualityScore { JSONWriter.appendDouble(q, to: &out) } else { out.append(contentsOf: "null".utf8) }
        key("tags"); out.append(UInt8(ascii: "["))
        for (i, t) in e.tags.enumerated() { if i > 0 { out.append(UInt8(ascii: ",")) }; str(t) }
        out.append(UInt8(ascii: "]"))
        key("source"); str(e.source)
        var fields: [String?] = [nil, nil, nil, nil, nil]
        var messages: [Message]?
        switch e.content {
        case let .instruction(i, input, o): fields[0] = i; fields[1] = input; fields[2] = o
        case let .promptResponse(p, r): fields[3] = p; fields[4] = r
        case let .chat(ms): messages = ms
        }
        for (k, v) in zip(["instruction", "input", "output", "prompt", "response"], fields) { key(k); str(v) }
        key("messages")
        if let messages {
            out.append(UInt8(ascii: "["))
            for (i, m) in messages.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: #"{"role":""#.utf8)
                out.append(contentsOf: m.role.name.utf8)
                out.append(contentsOf: #"","content":"#.utf8)
                str(m.content)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        } else {
            out.append(contentsOf: "null".utf8)
        }
        key("metadata"); str(e.metadataJSON)
        key("feedback_positive"); JSONWriter.appendInt64(a.feedbackPositive, to: &out)
        key("feedback_negative"); JSONWriter.appendInt64(a.feedbackNegative, to: &out)
        key("excluded"); out.append(contentsOf: (a.excluded ? "true" : "false").utf8)
        key("corrected"); str(a.corrected)
        out.append(UInt8(ascii: "}"))
    }
}

/// A scan's filter and rendering, parsed from strata_*_scan's filter JSON.
struct ScanSpec {
    var filter: ScanFilter
    var view: ExampleView
    var batchBytes: Int

    init(_ json: UnsafePointer<CChar>?) throws {
        let o = try Options(json, what: "scan filter")
        try o.only(["domains", "from_month", "to_month", "min_quality", "tags", "source", "shapes", "include_excluded", "view", "batch_bytes",
                    "where", "from", "to"])
        let domains = try o.strings("domains")
        let minQ = try o.double("min_quality")
        if let minQ, !(0...1).contains(minQ) { throw usage("min_quality must be between 0 and 1", field: "min_quality") }
        let tags = Set(try o.strings("tags"))
        let source = try o.string("source")
        let shapes = Set(try o.strings("shapes").map { n -> Shape in
            guard let s = Shape(name: n) else { throw usage("shape '\(n)' is not one of instruction, prompt_response, chat", field: "shapes") }
            return s
        })
        let needsPredicate = minQ != nil || !tags.isEmpty || source != nil || !shapes.isEmpty
        // The same predicate as `strata scan` and the export's filters.
        filter = ScanFilter(domains: domains.isEmpty ? nil : Set(domains), fromMonth: try o.month("from_month"), toMonth: try o.month("to_month"),
                            predicate: needsPredicate ? { @Sendable e in
                                if let minQ { guard let q = e.qualityScore, q >= minQ else { return false } }
                                if !tags.isEmpty, !e.tags.contains(where: { tags.contains($0) }) { return false }
                                if let source, e.source != source { return false }
                                if !shapes.isEmpty, !shapes.contains(e.shape) { return false }
                                return true
                            } : nil,
                            includeExcluded: try o.bool("include_excluded") ?? false)
        if let selection = try o.selection() { filter.require(selection) }
        let v = try o.string("view") ?? "folded"
        guard let view = ExampleView(rawValue: v) else { throw usage("view must be folded, raw or export", field: "view") }
        self.view = view
        batchBytes = max(1, try o.int("batch_bytes") ?? (1 << 20))
    }
}

/// A streaming scan: the library's callback scan runs on its own thread and
/// hands batches (JSON array text) through a queue of at most two, so memory
/// stays bounded whatever the store's size. Closing sets `cancelled`, which
/// makes the producer's next callback return false, and waits for the thread.
// @unchecked: the queue and flags are touched only under `condition`.
final class ScanCursor: @unchecked Sendable {
    typealias ScanFunction = @Sendable (ScanFilter, (FoldedExample) throws -> Bool) throws -> Void

    private let owner: GuardedHandle
    private let condition = NSCondition()
    private var ready: [[UInt8]] = []
    private var finished = false
    private var failure: Error?
    private var cancelled = false
    private var reported = false
    static let depth = 2

    init(owner: GuardedHandle, spec: ScanSpec, scan: @escaping ScanFunction) {
        self.owner = owner
        owner.cursorOpened()
        let thread = Thread { [self] in produce(spec: spec, scan: scan) }
        thread.stackSize = 4 << 20
        thread.start()
    }

    private func produce(spec: ScanSpec, scan: ScanFunction) {
        var batch: [UInt8] = [UInt8(ascii: "[")]
        batch.reserveCapacity(spec.batchBytes + (64 << 10))
        var count = 0
        var error: Error?
        do {
            try scan(spec.filter) { f in
                if count > 0 { batch.append(UInt8(ascii: ",")) }
                spec.view.append(f, to: &batch)
                count += 1
                guard batch.count >= spec.batchBytes else { return true }
                batch.append(UInt8(ascii: "]"))
                let more = push(batch)
                batch.removeAll(keepingCapacity: true)
                batch.append(UInt8(ascii: "["))
                count = 0
                return more
            }
            if count > 0 {
                batch.append(UInt8(ascii: "]"))
                _ = push(batch)
            }
        } catch let e {
            error = e
        }
        // The scan returned: the handle's lock is free again, so the handle is usable even before close.
        owner.cursorClosed()
        condition.lock()
        failure = error
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Queues a batch, waiting while the queue is full; false once cancelled.
    private func push(_ batch: [UInt8]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while ready.count >= Self.depth && !cancelled { condition.wait() }
        if cancelled { return false }
        ready.append(batch)
        condition.broadcast()
        return true
    }

    /// The next batch, nil at the end; throws the scan's failure once.
    func next() throws -> [UInt8]? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty && !finished { condition.wait() }
        if !ready.isEmpty {
            let b = ready.removeFirst()
            condition.broadcast()
            return b
        }
        if let failure, !reported {
            reported = true
            throw failure
        }
        return nil
    }

    /// Cancels the scan and waits for its thread to end (it then released the handle's lock).
    func close() {
        condition.lock()
        cancelled = true
        ready.removeAll()
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}

@_cdecl("strata_cursor_next")
public func strata_cursor_next(_ cursor: OpaquePointer?, _ batch: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                               _ len: UnsafeMutablePointer<Int>?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        batch?.pointee = nil
        len?.pointee = 0
        let c = try unbox(cursor, ScanCursor.self)
        guard let b = try c.next() else { return }
        try giveBuffer(b, batch, len)
    }
}

@_cdecl("strata_cursor_close")
public func strata_cursor_close(_ cursor: OpaquePointer?) {
    guard let cursor else { return }
    Unmanaged<ScanCursor>.fromOpaque(UnsafeRawPointer(cursor)).takeUnretainedValue().close()
    release(cursor, ScanCursor.self)
}
