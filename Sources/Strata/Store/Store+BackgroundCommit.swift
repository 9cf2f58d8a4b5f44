import Foundation

/// Commits whose fsync round runs on a helper thread while the writer goes on
/// appending (used by ingest between batches). The durability rule is the
/// same as `commit()`'s (SPEC.md §7): the round fsyncs every segment file
/// written up to the commit point, the new directories and MANIFEST.tmp, and
/// only after all of them succeeded renames MANIFEST.tmp over MANIFEST. The
/// manifest names the committed lengths as of the commit point, so bytes
/// appended meanwhile are not named by it. Nothing is acknowledged before the
/// round finished: `completeBackgroundCommit` says when it did.
///
/// One round at a time. Every step that needs the round done first waits for
/// it (`awaitBackgroundCommitLocked`): the next commit, a manifest write, a
/// segment roll (it closes the file a job may be syncing), and close. A failed
/// round poisons the writer, as a failed `commit()` does.
extension Store {
    /// Starts a commit of everything appended so far and returns once its
    /// fsyncs are under way; appends may continue. When the commit would also
    /// rewrite the index snapshot (which must not cover later appends), it
    /// runs to the end here instead, like `commit()`.
    public func beginBackgroundCommit() throws {
        try lock.withLock {
            guard !closed else { throw StrataError(.usage, "store is closed", path: path) }
            try awaitBackgroundCommitLocked()
            let round = try guardWrite { try prepareCommitLocked() }
            // The blocks holding the pending index entries are written: they may join the table now.
            dedup.mergePending()
            if indexSnapshotDue {
                try guardWrite {
                    try round.run(fs: fs, steps: &commitSteps)
                    lastCommit = Date()
                }
                dedupAfterCommitLocked()
                return
            }
            do { try dedup.materializeIfBusy() } catch { dedup.lastSnapshotError = error as? StrataError ?? StrataError(.io, "index load failed", cause: error) }
            commitSteps.background += 1
            backgroundCommit = BackgroundCommitRound(round, fs: fs, on: ioThreads)
            lastCommit = Date()
        }
    }

    /// True once the background commit started last has made its data durable
    /// (also when none is running); false while it runs, unless `wait`, which
    /// waits for it. Throws if it failed (the writer is then poisoned) or the
    /// writer is poisoned.
    public func completeBackgroundCommit(wait: Bool) throws -> Bool {
        try lock.withLock {
            if let round = backgroundCommit, !wait, !round.isFinished { return false }
            try awaitBackgroundCommitLocked()
            if let poisonedBy {
                throw StrataError(.poisoned, "an earlier write failed (\(poisonedBy.message)); nothing more can be committed", path: poisonedBy.path, cause: poisonedBy)
            }
            return true
        }
    }

    /// Waits for the background commit, if one is running. REQUIRES: the lock is held.
    func awaitBackgroundCommitLocked() throws {
        guard let round = backgroundCommit else { return }
        backgroundCommit = nil
        let start = Ingester.now()
        let (error, times) = round.wait()
        commitSteps.backgroundWait += Ingester.now() - start
        commitSteps.fsync += times.fsync
        commitSteps.manifest += times.manifest
        try guardWrite { if let error { throw error } }
    }
}

/// One commit round (`CommitRound`) on one of the store's threads.
// @unchecked: `finished`, `error` and `times` are touched only under `condition`;
// the round's jobs run once, on the helper thread, and the writer does not touch
// what they capture (files it only appends to, bytes) until `wait` returned.
final class BackgroundCommitRound: @unchecked Sendable {
    private let condition = NSCondition()
    private var finished = false
    private var error: Error?
    private var times = CommitSteps()
    private let round: CommitRound
    private let fs: FileSystem

    init(_ round: CommitRound, fs: FileSystem, on threads: IOThreadPool) {
        self.round = round
        self.fs = fs
        threads.async { [self] in
            var steps = CommitSteps()
            var failure: Error?
            do { try self.round.run(fs: self.fs, steps: &steps) } catch { failure = error }
            condition.lock()
            self.error = failure
            times = steps
            finished = true
            condition.broadcast()
            condition.unlock()
        }
    }

    var isFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return finished
    }

    /// Waits for the round; its error, if any, and its step times.
    func wait() -> (Error?, CommitSteps) {
        condition.lock()
        defer { condition.unlock() }
        while !finished { condition.wait() }
        return (error, times)
    }
}
