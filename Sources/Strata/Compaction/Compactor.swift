import Foundation

/// How `Store.compact(partition:options:)` works (SPEC.md §4.5, §6, §7).
public struct CompactionOptions: Sendable {
    public enum DictionaryPolicy: Sendable { case auto, never, always }

    /// zstd level for the new blocks (1...22).
    public var level: Int32 = 3
    /// Drop examples whose folded state is excluded (default: keep, the store stays an audit trail).
    public var purgeExcluded = false
    /// Target size of each new segment; nil = the store's `segmentTargetBytes`.
    public var segmentTargetBytes: Int64?
    /// Raw bytes of entries per columnar block (SPEC.md §3.6). get-by-id
    /// rebuilds one block, so this bounds its cost (~0.5 ms at 256 KiB); 1 MiB
    /// blocks are ~3% smaller on the benchmark corpus but cost ~2 ms per get.
    public var blockTargetBytes = 256 << 10
    public var dictionary: DictionaryPolicy = .auto
    /// Largest dictionary trained (bytes).
    public var dictionaryCapacity = 112 << 10
    /// Raw bytes sampled to train and evaluate a dictionary.
    public var dictionarySampleBytes = 2 << 20
    /// Test-only: throw an injected I/O error at this step (see `CompactionStep`).
    public var failAtStep: Int?

    public init() {}
}

/// The numbered points of a compaction, for crash tests (SPEC.md §7.1).
/// `STRATA_TEST_CRASH_AT=compact:<n>` makes the process `_exit(137)` at step n.
public enum CompactionStep: Int, CaseIterable, Sendable {
    /// The dictionary (if any) is written and durable; no segment written yet.
    case dictionaryWritten = 1
    /// The first block of the first new segment is written (new segment incomplete).
    case firstBlockWritten = 2
    /// Every new segment is sealed and fsynced and its directory fsynced.
    case segmentsDurable = 3
    /// MANIFEST.tmp (the swap) is durable but not yet renamed.
    case manifestTemporaryWritten = 4
    /// The new manifest is in place and the in-memory state swapped.
    case manifestSwapped = 5
    /// The first old segment file has been deleted.
    case firstOldSegmentDeleted = 6
    /// Every old file is deleted (the end).
    case oldFilesDeleted = 7
}

/// What a compaction did.
public struct CompactionReport: Sendable {
    public var partition: PartitionKey
    /// True when there was nothing to do (no sealed segments, or one already compacted).
    public var skipped = false
    public var inputSegments: [UInt64] = []
    public var outputSegments: [UInt64] = []
    /// Segment bytes of the partition's compacted segments before / after (the active segment is untouched).
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0
    /// Raw (uncompressed) entry bytes written.
    public var rawBytes: Int64 = 0
    public var examples = 0
    public var annotationsFolded = 0
    public var purged = 0
    public var duplicatesDropped = 0
    /// Examples of a store from before keyed ids that shared an id with an
    /// earlier, differently keyed example and were kept under their keyed id.
    public var examplesRekeyed = 0
    /// Duplicate-seen entries dropped because their target was purged.
    public var provenanceDropped = 0
    public var dictionaryID: UInt32?
    public var dictionaryBytes = 0
    public var level: Int32 = 0
    public var seconds: Double = 0
}

/// Per-store compaction bookkeeping (held by `Store`; guarded by the store lock,
/// except `jobs`/`cancelled`, which `condition` guards so `close()` can wait
/// for running compactions without holding the store lock).
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
    var nextDictionaryID: UInt32?
}

