import Foundation
import Testing
@testable import Strata

/// A commit's fsyncs wait for the device, not a core: they must not be
/// limited to as many at once as there are cores.
@Suite struct ParallelSyncTests {
    /// 16 jobs that each wait until all 16 have started: with threads of
    /// their own they all start at once. A Dispatch queue starts one thread per
    /// core and adds about one a second while they block (15 s to reach 16
    /// here), far longer than a commit round lasts; it misses the 5 s deadline.
    @Test func commitFsyncsRunConcurrentlyBeyondTheCoreCount() throws {
        let n = 16
        let condition = NSCondition()
        let arrived = Locked(0)
        let sawAll = Locked(0)
        let jobs: [() throws -> Void] = (0..<n).map { _ in
            {
                condition.lock()
                arrived.withLock { $0 += 1 }
                condition.broadcast()
                let deadline = Date().addingTimeInterval(5)
                while arrived.load() < n && condition.wait(until: deadline) {}
                if arrived.load() == n { sawAll.withLock { $0 += 1 } }
                // A failing run: later jobs do not wait again.
                if arrived.load() < n { arrived.withLock { $0 = -1_000_000 } }
                condition.unlock()
            }
        }
        try ParallelSync.run(jobs, maxConcurrent: 32)
        #expect(sawAll.load() == n)
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
