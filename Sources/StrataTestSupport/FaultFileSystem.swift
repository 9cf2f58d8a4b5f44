import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Strata

/// A `FileSystem` that passes every call to another one (the real one by
/// default) and injects faults at chosen operations, after pebble's
/// `errorfs`: fail an operation with an I/O error, end the process there
/// (`_exit`, as a crash would: what the kernel has stays, nothing else runs),
/// or pause it so a test can kill the process at a known point.
///
/// Test-only (the `StrataTestSupport` target is in no product): the library
/// and the `strata` binary hold no crash points of their own; tests and the
/// `StrataFault` tool run the real code on this file system instead.
public final class FaultFileSystem: ForwardingFileSystem, @unchecked Sendable {
    /// The operations faults can be attached to (each names the path it acts on).
    public enum Operation: String, CaseIterable, Sendable {
        /// `openWritable` or `createNew`.
        case create
        /// `openReadable` or `readFile`.
        case open
        case read, write, sync, truncate, rename, remove, mkdir, syncDirectory
        /// Opening and reading an ingest input (`openInput`, `InputFile.read`).
        case openInput, readInput
    }

    public enum Timing: Sendable {
        /// The fault replaces the operation: it is not done.
        case before
        /// The operation is done, then the fault happens.
        case after
    }

    public enum Action: Sendable {
        /// Throws a `StrataError` with this code (the operation is not done when `.before`).
        case fail(StrataError.Code)
        /// `_exit(status)`: the process ends at once, no cleanup, no deinit.
        case exit(Int32)
        /// Sleeps, then goes on.
        case pause(milliseconds: Int)
    }

    /// One fault: the `nth` operation of `operation` whose path satisfies
    /// `matches` (1-based, counted from when the rule was armed; 0 = every one).
    public struct Rule: Sendable {
        public var operation: Operation
        public var matches: @Sendable (String) -> Bool
        public var nth: Int
        public var timing: Timing
        public var action: Action
        /// For messages and the `fired` log.
        public var label: String

        public init(_ operation: Operation, nth: Int = 1, timing: Timing = .before, action: Action, label: String = "",
                    matches: @escaping @Sendable (String) -> Bool = { _ in true }) {
            self.operation = operation
            self.matches = matches
            self.nth = nth
            self.timing = timing
            self.action = action
            self.label = label
        }
    }

    public let base: any FileSystem
    private let mutex = NSLock()
    private var rules: [Rule] = []
    private var seen: [Int] = []
    private var firedLog: [String] = []

    public init(wrapping base: FileSystem = PosixFileSystem.shared, rules: [Rule] = []) {
        self.base = base
        arm(rules)
    }

    /// Replaces the rules; counting starts again from here.
    public func arm(_ rules: [Rule]) {
        mutex.lock()
        defer { mutex.unlock() }
        self.rules = rules
        seen = Array(repeating: 0, count: rules.count)
    }

    /// What fired so far ("label: operation path").
    public var fired: [String] {
        mutex.lock()
        defer { mutex.unlock() }
        return firedLog
    }

    /// Applies the rules for `op` on `path` at `timing`: throws, exits or pauses.
    func inject(_ op: Operation, _ path: String, _ timing: Timing) throws {
        var action: Action?
        var label = ""
        mutex.lock()
        for i in rules.indices where rules[i].operation == op && rules[i].timing == timing && rules[i].matches(path) {
            seen[i] += 1
            if rules[i].nth == 0 || seen[i] == rules[i].nth {
                action = rules[i].action
                label = rules[i].label
                firedLog.append("\(label): \(op.rawValue) \(path)")
                break
            }
        }
        mutex.unlock()
        guard let action else { return }
        switch action {
        case .fail(let code):
            throw StrataError(code, "\(op.rawValue) failed: injected fault\(label.isEmpty ? "" : " (\(label))")", path: path)
        case .exit(let status):
            _exit(status)
        case .pause(let ms):
            usleep(UInt32(ms) * 1000)
        }
    }

    /// Runs `body` with the faults for `op` on `path` around it.
    func around<T>(_ op: Operation, _ path: String, _ body: () throws -> T) throws -> T {
        try inject(op, path, .before)
        let result = try body()
        try inject(op, path, .after)
        return result
    }

    // MARK: - FileSystem

    public func openWritable(_ path: String, mode: UInt32) throws -> WritableFile {
        try around(.create, path) { FaultWritableFile(try base.openWritable(path, mode: mode), self) }
    }

    public func createNew(_ path: String, mode: UInt32) throws -> WritableFile {
        try around(.create, path) { FaultWritableFile(try base.createNew(path, mode: mode), self) }
    }

    public func openReadable(_ path: String) throws -> ReadableFile {
        try around(.open, path) { FaultReadableFile(try base.openReadable(path), self) }
    }

    public func readFile(_ path: String) throws -> [UInt8] {
        try around(.open, path) { try base.readFile(path) }
    }

    public func createDirectory(_ path: String, mode: UInt32) throws {
        try around(.mkdir, path) { try base.createDirectory(path, mode: mode) }
    }

    public func rename(_ from: String, to: String) throws {
        try around(.rename, from) { try base.rename(from, to: to) }
    }

    public func remove(_ path: String) throws {
        try around(.remove, path) { try base.remove(path) }
    }

    public func syncDirectory(_ path: String) throws {
        try around(.syncDirectory, path) { try base.syncDirectory(path) }
    }

    public func truncate(_ path: String, to size: Int64) throws {
        try around(.truncate, path) { try base.truncate(path, to: size) }
    }

    public func openInput(_ path: String) throws -> InputFile {
        try around(.openInput, path) { FaultInputFile(try base.openInput(path), self) }
    }
}

final class FaultWritableFile: WritableFile {
    let file: WritableFile
    let fs: FaultFileSystem
    init(_ file: WritableFile, _ fs: FaultFileSystem) { self.file = file; self.fs = fs }
    var path: String { file.path }
    var size: Int64 { file.size }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try fs.around(.write, path) { try file.write(bytes) } }
    func sync() throws { try fs.around(.sync, path) { try file.sync() } }
    func truncate(to size: Int64) throws { try fs.around(.truncate, path) { try file.truncate(to: size) } }
    func close() throws { try file.close() }
    func startWriteback(offset: Int64, length: Int64) { file.startWriteback(offset: offset, length: length) }
}

final class FaultReadableFile: ReadableFile {
    let file: ReadableFile
    let fs: FaultFileSystem
    init(_ file: ReadableFile, _ fs: FaultFileSystem) { self.file = file; self.fs = fs }
    var path: String { file.path }
    func currentSize() throws -> Int64 { try file.currentSize() }
    func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        try fs.inject(.read, path, .before)
        let n = try file.read(at: offset, count: count, into: &buffer)
        try fs.inject(.read, path, .after)
        return n
    }
    func close() { file.close() }
}

final class FaultInputFile: InputFile {
    let file: InputFile
    let fs: FaultFileSystem
    init(_ file: InputFile, _ fs: FaultFileSystem) { self.file = file; self.fs = fs }
    var path: String { file.path }
    func waitForInput(milliseconds: Int32) throws -> Bool { try file.waitForInput(milliseconds: milliseconds) }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try fs.around(.readInput, path) { try file.read(into: buffer) }
    }
    func close() { file.close() }
}
