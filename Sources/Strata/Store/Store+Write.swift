import Foundation

extension Store {
    /// Appends one example. With the `everyBatch` policy it is durable on return.
    @discardableResult
    public func append(_ example: Example) throws -> AppendOutcome {
        var d = ExampleDraft(example)
        return try append(draft: &d)
    }

    /// Appends a batch; one outcome per example, in order. Invalid examples throw
    /// before anything of the batch is written.
    @discardableResult
    public func append(contentsOf examples: [Example]) throws -> [AppendOutcome] {
        var drafts = examples.map(ExampleDraft.init)
        for d in drafts { try ExampleValidation.validate(d) }
        return try lock.withLock {
            var out: [AppendOutcome] = []
            out.reserveCapacity(drafts.count)
            for i in drafts.indices { out.append(try appendLocked(&drafts[i])) }
            try afterBatchLocked()
            return out
        }
    }

    /// The allocation-free append path used by ingest: validates, hashes,
    /// dedups and encodes the draft. The draft is not modified.
    @discardableResult
    public func append(draft: inout ExampleDraft) throws -> AppendOutcome {
        try ExampleValidation.validate(draft)
        return try lock.withLock {
            let o = try appendLocked(&draft)
            try afterBatchLocked()
            return o
        }
    }

    /// Appends already-validated drafts without applying the commit policy per
    /// call; the caller (ingest) commits or calls `applyCommitPolicy()`.
    public func appendValidated(_ draft: inout ExampleDraft) throws -> AppendOutcome {
        try lock.withLock { try appendLocked(&draft) }
    }

    /// Applies the commit policy as if a batch had just ended.
    public func applyCommitPolicy() throws {
        try lock.withLock { try afterBatchLocked() }
    }

    func afterBatchLocked() throws {
        switch options.commitPolicy {
        case .everyBatch: try commitLocked()
        case let .interval(s): if Date().timeIntervalSince(lastCommit) >= s { try commitLocked() }
        case .manual: break
        }
    }

    func appendLocked(_ d: inout ExampleDraft) throws -> AppendOutcome {
        guard !closed else { throw StrataError(.usage, "store is closed", path: path) }
        return try guardWrite {
            let (id, idKey) = try identity.assign(d)
            entryBuffer.bytes.removeAll(keepingCapacity: true)
            RecordCodec.appendExampleEntry(d, id: id, idKey: idKey, to: &entryBuffer)
            let key = partitionKey(of: d)
            return try entryBuffer.bytes.withUnsafeBytes {
                try appendEntryLocked($0, id: id, idKey: idKey, partition: key, timestamp: d.timestampMillis)
            }
        }
    }

    func partitionKey(of d: ExampleDraft) -> PartitionKey {
        let month = Month(timestampMillis: d.timestampMillis)
        let domainBytes = d.storage[d.domain.start..<(d.domain.start + d.domain.count)]
        if let last = lastPartition, last.month == month, last.domain.elementsEqual(domainBytes) { return last.key }
        let key = PartitionKey(domain: String(decoding: domainBytes, as: UTF8.self), month: month)
        lastPartition = (Array(domainBytes), month, key)
        return key
    }

    /// Keeps the catalog's view of the live segment current and rolls full segments.
    func noteWrites(_ seg: ActiveSegment) throws {
        let known = catalog.blockOffsets[seg.sequence]?.count ?? 0
        if seg.blocks.count > known {
            for b in seg.blocks[known...] { catalog.noteBlock(segment: seg.sequence, offset: b.offset, validLength: seg.file.size) }
        }
        if !seg.sealed && seg.approximateSize >= options.segmentTargetBytes { try roll(seg) }
    }

    /// Seals a full segment; the next append to its partition starts a new one.
    func roll(_ seg: ActiveSegment) throws {
        try awaitBackgroundCommitLocked()  // its round may be syncing this file, which is closed here
        try finishSegmentCreations()  // the catalog must know the segment before it is replaced there
        try seg.seal()
        try seg.close()
        active[seg.partition] = nil
        dedup.forgetOpenSegment(seg.sequence)
        if let i = manifest.segments.firstIndex(where: { $0.sequence == seg.sequence }) { manifest.segments[i].state = .sealed }
        manifestDirty = true
        catalog.remove(seg.sequence)
        let p = catalog.segmentPath(seg.partition, seg.sequence)
        let file = try SegmentFile(fs: fs, path: p, sequence: seg.sequence, partition: seg.partition, expectSealed: true)
        catalog.add(file, blockOffsets: file.footer!.blocks.map(\.offset))
    }

