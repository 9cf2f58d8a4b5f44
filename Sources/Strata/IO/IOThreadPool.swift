import Foundation

/// Long-lived threads. A store owns three sets (`Store.ioThreads`,
/// `compressionThread`, `parseThread`): the commit round, its fsyncs
/// (`ParallelSync`) and segment file creation; an ingest batch's LZ4 helper;
/// the ingest's parse stage. Threads start when a task finds none idle, up
/// to `maxThreads`, stay while the store is open and end at its close (`stop`).
///
/// Why not a thread per task: glibc gives a new thread that allocates a
/// malloc arena (up to eight per core) and, when it exits, puts the arena on
/// a free list for the next new thread. The fsync threads (up to 32 at once)
/// made many arenas, and the helpers started per batch and per ingest call
/// (LZ4 frames, parse buffers) then landed in a different one each time;
/// each arena keeps what was freed into it (the CLI raises the trim
/// threshold). Peak RSS of a 5M-example CLI ingest without an arena cap:
/// 387 MB before, 343 MB with these threads (docs/PERFORMANCE.md, "Growth");
/// 501 ingest calls from Python: 243–248 MB before, 199 MB. The compression
/// and parse sets have one thread each, so every batch's buffers come from
/// the same arena.
// @unchecked: `tasks`, `head`, `alive`, `waiting`, `stopping` and `started` are touched only under `condition`.
final class IOThreadPool: @unchecked Sendable {
    /// A commit's fsync batch (32), its round, two file creators, and slack.
    static let defaultMaxThreads = 40

    let maxThreads: Int
    private let name: String
    private let stackSize: Int
    private let condition = NSCondition()
    private var tasks: [@Sendable () -> Void] = []
    private var head = 0
    /// Threads started and not yet ended; of those, the ones not running a task.
    private var alive = 0
    private var waiting = 0
    private var stopping = false
    private var started = 0

    init(maxThreads: Int = IOThreadPool.defaultMaxThreads, name: String = "strata-io", stackSize: Int = 1 << 20) {
        self.maxThreads = max(1, maxThreads)
        self.name = name
        self.stackSize = stackSize
    }

    /// Threads started since the pool was made (each lives until `stop`).
    var threadsStarted: Int { condition.lock(); defer { condition.unlock() }; return started }
    /// Threads alive now.
    var threadsAlive: Int { condition.lock(); defer { condition.unlock() }; return alive }

    /// Queues `task`; it runs on a pool thread (a new one if none is idle and
    /// fewer than `maxThreads` run, otherwise when one is free).
    func async(_ task: @escaping @Sendable () -> Void) {
        async(count: 1) { _ in task() }
    }

    /// Queues `count` tasks, `task(0)`…`task(count - 1)`, with one wake-up.
    func async(count: Int, _ task: @escaping @Sendable (Int) -> Void) {
        guard count > 0 else { return }
        condition.lock()
        defer { condition.unlock() }
        for i in 0..<count { tasks.append { task(i) } }
        while waiting < tasks.count - head && alive < maxThreads {
            alive += 1
            waiting += 1
            started += 1
            let t = Thread { [self] in loop() }
            t.name = name
            t.stackSize = stackSize
            t.start()
        }
        condition.broadcast()
    }

    /// Lets the threads end once the queue is empty and waits for them; with
    /// `waitForRunning` false, only for the idle ones (a running task's thread
    /// ends after it). Tasks queued afterwards still run, each on a thread
    /// that then ends. Called on one of this pool's threads it does not wait
    /// (that thread could not end).
    func stop(waitForRunning: Bool = true) {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        if Thread.current.threadDictionary[Self.threadKey] as? Int == identity { return }
        while waitForRunning ? alive > 0 : waiting > 0 { condition.wait() }
    }

    /// Waits until no task is queued or running (every thread back to idle).
    func waitIdle() {
        condition.lock()
        defer { condition.unlock() }
        while head < tasks.count || waiting < alive { condition.wait() }
    }

    private static let threadKey = "strata.IOThreadPool"
    private var identity: Int { ObjectIdentifier(self).hashValue }

    private func loop() {
        Thread.current.threadDictionary[Self.threadKey] = identity
        condition.lock()
        while true {
            if head < tasks.count {
                let task = tasks[head]
                head += 1
                if head == tasks.count {
                    tasks.removeAll(keepingCapacity: true)
                    head = 0
                }
                waiting -= 1
                condition.unlock()
                task()
                condition.lock()
                waiting += 1
                if waiting == alive && head == tasks.count { condition.broadcast() }
                continue
            }
            if stopping { break }
            condition.wait()
        }
        alive -= 1
        waiting -= 1
        condition.broadcast()
        condition.unlock()
    }
}
