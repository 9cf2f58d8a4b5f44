import Foundation

/// Runs independent fsyncs concurrently. On this kind of virtual disk an
/// fsync costs milliseconds mostly waiting for the device flush; issued
/// together, the file system and the block layer fold them into few flushes,
/// so a commit touching hundreds of partitions costs about as much as a few.
///
/// The jobs run on threads of their own, `maxConcurrent` at most: a
/// Dispatch queue starts one thread per core (two here) and adds about one a
/// second while they block, so the 288 fsyncs of a commit (a round of
/// 0.1–0.6 s) waited for the device about 144 times in a row.
enum ParallelSync {
    /// Enough to keep the device queue full; a thread per job beyond that only costs creation.
    static let defaultConcurrency = 32

    /// Runs every job; throws the first error (by job order) after all finished.
    static func run(_ jobs: [() throws -> Void], maxConcurrent: Int = ParallelSync.defaultConcurrency) throws {
        if jobs.count <= 1 || maxConcurrent <= 1 {
            var first: Error?
            for job in jobs {
                do { try job() } catch { if first == nil { first = error } }
            }
            if let first { throw first }
            return
        }
        let state = RunState(jobs: jobs)
        let threads = min(maxConcurrent, jobs.count)
        for _ in 0..<threads {
            let t = Thread { state.work() }
            t.name = "strata-fsync"
            t.stackSize = 256 << 10
            t.start()
        }
        state.waitAll(threads: threads)
        if let (_, e) = state.firstError { throw e }
    }

    /// The jobs, the next one to take, and the outcome.
    // @unchecked: `next`, `finished` and `firstError` are touched only under `condition`;
    // each job runs once on one thread and `run` waits for all, so what a job captures is never used concurrently.
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
                guard i < jobs.count else { break }
                do { try jobs[i]() } catch {
                    condition.lock()
                    if firstError == nil || firstError!.0 > i { firstError = (i, error) }
                    condition.unlock()
                }
            }
            condition.lock()
            finished += 1
            condition.broadcast()
            condition.unlock()
        }

        func waitAll(threads: Int) {
            condition.lock()
            while finished < threads { condition.wait() }
            condition.unlock()
        }
    }
}
