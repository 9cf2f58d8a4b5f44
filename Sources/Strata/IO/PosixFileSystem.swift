import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real file system, over POSIX calls. Errors carry the path and errno text.
public final class PosixFileSystem: FileSystem, Sendable {
    public static let shared = PosixFileSystem()
    public init() {}

    static func error(_ op: String, _ path: String, _ err: Int32 = errno) -> StrataError {
        let text = String(cString: strerror(err))
        let code: StrataError.Code = (err == ENOSPC || err == EDQUOT) ? .noSpace : (err == EACCES || err == EPERM ? .permission : (err == ENOENT ? .notFound : .io))
        return StrataError(code, "\(op) failed: \(text) (errno \(err))", path: path)
    }

    public func openWritable(_ path: String, mode: UInt32) throws -> WritableFile {
        // O_NOFOLLOW: a symbolic link planted under a store or export name is refused (ELOOP), never written through.
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw Self.error("open for writing", path) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { let e = Self.error("fstat", path); Glibc.close(fd); throw e }
        return PosixWritableFile(fd: fd, path: path, size: Int64(st.st_size))
    }

    /// See `FileSystem.createNew`: O_CREAT | O_EXCL | O_NOFOLLOW.
    func createExclusive(_ path: String, mode: UInt32) throws -> WritableFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw Self.error("create", path) }
        return PosixWritableFile(fd: fd, path: path, size: 0)
    }

    /// The file type bits of `path` itself (lstat), or nil if it does not exist.
    func lstatType(_ path: String) -> mode_t? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    public func openReadable(_ path: String) throws -> ReadableFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open for reading", path) }
        return PosixReadableFile(fd: fd, path: path)
    }

    public func readFile(_ path: String) throws -> [UInt8] {
        let f = try openReadable(path)
        defer { f.close() }
        var buf: [UInt8] = []
        let size = try f.currentSize()
        guard size < Int64(Int32.max) else { throw StrataError(.corruption, "file too large to read whole", path: path) }
        try f.read(at: 0, count: Int(size), into: &buf)
        return buf
    }

    public func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public func fileSize(_ path: String) throws -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw Self.error("stat", path) }
        return Int64(st.st_size)
    }

    public func createDirectory(_ path: String, mode: UInt32) throws {
        if isDirectory(path) { return }
        let parent = PathName.parent(of: path)
        if parent != path && parent != "." && parent != "/" && !isDirectory(parent) { try createDirectory(parent, mode: mode) }
        if mkdir(path, mode_t(mode)) != 0 && errno != EEXIST { throw Self.error("mkdir", path) }
    }

    public func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw Self.error("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw Self.error("rename to \(to)", from) }
    }

    public func remove(_ path: String) throws {
        if unlink(path) != 0 {
            if errno == EISDIR || errno == EPERM, rmdir(path) == 0 { return }
            if errno == ENOENT { return }
            throw Self.error("remove", path)
        }
    }

    public func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open directory", path) }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw Self.error("fsync directory", path) }
    }

    public func truncate(_ path: String, to size: Int64) throws {
        guard Glibc.truncate(path, off_t(size)) == 0 else { throw Self.error("truncate", path) }
    }

    public func lockExclusive(_ path: String) throws -> FileLock {
        // O_NOFOLLOW: a planted symlink named LOCK must not get its target truncated.
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw StrataError(.permission, "lock file is a symbolic link; refusing to write through it (remove the link)", path: path)
            }
            throw Self.error("open lock file", path)
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            defer { Glibc.close(fd) }
            if err == EWOULDBLOCK {
                // The holder writes its pid right after taking the lock: give it a moment.
                var pid = ""
                for _ in 0..<20 {
                    var buf = [UInt8](repeating: 0, count: 32)
                    let n = pread(fd, &buf, 32, 0)
                    pid = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
                    if !pid.isEmpty { break }
                    usleep(5_000)
                }
                let who = pid.isEmpty ? "another process (it has not recorded its pid)" : "pid \(pid)"
                throw StrataError(.locked, "store is locked by \(who); wait for that writer to finish or stop it", path: path)
            }
            throw Self.error("flock", path, err)
        }
        // Record our pid for the message other writers will see.
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return PosixFileLock(fd: fd)
    }

    /// See `FileSystem.lockSnapshot`. Polls a non-blocking `flock` so a
    /// timeout is possible (flock itself has none).
    func lockWaiting(_ path: String, exclusive: Bool, wait: Double) throws -> FileLock? {
        var fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 && (errno == EROFS || errno == EACCES) { fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else {
            if errno == EROFS || errno == EACCES || errno == ENOENT { return nil }
            throw Self.error("open snapshot lock", path)
        }
        let deadline = Date().addingTimeInterval(wait)
        var pause: useconds_t = 200
        while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            let err = errno
            guard err == EWOULDBLOCK || err == EINTR else { Glibc.close(fd); throw Self.error("flock", path, err) }
            if Date() >= deadline {
                Glibc.close(fd)
                throw StrataError(.locked, "timed out after \(wait) s waiting for the snapshot lock (\(exclusive ? "readers are opening snapshots" : "a writer is deleting replaced files"))", path: path)
            }
            usleep(pause)
            pause = min(pause * 2, 5_000)
        }
        return PosixFileLock(fd: fd)
    }

    /// Looks the file's inode up in /proc/locks (Linux), where every held
    /// `flock` is listed as `N: FLOCK ADVISORY WRITE pid MAJ:MIN:INODE 0 EOF`.
    func flockHeld(_ path: String) -> Bool? {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        guard let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        let suffix = ":\(st.st_ino)"
        for line in text.split(separator: "\n") where line.contains("FLOCK") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.contains(where: { $0.hasSuffix(suffix) && $0.split(separator: ":").count == 3 }) { return true }
        }
        return false
    }

    /// Raises the soft RLIMIT_NOFILE so that `count` more descriptors fit
    /// (with headroom for everything else the process has open).
    func raiseDescriptorLimit(toHold count: Int) throws {
        var lim = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return }
        let want = rlim_t(count + 256)
        if lim.rlim_cur >= want { return }
        let hard = lim.rlim_max
        lim.rlim_cur = min(max(want * 2, lim.rlim_cur), hard)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &lim)
        guard lim.rlim_cur >= want else {
            throw StrataError(.io, "the store needs \(count) open files for a consistent snapshot but this process may open at most \(hard) (RLIMIT_NOFILE); raise `ulimit -n` or compact the store (fewer, larger segments)")
        }
    }

    public func ownerAndMode(_ path: String) throws -> (uid: UInt32, mode: UInt32) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw Self.error("stat", path) }
        return (UInt32(st.st_uid), UInt32(st.st_mode & 0o7777))
    }

    /// See `FileSystem.openInput`: a file, a FIFO or (for "-") standard input, read with read(2).
    public func openInput(_ path: String) throws -> InputFile {
        if path == "-" { return PosixInputFile(fd: 0, path: path, owned: false) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StrataError(.io, "cannot open input: \(String(cString: strerror(errno)))", path: path)
        }
        return PosixInputFile(fd: fd, path: path, owned: true)
    }
}

