import Foundation
@testable import Strata

/// The real file system, recording which files a store opens and how many
/// bytes it reads from each (through `readFile` and every opened file's `read`).
// @unchecked: `read` and `opened` are touched only under `lock`.
final class RecordingFileSystem: ForwardingFileSystem, @unchecked Sendable {
    let base: any FileSystem = PosixFileSystem.shared
    private let lock = NSLock()
    private var read: [String: Int] = [:]
    private var opened: Set<String> = []

    func bytesRead(_ path: String) -> Int { lock.withLock { read[path] ?? 0 } }
    func note(open path: String) { _ = lock.withLock { opened.insert(path) } }
    func note(read path: String, _ n: Int) { lock.withLock { read[path, default: 0] += n } }
    /// Segment files opened (for reading or writing) or read.
    var segmentsTouched: Set<String> {
        lock.withLock { opened.union(read.keys).filter { $0.hasSuffix(".strata") } }
    }

    func openReadable(_ path: String) throws -> ReadableFile {
        note(open: path)
        return RecordingReadable(try base.openReadable(path), self)
    }
    func openWritable(_ path: String, mode: UInt32) throws -> WritableFile {
        note(open: path)
        return try base.openWritable(path, mode: mode)
    }
    func createNew(_ path: String, mode: UInt32) throws -> WritableFile {
        note(open: path)
        return try base.createNew(path, mode: mode)
    }
    func readFile(_ path: String) throws -> [UInt8] {
        note(open: path)
        let b = try base.readFile(path)
        note(read: path, b.count)
        return b
    }
}

private final class RecordingReadable: ReadableFile {
    let inner: ReadableFile
    let fs: RecordingFileSystem
    init(_ inner: ReadableFile, _ fs: RecordingFileSystem) { self.inner = inner; self.fs = fs }
    var path: String { inner.path }
    func currentSize() throws -> Int64 { try inner.currentSize() }
    func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        let n = try inner.read(at: offset, count: count, into: &buffer)
        fs.note(read: inner.path, n)
        return n
    }
    func close() { inner.close() }
}
