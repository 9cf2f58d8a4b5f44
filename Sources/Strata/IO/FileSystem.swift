import Foundation

/// The small file-system interface all store I/O goes through (SPEC.md §7
/// lists the durability steps), ingest input included. `PosixFileSystem` is
/// the real one; tests substitute a crash-simulating implementation or wrap
/// the real one to inject faults (the `StrataTestSupport` target).
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

    // Requirements with default implementations below (POSIX behaviour for
    // `PosixFileSystem`, a fallback otherwise): declared here so a file system
    // wrapping another one can forward them rather than lose them.
    func createNew(_ path: String, mode: UInt32) throws -> WritableFile
    func lockSnapshot(_ path: String, exclusive: Bool, wait: Double) throws -> FileLock?
    func isSymbolicLink(_ path: String) -> Bool
    func isOwnLeftover(_ path: String, magic: [UInt8]?) -> Bool
    func isLockHeld(_ path: String) -> Bool?
    func reserveDescriptors(_ count: Int) throws
    /// Opens an ingest input for sequential reading ("-": standard input).
    func openInput(_ path: String) throws -> InputFile
}

extension FileSystem {
    /// Advisory lock of the snapshot protocol (SPEC.md §7.2) on `path`, created
    /// 0600 if missing: shared for readers opening a snapshot, exclusive for a
    /// writer about to delete files a snapshot may name. Waits up to `wait`
    /// seconds, then throws `.locked`. Returns nil when the lock file cannot be
    /// opened (a store on read-only media, where no writer can delete anything).
    /// File systems without advisory locks (the test simulator) return nil.
    public func lockSnapshot(_ path: String, exclusive: Bool, wait: Double) throws -> FileLock? {
        guard let posix = self as? PosixFileSystem else { return nil }
        return try posix.lockWaiting(path, exclusive: exclusive, wait: wait)
    }

    /// Creates a new file for appending writes: fails if `path` exists (as a
    /// file or a symbolic link), so nothing a third party planted under that name
    /// is ever written through (SPEC.md §2). Test file systems without the
    /// distinction fall back to `openWritable`.
    public func createNew(_ path: String, mode: UInt32) throws -> WritableFile {
        if let posix = self as? PosixFileSystem { return try posix.createExclusive(path, mode: mode) }
        return try openWritable(path, mode: mode)
    }

    /// True when `path` itself is a symbolic link (not followed).
    public func isSymbolicLink(_ path: String) -> Bool {
        (self as? PosixFileSystem)?.lstatType(path) == S_IFLNK
    }

    /// True when `path` is a regular file (not followed), owned by this process's
    /// user, starting with `magic` (or empty: a creation cut short). Only such
    /// files are removed as leftovers: the store never deletes what it did not create.
    public func isOwnLeftover(_ path: String, magic: [UInt8]?) -> Bool {
        if let posix = self as? PosixFileSystem {
            guard posix.lstatType(path) == S_IFREG, let owner = try? ownerAndMode(path), owner.uid == geteuid() else { return false }
        }
        guard let magic else { return true }
        guard let f = try? openReadable(path) else { return false }
        defer { f.close() }
        var buf: [UInt8] = []
        let n = (try? f.read(at: 0, count: magic.count, into: &buf)) ?? -1
        return n == 0 || (n == magic.count && buf == magic)
    }

    /// Whether some process holds a `flock` on `path` (the writer's LOCK),
    /// found without taking the lock (which would make a starting writer fail);
    /// nil when it cannot be told.
    public func isLockHeld(_ path: String) -> Bool? {
        (self as? PosixFileSystem)?.flockHeld(path)
    }

    /// Makes sure this process may hold `count` more open files (raising the
    /// soft RLIMIT_NOFILE up to the hard limit): a snapshot keeps one
    /// descriptor per segment it pins. No-op for non-POSIX file systems.
    public func reserveDescriptors(_ count: Int) throws {
        try (self as? PosixFileSystem)?.raiseDescriptorLimit(toHold: count)
    }
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
    /// Asks the system to start writing `length` bytes at `offset` to the
    /// device, without waiting (a hint: it guarantees nothing; durability comes
    /// only from `sync()`). Writers call it as they go, so the final fsync
    /// finds little left and the disk works while they compute.
    func startWriteback(offset: Int64, length: Int64)
}

extension WritableFile {
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
    /// Files that cannot start writeback early (simulated, wrapped) leave it to `sync()`.
    public func startWriteback(offset: Int64, length: Int64) {}
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

/// A sequentially read input (an ingest file, a pipe, standard input).
public protocol InputFile: AnyObject {
    var path: String { get }
    /// Waits at most `milliseconds` for input; false when none arrived (the
    /// input is idle). Files are always ready.
    func waitForInput(milliseconds: Int32) throws -> Bool
    /// Reads up to `buffer.count` bytes; returns the count, 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    func close()
}

extension FileSystem {
    /// Default: the input read through `openReadable` (no standard input).
    public func openInput(_ path: String) throws -> InputFile {
        guard path != "-" else { throw StrataError(.usage, "standard input is not available on this file system", path: path) }
        return ReadableInputFile(try openReadable(path))
    }
}

/// An `InputFile` over a `ReadableFile`, read front to back.
final class ReadableInputFile: InputFile {
    private let file: ReadableFile
    private var offset: Int64 = 0
    private var scratch: [UInt8] = []
    init(_ file: ReadableFile) { self.file = file }
    var path: String { file.path }
    func waitForInput(milliseconds: Int32) throws -> Bool { true }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try file.read(at: offset, count: buffer.count, into: &scratch)
        scratch.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        offset += Int64(n)
        return n
    }
    func close() { file.close() }
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
    public func replaceAtomically(_ path: String, mode: UInt32, _ write: (WritableFile) throws -> Void) throws {
        try writeReplacement(path, mode: mode, write)
        try installReplacement(path)
    }

    /// The first half of `replaceAtomically`: fills and fsyncs `path.tmp`.
    /// A commit runs it concurrently with the data fsyncs it depends on and
    /// calls `installReplacement` only after all of them succeeded.
    public func writeReplacement(_ path: String, mode: UInt32, _ write: (WritableFile) throws -> Void) throws {
        let tmp = path + ".tmp"
        try? remove(tmp)
        let f = try createNew(tmp, mode: mode)
        do {
            try write(f)
            try f.sync()
            try f.close()
        } catch {
            try? f.close()
            try? remove(tmp)
            throw error
        }
    }

    /// The second half of `replaceAtomically`: renames `path.tmp` over `path`
    /// and fsyncs the directory.
    public func installReplacement(_ path: String) throws {
        try rename(path + ".tmp", to: path)
        try syncDirectory(PathName.parent(of: path))
    }
}
