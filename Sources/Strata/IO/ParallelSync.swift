import Foundation

/// Runs independent fsyncs concurrently. On this kind of virtual disk an
/// fsync costs milliseconds mostly waiting for the device flush; issued
/// together, the file system and the block layer fold them into few flushes,
/// so a commit touching hundreds of partitions costs about as much as a few.
///
/// The jobs run on `pool`'s threads and the caller's, `maxConcurrent` at
/// most: a Dispatch queue starts one thread per core (two here) and adds about
/// one a second while they block, so the 288 fsyncs of a commit (a round of
/// 0.1–0.6 s) waited for the device about 144 times in a row. A store passes
/// its own pool (`Store.ioThreads`), whose threads outlive the round
/// (IOThreadPool.swift says why); without one, the threads end with the call.
enum ParallelSync {
    /// Enough to keep the device queue full; a thread per job beyond that only costs creation.
    static let defaultConcurrency = 32

    /// Runs every job; throws the first error (by job order) after all finished.
    static func run(_ jobs: [() throws -> Void], maxConcurrent: Int = ParallelSync.defaultConcurrency,
                    on pool: IOThreadPool? = nil) throws {
        if jobs.count <= 1 || maxConcurrent <= 1 {
            var first: Error?
            for job in jobs {
                do { try job() } catch { if first == nil { first = error } }
            }
            if let first { throw first }
            return
        }
        let state = RunState(jobs: jobs)
        let helpers = min(maxConcurrent, jobs.count) - 1
        let threads = pool ?? IOThreadPool(maxThreads: helpers, name: "strata-fsync")
        // A helper that starts after the caller took the last job finds none and returns.
        threads.async(count: helpers) { _ in state.work() }
        state.work()
        state.waitAll()
        if pool == nil { threads.stop() }
        if let (_, e) = state.firstError { throw e }
    }

    /// The jobs, the next one to take, and the outcome.
    // @unchecked: `next`, `finished` and `firstError` are touched only under `condition`;
    // each job runs once on one thread and `run` waits for all jobs, so what a job captures is never used concurrently.
    private final class RunState: @unchecked Sendable {
        let jobs: [() throws -> Void]
        private let condition = NSCondition()
        private var next = 0
        private var finished = 0
        private(set) var firstError: (Int, any Error)?

        init(jobs: [() throws -> Void]) { self.jobs = jobs }

        func work() {
            while true {
                condition.lock()
                let i = next
                next += 1
                condition.unlock()
                guard i < jobs.count else { return }
                var failure: Error?
                do { try jobs[i]() } catch { failure = error }
                condition.lock()
                if let failure, firstError == nil || firstError!.0 > i { firstError = (i, failure) }
                finished += 1
                if finished == jobs.count { condition.broadcast() }
                condition.unlock()
            }
        }

        /// Waits until every job finished (not for the helpers: a late one takes nothing).
        func waitAll() {
            condition.lock()
            while finished < jobs.count { condition.wait() }
            condition.unlock()
        }
    }
}
