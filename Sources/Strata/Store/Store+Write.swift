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
        try guardWrite {
            // The open blocks are compressed on two threads (at the end of an
            // ingest they are one per partition), then written in block order.
            let open = Array(active.values)
            for seg in open { seg.closeBlockDeferred() }
            try writeDetachedBlocksLocked()
            for seg in open { try noteWrites(seg) }
            // Segment files and the directories that gained entries are independent
            // fsyncs; all must finish before the manifest (which names the new
            // segments) is replaced, so an acknowledged commit never depends on an
            // unsynced file or directory entry.
            var jobs: [() throws -> Void] = active.values.filter(\.needsSync).map { seg in { try seg.sync() } }
            let fs = self.fs
            jobs += dirsToSync.map { dir in { try fs.syncDirectory(dir) } }
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
                jobs.append { try fs.writeReplacement(mp, mode: mode) { try $0.write(bytes) } }
                try ParallelSync.run(jobs)
                try fs.installReplacement(mp)
                manifestDirty = false
            } else {
                try ParallelSync.run(jobs)
            }
            dirsToSync.removeAll()
            lastCommit = Date()
        }
        dedupAfterCommitLocked()
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
