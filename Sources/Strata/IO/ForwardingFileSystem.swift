/// A file system that wraps another one (snapshot pinning, fault injection,
/// counting in tests): every requirement forwards to `base` unless the wrapper
/// implements it, so a wrapper states only what it changes and never silently
/// falls back to `FileSystem`'s generic defaults (exclusive creation, snapshot
/// locks, leftover checks) for a POSIX base.
public protocol ForwardingFileSystem: FileSystem {
    var base: any FileSystem { get }
}

extension ForwardingFileSystem {
    public func openWritable(_ path: String, mode: UInt32) throws -> WritableFile { try base.openWritable(path, mode: mode) }
    public func openReadable(_ path: String) throws -> ReadableFile { try base.openReadable(path) }
    public func readFile(_ path: String) throws -> [UInt8] { try base.readFile(path) }
    public func fileExists(_ path: String) -> Bool { base.fileExists(path) }
    public func isDirectory(_ path: String) -> Bool { base.isDirectory(path) }
    public func fileSize(_ path: String) throws -> Int64 { try base.fileSize(path) }
    public func createDirectory(_ path: String, mode: UInt32) throws { try base.createDirectory(path, mode: mode) }
    public func listDirectory(_ path: String) throws -> [String] { try base.listDirectory(path) }
    public func rename(_ from: String, to: String) throws { try base.rename(from, to: to) }
    public func remove(_ path: String) throws { try base.remove(path) }
    public func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
    public func truncate(_ path: String, to size: Int64) throws { try base.truncate(path, to: size) }
    public func lockExclusive(_ path: String) throws -> FileLock { try base.lockExclusive(path) }
    public func ownerAndMode(_ path: String) throws -> (uid: UInt32, mode: UInt32) { try base.ownerAndMode(path) }
    public func createNew(_ path: String, mode: UInt32) throws -> WritableFile { try base.createNew(path, mode: mode) }
    public func lockSnapshot(_ path: String, exclusive: Bool, wait: Double) throws -> FileLock? {
        try base.lockSnapshot(path, exclusive: exclusive, wait: wait)
    }
    public func isSymbolicLink(_ path: String) -> Bool { base.isSymbolicLink(path) }
    public func isOwnLeftover(_ path: String, magic: [UInt8]?) -> Bool { base.isOwnLeftover(path, magic: magic) }
    public func isLockHeld(_ path: String) -> Bool? { base.isLockHeld(path) }
    public func reserveDescriptors(_ count: Int) throws { try base.reserveDescriptors(count) }
    public func openInput(_ path: String) throws -> InputFile { try base.openInput(path) }
}
