import Foundation

/// A Strata store opened for writing: the single writer of its directory.
///
/// Thread-safety: every public method takes the store's lock, so a `Store`
/// may be shared between threads; appends are serialized.
// @unchecked: every mutable member is touched only under `lock` (compaction's own counters under its condition).
public final class Store: @unchecked Sendable {
    public let path: String
    public let options: StoreOptions
    let fs: FileSystem
    let lock = Lock()
    private var fileLock: FileLock?
    var manifest: Manifest
    var manifestDirty = false
    /// The segments, registered at open and read per partition when touched;
    /// it also holds the annotation refs of the opened partitions (SPEC.md §4.6).
    let catalog: SegmentCatalog
    /// Store-wide dedup index (SPEC.md §5; Index/DedupIndex.swift).
    var dedup = DedupIndex(key: .content)
    /// Summaries of sealed segments, mirrored in `index/stats.sum` (Store+Summaries.swift).
    var digests: [UInt64: SegmentDigest] = [:]
    /// Compactions in progress and dictionary ids; see Store+Compaction.swift.
    let compactionState = CompactionState()
    var active: [PartitionKey: ActiveSegment] = [:]
    /// Bounds the footer refs the active segments keep in memory (SegmentBuilder.swift).
    let footerRefBudget = FooterRefBudget()
    /// Directories created since the last commit; fsynced at commit.
    var dirsToSync: Set<String> = []
    /// Set after a failed write or fsync: the writer refuses further writes.
    var poisonedBy: StrataError?
    var closed = false
    var lastCommit = Date()
    /// The `.interval` policy's background committer (Store+CommitTimer.swift).
    var commitTimer: CommitTimer?
    /// The last failed background (timer or exit-time) commit, if any.
    public internal(set) var backgroundCommitError: Error?
    public internal(set) var recoveryEvents: [RecoveryEvent] = []
    // Reused buffers for the append path.
    var entryBuffer = ByteWriter(capacity: 8 << 10)
    /// Assigns ids (plain or keyed, SPEC.md §4.1); set up with the store's dedup key.
    var identity = ExampleIdentity(.content)
    var readBuffers = ReadBuffers()
    var lastPartition: (domain: [UInt8], month: Month, key: PartitionKey)?
    /// Wall seconds of the commit steps so far (`strata ingest --profile`).
    var commitSteps = CommitSteps()
    /// The commit whose fsyncs are running in the background, if any (Store+BackgroundCommit.swift).
    var backgroundCommit: BackgroundCommitRound?
    /// During an ingest batch: new segment files are made by `segmentCreator` (SegmentFileCreator.swift).
    var createSegmentsLater = false
    var segmentCreator: SegmentFileCreator?
    var segmentsCreatedLater: [(seg: ActiveSegment, file: CreatedLaterFile, job: Int, domainDir: String)] = []
    /// Threads for commit rounds, their fsyncs and segment file creation; stopped by `close`.
    let ioThreads = IOThreadPool()
    /// The ingest batches' block compression helper (DetachedBlockCompressor.swift); stopped by `close`.
    let compressionThread = IOThreadPool(maxThreads: 1, name: "strata-lz4")
    /// The ingest's parse stage (Ingester.swift); stopped by `close`.
    let parseThread = IOThreadPool(maxThreads: 1, name: "strata-parse", stackSize: 4 << 20)

    /// Opens (and with `createIfMissing`, creates) the store at `path`,
    /// recovering from any earlier crash. Throws `.locked` if another writer has it.
    public static func open(at path: String, options: StoreOptions = StoreOptions()) throws -> Store {
        let s = try Store(path: path, options: options)
        s.startIntervalCommits()
        return s
    }

    private init(path: String, options: StoreOptions) throws {
        self.path = path
        self.options = options
        fs = options.fileSystem
        catalog = SegmentCatalog(fs: fs, root: path)
        let manifestPath = path + "/" + Format.manifestFileName
        try options.dedupKey?.validate()
        if !fs.isDirectory(path) {
            guard options.createIfMissing else { throw StrataError(.notFound, "no store at this path (use createIfMissing or `strata ingest` to create one)", path: path) }
            // createDirectory also creates missing ancestors. Each new directory's
            // entry lives in its parent, so every parent from the deepest
            // pre-existing ancestor down must be fsynced, or a power loss after
            // the first commit could drop the whole store (found by
            // StoreCreationDurabilityTests under the simulated file system).
            var parents: [String] = []
            var p = path
            while true {
                let dir = PathName.parent(of: p)
                parents.append(dir)
                if dir == p || dir == "." || dir == "/" || fs.isDirectory(dir) { break }
                p = dir
            }
            try fs.createDirectory(path, mode: options.directoryMode)
            for dir in parents { try fs.syncDirectory(dir) }  // children before parents
        }
        try Store.checkPermissions(fs: fs, path: path, options: options)
        // A directory that is neither empty nor a store is refused before the
        // LOCK file is created, so nothing is written into it (checked again
        // under the lock below).
        if !fs.fileExists(manifestPath) {
            let names = try fs.listDirectory(path).filter { $0 != Format.lockFileName && $0 != Format.manifestFileName + ".tmp" }
            guard names.isEmpty else {
                throw StrataError(.corruption, "directory is not empty but has no MANIFEST: not a Strata store, or its manifest was lost (found \(names.prefix(3).joined(separator: ", ")))", path: path)
            }
        }
        fileLock = try fs.lockExclusive(path + "/" + Format.lockFileName)
        if fs.fileExists(manifestPath) {
            manifest = try Manifest.decode(try fs.readFile(manifestPath), path: manifestPath)
        } else {
            let names = try fs.listDirectory(path).filter { $0 != Format.lockFileName && $0 != Format.snapshotLockFileName && $0 != Format.manifestFileName + ".tmp" }
            guard names.isEmpty else {
                throw StrataError(.corruption, "directory is not empty but has no MANIFEST: not a Strata store, or its manifest was lost (found \(names.prefix(3).joined(separator: ", ")))", path: path)
            }
            guard options.createIfMissing else { throw StrataError(.notFound, "no store here", path: path) }
            manifest = Manifest(storeID: Store.randomHex(), created: ISO8601DateFormatter().string(from: Date()))
            manifest.dedup = (options.dedupKey ?? .content).manifestValue
            try writeManifest()
        }
        do {
            dedup = DedupIndex(key: try resolveDedupKey())
            identity = ExampleIdentity(dedup.key)
            try recover()
        } catch {
            fileLock?.unlock()
            throw error
        }
    }

