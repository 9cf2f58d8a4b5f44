import Foundation

/// The small file-system interface all store I/O goes through (SPEC.md §7
/// lists the durability steps). `PosixFileSystem` is the real one; tests
/// substitute a crash-simulating implementation.
public protocol FileSystem: AnyObject, Sendable {
    /// Opens (creating with `mode` if missing) a file for appending writes.
    func openWritable(_ path: String, mode: UInt32) throws -> WritableFile
    func openReadable(_ path: String) throws -> ReadableFile
    /// Whole-file read (small files: manifest, index headers).
    func readFile(_ path: String) throws -> [UInt8]
    func fileExists(_ path: String) -> Bool
    func isDirectory(_ path: String) -> Bool
    func fileSize(_ path: String) throws -> Int64
    /// Creates a directory and missing parents with `mode`.
    func createDirectory(_ path: String, mode: UInt32) throws
    func listDirectory(_ path: String) throws -> [String]
    /// Atomic rename (replaces `to`).
    func rename(_ from: String, to: String) throws
    func remove(_ path: String) throws
    /// Makes a directory's entries (creations, renames, removals) durable.
    func syncDirectory(_ path: String) throws
    func truncate(_ path: String, to size: Int64) throws
    /// Takes an exclusive advisory lock on `path`, failing at once if held.
    /// The returned lock must stay live for as long as the lock is needed.
    func lockExclusive(_ path: String) throws -> FileLock
    /// Owner uid and permission bits of a path.
    func ownerAndMode(_ path: String) throws -> (uid: UInt32, mode: UInt32)
}

public protocol WritableFile: AnyObject {
    var path: String { get }
    /// Bytes in the file, including unsynced ones.
    var size: Int64 { get }
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// fsync (fdatasync is not enough when the file grew).
    func sync() throws
    func truncate(to size: Int64) throws
    func close() throws
}

extension WritableFile {
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
}

public protocol ReadableFile: AnyObject {
    var path: String { get }
    /// Size at open time or when last refreshed.
    func currentSize() throws -> Int64
    /// Reads up to `count` bytes at `offset` into `buffer` (replacing its contents); returns bytes read.
    @discardableResult
    func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int
    func close()
}

extension ReadableFile {
    /// Reads exactly `count` bytes or throws `.corruption` (file shorter than its structures claim).
    public func readExactly(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws {
        let n = try read(at: offset, count: count, into: &buffer)
        guard n == count else {
            throw StrataError(.corruption, "file ends early: wanted \(count) bytes, found \(n)", path: path, offset: offset)
        }
    }
}

public protocol FileLock: AnyObject {
    func unlock()
}

extension FileSystem {
    /// Replaces `path` atomically (SPEC.md §2.1's protocol, used for every
    /// small file Strata rewrites: manifest, index snapshot, dictionaries,
    /// the store secret): `write` fills `path.tmp`, which is fsynced, closed,
    /// renamed over `path`, and the directory is fsynced. A reader sees the old
    /// or the new file, never a mixture. On failure the temporary is removed.
    /// `beforeRename` runs between the fsync and the rename (crash-step tests).
    public func replaceAtomically(_ path: String, mode: UInt32, beforeRename: (() throws -> Void)? = nil,
                                  _ write: (WritableFile) throws -> Void) throws {
        let tmp = path + ".tmp"
        try? remove(tmp)
        let f = try openWritable(tmp, mode: mode)
        do {
            try write(f)
            try f.sync()
            try f.close()
        } catch {
            try? f.close()
            try? remove(tmp)
            throw error
        }
        try beforeRename?()
        try rename(tmp, to: path)
        try syncDirectory(PathName.parent(of: path))
    }
}
