import Foundation

/// What a compaction (Compaction/Compactor.swift) may do to the store: pick its
/// inputs, reserve sequences and dictionary ids, share dictionaries, and swap
/// its outputs in. Each call takes the store lock itself; compaction reads and
/// writes no other mutable member of `Store`, and `Store` knows nothing of a
/// compaction beyond `CompactionState`.
extension Store {
    /// Registers a compaction of `partition` and returns its inputs (the
    /// partition's sealed segments). Throws when the store is closed or closing,
    /// or when `partition` is already being compacted. Pair with `endCompaction`.
    func beginCompaction(of partition: PartitionKey) throws -> [Manifest.SegmentEntry] {
        try compactionState.begin(path)
        do {
            return try lock.withLock {
                guard !closed else { throw StrataError(.usage, "store is closed", path: path) }
                guard !compactionState.running.contains(partition) else {
                    throw StrataError(.usage, "a compaction of \(partition) is already running")
                }
                let ins = manifest.segments.filter { $0.partition == partition && $0.state == .sealed }
                compactionState.running.insert(partition)
                return ins
            }
        } catch {
            compactionState.end()
            throw error
        }
    }

    func endCompaction(of partition: PartitionKey) {
        _ = lock.withLock { compactionState.running.remove(partition) }
        compactionState.end()
    }

    /// True once `close()` began: a running compaction stops at its next check.
    var compactionCancelled: Bool { compactionState.isCancelled }

    /// The loaded dictionary `id`, which a segment at `path` uses.
    func loadedDictionary(_ id: UInt32, for path: String) throws -> ZstdDictionary {
        try lock.withLock {
            guard let d = catalog.dictionaries[id] else {
                throw StrataError(.corruption, "segment uses dictionary \(id), which is not loaded", path: path)
            }
            return d
        }
    }

    /// A new segment sequence for a compaction output. Not marked dirty: the
    /// swap's manifest write records it; an unlisted output is an orphan anyway.
    func reserveSegmentSequence() -> UInt64 {
        lock.withLock {
            let s = manifest.nextSegment
            manifest.nextSegment += 1
            return s
        }
    }

    /// Raw bytes of the sealed segments of `domain` (a dictionary serves the
    /// whole domain): from the segment summaries, so no footer of an unopened
    /// partition is read; a footer the catalog holds answers for a segment
    /// without one.
    func rawBytes(ofDomain domain: String) -> Int64 {
        lock.withLock {
            manifest.segments.filter { $0.partition.domain == domain }.reduce(0) {
                $0 + (digests[$1.sequence]?.rawBytes ?? catalog.files[$1.sequence]?.footer?.rawBytes ?? 0)
            }
        }
    }

    /// The domain's latest dictionary, marked in use (never deleted) until `releaseDictionary`.
    func retainLatestDictionary(ofDomain domain: String) -> (id: UInt32, dictionary: ZstdDictionary)? {
        lock.withLock {
            let ids = manifest.segments.filter { $0.partition.domain == domain && $0.dictionaryID != 0 }.map(\.dictionaryID)
            guard let id = ids.max(), let d = catalog.dictionaries[id] else { return nil }
            compactionState.dictionariesInUse[id, default: 0] += 1
            return (id, d)
        }
    }

    func releaseDictionary(_ id: UInt32) {
        lock.withLock {
            compactionState.dictionariesInUse[id, default: 1] -= 1
            if compactionState.dictionariesInUse[id] == 0 { compactionState.dictionariesInUse[id] = nil }
        }
    }

    /// Dictionary `id` without its word model (what a partition whose vocabulary
    /// moved on codes with), built once per dictionary: each such partition of
    /// a domain would otherwise digest the same bytes again. Nil when zstd
    /// cannot load them.
    func modelLessDictionary(_ id: UInt32, _ d: ZstdDictionary) -> ZstdDictionary? {
        if d.wordModel == nil { return d }
        if let plain = lock.withLock({ compactionState.modelLess[id] }) { return plain }
        // Built outside the lock; two jobs racing here build equal copies and keep one.
        guard let plain = ZstdDictionary(bytes: d.bytes) else { return nil }
        return lock.withLock {
            if let other = compactionState.modelLess[id] { return other }
            compactionState.modelLess[id] = plain
            return plain
        }
    }

    /// Whether a dictionary trained for `key` (domain at a level) did not pay in this process.
    func isDictionaryRejected(_ key: String) -> Bool { lock.withLock { compactionState.dictionaryRejected.contains(key) } }

    func rejectDictionary(_ key: String) { _ = lock.withLock { compactionState.dictionaryRejected.insert(key) } }

    /// Whether dictionary `id` was judged to pay (trained here, or fitted on a held-out sample) at `level` in this process.
    func isDictionaryAccepted(_ id: UInt32, level: Int32) -> Bool {
        lock.withLock { compactionState.dictionaryAccepted["\(id)@\(level)"] != nil }
    }

    /// `modelRatio`: for a dictionary with a word model, the model's coded bytes per text byte where it was judged.
    func acceptDictionary(_ id: UInt32, level: Int32, modelRatio: Double = 0) {
        lock.withLock { compactionState.dictionaryAccepted["\(id)@\(level)"] = modelRatio }
    }

    /// The word model's coded bytes per text byte when dictionary `id` was accepted at `level` (nil: not accepted).
    func acceptedModelRatio(_ id: UInt32, level: Int32) -> Double? {
        lock.withLock { compactionState.dictionaryAccepted["\(id)@\(level)"] }
    }

