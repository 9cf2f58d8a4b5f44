import Foundation
import Strata
import StrataABI

/// What `strata_reader *` points at.
// @unchecked: inherited from GuardedHandle (not final); its own state is one `let` of a Sendable reader.
final class ReaderHandle: GuardedHandle, @unchecked Sendable {
    let reader: StoreReader
    init(reader: StoreReader) { self.reader = reader }
}

@_cdecl("strata_reader_open")
public func strata_reader_open(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                               _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        guard let out else { throw usage("out must not be NULL") }
        out.pointee = nil
        out.pointee = box(ReaderHandle(reader: try StoreReader.open(at: try argument(path, "path"))))
    }
}

@_cdecl("strata_reader_close")
public func strata_reader_close(_ handle: OpaquePointer?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    guard let handle else { return 0 }
    return abiCall(err) {
        let h = try unbox(handle, ReaderHandle.self)
        try h.checkNoCursor()
        h.reader.close()
        release(handle, ReaderHandle.self)
    }
}

@_cdecl("strata_reader_get")
public func strata_reader_get(_ handle: OpaquePointer?, _ idHex: UnsafePointer<CChar>?, _ view: Int32,
                              _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ len: UnsafeMutablePointer<Int>?,
                              _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        json?.pointee = nil
        let h = try unbox(handle, ReaderHandle.self)
        try getExample(h, idHex, view, json, len, h.reader.getFolded)
    }
}

@_cdecl("strata_reader_lookup")
public func strata_reader_lookup(_ handle: OpaquePointer?, _ pathArg: UnsafePointer<CChar>?, _ valueArg: UnsafePointer<CChar>?, _ view: Int32,
                                 _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ len: UnsafeMutablePointer<Int>?,
                                 _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        json?.pointee = nil
        let h = try unbox(handle, ReaderHandle.self)
        try h.checkNoCursor()
        let v = try ExampleView(code: view)
        let found = try h.reader.lookup(externalId: try argument(pathArg, "path"), value: try argument(valueArg, "value"))
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (i, f) in found.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += v.render(f)
        }
        out.append(UInt8(ascii: "]"))
        try giveBuffer(out, json, len)
    }
}

@_cdecl("strata_reader_scan")
public func strata_reader_scan(_ handle: OpaquePointer?, _ filterJSON: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                               _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        out?.pointee = nil
        let h = try unbox(handle, ReaderHandle.self)
        let reader = h.reader
        try openScan(h, filterJSON, out) { filter, body in try reader.scanFolded(filter, body) }
    }
}

@_cdecl("strata_reader_partitions")
public func strata_reader_partitions(_ handle: OpaquePointer?, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                     _ len: UnsafeMutablePointer<Int>?, _ err: UnsafeMutablePointer<strata_error>?) -> Int32 {
    abiCall(err) {
        json?.pointee = nil
        let h = try unbox(handle, ReaderHandle.self)
        try h.checkNoCursor()
        try giveJSON(h.reader.partitions.map { ["domain": $0.domain, "month": $0.month.description] }, json, len)
    }
}