    /// The partition's active segment, creating directories and the file if needed.
    func activeSegment(for key: PartitionKey) throws -> ActiveSegment {
        if let s = active[key] { return s }
        let domainDir = path + "/domain=" + key.domain
        let dir = domainDir + "/month=\(key.month)"
        if createSegmentsLater {
            let creator = segmentCreator ?? SegmentFileCreator(fs: fs, threads: ioThreads)
            segmentCreator = creator
            return newSegmentCreatedLater(key, domainDir: domainDir, dir: dir, creator: creator)
        }
        try Store.refuseSymbolicLink(fs, domainDir)
        try Store.refuseSymbolicLink(fs, dir)
        if !fs.isDirectory(dir) {
            if !fs.isDirectory(domainDir) {
                try fs.createDirectory(domainDir, mode: options.directoryMode)
                dirsToSync.insert(path)
            }
            try fs.createDirectory(dir, mode: options.directoryMode)
            dirsToSync.insert(domainDir)
        }
        dirsToSync.insert(dir)
        let seq = manifest.nextSegment
        manifest.nextSegment += 1
        let p = catalog.segmentPath(key, seq)
        let seg = try ActiveSegment(fs: fs, path: p, sequence: seq, partition: key, codec: .lz4,
                                    blockTarget: options.blockTargetBytes, fileMode: options.fileMode, refBudget: footerRefBudget)
        manifest.segments.append(Manifest.SegmentEntry(sequence: seq, partition: key, state: .active))
        manifestDirty = true
        active[key] = seg
        // Duplicates of its examples are confirmed from memory, not by reading their block back.
        dedup.rememberOpenSegment(seq) { loc in seg.exampleID(at: loc) }
        let file = try SegmentFile(fs: fs, path: p, sequence: seq, partition: key, expectSealed: false)
        catalog.add(file, blockOffsets: [])
        return seg
    }

    /// `activeSegment(for:)` during an ingest batch: the same segment, its
    /// file made by `creator` while the batch goes on (`finishSegmentCreations`).
    private func newSegmentCreatedLater(_ key: PartitionKey, domainDir: String, dir: String, creator: SegmentFileCreator) -> ActiveSegment {
        let seq = manifest.nextSegment
        manifest.nextSegment += 1
        let p = catalog.segmentPath(key, seq)
        let header = SegmentHeader(sequence: seq).encode()
        let job = creator.submit(.init(path: p, domainDir: domainDir, dir: dir, header: header, fileMode: options.fileMode,
                                       directoryMode: options.directoryMode))
        let file = CreatedLaterFile(path: p, creator: creator, job: job, headerSize: Int64(header.count))
        let seg = ActiveSegment(fs: fs, creating: file, sequence: seq, partition: key, codec: .lz4,
                                blockTarget: options.blockTargetBytes, refBudget: footerRefBudget)
        dirsToSync.insert(dir)
        manifest.segments.append(Manifest.SegmentEntry(sequence: seq, partition: key, state: .active))
        manifestDirty = true
        active[key] = seg
        dedup.rememberOpenSegment(seq) { loc in seg.exampleID(at: loc) }
        segmentsCreatedLater.append((seg, file, job, domainDir))
        return seg
    }

    /// Waits for the segment files being created, notes the directories made
    /// for them (fsynced by the next commit) and lets the catalog read them.
    /// Ends the batch's creator. A failed creation poisons the writer.
    /// REQUIRES: the lock is held.
    func finishSegmentCreations() throws {
        createSegmentsLater = false
        guard let creator = segmentCreator else { return }
        segmentCreator = nil
        let pending = segmentsCreatedLater
        segmentsCreatedLater = []
        defer { creator.stop() }
        try guardWrite {
            for (seg, file, job, domainDir) in pending {
                let o = creator.outcome(job)
                try file.resolve()
                if o.createdDomainDir { dirsToSync.insert(path) }
                if o.createdDir { dirsToSync.insert(domainDir) }
                let f = try SegmentFile(fs: fs, path: seg.path, sequence: seg.sequence, partition: seg.partition, expectSealed: false)
                // Blocks a duplicate-seen entry closed during the batch are already noted.
                catalog.add(f, blockOffsets: catalog.blockOffsets[seg.sequence] ?? [])
            }
        }
    }

    /// Commits and closes: `close()` seals the active segments and commits
    /// with one round of fsyncs, but closes a poisoned writer without
    /// committing, and a closed one silently; this throws then, as `commit()` would.
    public func commitAndClose() throws {
        try lock.withLock {
            guard !closed else { throw StrataError(.usage, "store is closed", path: path) }
            if let poisonedBy {
                throw StrataError(.poisoned, "an earlier write failed (\(poisonedBy.message)); nothing more can be committed", path: poisonedBy.path, cause: poisonedBy)
            }
            // The open blocks (one per partition) compressed on two threads now;
            // sealing would compress them one by one.
            try guardWrite {
                for seg in active.values { seg.closeBlockDeferred() }
                try writeDetachedBlocksLocked()
                for seg in active.values { try noteWrites(seg) }
            }
        }
        try close()
    }

    /// Makes everything appended so far durable (SPEC.md §7): writes open
    /// blocks, fsyncs segment files, fsyncs new directories, and records new
    /// segments in the manifest. Returns only when all of that succeeded.
    public func commit() throws {
        try lock.withLock { try commitLocked() }
    }

