import Foundation
import Strata
import StrataABI

// Shared plumbing of the C ABI (include/strata.h): status codes, the error
// struct, returned buffers, option parsing, and handle boxing. Every exported
// function runs its body through `abiCall`, so no Swift error or trap path
// escapes to C as anything but a status code and a filled strata_error.

/// The library version reported by `strata_version` (semantic version of the package).
let strataLibraryVersion: StaticString = "0.1.0"

/// StrataError.Code → STRATA_E_* (include/strata.h).
func statusCode(_ code: StrataError.Code) -> Int32 {
    switch code {
    case .corruption: 1
    case .unsupportedVersion: 2
    case .io: 3
    case .noSpace: 4
    case .locked: 5
    case .poisoned: 6
    case .invalidInput: 7
    case .notFound: 8
    case .usage: 9
    case .permission: 10
    default: 99
    }
}

/// `strdup` of a Swift string (malloc'd, NUL-terminated; freed by strata_free / strata_error_clear).
func cString(_ s: String?) -> UnsafeMutablePointer<CChar>? {
    guard let s else { return nil }
    return strdup(s)
}

/// Fills `err` (when not NULL) and returns the status code.
func report(_ e: StrataError, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    let status = statusCode(e.code)
    guard let err else { return status }
    clearError(err)
    var message = e.message
    if let cause = e.cause { message += " (cause: \(cause))" }
    err.pointee.code = status
    err.pointee.code_name = cString(e.code.rawValue)
    err.pointee.message = cString(message)
    err.pointee.path = cString(e.path)
    err.pointee.offset = e.offset ?? -1
    err.pointee.line = e.line.map(Int64.init) ?? -1
    err.pointee.field = cString(e.field)
    return status
}

func clearError(_ err: UnsafeMutablePointer<strata_error>) {
    free(err.pointee.code_name)
    free(err.pointee.message)
    free(err.pointee.path)
    free(err.pointee.field)
    err.pointee = strata_error(code: 0, code_name: nil, message: nil, path: nil, offset: -1, line: -1, field: nil)
}

/// Runs an ABI function body: 0 on success, else the error's status (and `err` filled).
func abiCall(_ err: UnsafeMutablePointer<strata_error>?, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return 0
    } catch let e as StrataError {
        return report(e, err)
    } catch {
        return report(StrataError(.io, "\(error)", cause: error), err)
    }
}

func usage(_ message: String, field: String? = nil) -> StrataError { StrataError(.usage, message, field: field) }

/// A required C string argument.
func argument(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String {
    guard let p else { throw usage("\(name) must not be NULL", field: name) }
    return String(cString: p)
}

/// Hands bytes to C as a malloc'd, NUL-terminated buffer.
func giveBuffer(_ bytes: [UInt8], _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ len: UnsafeMutablePointer<Int>?) throws {
    guard let out else { throw usage("output pointer must not be NULL") }
    guard let mem = malloc(bytes.count + 1) else { throw StrataError(.io, "out of memory for a \(bytes.count)-byte result") }
    bytes.withUnsafeBytes { src in
        if let base = src.baseAddress { memcpy(mem, base, bytes.count) }
    }
    mem.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self)
    out.pointee = mem.assumingMemoryBound(to: CChar.self)
    len?.pointee = bytes.count
}

/// Serializes a JSON-compatible object (JSONSerialization) and hands it to C.
func giveJSON(_ object: Any, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ len: UnsafeMutablePointer<Int>?) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
    try giveBuffer([UInt8](data), out, len)
}

/// The options object passed as JSON text (NULL or empty = no options).
struct Options {
    let values: [String: Any]
    let what: String

    init(_ p: UnsafePointer<CChar>?, what: String) throws {
        self.what = what
        guard let p, p.pointee != 0 else {
            values = [:]
            return
        }
        let text = String(cString: p)
        guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let dict = obj as? [String: Any] else {
            throw usage("\(what) must be a JSON object")
        }
        values = dict
    }

    func has(_ key: String) -> Bool { values[key].map { !($0 is NSNull) } ?? false }

    func string(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        guard let s = values[key] as? String else { throw usage("\(what): \"\(key)\" must be a string", field: key) }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard has(key) else { return nil }
        guard let b = values[key] as? Bool else { throw usage("\(what): \"\(key)\" must be true or false", field: key) }
        return b
    }

    func double(_ key: String) throws -> Double? {
        guard has(key) else { return nil }
        guard let n = values[key] as? NSNumber else {
            throw usage("\(what): \"\(key)\" must be a number", field: key)
        }
        return n.doubleValue
    }

    func int(_ key: String) throws -> Int? {
        guard let d = try double(key) else { return nil }
        guard d.rounded() == d, abs(d) < 9e15 else { throw usage("\(what): \"\(key)\" must be an integer", field: key) }
        return Int(d)
    }

