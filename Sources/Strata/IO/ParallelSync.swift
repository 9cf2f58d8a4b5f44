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
        let errors = Mutex()
        var firstError: (Int, Error)?
        let limit = DispatchSemaphore(value: maxConcurrent)
        let group = DispatchGroup()
        let queue = DispatchQueue(label: "strata.fsync", attributes: .concurrent)
        for (i, job) in jobs.enumerated() {
            limit.wait()
            group.enter()
            queue.async {
                defer {
                    limit.signal()
                    group.leave()
                }
                do { try job() } catch {
                    errors.withLock { if firstError == nil || firstError!.0 > i { firstError = (i, error) } }
                }
            }
        }
        group.wait()
        if let (_, e) = firstError { throw e }
    }
}
