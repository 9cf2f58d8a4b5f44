import Foundation

/// A small lock (NSLock) with a scoped helper. Named `Lock`, not `Mutex`, so it
/// does not shadow the standard library's `Synchronization.Mutex` (which needs
/// macOS 15; this one builds for every deployment target).
public final class Lock: Sendable {
    private let lock = NSLock()
    public init() {}
    @inline(__always) public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// A lock-protected value (flags and results shared between threads).
// @unchecked: `value` is read and written only under `lock`.
final class Locked<T: Sendable>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func load() -> T { lock.lock(); defer { lock.unlock() }; return value }
    func store(_ v: T) { lock.lock(); value = v; lock.unlock() }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
