import Foundation

/// What `Store.rebuildIndex()` did.
public struct IndexRebuildReport: Sendable, Equatable {
    /// Unique keys in the rebuilt index.
    public var entries: Int
    /// RAM held by the index table.
    public var memoryBytes: Int
}

extension Store {
    /// The dedup key the store was created with; `options.dedupKey`, when
    /// given, must match it (SPEC.md §5.3).
    func resolveDedupKey() throws -> DedupKey {
        let stored = try DedupKey(manifest: manifest.dedup, path: path + "/" + Format.manifestFileName)
        if let wanted = options.dedupKey, wanted != stored {
            throw StrataError(.usage, "store was created with dedup key \(stored) but is being opened with \(wanted); the key cannot change after creation (omit it to use the store's key)", path: path, field: "dedupKey")
        }
        return stored
    }

    /// Last step of recovery: load the index snapshot and catch up from the
    /// blocks it does not cover, or rebuild it (SPEC.md §5.4).
    func loadDedupIndexLocked() throws {
        let indexPath = path + "/" + Format.indexDirectoryName + "/" + Format.indexFileName
        let hadFile = fs.fileExists(indexPath)
        let segments = manifest.segments.map(\.sequence)
        // Paged, and block counts from the summaries: no footer is read for a
        // segment the file covers, and the table is not loaded (SPEC.md §7.3).
        let digests = self.digests
        switch try dedup.load(fs: fs, storePath: path, segments: segments, catalog: catalog, useFile: true,
                              paged: true, verifyPages: true, knownBlocks: { digests[$0]?.blocks }) {
        case let .loaded(n):
            if n > 0 { recoveryEvents.append(RecoveryEvent(kind: .indexCaughtUp, path: indexPath, bytes: Int64(n))) }
        case let .rebuilt(reason, n):
            if hadFile || !segments.isEmpty {
                recoveryEvents.append(RecoveryEvent(kind: .indexRebuilt, path: indexPath, bytes: Int64(n), detail: reason))
            }
        }
        if dedup.snapshotWanted(due: indexSnapshotDueAtClose) || (!hadFile && !segments.isEmpty) { try writeIndexSnapshotLocked() }
    }

    /// The dedup check of `appendEntryLocked`: nil if new (the key is
    /// remembered for `dedupInsertedLocked`), else the id of the stored example
    /// it duplicates, after recording the offer (SPEC.md §4.4). `entry` is the
    /// complete encoded example entry; it is decoded only when the key is not
    /// the id, or to record a duplicate. In a `content+fields` store the
    /// dedup key is the keyed id's key: `idKey`, when the caller assigned it
    /// (`ExampleIdentity.assign`), is used as is instead of decoding the entry.
    /// `facts`, when the caller has them (ingest), give the offer's source
    /// for a duplicate record without decoding the entry.
    func dedupCheckLocked(entry: UnsafeRawBufferPointer, id: ExampleID, idKey: ExampleID? = nil, partition: PartitionKey,
                          timestamp: Int64, facts: ExampleFacts? = nil) throws -> ExampleID? {
        // The common case first, out of the general path below: the key is the
        // id and it is new. (The general path's lazily decoded offer is a
        // captured variable, checked dynamically on every access.)
        var found: Location?
        if dedup.key.isExampleID {
            dedup.currentKey = id
            guard let loc = try dedup.lookup(id, catalog: catalog) else { return nil }
            found = loc
        }
        return try dedupCheckGeneralLocked(entry: entry, id: id, idKey: idKey, partition: partition, timestamp: timestamp,
                                           facts: facts, found: found)
    }

    /// `found`: where the id-keyed lookup already found the key.
    private func dedupCheckGeneralLocked(entry: UnsafeRawBufferPointer, id: ExampleID, idKey: ExampleID?, partition: PartitionKey,
                                         timestamp: Int64, facts: ExampleFacts?, found: Location?) throws -> ExampleID? {
        var offered: Example?
        func decodeOffered() throws -> Example {
            if let offered { return offered }
            var it = EntryIterator(entry, path: nil, blockOffset: 0)
            guard let (kind, entryBody, _) = try it.next(), kind == EntryKind.example.rawValue else {
                throw StrataError(.invalidInput, "append of an entry that is not an example")
            }
            var body = entryBody
            let e = try RecordCodec.decodeExampleBody(&body)
            offered = e
            return e
        }
        let k: ExampleID
        if dedup.key.isExampleID {
            k = id
        } else if identity.keyed, let idKey {
            k = idKey
        } else {
            k = try dedup.keyer.key(of: try decodeOffered())
            // Keyed ids (SPEC.md §4.1) are unique only if the entry's id covers its own key.
            if identity.keyed, try decodeOffered().idKey != k {
                throw StrataError(.invalidInput, "example \(id) does not carry the keyed id of this content+fields store", field: "id")
            }
        }
        dedup.currentKey = k
        guard let loc = try found ?? dedup.lookup(k, catalog: catalog) else { return nil }
        let stored: ExampleID
        if dedup.key.isExampleID {
            stored = k
        } else if let p = dedup.pending[k] {
            stored = p.id
        } else if case let .example(e)? = try dedup.entry(at: loc, catalog: catalog, decode: true) {
            stored = e.id
        } else {
            throw StrataError(.corruption, "dedup index points at \(loc), which holds no example", path: path)
        }
        if options.recordDuplicates {
            let source = try facts.map(\.source) ?? decodeOffered().source
            try appendDuplicateSeen(DuplicateSeen(target: stored, offered: id, timestampMillis: timestamp,
                                                  seenAtMillis: Int64(Date().timeIntervalSince1970 * 1000),
                                                  domain: partition.domain, source: source), partition: partition)
        }
        return stored
    }