    func commitLocked() throws {
        guard !closed else { throw StrataError(.usage, "store is closed", path: path) }
        try awaitBackgroundCommitLocked()
        try guardWrite {
            let round = try prepareCommitLocked()
            try round.run(fs: fs, steps: &commitSteps)
            lastCommit = Date()
        }
        let indexStart = Ingester.now()
        dedupAfterCommitLocked()
        commitSteps.index += Ingester.now() - indexStart
    }

    /// The part of a commit done under the lock before its fsyncs: writes the
    /// open blocks and collects the fsyncs (segments written since the last
    /// commit, directories that gained entries, MANIFEST.tmp naming the
    /// committed lengths) and the manifest install that must follow them.
    /// REQUIRES: the lock is held, inside `guardWrite`; no background commit is running.
    func prepareCommitLocked() throws -> CommitRound {
        // The open blocks are compressed on two threads (at the end of an
        // ingest they are one per partition), then written in block order.
        let blocksStart = Ingester.now()
        let open = Array(active.values)
        for seg in open { seg.closeBlockDeferred() }
        try writeDetachedBlocksLocked()
        for seg in open { try noteWrites(seg) }
        commitSteps.blocks += Ingester.now() - blocksStart
        commitSteps.commits += 1
        // Segment files and the directories that gained entries are independent
        // fsyncs; all must finish before the manifest (which names the new
        // segments) is replaced, so an acknowledged commit never depends on an
        // unsynced file or directory entry.
        var round = CommitRound(pool: ioThreads)
        round.jobs = active.values.compactMap { $0.takeSyncJob() }
        let fs = self.fs
        round.jobs += dirsToSync.map { dir in { try fs.syncDirectory(dir) } }
        dirsToSync.removeAll()
        noteCommittedLengths()
        if manifestDirty {
            // The manifest records each active segment's committed length
            // (SPEC.md §7), so it changes with every commit that wrote data.
            // MANIFEST.tmp is written and fsynced alongside the data fsyncs;
            // only the rename, after all of them succeeded, makes it current.
            // Cost over a commit without it: one rename and one directory fsync.
            manifest.generation += 1
            let bytes = try manifest.encode()
            let mp = path + "/" + Format.manifestFileName
            let mode = options.fileMode
            round.jobs.append { try fs.writeReplacement(mp, mode: mode) { try $0.write(bytes) } }
            round.manifestPath = mp
            manifestDirty = false
        }
        return round
    }
}

/// A commit's fsyncs and the manifest install that follows them (`prepareCommitLocked`).
struct CommitRound {
    var jobs: [() throws -> Void] = []
    /// Set when MANIFEST.tmp is among the jobs: renamed over MANIFEST once all succeeded.
    var manifestPath: String?
    /// The store's threads the fsyncs run on.
    var pool: IOThreadPool?

    /// Runs the fsyncs together, then installs the manifest; adds the times to `steps`.
    func run(fs: FileSystem, steps: inout CommitSteps) throws {
        let syncStart = Ingester.now()
        try ParallelSync.run(jobs, on: pool)
        let installStart = Ingester.now()
        steps.fsync += installStart - syncStart
        guard let manifestPath else { return }
        try fs.installReplacement(manifestPath)
        steps.manifest += Ingester.now() - installStart
    }
}

extension Store {
    /// Records in the manifest the length of every active segment as of this
    /// commit (all of it is being made durable); marks the manifest dirty when
    /// one changed.
    func noteCommittedLengths() {
        guard !active.isEmpty else { return }
        var bySeq: [UInt64: Int64] = [:]
        for seg in active.values where !seg.sealed { bySeq[seg.sequence] = seg.file.size }
        for i in manifest.segments.indices where manifest.segments[i].state == .active {
            guard let size = bySeq[manifest.segments[i].sequence], manifest.segments[i].committed != size else { continue }
            manifest.segments[i].committed = size
            manifestDirty = true
        }
    }
}

/// Wall seconds of the commit steps, summed over the commits (and the close)
/// of a writer: closing and writing the open blocks, waiting for the fsync
/// round (segments, new directories, MANIFEST.tmp), installing the manifest,
/// sealing at close (footers), and the index snapshot and summaries.
public struct CommitSteps: Sendable {
    public var commits = 0
    /// Of `commits`, those whose fsyncs ran in the background (`beginBackgroundCommit`).
    public var background = 0
    /// Waiting for background commits to finish (their fsync and manifest
    /// times are counted in `fsync` and `manifest` too, though they overlapped appends).
    public var backgroundWait = 0.0
    public var blocks = 0.0
    public var fsync = 0.0
    public var manifest = 0.0
    public var seal = 0.0
    public var index = 0.0
}

extension Store {
    /// The commit steps' times so far (for `strata ingest --profile`).
    public var commitStepTimes: CommitSteps { lock.withLock { commitSteps } }
}
