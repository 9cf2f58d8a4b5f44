import Foundation
import Strata
import StrataABI

/// What `strata_store *` points at: the Swift `Store`, plus the parser state
/// of the single-record append path (reused across calls, under `parseLock`).
// @unchecked: the parser state is used only under `parseLock`; `Store` locks itself.
final class StoreHandle: GuardedHandle, @unchecked Sendable {
    let store: Store
    let parseLock = NSLock()
    var parser: IngestLineParser
    var draft = ExampleDraft()
    var idScratch = ByteWriter(capacity: 4096)
    /// The open options every append and ingest on this handle applies ("unknown_fields", "hash_fields").
    let unknownKeys: IngestMapping.UnknownKeyPolicy
    var hasher: FieldHasher?  // apply(to:) keeps scratch state: used under parseLock (appends) or copied (ingest)

    init(store: Store, unknownKeys: IngestMapping.UnknownKeyPolicy = .keep, hashFields: [String] = []) throws {
        self.store = store
        self.unknownKeys = unknownKeys
        var mapping = IngestMapping()
        mapping.unknownKeys = unknownKeys
        parser = try IngestLineParser(mapping: mapping)
        hasher = hashFields.isEmpty ? nil : try FieldHasher(fields: hashFields, secret: try store.fieldHashSecret())
    }
}

extension StoreOptions.CommitPolicy {
    /// "batch" | "manual" | seconds, as strata_store_open's "commit" option.
    init(option value: Any?) throws {
        switch value {
        case nil, is NSNull: self = .everyBatch
        case let s as String where s == "batch": self = .everyBatch
        case let s as String where s == "manual": self = .manual
        case let n as NSNumber where !(value is Bool) && n.doubleValue > 0 && n.doubleValue.isFinite: self = .interval(seconds: n.doubleValue)
        default: throw usage("\"commit\" must be \"batch\", \"manual\" or a positive number of seconds", field: "commit")
        }
    }
}

/// "dedup_key" and "normalize" as `strata init --dedup-key/--normalize` spells them (SPEC.md §5.3);
/// nil when neither is given, so an existing store keeps its key and a new one gets `content`.
/// Errors name the option as the caller spelled it.
func dedupKeyOption(_ o: Options) throws -> DedupKey? {
    let key = try o.string("dedup_key"), normalize = try o.string("normalize")
    guard key != nil || normalize != nil else { return nil }
    do {
        return try DedupKey(parsing: key ?? "content", normalize: normalize ?? "none")
    } catch var e as StrataError {
        e.field = e.field == "normalize" ? "normalize" : "dedup_key"
        throw e
    }
}

@_cdecl("strata_store_open")
public func strata_store_open(_ path: UnsafePointer<CChar>?, _ optionsJSON: UnsafePointer<CChar>?,
                              _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        guard let out else { throw usage("out must not be NULL") }
        out.pointee = nil
        let p = try argument(path, "path")
        let o = try Options(optionsJSON, what: "store options")
        try o.only(["create", "commit", "check_permissions", "dedup_key", "normalize", "unknown_fields", "hash_fields", "external_ids"])
        let externalIds = try o.strings("external_ids")
        for e in externalIds {
            do { _ = try ExternalIdIndex.validate(path: e) } catch var error as StrataError {
                error.field = "external_ids"
                throw error
            }
        }
        var options = StoreOptions()
        options.createIfMissing = try o.bool("create") ?? true
        options.commitPolicy = try StoreOptions.CommitPolicy(option: o.values["commit"])
        options.checkPermissions = try o.bool("check_permissions") ?? true
        options.dedupKey = try dedupKeyOption(o)
        let store: Store
        do {
            store = try Store.open(at: p, options: options)
        } catch var e as StrataError where e.field == "dedupKey" {
            e.field = "dedup_key"  // the option's name in this API
            throw e
        }
        do {
            var parsed = IngestMapping()  // the option parsed as `strata ingest --unknown-fields` parses it
            try parsed.setUnknownKeys(named: try o.string("unknown_fields") ?? "keep", option: "unknown_fields")
            let handle = try StoreHandle(store: store, unknownKeys: parsed.unknownKeys, hashFields: try o.strings("hash_fields"))
            // Declaring an external id writes its index from what the store holds (as `strata init --external-id`).
            if !externalIds.isEmpty {
                let reader = try StoreReader.open(at: p)
                defer { reader.close() }
                for e in externalIds where !ExternalIdIndex.declared(store: p).contains(e) { try reader.refreshExternalIdIndex(path: e) }
            }
            out.pointee = box(handle)
        } catch {
            try? store.close()  // a bad option must not leave the store locked
            throw error
        }
    }
}

