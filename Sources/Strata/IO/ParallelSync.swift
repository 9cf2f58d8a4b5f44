import Foundation

/// Runs independent fsyncs concurrently. On this kind of virtual disk an
/// fsync costs milliseconds mostly waiting for the device flush; issued
/// together, the file system folds them into few journal commits, so a
/// commit touching hundreds of partitions costs about as much as one.
enum ParallelSync {
    /// Runs every job; throws the first error (by job order) after all finished.
    static func run(_ jobs: [() throws -> Void], maxConcurrent: Int = 64) throws {
        if jobs.count <= 1 {
            try jobs.first?()
            return
        }
        let firstError = Locked<(Int, any Error)?>(nil)
        let jobs = Jobs(all: jobs)
        let limit = DispatchSemaphore(value: maxConcurrent)
        let group = DispatchGroup()
        let queue = DispatchQueue(label: "strata.fsync", attributes: .concurrent)
        for i in jobs.all.indices {
            limit.wait()
            group.enter()
            queue.async {
                defer {
                    limit.signal()
                    group.leave()
                }
                do { try jobs.all[i]() } catch {
                    firstError.withLock { if $0 == nil || $0!.0 > i { $0 = (i, error) } }
                }
            }
        }
        group.wait()
        if let (_, e) = firstError.load() { throw e }
    }

    // @unchecked: each job runs once on one thread and `run` waits for all, so what a job captures is never used concurrently.
    private struct Jobs: @unchecked Sendable { let all: [() throws -> Void] }
}
