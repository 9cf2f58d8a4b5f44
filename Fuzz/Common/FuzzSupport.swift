// Shared by every fuzz target (compiled into each; see tools/fuzz.sh).
import Foundation
@testable import Strata

/// Any error a decoder may throw on hostile bytes must be a StrataError;
/// anything else (or a trap) is a finding.
@inline(__always) func expectStrataError(_ body: () throws -> Void) {
    do { try body() } catch is StrataError {} catch {
        fatalError("decoder threw a non-Strata error: \(error)")
    }
}

/// A read-only in-memory file system holding one file, so the segment
/// reader runs over fuzz bytes without touching the disk.
final class OneFileSystem: FileSystem, Sendable {
    let path: String
    let bytes: [UInt8]
    init(path: String, bytes: [UInt8]) { self.path = path; self.bytes = bytes }
    private func no(_ p: String) -> StrataError { StrataError(.notFound, "not in the fuzz FS", path: p) }
    func openWritable(_ path: String, mode: UInt32) throws -> WritableFile { throw no(path) }
    func openReadable(_ p: String) throws -> ReadableFile {
        guard p == path else { throw no(p) }
        return OneReadableFile(path: p, bytes: bytes)
    }
    func readFile(_ p: String) throws -> [UInt8] { guard p == path else { throw no(p) }; return bytes }
    func fileExists(_ p: String) -> Bool { p == path }
    func isDirectory(_ p: String) -> Bool { false }
    func fileSize(_ p: String) throws -> Int64 { guard p == path else { throw no(p) }; return Int64(bytes.count) }
    func createDirectory(_ p: String, mode: UInt32) throws { throw no(p) }
    func listDirectory(_ p: String) throws -> [String] { [] }
    func rename(_ from: String, to: String) throws { throw no(from) }
    func remove(_ p: String) throws { throw no(p) }
    func syncDirectory(_ p: String) throws {}
    func truncate(_ p: String, to size: Int64) throws { throw no(p) }
    func lockExclusive(_ p: String) throws -> FileLock { throw no(p) }
    func ownerAndMode(_ p: String) throws -> (uid: UInt32, mode: UInt32) { (0, 0o700) }
}

final class OneReadableFile: ReadableFile {
    let path: String
    let bytes: [UInt8]
    init(path: String, bytes: [UInt8]) { self.path = path; self.bytes = bytes }
    func currentSize() throws -> Int64 { Int64(bytes.count) }
    func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        buffer.removeAll(keepingCapacity: true)
        guard offset >= 0, offset < Int64(bytes.count), count > 0 else { return 0 }
        let end = min(bytes.count, Int(offset) + count)
        buffer.append(contentsOf: bytes[Int(offset)..<end])
        return end - Int(offset)
    }
    func close() {}
}