@_cdecl("strata_store_close")
public func strata_store_close(_ handle: OpaquePointer?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    guard let handle else { return 0 }
    return abiCall(err) {
        let h = try unbox(handle, StoreHandle.self)
        try h.checkNoCursor()
        defer { release(handle, StoreHandle.self) }
        try h.store.close()
        // Like `strata ingest`: the declared external-id indexes cover what was written, so lookups stay a few reads.
        try ExternalIdIndex.refreshAll(store: h.store.path)
    }
}

@_cdecl("strata_store_append")
public func strata_store_append(_ handle: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ len: Int,
                                _ inserted: UnsafeMutablePointer<Int32>?, _ idOut: UnsafeMutablePointer<CChar>?,
                                _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        let h = try unbox(handle, StoreHandle.self)
        try h.checkNoCursor()
        guard let json else { throw usage("json must not be NULL") }
        h.parseLock.lock()
        defer { h.parseLock.unlock() }
        try h.parser.parse(UnsafeRawBufferPointer(start: json, count: len), into: &h.draft)
        h.hasher?.apply(to: &h.draft)
        try ExampleValidation.validate(h.draft)
        if let claimed = h.parser.id {
            // An `id` in the record must be the content's id (as in ingest).
            let id = CanonicalContent.id(of: h.draft, scratch: &h.idScratch)
            if claimed != id { throw StrataError(.invalidInput, "id \(claimed) does not match the content's id \(id)", field: "id") }
        }
        let outcome = try h.store.append(draft: &h.draft)
        inserted?.pointee = outcome.isDuplicate ? 0 : 1
        if let idOut {
            let hex = Array(outcome.id.hex.utf8)
            for (i, b) in hex.enumerated() { idOut[i] = CChar(bitPattern: b) }
            idOut[hex.count] = 0
        }
    }
}

@_cdecl("strata_store_ingest")
public func strata_store_ingest(_ handle: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ len: Int, _ inputPath: UnsafePointer<CChar>?,
                                _ optionsJSON: UnsafePointer<CChar>?, _ result: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ resultLen: UnsafeMutablePointer<Int>?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        let h = try unbox(handle, StoreHandle.self)
        try h.checkNoCursor()
        result?.pointee = nil
        let o = try Options(optionsJSON, what: "ingest options")
        try o.only(["mapping", "default_domain", "naive_timestamps_utc", "timestamp_now", "default_timestamp", "source", "max_rejects",
                    "defer_commit"])
        var specs: [String] = []
        if o.has("mapping") {
            guard let m = o.values["mapping"] as? [String: Any] else { throw usage("\"mapping\" must be an object {target: source path}", field: "mapping") }
            for (target, source) in m.sorted(by: { $0.key < $1.key }) {
                guard let s = source as? String else { throw usage("mapping of \(target) must be a string (a dotted source path, or \"\" to ignore)", field: target) }
                specs.append("\(target)=\(s)")
            }
        }
        var mapping = try IngestMapping(specs)
        mapping.defaultDomain = try o.string("default_domain")
        mapping.naiveTimestampsAreUTC = try o.bool("naive_timestamps_utc") ?? false
        mapping.unknownKeys = h.unknownKeys
        if try o.bool("timestamp_now") == true { mapping.defaultTimestampMillis = Int64(Date().timeIntervalSince1970 * 1000) }
        if let text = try o.string("default_timestamp") {
            guard mapping.defaultTimestampMillis == nil else { throw usage("give timestamp_now or default_timestamp, not both", field: "default_timestamp") }
            try mapping.setDefaultTimestamp(text, option: "default_timestamp")
        }
        let maxRejects = try o.int("max_rejects") ?? 10_000
        let ingester = try Ingester(store: h.store, mapping: mapping)
        ingester.fieldHasher = h.hasher
        let policy = h.store.options.commitPolicy
        // The policy decides the commits; only "batch" keeps ingest's periodic commits of large inputs.
        if policy != .everyBatch { ingester.commitEveryBytes = .max }
        var rejects: [[String: Any]] = []
        var truncated = false
        ingester.onReject = { r in
            guard rejects.count < maxRejects else { truncated = true; return }
            rejects.append([
                "line": r.error.line.map { $0 as Any } ?? NSNull(), "field": r.error.field.map { $0 as Any } ?? NSNull(),
                "reason": r.error.message, "code": r.error.code.rawValue, "source": r.source,
            ])
        }
        if let data {
            let bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: len))
            try ingester.ingest(data: bytes, source: try o.string("source") ?? "<memory>")
        } else {
            try ingester.ingest(path: try argument(inputPath, "input_path"))
        }
        let deferCommit = try o.bool("defer_commit") ?? false
        switch policy {
        case _ where deferCommit: break
        case .everyBatch: try ingester.commit()
        case .interval: try h.store.applyCommitPolicy()
        case .manual: break
        }
        let s = ingester.summary
        try giveJSON([
            "read": s.read, "inserted": s.inserted, "duplicates": s.duplicates, "rejected": s.rejected, "skipped": s.skipped,
            "bytes": s.bytes, "commits": s.commits, "rejects": rejects, "rejects_truncated": truncated,
            "unknown_fields": s.unknownFields, "records_with_unknown_fields": s.recordsWithUnknownFields,
        ] as [String: Any], result, resultLen)
    }
}

