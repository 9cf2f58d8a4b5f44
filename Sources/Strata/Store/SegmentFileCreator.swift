import Foundation

/// Creates the segment files (and partition directories) an ingest batch
/// opens, on helper threads, while the store thread goes on appending: the
/// entries of a new segment stay in memory until the batch ends, and creating
/// an inode can cost far more than appending (ext4 skips recently freed
/// inodes one by one: ~0.1 ms per file or directory after a store was
/// deleted, over 1 ms when many were). The store waits for all of them
/// (`Store.finishSegmentCreations`) before the batch's blocks are written, the
/// catalog reads the files, or a commit syncs them; directories the helpers
/// created are fsynced by the next commit, as before.
///
/// Two helpers, because that wait is CPU in the kernel while the rest of the
/// pipeline is blocked (the first batches open every partition): one helper
/// left the other core idle. A domain's jobs all go to the same helper and
/// run in submission order, so a domain directory made for one partition is
/// seen by the next one in the same domain.
// @unchecked: `jobs`, `queues`, `taken`, `started`, `alive`, `stopping`, `helperOf` and each job's outcome
// are touched only under `condition`; a job's inputs are immutable values; `fs` is thread-safe
// (the store's file systems are used from the commit round's threads too).
final class SegmentFileCreator: @unchecked Sendable {
    struct Job {
        let path: String
        let domainDir: String
        let dir: String
        let header: [UInt8]
        let fileMode: UInt32
        let directoryMode: UInt32
    }

    /// What a job did: the file (header written), or the error; whether it made the directories.
    struct Outcome {
        var file: Result<WritableFile, Error>
        var createdDomainDir = false
        var createdDir = false
    }

    static let helpers = 2

    private let fs: FileSystem
    private let threads: IOThreadPool
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var outcomes: [Outcome?] = []
    /// Per helper: its job indices in submission order, and how many it took.
    private var queues = [[Int]](repeating: [], count: SegmentFileCreator.helpers)
    private var taken = [Int](repeating: 0, count: SegmentFileCreator.helpers)
    /// Helpers (tasks on the store's threads) are started on their first job (a batch that opens no segment starts none).
    private var started = [Bool](repeating: false, count: SegmentFileCreator.helpers)
    private var alive = 0
    private var stopping = false
    /// Each domain directory's helper: the domains take turns in the order they first appear.
    private var helperOf: [String: Int] = [:]

    /// The helper for a domain directory, so its jobs stay in order on one
    /// thread. Turns by first appearance split the domains evenly; a hash of
    /// the name left c200's 12 domains 10 to 2 under XXH3 (6 to 6 under FNV-1a, by luck).
    /// REQUIRES: `condition` is held.
    private func helper(for domainDir: String) -> Int {
        if let w = helperOf[domainDir] { return w }
        let w = helperOf.count % Self.helpers
        helperOf[domainDir] = w
        return w
    }

    init(fs: FileSystem, threads: IOThreadPool) {
        self.fs = fs
        self.threads = threads
    }

    /// Queues a segment file; returns its job index.
    func submit(_ job: Job) -> Int {
        condition.lock()
        defer { condition.unlock() }
        let index = jobs.count
        jobs.append(job)
        outcomes.append(nil)
        let w = helper(for: job.domainDir)
        queues[w].append(index)
        if !started[w] {
            started[w] = true
            alive += 1
            threads.async { [self] in helperLoop(w) }
        }
        condition.broadcast()
        return index
    }

    /// Waits for job `index`.
    func outcome(_ index: Int) -> Outcome {
        condition.lock()
        defer { condition.unlock() }
        while outcomes[index] == nil { condition.wait() }
        return outcomes[index]!
    }

    /// Lets the helpers end once their queues are empty, and waits for them.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while alive > 0 { condition.wait() }
        condition.unlock()
    }

    private func helperLoop(_ w: Int) {
        while true {
            condition.lock()
            while taken[w] == queues[w].count && !stopping { condition.wait() }
            if taken[w] == queues[w].count {
                alive -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let i = queues[w][taken[w]]
            let job = jobs[i]
            taken[w] += 1
            condition.unlock()
            let o = create(job)
            condition.lock()
            outcomes[i] = o
            condition.broadcast()
            condition.unlock()
        }
    }

    /// What `Store.activeSegment(for:)` does on the store thread for a new segment.
    private func create(_ job: Job) -> Outcome {
        var o = Outcome(file: .failure(StrataError(.io, "not created", path: job.path)))
        do {
            try Store.refuseSymbolicLink(fs, job.domainDir)
            try Store.refuseSymbolicLink(fs, job.dir)
            if !fs.isDirectory(job.dir) {
                if !fs.isDirectory(job.domainDir) {
                    try fs.createDirectory(job.domainDir, mode: job.directoryMode)
                    o.createdDomainDir = true
                }
                try fs.createDirectory(job.dir, mode: job.directoryMode)
                o.createdDir = true
            }
            let file = try ActiveSegment.createFile(fs: fs, path: job.path, mode: job.fileMode, header: job.header)
            o.file = .success(file)
        } catch {
            o.file = .failure(error)
        }
        return o
    }
}

/// A segment file the creator is making: its size is the header's until the
/// store resolves it (`Store.finishSegmentCreations`), which every write,
/// sync and close does first.
final class CreatedLaterFile: WritableFile {
    let path: String
    private let creator: SegmentFileCreator
    private let job: Int
    private let headerSize: Int64
    private var file: WritableFile?

    init(path: String, creator: SegmentFileCreator, job: Int, headerSize: Int64) {
        self.path = path
        self.creator = creator
        self.job = job
        self.headerSize = headerSize
    }

    /// The created file (waits for it); throws the creation's error.
    @discardableResult
    func resolve() throws -> WritableFile {
        if let file { return file }
        let f = try creator.outcome(job).file.get()
        file = f
        return f
    }

    var size: Int64 { file?.size ?? headerSize }
    func write(_ bytes: UnsafeRawBufferPointer) throws { try resolve().write(bytes) }
    func sync() throws { try resolve().sync() }
    func truncate(to size: Int64) throws { try resolve().truncate(to: size) }
    func close() throws { try resolve().close() }
    func startWriteback(offset: Int64, length: Int64) { file?.startWriteback(offset: offset, length: length) }
}
