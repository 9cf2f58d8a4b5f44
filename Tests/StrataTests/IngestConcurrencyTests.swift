import Foundation
import Testing
@testable import Strata

/// A commit's fsyncs wait for the device, not a core: they must not be
/// limited to as many at once as there are cores, nor start threads anew for every round.
@Suite struct ParallelSyncTests {
    /// 16 jobs that each wait until all 16 are running: they get 15 pool
    /// threads at once (started when the batch is queued, not one by one as
    /// they block) plus the caller, so all 16 run together. A Dispatch queue
    /// starts one thread per core and adds about one a second while they block.
    /// The wait has no deadline that a slow machine could miss; `hangGuard`
    /// only keeps a broken pool from hanging the suite.
    @Test func commitFsyncsRunConcurrentlyBeyondTheCoreCount() throws {
        let n = 16
        let pool = IOThreadPool(maxThreads: 32)
        defer { pool.stop() }
        let condition = NSCondition()
        let arrived = Locked(0)
        let sawAll = Locked(0)
        let threadsWhenRunning = Locked(0)
        let hangGuard = Date().addingTimeInterval(120)
        let jobs: [() throws -> Void] = (0..<n).map { _ in
            {
                threadsWhenRunning.withLock { $0 = max($0, pool.threadsStarted) }
                condition.lock()
                arrived.withLock { $0 += 1 }
                condition.broadcast()
                while arrived.load() < n && condition.wait(until: hangGuard) {}
                if arrived.load() == n { sawAll.withLock { $0 += 1 } }
                // A failing run: later jobs do not wait again.
                if arrived.load() < n { arrived.withLock { $0 = -1_000_000 } }
                condition.unlock()
            }
        }
        try ParallelSync.run(jobs, maxConcurrent: 32, on: pool)
        #expect(sawAll.load() == n)
        #expect(threadsWhenRunning.load() == n - 1, "pool threads for 16 jobs: \(threadsWhenRunning.load())")
    }

    /// Rounds of fsyncs on one pool reuse its threads: never more than its
    /// `maxThreads` are started, however many rounds run (a thread per job
    /// per round would start 10 × 15 here).
    @Test func roundsReuseThePoolsThreads() throws {
        let pool = IOThreadPool(maxThreads: 20)
        let ran = Locked(0)
        for _ in 0..<10 {
            try ParallelSync.run((0..<16).map { _ in { ran.withLock { $0 += 1 } } }, maxConcurrent: 32, on: pool)
        }
        #expect(ran.load() == 160)
        #expect(pool.threadsStarted <= 20)
        #expect(pool.threadsAlive == pool.threadsStarted)
        pool.stop()
        #expect(pool.threadsAlive == 0)
    }

    /// `stop` called from a task on the pool's own thread returns (it cannot
    /// wait for itself); a later `stop` elsewhere then ends every thread.
    @Test func stopOnAPoolThreadDoesNotWaitForItself() {
        let pool = IOThreadPool(maxThreads: 4)
        let done = NSCondition()
        let stopped = Locked(false)
        pool.async {
            pool.stop()
            done.lock(); stopped.store(true); done.broadcast(); done.unlock()
        }
        done.lock()
        while !stopped.load() { done.wait() }
        done.unlock()
        pool.stop()
        #expect(pool.threadsAlive == 0)
    }

    /// Without a pool of the caller's, the call's threads end with it.
    @Test func aCallWithoutAPoolLeavesNoThreadRunning() throws {
        let before = ParallelSyncTests.threadCount()
        for _ in 0..<3 { try ParallelSync.run((0..<8).map { _ in {} }) }
        // Other suites run at the same time in this process, so only growth by the call's 7 helpers would show.
        #expect(ParallelSyncTests.threadCount() < before + 7)
    }

    static func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }

    /// Every job runs even when some fail; the error of the first failing job
    /// (by job order, not by finishing order) is the one thrown.
    @Test func theFirstErrorByJobOrderIsThrownAfterEveryJobRan() {
        let ran = Locked(0)
        let jobs: [() throws -> Void] = (0..<40).map { i in
            {
                ran.withLock { $0 += 1 }
                if i == 7 || i == 30 { throw StrataError(.io, "job \(i)") }
            }
        }
        let error = #expect(throws: StrataError.self) { try ParallelSync.run(jobs, maxConcurrent: 8) }
        #expect(error?.message == "job 7")
        #expect(ran.load() == 40)
    }
}

/// Records which thread created each directory and segment file.
// @unchecked: `events` is touched only under `lock`.
private final class CreationRecordingFileSystem: ForwardingFileSystem, @unchecked Sendable {
    let base: any FileSystem = PosixFileSystem.shared
    private let lock = NSLock()
    private(set) var events: [(path: String, thread: UInt)] = []