extension Store {
    /// Compacts the sealed segments of `partition` into new zstd segments with
    /// annotations folded in, then swaps them in atomically (SPEC.md §4.5, §7).
    /// Runs while the store is in use: it takes the store lock only to pick its
    /// inputs and to swap; may be called from a background thread, one call per
    /// partition at a time.
    @discardableResult
    public func compact(partition: PartitionKey, options: CompactionOptions = CompactionOptions()) throws -> CompactionReport {
        let started = Date()
        try compactionState.begin(path)
        defer { compactionState.end() }
        var report = CompactionReport(partition: partition)
        report.level = options.level
        // Phase A (locked): pick inputs.
        let inputs: [Manifest.SegmentEntry] = try lock.withLock {
            guard !closed else { throw StrataError(.usage, "store is closed", path: path) }
            guard !compactionState.running.contains(partition) else {
                throw StrataError(.usage, "a compaction of \(partition) is already running")
            }
            let ins = manifest.segments.filter { $0.partition == partition && $0.state == .sealed }
            compactionState.running.insert(partition)
            return ins
        }
        defer { _ = lock.withLock { compactionState.running.remove(partition) } }
        report.inputSegments = inputs.map(\.sequence)
        var files: [SegmentFile] = []
        defer { for f in files { f.close() } }
        for e in inputs {
            let f = try SegmentFile(fs: fs, path: catalog.segmentPath(partition, e.sequence), sequence: e.sequence,
                                    partition: partition, expectSealed: true)
            files.append(f)
            if f.header.dictionaryID != 0 {
                f.dictionary = try lock.withLock {
                    guard let d = catalog.dictionaries[f.header.dictionaryID] else {
                        throw StrataError(.corruption, "segment uses dictionary \(f.header.dictionaryID), which is not loaded", path: f.path)
                    }
                    return d
                }
            }
            report.bytesBefore += try fs.fileSize(f.path)
        }
        // A segment compacted before columnar blocks (codec zstd / zstd-dict) is rewritten once into them.
        let alreadyCompact = inputs.count == 1 && inputs[0].codec == BlockCodec.columnar(level: 0, dictionary: nil).name
            && files[0].footer!.annotations.isEmpty
        if inputs.isEmpty || (alreadyCompact && !options.purgeExcluded) {
            report.skipped = true
            report.bytesAfter = report.bytesBefore
            report.outputSegments = report.inputSegments
            report.seconds = Date().timeIntervalSince(started)
            return report
        }
        let job = CompactionJob(store: self, partition: partition, options: options, inputs: files)
        return try job.run(report: report, started: started)
    }

    /// Compacts every partition with sealed segments, one after the other.
    public func compactAll(options: CompactionOptions = CompactionOptions()) throws -> [CompactionReport] {
        try partitions.map { try compact(partition: $0, options: options) }
    }

    func compactionStep(_ step: CompactionStep, _ options: CompactionOptions) throws {
        if CrashInjection.shouldCrash(at: "compact:\(step.rawValue)") { _exit(137) }
        if options.failAtStep == step.rawValue {
            throw StrataError(.io, "injected failure at compaction step \(step.rawValue) (\(step))")
        }
    }
}

/// `STRATA_TEST_CRASH_AT=<operation>:<step>`: test-only crash points (SPEC.md §7.1).
enum CrashInjection {
    static let spec: String? = ProcessInfo.processInfo.environment["STRATA_TEST_CRASH_AT"]
    static func shouldCrash(at point: String) -> Bool { spec == point }
}

/// One compaction of one partition (phases B-D of `Store.compact`).
final class CompactionJob {
    let store: Store
    let partition: PartitionKey
    let options: CompactionOptions
    let inputs: [SegmentFile]
    // Two properties, not one struct: a class property passed inout twice at once is an access conflict.
    var blockBuffer: [UInt8] = []
    var scratchBuffer: [UInt8] = []
    var fs: FileSystem { store.fs }

    init(store: Store, partition: PartitionKey, options: CompactionOptions, inputs: [SegmentFile]) {
        self.store = store
        self.partition = partition
        self.options = options
        self.inputs = inputs
    }

