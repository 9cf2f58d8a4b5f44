import Foundation

/// A small lock (NSLock) with a scoped helper.
public final class Mutex: @unchecked Sendable {
    private let lock = NSLock()
    public init() {}
    @inline(__always) public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