    private func note(_ path: String) {
        let t = UInt(pthread_self())
        lock.withLock { events.append((path, t)) }
    }
    func createDirectory(_ path: String, mode: UInt32) throws {
        try base.createDirectory(path, mode: mode)
        note(path)
    }
    func createNew(_ path: String, mode: UInt32) throws -> WritableFile {
        let f = try base.createNew(path, mode: mode)
        note(path)
        return f
    }
    var recorded: [(path: String, thread: UInt)] { lock.withLock { events } }
}

@Suite struct ParallelSegmentCreationTests {
    /// The partitions a batch opens are created by two helper threads; each
    /// domain's directory, month directories and segment files are made by
    /// one of them, the domain directory first, so a month directory never
    /// races its parent. Every example is then readable.
    @Test func newPartitionsAreCreatedOnTwoThreadsEachDomainOnOneInOrder() throws {
        let path = temporaryStorePath()
        let fs = CreationRecordingFileSystem()
        var o = StoreOptions()
        o.fileSystem = fs
        let domains = 8
        do {
            let store = try Store.open(at: path, options: o)
            let ing = try Ingester(store: store, mapping: IngestMapping())
            try ing.ingest(data: DeferredSegmentCreationTests.jsonl(domains: domains, perDomain: 30))
            try ing.commitAndClose()
            #expect(ing.summary.inserted == domains * 30)
        }
        let events = fs.recorded.filter { $0.path.contains("/domain=") }
        #expect(Set(events.map(\.thread)).count == 2, "helper threads used: \(Set(events.map(\.thread)).count)")
        for d in 0..<domains {
            let mine = events.filter { $0.path.contains("/domain=d\(d)") }
            #expect(mine.count == 1 + 3 + 3, "domain d\(d): \(mine.map(\.path))")  // its directory, 3 months, 3 segments
            #expect(Set(mine.map(\.thread)).count == 1, "domain d\(d) created on more than one thread")
            #expect(mine.first?.path.hasSuffix("/domain=d\(d)") == true, "domain d\(d) directory not first: \(mine.first?.path ?? "-")")
        }
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.count == domains * 30)
    }
}

extension ParallelSegmentCreationTests {
    /// The domains a batch opens are split evenly between the two helpers
    /// whatever their names: these six all went to one helper under FNV-1a
    /// of the name (its low bit is the parity of the bytes' low bits).
    @Test func aBatchsDomainsAreSplitEvenlyBetweenTheHelpers() throws {
        let path = temporaryStorePath()
        let fs = CreationRecordingFileSystem()
        var o = StoreOptions()
        o.fileSystem = fs
        let names = ["d0", "d2", "d4", "d6", "d8", "d22"]
        var text = ""
        for (i, d) in names.enumerated() {
            text += #"{"prompt":"Q\#(i)","response":"A","domain":"\#(d)","timestamp":1735689600000}"# + "\n"
        }
        do {
            let store = try Store.open(at: path, options: o)
            let ing = try Ingester(store: store, mapping: IngestMapping())
            try ing.ingest(data: Array(text.utf8))
            try ing.commitAndClose()
            #expect(ing.summary.inserted == names.count)
        }
        var domainsByThread: [UInt: Set<String>] = [:]
        for e in fs.recorded {
            guard let d = names.first(where: { e.path.hasSuffix("/domain=\($0)") }) else { continue }
            domainsByThread[e.thread, default: []].insert(d)
        }
        #expect(domainsByThread.count == 2)
        #expect(domainsByThread.values.map(\.count).sorted() == [3, 3], "\(domainsByThread.values.map { $0.sorted() })")
    }
}

