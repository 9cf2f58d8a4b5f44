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
    /// rebuilds one block, so this bounds its cost. On the benchmark corpus
    /// 512 KiB blocks are 1.8% smaller than 256 KiB ones (1 MiB: ~3%, at
    /// ~2 ms per cold get); README "Performance" has the warm get figure.
    public var blockTargetBytes = 512 << 10
    public var dictionary: DictionaryPolicy = .auto
    /// Largest dictionary trained (bytes).
    public var dictionaryCapacity = 112 << 10
    /// Train a word model (SPEC.md §6.1) with each new dictionary and keep it
    /// when it codes held-out text ≥ 3% smaller than zstd with the dictionary.
    public var wordModels = true
    /// Raw bytes sampled to train and evaluate a dictionary.
    public var dictionarySampleBytes = 2 << 20

    public init() {}
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

extension Store {
    /// Compacts the sealed segments of `partition` into new zstd segments with
    /// annotations folded in, then swaps them in atomically (SPEC.md §4.5, §7).
    /// Runs while the store is in use: it takes the store lock only to pick its
    /// inputs and to swap; may be called from a background thread, one call per
    /// partition at a time.
    @discardableResult
    public func compact(partition: PartitionKey, options: CompactionOptions = CompactionOptions()) throws -> CompactionReport {
        let started = Date()
        var report = CompactionReport(partition: partition)
        report.level = options.level
        // Phase A (locked): pick inputs.
        let inputs = try beginCompaction(of: partition)
        defer { endCompaction(of: partition) }
        report.inputSegments = inputs.map(\.sequence)
        var files: [SegmentFile] = []
        defer { for f in files { f.close() } }
        for e in inputs {
            let f = try SegmentFile(fs: fs, path: catalog.segmentPath(partition, e.sequence), sequence: e.sequence,
                                    partition: partition, expectSealed: true)
            files.append(f)
            if f.header.dictionaryID != 0 {
                f.dictionary = try loadedDictionary(f.header.dictionaryID, for: f.path)
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
        try compactionOrder(partitions).map { try compact(partition: $0, options: options) }
    }

    /// `partitions` in the order a whole-store compaction takes them: by
    /// domain, and within a domain its largest partition (raw bytes of its
    /// segments) first, then the rest in month order. The first compacted
    /// partition of a domain trains the dictionary (and word model) its later
    /// months reuse, and a small month (the first of a growing domain) gives
    /// a word model too little text to learn from (SPEC.md §6).
    public func compactionOrder(_ partitions: [PartitionKey]) -> [PartitionKey] {
        let raw: [PartitionKey: Int64] = lock.withLock {
            var r: [PartitionKey: Int64] = [:]
            for s in manifest.segments {
                r[s.partition, default: 0] += digests[s.sequence]?.rawBytes ?? catalog.files[s.sequence]?.footer?.rawBytes ?? 0
            }
            return r
        }
        var order: [PartitionKey] = []
        var byDomain: [String: [PartitionKey]] = [:]
        var domains: [String] = []
        for p in partitions {
            if byDomain[p.domain] == nil { domains.append(p.domain) }
            byDomain[p.domain, default: []].append(p)
        }
        for d in domains {
            let list = byDomain[d]!
            // The first of the largest, so ties keep month order.
            let largest = list.indices.max { (raw[list[$0]] ?? 0, $1) < (raw[list[$1]] ?? 0, $0) }!
            order.append(list[largest])
            order.append(contentsOf: list.enumerated().filter { $0.offset != largest }.map(\.element))
        }
        return order
    }
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
    /// The thread's reusable buffers: `blockBuffer`/`scratchBuffer` and the
    /// writers' builder buffers are taken from it and given back in `deinit`.
    private let buffers: CompactionBuffers
    var fs: FileSystem { store.fs }

    init(store: Store, partition: PartitionKey, options: CompactionOptions, inputs: [SegmentFile]) {
        self.store = store
        self.partition = partition
        self.options = options
        self.inputs = inputs
        buffers = CompactionBuffers.take()
        swap(&blockBuffer, &buffers.block)
        swap(&scratchBuffer, &buffers.scratch)
    }

    deinit {
        swap(&blockBuffer, &buffers.block)
        swap(&scratchBuffer, &buffers.scratch)
        buffers.give()
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
        // What the block encoder codes with, when not `dictionary` itself.
        var codingDictionary: ZstdDictionary?
        // Marked in use (under the lock) while this job may reference it; see CompactionState.
        var reusedDictionary: UInt32?
        defer {
            if let id = reusedDictionary { store.releaseDictionary(id) }
        }
        if options.dictionary != .never {
            // A dictionary serves the whole domain (later months reuse it), so it is sized and judged by the domain's bytes.
            let domainRaw = store.rawBytes(ofDomain: partition.domain)
            let capacity = min(options.dictionaryCapacity, max(8 << 10, Int(max(totalRaw, domainRaw) / 16)))
            let trainer = DictionaryTrainer(capacity: capacity, sampleBytes: options.dictionarySampleBytes,
                                            level: options.level, blockTarget: options.blockTargetBytes,
                                            wordModels: options.wordModels)
            // The domain's latest dictionary first: months of a domain share one when it fits.
            let candidate = store.retainLatestDictionary(ofDomain: partition.domain)
            reusedDictionary = candidate?.id
            let situation = DictionaryChoice.Situation(
                policy: options.dictionary,
                candidate: candidate.map { $0.dictionary.wordModel == nil ? .plain : .withModel } ?? .none,
                accepted: candidate.map { store.isDictionaryAccepted($0.id, level: options.level) } ?? false,
                rejectedBefore: store.isDictionaryRejected(DictionaryMeasurements.rejectedKey(partition.domain, options.level)),
                worthSampling: trainer.worthSampling(blockCount: blockList.count, totalRaw: totalRaw),
                hasBlocks: !blockList.isEmpty)
            var evidence = DictionaryMeasurements(
                store: store, trainer: trainer, domain: partition.domain, level: options.level,
                dictionaryCapacity: options.dictionaryCapacity, wordModels: options.wordModels,
                candidate: candidate, blockCount: blockList.count, totalRaw: totalRaw, trainingRaw: max(totalRaw, domainRaw),
                readBlock: { k in try self.entries(of: blockList[k].file, block: blockList[k].block) })
            func use(_ id: UInt32, _ d: ZstdDictionary) {
                dictionary = d
                dictionaryID = id
                report.dictionaryID = id
                report.dictionaryBytes = d.bytes.count
            }
            var new: (bytes: [UInt8], wordModel: WordModel?, modelRatio: Double?)?
            switch try DictionaryChoice.choose(situation, evidence: &evidence) {
            case .none:
                break
            case .reuse(let accept):
                let (id, d) = candidate!
                if let ratio = accept { store.acceptDictionary(id, level: options.level, modelRatio: ratio) }
                use(id, d)
            case .reuseWithoutModel:
                // The segments still name the dictionary, model and all, as its file holds it:
                // readers and the catalog keep `dictionary`; only the encoder gets the model-less
                // copy (each stream names its encoding, SPEC.md §3.6).
                let (id, d) = candidate!
                if let plain = store.modelLessDictionary(id, d) {
                    use(id, d)
                    codingDictionary = plain
                }
            case .trained:
                let t = evidence.trained!
                new = (t.dictionary, t.wordModel, t.modelRatio)
            case .forced:
                let t = evidence.trained!
                new = (t.dictionary, t.wordModel, nil)
            }
            if let new, let d = ZstdDictionary(bytes: new.bytes, wordModel: new.wordModel) {
                dictionaryID = try writeDictionary(new.bytes, wordModel: new.wordModel)
                // A forced dictionary was not judged: not accepted for later months.
                if let ratio = new.modelRatio { store.acceptDictionary(dictionaryID, level: options.level, modelRatio: ratio) }
                newDictionary = true
                use(dictionaryID, d)
            }
        }

        // 3. New segments.
        // Record-aware columnar blocks (SPEC.md §3.6): each field's values compressed together.
        let codec = BlockCodec.columnar(level: options.level, dictionary: codingDictionary ?? dictionary)
        let segmentTarget = options.segmentTargetBytes ?? store.options.segmentTargetBytes
        var outputs: [(seq: UInt64, path: String)] = []
        var writer: CompactSegmentWriter?
        var moves: [(id: ExampleID, from: Location, to: Location)] = []
        var removed: [ExampleID] = []
        var preserved: [(ExampleID, Location)] = []
        var seen: Set<ExampleID> = []
        seen.reserveCapacity(inputs.reduce(0) { $0 + $1.footer!.examples.count })
        moves.reserveCapacity(seen.capacity)
        var purgedIDs: Set<ExampleID> = []
        var foldedEntry = ByteWriter(capacity: 256)
        let partitionDir = store.path + "/" + partition.path

        func currentWriter() throws -> CompactSegmentWriter {
            if let w = writer, try w.isSmaller(than: segmentTarget) { return w }
            if let w = writer { report.bytesAfter += try w.seal(); buffers.builder = w.takeBuffers(); writer = nil }
            let seq = store.reserveSegmentSequence()
            let p = store.catalog.segmentPath(partition, seq)
            let w = try CompactSegmentWriter(fs: fs, path: p, sequence: seq, dictionaryID: dictionaryID, codec: codec,
                                             blockTarget: options.blockTargetBytes, fileMode: store.options.fileMode,
                                             buffers: &buffers.builder, frames: buffers.frames, encoder: buffers.encoder)
            outputs.append((seq, p))
            writer = w
            return w
        }

        do {
            for f in inputs {
                for (bi, b) in f.footer!.blocks.enumerated() {
                    if store.compactionCancelled { throw StrataError(.usage, "store closed during compaction", path: store.path) }
                    let frame = try f.readBlock(at: b.offset, into: &blockBuffer, scratch: &scratchBuffer)
                    try blockBuffer.withUnsafeBytes { raw in
                        var held: (id: ExampleID, ts: Int64, start: Int, end: Int, from: Location, rekeyed: [UInt8]?)?
                        func emit(priorFolded: [[UInt8]]) throws {
                            guard let h = held else { return }
                            held = nil
                            var bodies = priorFolded
                            // Most partitions have no annotations: skip hashing every id then.
                            if !pending.isEmpty, let more = pending.removeValue(forKey: h.id) {
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
                                if !seen.insert(id).inserted {
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
            if let w = writer { report.bytesAfter += try w.seal(); buffers.builder = w.takeBuffers(); writer = nil }
            try fs.syncDirectory(partitionDir)
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
        var swapped = false
        // Once the manifest replacement has begun, a failure may come after its
        // rename (a failed directory fsync): the MANIFEST on disk may name the new
        // files, so they are kept. The writer is poisoned then, and the next open
        // removes whichever files the manifest in force does not list.
        var manifestMayNameOutputs = false
        defer {
            if !swapped {
                for f in newFiles { f.close() }
                if !manifestMayNameOutputs {
                    for o in outputs { try? fs.remove(o.path) }
                    if newDictionary { try? removeDictionary(dictionaryID) }
                }
            }
        }
        let swap = Store.SegmentSwap(partition: partition, inputs: inputSeqs, oldDictionaries: oldDictionaries, outputs: newFiles,
                                     codec: codec.name, dictionaryID: dictionaryID, dictionary: dictionary,
                                     moves: moves, removed: removed, preserved: preserved)
        let unusedDictionaries = try store.swapSegments(swap, swapped: &swapped, manifestMayNameOutputs: &manifestMayNameOutputs)
        report.outputSegments = outputs.map(\.seq)

        // 5. Old files: removed only now that the new state is durable.
        // Under the exclusive snapshot lock (SPEC.md §7.2): a reader that read the
        // old manifest has already opened these files, and POSIX keeps them readable.
        for f in inputs { f.close() }
        try fs.removingUnderSnapshotLock(root: store.path) {
            for f in inputs { try fs.remove(f.path) }
            // Not fsynced: a deletion lost in a crash leaves an unlisted orphan that the next open removes.
            for id in unusedDictionaries { try? removeDictionary(id) }
        }
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
    func writeDictionary(_ bytes: [UInt8], wordModel: WordModel? = nil) throws -> UInt32 {
        let dir = store.catalog.dictionaryDirectory
        let id = try store.reserveDictionaryID(directory: dir)
        if !fs.isDirectory(dir) {
            try fs.createDirectory(dir, mode: store.options.directoryMode)
            try fs.syncDirectory(store.path)
        }
        let p = store.catalog.dictionaryPath(id)
        try fs.replaceAtomically(p, mode: store.options.fileMode) { try $0.write(try DictionaryFile.encode(id: id, dictionary: bytes, wordModel: wordModel, level: options.level)) }
        return id
    }

    func removeDictionary(_ id: UInt32) throws {
        guard id != 0 else { return }
        let p = store.catalog.dictionaryPath(id)
        if fs.fileExists(p) { try fs.remove(p) }
    }
}
