import Foundation
import Strata

/// A deterministic pseudo-random generator (SplitMix64) so every failing seed can be replayed.
public struct SeededRNG: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// An in-memory `FileSystem` that models what survives a power loss.
///
/// Durability model (deliberately the conservative POSIX one, not ext4's kindness):
/// - Every file (inode) has its current bytes and its *durable* bytes, the
///   contents as of its last successful `sync()`. Writes and truncates since
///   then are kept as a list of pending operations.
/// - Directory entries (create, rename, remove, mkdir) change the *live*
///   namespace at once, but reach the *durable* namespace only when the parent
///   directory is `syncDirectory`'d. A file created and fsynced whose directory
///   was never fsynced vanishes on crash; a rename whose directory was never
///   fsynced is undone; a removed file comes back.
/// - An entry survives a crash only if every ancestor directory is durable too.
///
/// `crash(seed:mode:)` returns a fresh file system holding the post-power-loss
/// state; the old one is dead afterwards (every call throws), so a leaked
/// `Store` cannot touch the new state from its deinit.
///
/// Fault injection: `faults` fail the N-th operation (of any kind, or of one
/// kind) with ENOSPC or EIO, optionally as a short write; `cutPowerAfter`
/// makes every operation after the N-th throw (the machine is off).
// @unchecked: its state is touched only under `mutex` (through `locked`).
public final class SimulatedFileSystem: FileSystem, @unchecked Sendable {
    public enum OpKind: String, CaseIterable, Sendable { case open, write, sync, rename, remove, mkdir, syncDirectory, truncate }

    public enum CrashMode: CaseIterable, Sendable {
        /// Every unsynced write and truncate is lost.
        case dropUnsynced
        /// Unsynced operations are applied in order up to a random point; the
        /// operation at that point is torn at a random byte.
        case tornWrite
        /// Each unsynced operation independently survives, is lost, or is
        /// partially applied: a later write can survive while an earlier one
        /// is lost (the gap reads as zeros).
        case reorder
    }

    public struct Fault {
        public enum Failure { case noSpace, io }
        /// nil: count operations of every kind.
        public var kind: OpKind?
        /// 1-based index among the counted operations.
        public var nth: Int
        public var failure: Failure = .io
        /// For writes: keep a random (seeded) prefix of the bytes before failing.
        public var shortWrite = false
        /// Keep failing every later matching operation too (a full disk stays full).
        public var sticky = false

        public init(kind: OpKind? = nil, nth: Int, failure: Failure = .io, shortWrite: Bool = false, sticky: Bool = false) {
            self.kind = kind
            self.nth = nth
            self.failure = failure
            self.shortWrite = shortWrite
            self.sticky = sticky
        }
    }

    public final class Inode {
        public var data: [UInt8]
        public var durable: [UInt8]
        public enum Pending { case write(offset: Int, bytes: [UInt8]), truncate(Int) }
        public var pending: [Pending] = []
        public var mode: UInt32
        public var uid: UInt32
        public init(data: [UInt8] = [], durable: [UInt8] = [], mode: UInt32, uid: UInt32) {
            self.data = data
            self.durable = durable
            self.mode = mode
            self.uid = uid
        }
    }

    public final class Dir {
        public var mode: UInt32
        public var uid: UInt32
        public init(mode: UInt32, uid: UInt32) { self.mode = mode; self.uid = uid }
    }

    public enum Entry {
        case file(Inode)
        case dir(Dir)
    }

    /// One logged mutating operation, for choosing interesting crash points.
    public struct LoggedOp { public var index: Int; public var kind: OpKind; public var path: String }

    public let root: String
    private let mutex = NSLock()
    private var live: [String: Entry] = [:]
    private var durable: [String: Entry] = [:]
    private var locks: Set<String> = []
    public private(set) var operationCount = 0
    private var countsByKind: [OpKind: Int] = [:]
    public private(set) var log: [LoggedOp] = []
    public var faults: [Fault] = []
    public var cutPowerAfter: Int?
    public private(set) var isDead = false
    private var faultRNG: SeededRNG