final class PosixInputFile: InputFile {
    let fd: Int32
    let path: String
    private let owned: Bool
    private var closed = false

    init(fd: Int32, path: String, owned: Bool) {
        self.fd = fd
        self.path = path
        self.owned = owned
    }

    func waitForInput(milliseconds: Int32) throws -> Bool {
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, milliseconds)
            if r < 0 && errno == EINTR { continue }
            // An error from poll itself is left to the read that follows.
            return r != 0
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw StrataError(.io, "read failed: \(String(cString: strerror(errno)))", path: path) }
            return n
        }
    }

    func close() {
        if !closed { closed = true; if owned { Glibc.close(fd) } }
    }

    deinit { close() }
}

final class PosixFileLock: FileLock {
    private var fd: Int32
    init(fd: Int32) { self.fd = fd }
    func unlock() {
        if fd >= 0 { flock(fd, LOCK_UN); Glibc.close(fd); fd = -1 }
    }
    deinit { unlock() }
}

final class PosixWritableFile: WritableFile {
    let fd: Int32
    let path: String
    private(set) var size: Int64
    private var closed = false

    init(fd: Int32, path: String, size: Int64) {
        self.fd = fd
        self.path = path
        self.size = size
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw PosixFileSystem.error("write", path)
            }
            done += n
            size += Int64(n)
        }
    }

    /// Writes the pieces in order with `writev` (up to IOV_MAX at a time), resuming after short writes.
    func write(gathering pieces: [UnsafeRawBufferPointer]) throws {
        var iov = pieces.filter { $0.count > 0 }.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress!), iov_len: $0.count) }
        var first = 0
        while first < iov.count {
            let n = iov.withUnsafeBufferPointer { Glibc.writev(fd, $0.baseAddress! + first, Int32(min(iov.count - first, 1024))) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PosixFileSystem.error("writev", path)
            }
            size += Int64(n)
            var left = n
            while first < iov.count && left >= iov[first].iov_len { left -= iov[first].iov_len; first += 1 }
            if left > 0 {
                iov[first].iov_base = iov[first].iov_base! + left
                iov[first].iov_len -= left
            }
        }
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw PosixFileSystem.error("fsync", path) }
    }

    /// `sync_file_range(SYNC_FILE_RANGE_WRITE)`: starts writeback of dirty
    /// pages in the range and returns; errors are ignored (a hint only: the
    /// caller's `sync()` reports any write error).
    func startWriteback(offset: Int64, length: Int64) {
        guard length > 0, let start = Self.syncFileRange else { return }
        _ = start(fd, offset, length, 2)  // SYNC_FILE_RANGE_WRITE
    }

    /// Linux's `sync_file_range`, which the Glibc module does not export
    /// (it needs _GNU_SOURCE); nil elsewhere.
    static let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
        #if os(Linux)
        guard let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }  // RTLD_DEFAULT
        return unsafeBitCast(f, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
        #else
        return nil
        #endif
    }()

    func truncate(to newSize: Int64) throws {
        guard ftruncate(fd, off_t(newSize)) == 0 else { throw PosixFileSystem.error("ftruncate", path) }
        size = newSize
    }

    func close() throws {
        guard !closed else { return }
        closed = true
        guard Glibc.close(fd) == 0 else { throw PosixFileSystem.error("close", path) }
    }

    deinit { if !closed { Glibc.close(fd) } }
}

final class PosixReadableFile: ReadableFile {
    let fd: Int32
    let path: String
    private var closed = false

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    func currentSize() throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw PosixFileSystem.error("fstat", path) }
        return Int64(st.st_size)
    }

    func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        buffer.removeAll(keepingCapacity: true)
        guard count > 0 else { return 0 }
        var total = 0
        var failure: StrataError?
        buffer.withUnsafeMutableBufferPointer(appending: count) { dst in
            while total < count {
                let n = pread(fd, dst.baseAddress! + total, count - total, off_t(offset) + off_t(total))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = PosixFileSystem.error("read", path)
                    break
                }
                if n == 0 { break }
                total += n
            }
            return total
        }
        if let failure { throw failure }
        return total
    }

    func close() {
        if !closed { closed = true; Glibc.close(fd) }
    }

    deinit { close() }
}
