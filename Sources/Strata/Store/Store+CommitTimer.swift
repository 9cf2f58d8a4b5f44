import Foundation

/// The `.interval(seconds:)` commit policy (README "Durability"): appends are
/// committed once `seconds` passed since the last commit — by the next append,
/// by a background timer while the writer is idle, by `close()`, and at normal
/// process exit (`exit()` or returning from `main`) for stores not closed.
/// A failed background or exit-time commit poisons the writer like any failed
/// commit (the next call throws) and is written to stderr.
// @unchecked: `stopped` is touched only under `condition`.
final class CommitTimer: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false

    /// Starts a thread calling `tick` every `period` seconds until `stop()`.
    init(period: Double, tick: @escaping @Sendable () -> Void) {
        let t = Thread { [condition] in
            while true {
                condition.lock()
                if !self.stopped { _ = condition.wait(until: Date(timeIntervalSinceNow: period)) }
                let stop = self.stopped
                condition.unlock()
                if stop { return }
                tick()
            }
        }
        t.name = "strata-commit-timer"
        t.start()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }
}

/// Stores with the interval policy that are open, for the exit-time commit.
enum OpenIntervalStores {
    private static let state = Locked((stores: [ObjectIdentifier: WeakStore](), registered: false))

    struct WeakStore { weak var store: Store? }

    static func add(_ s: Store) {
        state.withLock { state in
            state.stores[ObjectIdentifier(s)] = WeakStore(store: s)
            if !state.registered {
                state.registered = true
                atexit { OpenIntervalStores.commitAllAtExit() }
            }
        }
    }

    static func remove(_ s: Store) {
        _ = state.withLock { $0.stores.removeValue(forKey: ObjectIdentifier(s)) }
    }

    static func commitAllAtExit() {
        let live = state.withLock { $0.stores.values.compactMap(\.store) }
        for s in live { s.commitIfDue(force: true, why: "at process exit") }
    }
}

extension Store {
    /// Sets up the interval policy's timer and exit hook (called by `open`).
    func startIntervalCommits() {
        guard case let .interval(seconds) = options.commitPolicy else { return }
        // Check four times per interval: an idle writer's data is durable
        // within 1.25 × the interval of its last append.
        commitTimer = CommitTimer(period: max(0.005, seconds / 4)) { [weak self] in
            self?.commitIfDue(force: false, why: "by the commit timer")
        }
        OpenIntervalStores.add(self)
    }

    func stopIntervalCommits() {
        commitTimer?.stop()
        commitTimer = nil
        OpenIntervalStores.remove(self)
    }

    /// Commits when there is uncommitted data and the interval elapsed (or `force`).
    func commitIfDue(force: Bool, why: String) {
        guard case let .interval(seconds) = options.commitPolicy else { return }
        lock.withLock {
            guard !closed, poisonedBy == nil, hasUncommittedLocked else { return }
            guard force || Date().timeIntervalSince(lastCommit) >= seconds else { return }
            do {
                try commitLocked()
            } catch {
                backgroundCommitError = error
                FileHandle.standardError.write(Data("strata: commit \(why) failed for store \(path): \(error)\n".utf8))
            }
        }
    }

    /// Appended entries not yet durable: an open block, unsynced frames, or a manifest change.
    var hasUncommittedLocked: Bool {
        manifestDirty || !dirsToSync.isEmpty || active.values.contains { $0.blockEntries > 0 || $0.needsSync }
    }
}