    public init(root: String = "/sim", seed: UInt64 = 1) {
        self.root = root
        faultRNG = SeededRNG(seed: seed)
        let d = Dir(mode: 0o700, uid: UInt32(getuid()))
        live[root] = .dir(d)
        durable[root] = .dir(d)
    }

    // MARK: - Helpers

    public static func parent(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        let p = String(path[..<i])
        return p.isEmpty ? "/" : p
    }

    public static func name(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: i)...])
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        mutex.lock()
        defer { mutex.unlock() }
        return try body()
    }

    private func strataError(_ failure: Fault.Failure, _ op: String, _ path: String) -> StrataError {
        switch failure {
        case .noSpace: StrataError(.noSpace, "\(op) failed: No space left on device (errno 28) [simulated]", path: path)
        case .io: StrataError(.io, "\(op) failed: Input/output error (errno 5) [simulated]", path: path)
        }
    }

    private func deadError(_ path: String) -> StrataError {
        StrataError(.io, "simulated power loss: the machine is off", path: path)
    }

    /// Counts a mutating operation; throws if the power is cut or a fault fires.
    /// Returns a short-write fault for the caller to apply.
    private func step(_ kind: OpKind, _ path: String) throws -> Fault? {
        if isDead { throw deadError(path) }
        operationCount += 1
        countsByKind[kind, default: 0] += 1
        if let cut = cutPowerAfter, operationCount > cut {
            isDead = true
            throw deadError(path)
        }
        log.append(LoggedOp(index: operationCount, kind: kind, path: path))
        for f in faults {
            let n = f.kind.map { countsByKind[$0] ?? 0 } ?? operationCount
            guard f.kind == nil || f.kind == kind else { continue }
            if n == f.nth || (f.sticky && n > f.nth) {
                if f.shortWrite && kind == .write { return f }
                throw strataError(f.failure, kind.rawValue, path)
            }
        }
        return nil
    }

    private func requireParentDir(_ path: String) throws {
        guard case .dir = live[Self.parent(path)] else {
            throw StrataError(.notFound, "no such directory: \(Self.parent(path)) [simulated]", path: path)
        }
    }

    // MARK: - FileSystem

    public func openWritable(_ path: String, mode: UInt32) throws -> WritableFile {
        try locked {
            if case .file(let inode)? = live[path] {
                if isDead { throw deadError(path) }
                return SimWritableFile(fs: self, inode: inode, path: path)
            }
            _ = try step(.open, path)
            try requireParentDir(path)
            if case .dir = live[path] { throw StrataError(.io, "is a directory [simulated]", path: path) }
            let inode = Inode(mode: mode, uid: UInt32(getuid()))
            live[path] = .file(inode)
            return SimWritableFile(fs: self, inode: inode, path: path)
        }
    }

    public func openReadable(_ path: String) throws -> ReadableFile {
        try locked {
            if isDead { throw deadError(path) }
            guard case .file(let inode)? = live[path] else {
                throw StrataError(.notFound, "open for reading failed: No such file or directory (errno 2) [simulated]", path: path)
            }
            return SimReadableFile(fs: self, inode: inode, path: path)
        }
    }

    public func readFile(_ path: String) throws -> [UInt8] {
        try locked {
            if isDead { throw deadError(path) }
            guard case .file(let inode)? = live[path] else {
                throw StrataError(.notFound, "open for reading failed: No such file or directory (errno 2) [simulated]", path: path)
            }
            return inode.data
        }
    }

    public func fileExists(_ path: String) -> Bool { locked { live[path] != nil } }

    public func isDirectory(_ path: String) -> Bool {
        locked { if case .dir = live[path] { return true } else { return false } }
    }

    public func fileSize(_ path: String) throws -> Int64 {
        try locked {
            guard case .file(let inode)? = live[path] else { throw StrataError(.notFound, "stat failed [simulated]", path: path) }
            return Int64(inode.data.count)
        }
    }

    public func createDirectory(_ path: String, mode: UInt32) throws {
        try locked { try mkdirLocked(path, mode: mode) }
    }

    private func mkdirLocked(_ path: String, mode: UInt32) throws {
        if case .dir = live[path] { return }
        if live[path] != nil { throw StrataError(.io, "mkdir failed: File exists [simulated]", path: path) }
        let parent = Self.parent(path)
        if live[parent] == nil && parent != "/" { try mkdirLocked(parent, mode: mode) }
        _ = try step(.mkdir, path)
        live[path] = .dir(Dir(mode: mode, uid: UInt32(getuid())))
    }

    public func listDirectory(_ path: String) throws -> [String] {
        try locked {
            if isDead { throw deadError(path) }
            guard case .dir = live[path] else { throw StrataError(.notFound, "opendir failed [simulated]", path: path) }
            return live.keys.filter { Self.parent($0) == path && $0 != path }.map(Self.name).sorted()
        }
    }

    public func rename(_ from: String, to: String) throws {
        try locked {
            _ = try step(.rename, from)
            guard let e = live[from] else { throw StrataError(.notFound, "rename failed: No such file [simulated]", path: from) }
            guard case .file = e else { throw StrataError(.io, "simulated FS renames files only", path: from) }
            try requireParentDir(to)
            live[from] = nil
            live[to] = e
        }
    }

    public func remove(_ path: String) throws {
        try locked {
            guard let e = live[path] else {
                if isDead { throw deadError(path) }
                return
            }
            _ = try step(.remove, path)
            if case .dir = e, live.keys.contains(where: { Self.parent($0) == path && $0 != path }) {
                throw StrataError(.io, "rmdir failed: Directory not empty [simulated]", path: path)
            }
            live[path] = nil
        }
    }

    public func syncDirectory(_ path: String) throws {
        try locked {
            _ = try step(.syncDirectory, path)
            guard case .dir = live[path] else { throw StrataError(.notFound, "open directory failed [simulated]", path: path) }
            for k in durable.keys where Self.parent(k) == path && k != path { durable[k] = nil }
            for (k, v) in live where Self.parent(k) == path && k != path { durable[k] = v }
        }
    }

    public func truncate(_ path: String, to size: Int64) throws {
        try locked {
            _ = try step(.truncate, path)
            guard case .file(let inode)? = live[path] else { throw StrataError(.notFound, "truncate failed [simulated]", path: path) }
            applyTruncate(inode, Int(size))
        }
    }

    public func lockExclusive(_ path: String) throws -> FileLock {
        try locked {
            if isDead { throw deadError(path) }
            if live[path] == nil {
                _ = try step(.open, path)
                try requireParentDir(path)
                live[path] = .file(Inode(mode: 0o600, uid: UInt32(getuid())))
            }
            guard !locks.contains(path) else {
                throw StrataError(.locked, "store is locked by pid \(getpid()); wait for that writer to finish or stop it", path: path)
            }
            locks.insert(path)
            return SimLock(fs: self, path: path)
        }
    }

    public func ownerAndMode(_ path: String) throws -> (uid: UInt32, mode: UInt32) {
        try locked {
            switch live[path] {
            case .file(let i)?: return (i.uid, i.mode)
            case .dir(let d)?: return (d.uid, d.mode)
            case nil: throw StrataError(.notFound, "stat failed [simulated]", path: path)
            }
        }
    }

    // MARK: - Test controls

    /// Operations of `kind` counted so far.
    public func count(of kind: OpKind) -> Int { locked { countsByKind[kind] ?? 0 } }

    public func setOwnerAndMode(_ path: String, uid: UInt32? = nil, mode: UInt32? = nil) {
        locked {
            switch live[path] {
            case .file(let i)?: if let uid { i.uid = uid }; if let mode { i.mode = mode }
            case .dir(let d)?: if let uid { d.uid = uid }; if let mode { d.mode = mode }
            case nil: break
            }
        }
    }

    /// Live paths (files and directories), sorted.
    public var allPaths: [String] { locked { live.keys.sorted() } }

    /// Current bytes of a file (test inspection, no op counted).
    public func contents(_ path: String) -> [UInt8]? {
        locked { if case .file(let i)? = live[path] { return i.data } else { return nil } }
    }

    /// Overwrites a file's bytes durably (to plant corruption).
    public func replaceContents(_ path: String, with bytes: [UInt8]) {
        locked {
            if case .file(let i)? = live[path] { i.data = bytes; i.durable = bytes; i.pending = [] }
        }
    }

    /// Powers the machine off now and returns the state a reboot would find.
    /// This file system is dead afterwards.
    public func crash(seed: UInt64, mode: CrashMode = .dropUnsynced) -> SimulatedFileSystem {
        let after = stateAfterPowerLoss(seed: seed, mode: mode)
        locked { isDead = true }
        return after
    }

    /// The state a power loss now would leave, without turning this machine off.
    public func stateAfterPowerLoss(seed: UInt64, mode: CrashMode = .dropUnsynced) -> SimulatedFileSystem {
        locked {
            var rng = SeededRNG(seed: seed)
            let after = SimulatedFileSystem(root: root, seed: seed &+ 1)
            after.live = [:]
            var copies: [ObjectIdentifier: Inode] = [:]
            var dirCopies: [ObjectIdentifier: Dir] = [:]
            // Deterministic order so the seed fully determines the outcome.
            for path in durable.keys.sorted() {
                // Reachable only through durable ancestors.
                var a = path
                var reachable = true
                while a != root && a != "/" {
                    a = Self.parent(a)
                    if a == "/" { break }
                    guard case .dir? = durable[a] else { reachable = false; break }
                }
                guard reachable || path == root else { continue }
                switch durable[path]! {
                case .dir(let d):
                    let c = dirCopies[ObjectIdentifier(d)] ?? Dir(mode: d.mode, uid: d.uid)
                    dirCopies[ObjectIdentifier(d)] = c
                    after.live[path] = .dir(c)
                case .file(let inode):
                    let c: Inode
                    if let existing = copies[ObjectIdentifier(inode)] { c = existing } else {
                        let bytes = Self.survivingBytes(inode, mode: mode, rng: &rng)
                        c = Inode(data: bytes, durable: bytes, mode: inode.mode, uid: inode.uid)
                        copies[ObjectIdentifier(inode)] = c
                    }
                    after.live[path] = .file(c)
                }
            }
            after.durable = after.live
            return after
        }
    }

    private static func survivingBytes(_ inode: Inode, mode: CrashMode, rng: inout SeededRNG) -> [UInt8] {
        var bytes = inode.durable
        let ops = inode.pending
        func apply(_ op: Inode.Pending, prefix: Int? = nil) {
            switch op {
            case let .write(offset, w):
                let n = prefix ?? w.count
                if bytes.count < offset { bytes.append(contentsOf: repeatElement(0, count: offset - bytes.count)) }
                for i in 0..<n {
                    if offset + i < bytes.count { bytes[offset + i] = w[i] } else { bytes.append(w[i]) }
                }
            case let .truncate(size):
                if size < bytes.count { bytes.removeSubrange(size...) } else { bytes.append(contentsOf: repeatElement(0, count: size - bytes.count)) }
            }
        }
        switch mode {
        case .dropUnsynced:
            break
        case .tornWrite:
            let k = Int.random(in: 0...ops.count, using: &rng)
            for op in ops.prefix(k) { apply(op) }
            if k < ops.count, case let .write(_, w) = ops[k], !w.isEmpty {
                apply(ops[k], prefix: Int.random(in: 0..<w.count, using: &rng))
            }
        case .reorder:
            for op in ops {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0, 1: apply(op)
                case 2: break
                default:
                    if case let .write(_, w) = op, !w.isEmpty { apply(op, prefix: Int.random(in: 0..<w.count, using: &rng)) }
                }
            }
        }
        return bytes
    }

    // MARK: - File operations (called by the handles)

    private func applyTruncate(_ inode: Inode, _ size: Int) {
        if size < inode.data.count { inode.data.removeSubrange(size...) } else {
            inode.data.append(contentsOf: repeatElement(0, count: size - inode.data.count))
        }
        inode.pending.append(.truncate(size))
    }

    fileprivate func write(_ inode: Inode, _ path: String, _ bytes: UnsafeRawBufferPointer) throws {
        try locked {
            let fault = try step(.write, path)
            var keep = bytes.count
            if let fault {
                keep = bytes.count == 0 ? 0 : Int.random(in: 0..<bytes.count, using: &faultRNG)
            }
            let chunk = Array(bytes.prefix(keep))
            inode.pending.append(.write(offset: inode.data.count, bytes: chunk))
            inode.data.append(contentsOf: chunk)
            if let fault { throw strataError(fault.failure, "write", path) }
        }
    }

    fileprivate func sync(_ inode: Inode, _ path: String) throws {
        try locked {
            _ = try step(.sync, path)
            inode.durable = inode.data
            inode.pending = []
        }
    }

    fileprivate func truncate(_ inode: Inode, _ path: String, _ size: Int) throws {
        try locked {
            _ = try step(.truncate, path)
            applyTruncate(inode, size)
        }
    }

    fileprivate func read(_ inode: Inode, _ path: String, at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        try locked {
            if isDead { throw deadError(path) }
            buffer.removeAll(keepingCapacity: true)
            guard offset >= 0, Int(offset) < inode.data.count, count > 0 else { return 0 }
            let end = min(inode.data.count, Int(offset) + count)
            buffer.append(contentsOf: inode.data[Int(offset)..<end])
            return end - Int(offset)
        }
    }

    fileprivate func size(_ inode: Inode) -> Int64 { locked { Int64(inode.data.count) } }

    fileprivate func checkAlive(_ path: String) throws { try locked { if isDead { throw deadError(path) } } }

    fileprivate func unlock(_ path: String) { locked { _ = locks.remove(path) } }
}