    /// For a `content+fields` store: the example body re-encoded under its keyed
    /// id (SPEC.md §4.1) as a complete entry, or nil when the store's ids are
    /// not keyed. Used for a second example with an id already written, which
    /// only stores from before keyed ids contain.
    func rekeyedEntry(_ body: ByteReader, path: String, offset: Int64) throws -> (id: ExampleID, bytes: [UInt8])? {
        var identity = ExampleIdentity(store.dedupKey)
        guard identity.keyed else { return nil }
        var r = body
        let e: Example
        do { e = try RecordCodec.decodeExampleBody(&r) } catch var err as StrataError {
            if err.path == nil { err.path = path; err.offset = offset }
            throw err
        }
        let d = ExampleDraft(e)
        let (id, idKey) = try identity.assign(d)
        var w = ByteWriter(capacity: 256)
        RecordCodec.appendExampleEntry(d, id: id, idKey: idKey, to: &w)
        return (id, w.bytes)
    }

    /// Raw entries (length+kind+body) of one block.
    func entries(of file: SegmentFile, block bi: Int) throws -> [[UInt8]] {
        let offset = file.footer!.blocks[bi].offset
        _ = try file.readBlock(at: offset, into: &blockBuffer, scratch: &scratchBuffer)
        return try blockBuffer.withUnsafeBytes { raw in
            var out: [[UInt8]] = []
            var it = EntryIterator(raw, path: file.path, blockOffset: offset)
            var start = 0
            while let (kind, _, body) = try it.next() {
                let end = body.baseAddress! - raw.baseAddress! + body.count
                if kind == EntryKind.example.rawValue { out.append(Array(raw[start..<end])) }
                start = end
            }
            return out
        }
    }