@Suite struct StoreThreadTests {
    /// Many commit rounds, each fsyncing at least 24 segment files, run on the
    /// store's threads: at most `IOThreadPool.defaultMaxThreads` are ever started
    /// (a thread per fsync and per round would start over 300 here); the 12
    /// ingest calls parse on one thread and compress on one helper; closing
    /// the store ends all of them. Every example is then readable.
    @Test func commitRoundsReuseTheStoresThreadsAndCloseStopsThem() throws {
        let path = temporaryStorePath()
        let rounds = 12, domains = 8, perDomain = 9
        let store = try Store.open(at: path)
        do {
            let ing = try Ingester(store: store, mapping: IngestMapping())
            ing.commitEveryRecords = 1
            for r in 0..<rounds {
                var text = ""
                for i in 0..<(domains * perDomain) {
                    let ts = Int64(1_735_689_600_000) + Int64(i % 3) * 2_678_400_000 + Int64(i)
                    text += #"{"prompt":"Q\#(r)-\#(i)","response":"A","domain":"d\#(i % domains)","timestamp":\#(ts)}"# + "\n"
                }
                try ing.ingest(data: Array(text.utf8))
            }
            try ing.commitAndClose()
            #expect(ing.summary.inserted == rounds * domains * perDomain)
            #expect(ing.summary.commits >= rounds)
        }
        // A round's fsyncs ran on them: 24 segment files and MANIFEST.tmp take 24 helpers besides the caller.
        #expect(store.ioThreads.threadsStarted >= 24)
        #expect(store.ioThreads.threadsStarted <= IOThreadPool.defaultMaxThreads)
        #expect(store.ioThreads.threadsAlive == 0)
        // Every ingest call parsed on the same thread, and every batch's LZ4 helper ran on one thread.
        #expect(store.parseThread.threadsStarted == 1)
        #expect(store.compressionThread.threadsStarted == 1)
        #expect(store.parseThread.threadsAlive == 0 && store.compressionThread.threadsAlive == 0)
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.count == rounds * domains * perDomain)
    }
}

extension StoreThreadTests {
    /// A close beside an ingest whose input is still open returns: it does
    /// not wait for the parse stage (on the store's parse thread), which may
    /// wait for input for as long as the writer keeps it open. The guard only
    /// keeps a regression from hanging the suite.
    @Test func closeBesideAnIngestWaitingForInputReturns() throws {
        let dir = temporaryStorePath()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fifo = dir + "/input.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let store = try Store.open(at: dir + "/store")
        // @unchecked: the ingester is used only by the thread below once made.
        struct Handed: @unchecked Sendable { let ing: Ingester }
        let handed = Handed(ing: try Ingester(store: store, mapping: IngestMapping()))
        let ended = NSCondition()
        let ingestEnded = Locked(false)
        let t = Thread {
            _ = try? handed.ing.ingest(path: fifo)
            ended.lock(); ingestEnded.store(true); ended.broadcast(); ended.unlock()
        }
        t.start()
        let writer = try #require(FileHandle(forWritingAtPath: fifo))  // opens once the ingest does
        writer.write(Data(#"{"prompt":"Q","response":"A","domain":"d","timestamp":1735689600000}"#.utf8 + [0x0A]))
        let closed = Locked(false)
        let inputOpen = Locked(true)
        let hangGuard = Thread {
            Thread.sleep(forTimeInterval: 120)
            if !closed.load() { inputOpen.store(false); try? writer.close() }
        }
        hangGuard.start()
        try store.close()
        closed.store(true)
        #expect(inputOpen.load(), "close returned only once the input ended")
        if inputOpen.load() { try writer.close() }
        ended.lock()
        while !ingestEnded.load() { ended.wait() }
        ended.unlock()
        #expect(store.parseThread.threadsAlive == 0)
    }
}

extension StoreThreadTests {
    /// Two ingests on one store from two threads at once: their parse stages
    /// share the store's one parse thread, so they take turns, and both finish
    /// with every example stored once. A deadlock fails the test after the
    /// guard (a hang guard, not a performance bound) instead of hanging the suite.
    @Test func twoIngestsOnOneStoreAtOnceBothFinish() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        let perIngest = 6_000, calls = 10
        let done = DispatchSemaphore(value: 0)
        let failures = Locked<[String]>([])
        for worker in 0..<2 {
            let t = Thread {
                do {
                    let ing = try Ingester(store: store, mapping: IngestMapping())
                    ing.commitEveryRecords = 50
                    for c in 0..<calls {
                        var text = ""
                        for i in 0..<(perIngest / calls) {
                            let n = c * (perIngest / calls) + i
                            // The workers offer half of their records twice between them: duplicates across the ingests.
                            let key = n % 2 == 0 ? "shared-\(n)" : "w\(worker)-\(n)"
                            text += #"{"prompt":"\#(key)","response":"A","domain":"d\#(n % 4)","timestamp":1735689600000}"# + "\n"
                        }
                        try ing.ingest(data: Array(text.utf8))
                    }
                    try ing.commit()
                } catch {
                    failures.withLock { $0.append("worker \(worker): \(error)") }
                }
                done.signal()
            }
            t.start()
        }
        for _ in 0..<2 {
            guard done.wait(timeout: .now() + 120) == .success else {
                Issue.record("two ingests on one store did not finish within 120 s (deadlock?)")
                return
            }
        }
        #expect(failures.withLock { $0 } == [])
        try store.close()
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        // 200 shared prompts once, and each worker's 200 own ones.
        #expect(try reader.count == perIngest / 2 + 2 * (perIngest / 2))
    }
}