public final class SimWritableFile: WritableFile {
    public let fs: SimulatedFileSystem
    public let inode: SimulatedFileSystem.Inode
    public let path: String
    private var closed = false

    public init(fs: SimulatedFileSystem, inode: SimulatedFileSystem.Inode, path: String) {
        self.fs = fs
        self.inode = inode
        self.path = path
    }

    public var size: Int64 { fs.size(inode) }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !closed else { throw StrataError(.io, "write to a closed file [simulated]", path: path) }
        try fs.write(inode, path, bytes)
    }

    public func sync() throws {
        guard !closed else { throw StrataError(.io, "fsync of a closed file [simulated]", path: path) }
        try fs.sync(inode, path)
    }

    public func truncate(to size: Int64) throws { try fs.truncate(inode, path, Int(size)) }

    public func close() throws {
        guard !closed else { return }
        closed = true
        try fs.checkAlive(path)
    }
}

public final class SimReadableFile: ReadableFile {
    public let fs: SimulatedFileSystem
    public let inode: SimulatedFileSystem.Inode
    public let path: String

    public init(fs: SimulatedFileSystem, inode: SimulatedFileSystem.Inode, path: String) {
        self.fs = fs
        self.inode = inode
        self.path = path
    }

    public func currentSize() throws -> Int64 {
        try fs.checkAlive(path)
        return fs.size(inode)
    }

    @discardableResult
    public func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        try fs.read(inode, path, at: offset, count: count, into: &buffer)
    }

    public func close() {}
}

public final class SimLock: FileLock {
    public let fs: SimulatedFileSystem
    public let path: String
    private var held = true
    public init(fs: SimulatedFileSystem, path: String) { self.fs = fs; self.path = path }
    public func unlock() {
        if held { held = false; fs.unlock(path) }
    }
    deinit { unlock() }
}