    func dedupInsertedLocked(id: ExampleID, at loc: Location) throws {
        dedup.addPending(dedup.currentKey, id: id, at: loc)
        if dedup.pending.count >= DedupIndex.pendingLimit {
            // Bound RAM under manual commits: write the open blocks (not fsynced)
            // so their entries can move to the compact table.
            for seg in active.values {
                try seg.closeBlock()
                try noteWrites(seg)
            }
            dedup.mergePending()
        }
    }

    /// After a successful commit: everything appended is durable, so pending
    /// entries join the table, and a snapshot is written when enough changed.
    /// A failed snapshot does not fail the commit (the data is durable; the
    /// index catches up on the next open); it is kept in `indexSnapshotError`.
    func dedupAfterCommitLocked() {
        dedup.mergePending()
        guard indexSnapshotDue else {
            do { try dedup.materializeIfBusy() } catch { dedup.lastSnapshotError = error as? StrataError ?? StrataError(.io, "index load failed", cause: error) }
            return
        }
        do {
            try writeIndexSnapshotLocked()
            dedup.lastSnapshotError = nil
        } catch let e as StrataError {
            dedup.lastSnapshotError = e
        } catch {
            dedup.lastSnapshotError = StrataError(.io, "index snapshot failed", cause: error)
        }
    }

    /// Enough entries the index file lacks that it is rewritten.
    /// With a paged index also when many segments are behind it (each open reads their footers).
    var indexSnapshotDue: Bool {
        dedup.changedSinceSnapshot >= max(options.indexSnapshotInterval, dedup.count / 4)
            || (dedup.paged != nil && dedup.segmentsBehindFile(manifest.segments.map(\.sequence), catalog: catalog) >= DedupIndex.maxSegmentsBehindFile)
    }

    /// At open and close a paged index file is rewritten once the keys it
    /// lacks reach a quarter of the index (or as at a commit): rewriting costs
    /// the whole table, catching up costs every later open the keys it lacks.
    var indexSnapshotDueAtClose: Bool { indexSnapshotDue || dedup.changedSinceSnapshot >= dedup.count / 4 }

    /// REQUIRES: called right after a commit (nothing uncommitted in the catalog).
    /// `sealedNow`: as for `writeSummariesLocked`.
    func writeIndexSnapshotLocked(sealedNow: [UInt64: SegmentDigest] = [:]) throws {
        dedup.mergePending()
        let digests = self.digests
        try dedup.writeSnapshot(fs: fs, storePath: path, segments: manifest.segments.map(\.sequence), catalog: catalog,
                                fileMode: options.fileMode, directoryMode: options.directoryMode,
                                knownBlocks: { digests[$0]?.blocks ?? sealedNow[$0]?.blocks })
        try writeSummariesLocked(sealedNow: sealedNow)
    }

    /// Commits, then rebuilds the dedup index from every segment (footers when
    /// the key is the example id, records otherwise) and writes its snapshot.
    @discardableResult
    /// `progress` gets (segments done, segments) as the rebuild goes (for `strata index rebuild`).
    public func rebuildIndex(progress: ((Int, Int) -> Void)? = nil) throws -> IndexRebuildReport {
        try lock.withLock {
            try commitLocked()
            try guardWrite {
                try dedup.rebuild(segments: manifest.segments.map(\.sequence), catalog: catalog, progress: progress)
                try writeIndexSnapshotLocked()
            }
            return IndexRebuildReport(entries: dedup.count, memoryBytes: dedup.memoryBytes)
        }
    }

    /// Segments the manifest lists (the unit of index rebuild progress).
    public var segmentCount: Int { lock.withLock { manifest.segments.count } }

    /// The dedup key this store was created with.
    public var dedupKey: DedupKey { dedup.key }

    /// RAM held by the dedup index (table and overflow; excludes uncommitted entries).
    public var indexMemoryBytes: Int { lock.withLock { dedup.memoryBytes } }

    /// The last index snapshot failure after a commit, if the latest attempt failed.
    public var indexSnapshotError: StrataError? { lock.withLock { dedup.lastSnapshotError } }
}