    func strings(_ key: String) throws -> [String] {
        guard has(key) else { return [] }
        if let s = values[key] as? String { return [s] }
        guard let a = values[key] as? [Any], let list = a as? [String] else {
            throw usage("\(what): \"\(key)\" must be a list of strings", field: key)
        }
        return list
    }

    func month(_ key: String) throws -> Month? {
        guard let s = try string(key) else { return nil }
        guard let m = Month(s) else { throw usage("\(what): \"\(key)\" must be YYYY-MM, not '\(s)'", field: key) }
        return m
    }

    /// Rejects keys this call does not know (a typo must not be silently ignored).
    func only(_ known: Set<String>) throws {
        for k in values.keys where !known.contains(k) {
            throw usage("\(what): unknown option \"\(k)\" (known: \(known.sorted().joined(separator: ", ")))", field: k)
        }
    }
}

extension Options {
    /// "where" (one predicate or a list, ANDed), "from" and "to" (timestamps):
    /// the selection of `strata scan/export --where/--from/--to` (docs/QUERY.md).
    func selection() throws -> RecordPredicate? {
        do {
            return try RecordPredicate.selection(predicates: try strings("where"), from: try string("from"), to: try string("to"))
        } catch var e as StrataError where e.field == nil || e.field == "--where" {
            e.field = "where"  // a predicate's syntax error, named as the CLI option
            throw e
        }
    }
}

/// An id argument: 32 hex digits.
func exampleID(_ p: UnsafePointer<CChar>?) throws -> ExampleID {
    let s = try argument(p, "id")
    guard let id = ExampleID(hex: s.lowercased()) else {
        throw StrataError(.invalidInput, "id '\(s)' is not 32 hex digits", field: "id")
    }
    return id
}

/// What a store or reader handle shares with its cursors: the count of open
/// cursors, checked by every call so that a call made while a scan holds the
/// handle's lock fails instead of deadlocking.
// @unchecked: not final (store and reader handles subclass it); `openCursors` is touched only under `state`.
class GuardedHandle: @unchecked Sendable {
    private let state = NSLock()
    private var openCursors = 0

    func cursorOpened() { state.lock(); openCursors += 1; state.unlock() }
    func cursorClosed() { state.lock(); openCursors -= 1; state.unlock() }

    func checkNoCursor() throws {
        state.lock()
        defer { state.unlock() }
        if openCursors > 0 {
            throw usage("a scan of this handle is in progress (it holds the handle's lock); exhaust or close the scan first, or use a separate reader")
        }
    }
}

/// `strata_store_get` and `strata_reader_get`: the example `idHex` in `view`
/// as a JSON buffer, or no buffer (length 0) when the handle has no such example.
func getExample(_ h: GuardedHandle, _ idHex: UnsafePointer<CChar>?, _ view: Int32,
                _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ len: UnsafeMutablePointer<Int>?,
                _ getFolded: (ExampleID) throws -> FoldedExample?) throws {
    try h.checkNoCursor()
    let v = try ExampleView(code: view)
    len?.pointee = 0
    guard let f = try getFolded(try exampleID(idHex)) else { return }
    try giveBuffer(v.render(f), json, len)
}

/// `strata_store_scan` and `strata_reader_scan`: a cursor over `scan` with the filter `filterJSON`.
func openScan(_ h: GuardedHandle, _ filterJSON: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
              _ scan: @escaping ScanCursor.ScanFunction) throws {
    guard let out else { throw usage("out must not be NULL") }
    try h.checkNoCursor()
    let spec = try ScanSpec(filterJSON)
    out.pointee = box(ScanCursor(owner: h, spec: spec, scan: scan))
}

/// Handle boxing: a retained Swift object behind an opaque C pointer.
func box<T: AnyObject>(_ object: T) -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(object).toOpaque()) }
func unbox<T: AnyObject>(_ p: OpaquePointer?, _ type: T.Type) throws -> T {
    guard let p else { throw usage("handle must not be NULL") }
    return Unmanaged<T>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}
func release<T: AnyObject>(_ p: OpaquePointer, _ type: T.Type) { Unmanaged<T>.fromOpaque(UnsafeRawPointer(p)).release() }

@_cdecl("strata_version")
public func strata_version() -> UnsafePointer<CChar> {
    UnsafeRawPointer(strataLibraryVersion.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("strata_abi_version")
public func strata_abi_version() -> UInt32 { UInt32(STRATA_ABI_VERSION) }

@_cdecl("strata_error_clear")
public func strata_error_clear(_ err: UnsafeMutablePointer<strata_error>?) {
    if let err { clearError(err) }
}

@_cdecl("strata_free")
public func strata_free(_ p: UnsafeMutableRawPointer?) { free(p) }