    static func randomHex() -> String {
        var g = SystemRandomNumberGenerator()
        return ExampleID(high: g.next(), low: g.next()).hex
    }

    static func checkPermissions(fs: FileSystem, path: String, options: StoreOptions) throws {
        guard options.checkPermissions else { return }
        let (uid, mode) = try fs.ownerAndMode(path)
        if mode & 0o002 != 0 {
            throw StrataError(.permission, "store directory is world-writable (mode \(String(mode, radix: 8))); run `chmod o-w` on it or open with checkPermissions=false", path: path)
        }
        // No exemption for root: root writing into a directory another user
        // controls is exactly the case this check exists for (that user can
        // swap files or plant links under it). Use checkPermissions=false to override.
        if uid != geteuid() {
            throw StrataError(.permission, "store directory is owned by uid \(uid), not by you (uid \(geteuid())); refusing to write another user's store (chown it, or open with checkPermissions=false)", path: path)
        }
    }

    /// Replaces MANIFEST atomically (SPEC.md §2.1).
    func writeManifest() throws {
        try awaitBackgroundCommitLocked()  // its MANIFEST.tmp and rename come first
        manifest.generation += 1
        let bytes = try manifest.encode()
        try fs.replaceAtomically(path + "/" + Format.manifestFileName, mode: options.fileMode) {
            try $0.write(bytes)
        }
        manifestDirty = false
    }

    /// Seals every active segment, commits, and releases the lock.
    public func close() throws {
        compactionState.cancelAndWait()  // no compaction may outlive the writer lock
        stopIntervalCommits()
        // The helper threads end with the writer, outside the lock (a task
        // must not wait for it). An ingest's parse stage running beside a
        // close may wait for input: its thread ends when the stage does.
        defer {
            ioThreads.stop()
            compressionThread.stop()
            parseThread.stop(waitForRunning: false)
        }
        try lock.withLock {
            guard !closed else { return }
            defer {
                closed = true
                catalog.closeAll()
                fileLock?.unlock()
                fileLock = nil
            }
            if poisonedBy == nil {
                try guardWrite {
                    try awaitBackgroundCommitLocked()
                    // Seal everything, fsync all together, then one manifest write
                    // marks them sealed (a crash in between leaves sealed files
                    // listed as active, which recovery accepts).
                    let sealStart = Ingester.now()
                    for seg in active.values { try seg.sealWithoutSync() }
                    commitSteps.seal += Ingester.now() - sealStart
                    for seg in active.values {
                        if let i = manifest.segments.firstIndex(where: { $0.sequence == seg.sequence }) { manifest.segments[i].state = .sealed }
                    }
                    if !active.isEmpty { manifestDirty = true }
                    try commitLocked()
                    var sealedNow: [UInt64: SegmentDigest] = [:]
                    for seg in active.values {
                        sealedNow[seg.sequence] = seg.sealedDigest
                        try seg.close()
                    }
                    active = [:]
                    // A paged index is rewritten only when due: the next open catches up the rest.
                    let indexStart = Ingester.now()
                    if dedup.snapshotWanted(due: indexSnapshotDueAtClose) { try writeIndexSnapshotLocked(sealedNow: sealedNow) }
                    try writeSummariesLocked(sealedNow: sealedNow)
                    commitSteps.index += Ingester.now() - indexStart
                }
            } else if let round = backgroundCommit {
                // A poisoned writer commits nothing more, but its last round must not outlive the lock.
                backgroundCommit = nil
                _ = round.wait()
            }
        }
    }

    /// A store dropped without `close()` is closed here; a failure cannot be
    /// thrown from deinit, so it is written to stderr rather than lost silently.
    deinit {
        if !closed {
            do { try close() } catch {
                FileHandle.standardError.write(Data("strata: closing store \(path) on release failed (data since the last commit may be lost): \(error)\n".utf8))
            }
        }
    }

    /// Number of unique examples known to the writer (committed or pending).
    public var count: Int { lock.withLock { dedup.count } }

    /// Runs a write step; on failure poisons the writer (SPEC.md §7).
    func guardWrite<T>(_ body: () throws -> T) throws -> T {
        if let poisonedBy {
            throw StrataError(.poisoned, "an earlier write failed (\(poisonedBy.message)); this writer refuses further writes — close and reopen the store to recover", path: poisonedBy.path, cause: poisonedBy)
        }
        do {
            return try body()
        } catch let e as StrataError {
            if e.code != .invalidInput && e.code != .usage { poisonedBy = e }
            throw e
        } catch {
            let e = StrataError(.io, "write failed", cause: error)
            poisonedBy = e
            throw e
        }
    }
}