@_cdecl("strata_store_commit")
public func strata_store_commit(_ handle: OpaquePointer?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        let h = try unbox(handle, StoreHandle.self)
        try h.checkNoCursor()
        try h.store.commit()
    }
}

@_cdecl("strata_store_get")
public func strata_store_get(_ handle: OpaquePointer?, _ idHex: UnsafePointer<CChar>?, _ view: Int32,
                             _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ len: UnsafeMutablePointer<Int>?,
                             _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        json?.pointee = nil
        let h = try unbox(handle, StoreHandle.self)
        try getExample(h, idHex, view, json, len, h.store.getFolded)
    }
}

@_cdecl("strata_store_annotate")
public func strata_store_annotate(_ handle: OpaquePointer?, _ idHex: UnsafePointer<CChar>?, _ annotationJSON: UnsafePointer<CChar>?,
                                  _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        let h = try unbox(handle, StoreHandle.self)
        try h.checkNoCursor()
        let id = try exampleID(idHex)
        let o = try Options(annotationJSON, what: "annotation")
        try o.only(["feedback", "rating", "comment", "correction", "exclude", "reason"])
        let reason = try o.string("reason")
        var facts: [Annotation] = []
        if let fb = try o.string("feedback") {
            guard let p: Annotation.Polarity = fb == "positive" ? .positive : fb == "negative" ? .negative : nil else {
                throw StrataError(.invalidInput, "feedback must be \"positive\" or \"negative\", not '\(fb)'", field: "feedback")
            }
            facts.append(.feedback(p, rating: try o.int("rating").map(Int64.init), comment: try o.string("comment"), reason: reason))
        } else if o.has("rating") || o.has("comment") {
            throw StrataError(.invalidInput, "a rating or comment needs \"feedback\": \"positive\" or \"negative\"", field: o.has("rating") ? "rating" : "comment")
        }
        if let c = try o.string("correction") { facts.append(.correction(c, reason: reason)) }
        if let x = try o.bool("exclude") { facts.append(x ? .exclude(reason: reason) : .include(reason: reason)) }
        guard !facts.isEmpty else {
            throw StrataError(.invalidInput, "nothing to record: give feedback, correction or exclude", field: "annotation")
        }
        for a in facts { try h.store.annotate(id, a) }
    }
}

@_cdecl("strata_store_scan")
public func strata_store_scan(_ handle: OpaquePointer?, _ filterJSON: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                              _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        out?.pointee = nil
        let h = try unbox(handle, StoreHandle.self)
        let store = h.store
        try openScan(h, filterJSON, out) { filter, body in try store.scanFolded(filter, body) }
    }
}