    /// A dictionary id no segment and no file in `directory` uses.
    func reserveDictionaryID(directory dir: String) throws -> UInt32 {
        try lock.withLock {
            if compactionState.nextDictionaryID == nil {
                var maxID = manifest.segments.map(\.dictionaryID).max() ?? 0
                if fs.isDirectory(dir) {
                    for n in try fs.listDirectory(dir) { if let i = DictionaryFile.id(fromFileName: n) { maxID = max(maxID, i) } }
                }
                compactionState.nextDictionaryID = maxID + 1
            }
            let id = compactionState.nextDictionaryID!
            compactionState.nextDictionaryID = id + 1
            return id
        }
    }

    /// A compaction's outputs, replacing its inputs.
    struct SegmentSwap {
        var partition: PartitionKey
        var inputs: Set<UInt64>
        /// Dictionaries the inputs used (candidates for deletion).
        var oldDictionaries: Set<UInt32>
        /// Sealed, durable output files, in sequence order.
        var outputs: [SegmentFile]
        var codec: String
        var dictionaryID: UInt32
        var dictionary: ZstdDictionary?
        var moves: [(id: ExampleID, from: Location, to: Location)]
        var removed: [ExampleID]
        /// Annotation entries kept unfolded (target, new location).
        var preserved: [(ExampleID, Location)]
    }

    /// Swaps `swap.outputs` in for `swap.inputs` (SPEC.md §7.1): commits what is
    /// pending, writes the manifest, then points the catalog, index and annotations
    /// at the outputs. `manifestMayNameOutputs` is set just before the manifest
    /// replacement begins (after it, a failure may leave a MANIFEST that names the
    /// outputs, so the caller must keep them). `swapped` is set as soon as the
    /// new manifest is current (the outputs are then the store's, even if a later
    /// step throws). Returns the dictionaries no segment uses any more, which the
    /// caller deletes with the inputs.
    func swapSegments(_ swap: SegmentSwap, swapped: inout Bool, manifestMayNameOutputs: inout Bool) throws -> Set<UInt32> {
        try lock.withLock {
            guard !closed else { throw StrataError(.usage, "store was closed during compaction", path: path) }
            let listed = Set(manifest.segments.map(\.sequence))
            guard swap.inputs.isSubset(of: listed) else {
                throw StrataError(.usage, "the partition's segments changed during compaction (another compaction?)", path: path + "/" + swap.partition.path)
            }
            // Everything the manifest will list must be durable first (new active segments, their directories).
            try commitLocked()
            try guardWrite {
                let before = manifest.segments
                var segs = before.filter { !swap.inputs.contains($0.sequence) }
                for f in swap.outputs {
                    segs.append(Manifest.SegmentEntry(sequence: f.sequence, partition: swap.partition, state: .sealed, codec: swap.codec,
                                                      dictionaryID: swap.dictionaryID))
                }
                manifest.segments = segs
                do {
                    manifestMayNameOutputs = true
                    try writeManifest()
                } catch {
                    manifest.segments = before
                    throw error
                }
            }
            swapped = true
            let stillUsed = Set(manifest.segments.map(\.dictionaryID))
            let unused = swap.oldDictionaries.subtracting(stillUsed).subtracting(compactionState.dictionariesInUse.keys)
            if let d = swap.dictionary { catalog.dictionaries[swap.dictionaryID] = d }
            for seq in swap.inputs { catalog.remove(seq) }
            for f in swap.outputs { catalog.add(f, blockOffsets: f.footer!.blocks.map(\.offset)) }
            for id in unused {
                catalog.dictionaries[id] = nil
                compactionState.modelLess[id] = nil
            }
            try indexApplyCompaction(moves: swap.moves, removed: swap.removed)
            catalog.forgetAnnotations(inSegments: swap.inputs)
            for (t, loc) in swap.preserved { catalog.noteAnnotation(t, at: loc) }
            return unused
        }
    }
}

/// Per-store compaction bookkeeping (held by `Store`; guarded by the store lock,
/// except `jobs`/`cancelled`, which `condition` guards so `close()` can wait
/// for running compactions without holding the store lock).
// @unchecked: `jobs`/`cancelled` are touched only under `condition`, the rest only under the store lock.
final class CompactionState: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs = 0
    private var cancelled = false

    /// Registers a running compaction; throws once the store is closing.
    func begin(_ path: String) throws {
        condition.lock()
        defer { condition.unlock() }
        if cancelled { throw StrataError(.usage, "store is closing", path: path) }
        jobs += 1
    }

    func end() {
        condition.lock()
        jobs -= 1
        condition.broadcast()
        condition.unlock()
    }

    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// Called by `Store.close()` before it takes the store lock: running
    /// compactions stop at their next check (their new files are removed)
    /// and this returns when none is left, so no compaction writes into the
    /// directory after the writer lock is released.
    func cancelAndWait() {
        condition.lock()
        cancelled = true
        while jobs > 0 { condition.wait() }
        condition.unlock()
    }

    var running: Set<PartitionKey> = []
    /// Dictionaries an in-flight compaction reuses: never deleted meanwhile.
    var dictionariesInUse: [UInt32: Int] = [:]
    /// Domains (at a level) for which a freshly trained dictionary did not pay in this process: not retrained.
    var dictionaryRejected: Set<String> = []
    /// Dictionaries (id at a level) that paid in this process: later months of the
    /// domain reuse them without sampling and measuring again (saves a sample
    /// read and two trial compressions per partition). The value is, for a
    /// dictionary with a word model, the model's coded bytes per text byte on
    /// the held-out sample that accepted it (a later month's probe is held
    /// against it), else 0.
    var dictionaryAccepted: [String: Double] = [:]
    var nextDictionaryID: UInt32?
    /// Model-less copies of dictionaries (`Store.modelLessDictionary`), by id.
    var modelLess: [UInt32: ZstdDictionary] = [:]
}