    func run(report r: CompactionReport, started: Date) throws -> CompactionReport {
        var report = r
        // 1. Annotation bodies of the inputs, by target, in append order (from the footers).
        var pending: [ExampleID: [[UInt8]]] = [:]
        for f in inputs {
            let refs = f.footer!.annotations.sorted { ($0.blockIndex, $0.entryIndex) < ($1.blockIndex, $1.entryIndex) }
            var i = 0
            while i < refs.count {
                let bi = refs[i].blockIndex
                var j = i
                while j < refs.count, refs[j].blockIndex == bi { j += 1 }
                let wanted = Set(refs[i..<j].map(\.entryIndex))
                let offset = f.footer!.blocks[bi].offset
                _ = try f.readBlock(at: offset, into: &blockBuffer, scratch: &scratchBuffer)
                try blockBuffer.withUnsafeBytes { raw in
                    var it = EntryIterator(raw, path: f.path, blockOffset: offset)
                    var e = 0
                    while let (kind, body, bytes) = try it.next() {
                        if wanted.contains(e) {
                            guard kind == EntryKind.annotation.rawValue else {
                                throw StrataError(.corruption, "annotation ref points at a kind-\(kind) entry", path: f.path, offset: offset)
                            }
                            var rr = body
                            let target = try AnnotationCodec.peekTarget(&rr)
                            pending[target, default: []].append(Array(bytes))
                        }
                        e += 1
                    }
                }
                i = j
            }
        }

        // 2. Dictionary.
        let totalRaw = inputs.reduce(Int64(0)) { $0 + $1.footer!.rawBytes }
        let blockList: [(file: SegmentFile, block: Int)] = inputs.flatMap { f in (0..<f.footer!.blocks.count).map { (f, $0) } }
        var dictionary: ZstdDictionary?
        var dictionaryID: UInt32 = 0
        var newDictionary = false
        // Marked in use (under the lock) while this job may reference it; see CompactionState.
        var reusedDictionary: UInt32?
        defer {
            if let id = reusedDictionary {
                store.lock.withLock {
                    store.compactionState.dictionariesInUse[id, default: 1] -= 1
                    if store.compactionState.dictionariesInUse[id] == 0 { store.compactionState.dictionariesInUse[id] = nil }
                }
            }
        }
        if options.dictionary != .never {
            // A dictionary serves the whole domain (later months reuse it), so it is sized and judged by the domain's bytes.
            let domainRaw: Int64 = store.lock.withLock {
                store.catalog.files.values.filter { $0.partition.domain == partition.domain }.reduce(0) { $0 + ($1.footer?.rawBytes ?? 0) }
            }
            let capacity = min(options.dictionaryCapacity, max(8 << 10, Int(max(totalRaw, domainRaw) / 16)))
            let trainer = DictionaryTrainer(capacity: capacity, sampleBytes: options.dictionarySampleBytes,
                                            level: options.level, blockTarget: options.blockTargetBytes)
            var bytes: [UInt8]?
            let rejectedKey = "\(partition.domain)@\(options.level)"
            // The domain's latest dictionary first: months of a domain share one when it fits.
            let candidate: (UInt32, ZstdDictionary)? = store.lock.withLock {
                let ids = store.manifest.segments.filter { $0.partition.domain == partition.domain && $0.dictionaryID != 0 }.map(\.dictionaryID)
                guard let id = ids.max(), let d = store.catalog.dictionaries[id] else { return nil }
                store.compactionState.dictionariesInUse[id, default: 0] += 1
                return (id, d)
            }
            reusedDictionary = candidate?.0
            let mayTrain = options.dictionary == .always || !store.lock.withLock { store.compactionState.dictionaryRejected.contains(rejectedKey) }
            if (candidate != nil || mayTrain) && trainer.worthSampling(blockCount: blockList.count, totalRaw: totalRaw) {
                let sample = try trainer.sample(blockCount: blockList.count, totalRaw: totalRaw) { k in
                    try entries(of: blockList[k].file, block: blockList[k].block)
                }
                if let (id, d) = candidate, try trainer.fits(d, sample: sample) {
                    dictionary = d
                    dictionaryID = id
                    report.dictionaryID = id
                    report.dictionaryBytes = d.bytes.count
                } else if mayTrain {
                    bytes = try trainer.train(sample, totalRaw: max(totalRaw, domainRaw))
                    if bytes == nil { _ = store.lock.withLock { store.compactionState.dictionaryRejected.insert(rejectedKey) } }
                }
            }
            if dictionary == nil, bytes == nil, options.dictionary == .always, blockList.count >= 1 {
                var buf: [UInt8] = [], sizes: [Int] = []
                for k in 0..<min(blockList.count, 64) {
                    for e in try entries(of: blockList[k].file, block: blockList[k].block) { buf += e; sizes.append(e.count) }
                }
                bytes = ZstdCodec.trainDictionaryFast(buffer: buf, sizes: sizes, capacity: options.dictionaryCapacity, level: options.level)
            }
            if dictionary == nil, let bytes, let d = ZstdDictionary(bytes: bytes) {
                dictionaryID = try writeDictionary(bytes)
                newDictionary = true
                dictionary = d
                report.dictionaryID = dictionaryID
                report.dictionaryBytes = bytes.count
            }
        }
        try store.compactionStep(.dictionaryWritten, options)

        // 3. New segments.
        // Record-aware columnar blocks (SPEC.md §3.6): each field's values compressed together.
        let codec = BlockCodec.columnar(level: options.level, dictionary: dictionary)
        let segmentTarget = options.segmentTargetBytes ?? store.options.segmentTargetBytes
        var outputs: [(seq: UInt64, path: String)] = []
        var writer: CompactSegmentWriter?
        var moves: [(id: ExampleID, from: Location, to: Location)] = []
        var removed: [ExampleID] = []
        var preserved: [(ExampleID, Location)] = []
        var seen: Set<ExampleID> = []
        var purgedIDs: Set<ExampleID> = []
        var firstBlock = true
        var foldedEntry = ByteWriter(capacity: 256)
        let partitionDir = store.path + "/" + partition.path

        func currentWriter() throws -> CompactSegmentWriter {
            if let w = writer, w.size < segmentTarget { return w }
            if let w = writer { report.bytesAfter += try w.seal(); writer = nil }
            let seq: UInt64 = store.lock.withLock {
                let s = store.manifest.nextSegment
                // Not marked dirty: the swap's manifest write records it; an unlisted output is an orphan anyway.
                store.manifest.nextSegment += 1
                return s
            }
            let p = store.catalog.segmentPath(partition, seq)
            let w = try CompactSegmentWriter(fs: fs, path: p, sequence: seq, dictionaryID: dictionaryID, codec: codec,
                                             blockTarget: options.blockTargetBytes, fileMode: store.options.fileMode)
            w.afterBlock = { [unowned self] in
                if firstBlock { firstBlock = false; try store.compactionStep(.firstBlockWritten, options) }
            }
            outputs.append((seq, p))
            writer = w
            return w
        }

        do {
            for f in inputs {
                for (bi, b) in f.footer!.blocks.enumerated() {
                    if store.compactionState.isCancelled { throw StrataError(.usage, "store closed during compaction", path: store.path) }
                    let frame = try f.readBlock(at: b.offset, into: &blockBuffer, scratch: &scratchBuffer)
                    try blockBuffer.withUnsafeBytes { raw in
                        var held: (id: ExampleID, ts: Int64, start: Int, end: Int, from: Location, rekeyed: [UInt8]?)?
                        func emit(priorFolded: [[UInt8]]) throws {
                            guard let h = held else { return }
                            held = nil
                            var bodies = priorFolded
                            if let more = pending.removeValue(forKey: h.id) {
                                report.annotationsFolded += more.count
                                bodies.append(contentsOf: more)
                            }
                            if options.purgeExcluded, try CompactionJob.isExcluded(bodies, path: f.path, offset: b.offset) {
                                report.purged += 1
                                removed.append(h.id)
                                purgedIDs.insert(h.id)
                                return
                            }
                            foldedEntry.bytes.removeAll(keepingCapacity: true)
                            if !bodies.isEmpty { AnnotationCodec.appendFoldedEntry(target: h.id, bodies: bodies, to: &foldedEntry) }
                            let w = try currentWriter()
                            let loc = try foldedEntry.bytes.withUnsafeBytes { fe in
                                if let own = h.rekeyed {
                                    return try own.withUnsafeBytes { try w.appendExample($0, folded: fe) }
                                }
                                return try w.appendExample(UnsafeRawBufferPointer(rebasing: raw[h.start..<h.end]), folded: fe)
                            }
                            moves.append((h.id, h.from, loc))
                            report.examples += 1
                        }
                        try BlockCursor.forEach(raw, path: f.path, blockOffset: b.offset, declaredCount: frame.entryCount) { e in
                            let (kind, body, start, end) = (e.kind, e.body, e.range.lowerBound, e.range.upperBound)
                            let here = Location(segment: f.sequence, blockIndex: UInt32(bi), entryIndex: UInt32(e.index))
                            switch EntryKind(rawValue: kind) {
                            case .example:
                                try emit(priorFolded: [])
                                var r = body
                                _ = try r.u8("shape")
                                let id = try ExampleID.read(from: &r)
                                let ts = try r.i64("timestamp")
                                if seen.contains(id) {
                                    // Stores written before keyed ids (SPEC.md §4.1) can hold two
                                    // content+fields examples with one id and different keys: the
                                    // later one is kept under its keyed id, never dropped (§7.1).
                                    if let own = try rekeyedEntry(body, path: f.path, offset: b.offset), !seen.contains(own.id) {
                                        seen.insert(own.id)
                                        report.examplesRekeyed += 1
                                        held = (own.id, ts, start, end, here, own.bytes)
                                        return true
                                    }
                                    report.duplicatesDropped += 1
                                    return true
                                }
                                seen.insert(id)
                                held = (id, ts, start, end, here, nil)
                            case .foldedAnnotations:
                                var r = body
                                let (target, prior) = try AnnotationCodec.decodeFoldedBodies(&r)
                                guard let h = held, h.id == target else {
                                    if seen.contains(target) { return true }  // folded state of a dropped duplicate
                                    throw StrataError(.corruption, "folded annotations of \(target) do not follow their example", path: f.path, offset: b.offset)
                                }
                                try emit(priorFolded: prior.map { Array($0) })
                            case .annotation:
                                try emit(priorFolded: [])  // collected from the footer in step 1
                            case .duplicateSeen:
                                try emit(priorFolded: [])
                                // A purge forgets the example's provenance too (SPEC.md §4.4):
                                // its target precedes it in append order, so it is known here.
                                var r = body
                                if !purgedIDs.isEmpty, purgedIDs.contains(try ExampleID.read(from: &r)) {
                                    report.provenanceDropped += 1
                                    return true
                                }
                                _ = try currentWriter().appendOther(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                            case nil:
                                throw StrataError(.corruption, "unknown entry kind \(kind)", path: f.path, offset: b.offset)
                            }
                            return true
                        }
                        try emit(priorFolded: [])
                    }
                }
            }
            // Annotations whose target is not in these segments are carried over unchanged.
            for (target, list) in pending.sorted(by: { $0.key < $1.key }) {
                for m in list {
                    var entry = ByteWriter(capacity: m.count + 8)
                    entry.varint(1 + m.count)
                    entry.u8(EntryKind.annotation.rawValue)
                    entry.append(m)
                    let loc = try entry.bytes.withUnsafeBytes { try currentWriter().appendOther($0) }
                    preserved.append((target, loc))
                }
            }
            if let w = writer { report.bytesAfter += try w.seal(); writer = nil }
            try fs.syncDirectory(partitionDir)
            try store.compactionStep(.segmentsDurable, options)
        } catch {
            writer?.abandon()
            for o in outputs { try? fs.remove(o.path) }
            if newDictionary { try? removeDictionary(dictionaryID) }
            throw error
        }

        // 4. Swap (locked).
        var newFiles: [SegmentFile] = []
        do {
            for o in outputs {
                let f = try SegmentFile(fs: fs, path: o.path, sequence: o.seq, partition: partition, expectSealed: true)
                newFiles.append(f)
            }
        } catch {
            for f in newFiles { f.close() }
            for o in outputs { try? fs.remove(o.path) }
            if newDictionary { try? removeDictionary(dictionaryID) }
            throw error
        }
        let inputSeqs = Set(inputs.map(\.sequence))
        let oldDictionaries = Set(inputs.map(\.header.dictionaryID)).subtracting([0])
        var unusedDictionaries: Set<UInt32> = []
        var swapped = false
        defer {
            if !swapped {
                for f in newFiles { f.close() }
                for o in outputs { try? fs.remove(o.path) }
                if newDictionary { try? removeDictionary(dictionaryID) }
            }
        }
        try store.lock.withLock {
            guard !store.closed else { throw StrataError(.usage, "store was closed during compaction", path: store.path) }
            let listed = Set(store.manifest.segments.map(\.sequence))
            guard inputSeqs.isSubset(of: listed) else {
                throw StrataError(.usage, "the partition's segments changed during compaction (another compaction?)", path: partitionDir)
            }
            // Everything the manifest will list must be durable first (new active segments, their directories).
            try store.commitLocked()
            try store.guardWrite {
                let before = store.manifest.segments
                var segs = before.filter { !inputSeqs.contains($0.sequence) }
                for o in outputs {
                    segs.append(Manifest.SegmentEntry(sequence: o.seq, partition: partition, state: .sealed, codec: codec.name, dictionaryID: dictionaryID))
                }
                store.manifest.segments = segs
                do {
                    try store.writeManifest(beforeRename: { try self.store.compactionStep(.manifestTemporaryWritten, self.options) })
                } catch {
                    store.manifest.segments = before
                    throw error
                }
            }
            swapped = true
            let stillUsed = Set(store.manifest.segments.map(\.dictionaryID))
            unusedDictionaries = oldDictionaries.subtracting(stillUsed).subtracting(store.compactionState.dictionariesInUse.keys)
            if let dictionary { store.catalog.dictionaries[dictionaryID] = dictionary }
            for seq in inputSeqs { store.catalog.remove(seq) }
            for f in newFiles { store.catalog.add(f, blockOffsets: f.footer!.blocks.map(\.offset)) }
            for id in unusedDictionaries { store.catalog.dictionaries[id] = nil }
            try store.indexApplyCompaction(moves: moves, removed: removed)
            store.annotationMap.remove(segments: inputSeqs)
            for (t, loc) in preserved { store.annotationMap.add(t, loc) }
            try store.compactionStep(.manifestSwapped, options)
        }
        report.outputSegments = outputs.map(\.seq)

        // 5. Old files: removed only now that the new state is durable.
        // Under the exclusive snapshot lock (SPEC.md §7.2): a reader that read the
        // old manifest has already opened these files, and POSIX keeps them readable.
        for f in inputs { f.close() }
        try fs.removingUnderSnapshotLock(root: store.path) {
            var first = true
            for f in inputs {
                try fs.remove(f.path)
                if first { first = false; try store.compactionStep(.firstOldSegmentDeleted, options) }
            }
            // Not fsynced: a deletion lost in a crash leaves an unlisted orphan that the next open removes.
            for id in unusedDictionaries { try? removeDictionary(id) }
        }
        try store.compactionStep(.oldFilesDeleted, options)
        report.rawBytes = newFiles.reduce(0) { $0 + $1.footer!.rawBytes }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Folded exclusion state of raw annotation bodies (last exclude/include wins).
    static func isExcluded(_ bodies: [[UInt8]], path: String, offset: Int64) throws -> Bool {
        let anns = try bodies.map { b in
            try b.withUnsafeBytes { raw in
                var r = ByteReader(raw, path: path, baseOffset: offset, positionsAreInFile: false)
                return try AnnotationCodec.decodeBody(&r).annotation
            }
        }
        // Exclusion does not depend on the shape.
        return AnnotationFold(anns, shape: .instruction, hasAssistant: false).excluded
    }

    /// Writes `dicts/dict-<id>.zdict` durably (tmp, fsync, rename, fsync dir); returns the new id.
    func writeDictionary(_ bytes: [UInt8]) throws -> UInt32 {
        let dir = store.catalog.dictionaryDirectory
        let id: UInt32 = try store.lock.withLock {
            if store.compactionState.nextDictionaryID == nil {
                var maxID = store.manifest.segments.map(\.dictionaryID).max() ?? 0
                if fs.isDirectory(dir) {
                    for n in try fs.listDirectory(dir) { if let i = DictionaryFile.id(fromFileName: n) { maxID = max(maxID, i) } }
                }
                store.compactionState.nextDictionaryID = maxID + 1
            }
            let id = store.compactionState.nextDictionaryID!
            store.compactionState.nextDictionaryID = id + 1
            return id
        }
        if !fs.isDirectory(dir) {
            try fs.createDirectory(dir, mode: store.options.directoryMode)
            try fs.syncDirectory(store.path)
        }
        let p = store.catalog.dictionaryPath(id)
        try fs.replaceAtomically(p, mode: store.options.fileMode) { try $0.write(DictionaryFile.encode(id: id, dictionary: bytes)) }
        return id
    }

    func removeDictionary(_ id: UInt32) throws {
        guard id != 0 else { return }
        let p = store.catalog.dictionaryPath(id)
        if fs.fileExists(p) { try fs.remove(p) }
    }
}
