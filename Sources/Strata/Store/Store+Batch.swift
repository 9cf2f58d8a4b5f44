import Foundation

/// Examples already parsed, validated, hashed and encoded (by the ingest
/// pipeline's first stage), appended by the store in one locked pass.
public final class EncodedBatch {
    public struct Item {
        public var id: ExampleID
        public var partition: PartitionKey
        public var timestamp: Int64
        /// Range of the complete entry (SPEC.md §4) in `bytes`.
        public var start: Int
        public var count: Int
        /// Input line, for duplicate reports.
        public var line: Int
        /// The keyed id's key (SPEC.md §4.1) the entry carries, which is the
        /// example's dedup key in a `content+fields` store; nil otherwise.
        var idKey: ExampleID?
        /// What the segment counts of it, so the store stage does not decode the entry.
        var facts: ExampleFacts
    }

    public var bytes: [UInt8] = []
    /// The items' tags as Strings (`ExampleFacts.tagStart`/`tagCount`).
    var tagNames: [String] = []
    public var items: [Item] = []
    /// Input bytes this batch covers (for commit cadence and progress).
    public var inputBytes: Int64 = 0
    /// Seconds `Store.append(batch:)` spent compressing and writing the blocks it closed.
    public internal(set) var compressSeconds = 0.0
    /// CPU seconds of that, summed over the threads, and the part the calling thread did.
    public internal(set) var compressCPU = 0.0
    public internal(set) var compressCallerCPU = 0.0

    public init() {
        bytes.reserveCapacity(8 << 20)
    }

    public func reset() {
        bytes.removeAll(keepingCapacity: true)
        items.removeAll(keepingCapacity: true)
        tagNames.removeAll(keepingCapacity: true)
        inputBytes = 0
        compressSeconds = 0
        compressCPU = 0
        compressCallerCPU = 0
    }

    /// Encodes a validated draft into the batch. `id` (and `idKey`, for keyed
    /// ids, SPEC.md §4.1) must be what the store assigns the draft.
    public func add(_ d: ExampleDraft, id: ExampleID, idKey: ExampleID? = nil, partition: PartitionKey, line: Int) {
        var strings = StringInterner()
        add(d, id: id, idKey: idKey, partition: partition, line: line, strings: &strings)
    }

    /// `add`, with source and tag Strings shared through `strings` (the ingest parse stage keeps one).
    func add(_ d: ExampleDraft, id: ExampleID, idKey: ExampleID? = nil, partition: PartitionKey, line: Int, strings: inout StringInterner) {
        let facts = ExampleFacts.of(d, strings: &strings, tagNames: &tagNames)
        let start = bytes.count
        var w = ByteWriter()
        swap(&w.bytes, &bytes)
        RecordCodec.appendExampleEntry(d, id: id, idKey: idKey, to: &w)
        swap(&w.bytes, &bytes)
        items.append(Item(id: id, partition: partition, timestamp: d.timestampMillis, start: start, count: bytes.count - start, line: line,
                          idKey: idKey, facts: facts))
    }
}

extension Store {
    /// Appends a batch of encoded examples; `outcome` is called per item in order.
    /// Does not apply the commit policy (the caller commits).
    ///
    /// Each block the batch closes is compressed by a helper thread while the
    /// loop goes on appending (`DetachedBlockCompressor`); the frames are
    /// written in block order before the lock is released, as before.
    public func append(batch: EncodedBatch, outcome: (EncodedBatch.Item, AppendOutcome) -> Void) throws {
        try lock.withLock {
            guard !closed else { throw StrataError(.usage, "store is closed", path: path) }
            try guardWrite {
                let compressor = DetachedBlockCompressor(on: compressionThread)
                var finished = false
                defer { if !finished { _ = try? compressor.finish() } }
                createSegmentsLater = true
                defer { try? finishSegmentCreations() }
                let submit: (ActiveSegment) -> Void = { seg in
                    guard let d = seg.detached.last else { return }
                    compressor.submit(segment: seg.sequence, index: d.index, entries: d.entries, entryCount: d.entryCount, codec: seg.codec)
                }
                try batch.bytes.withUnsafeBytes { all in
                    for item in batch.items {
                        let entry = UnsafeRawBufferPointer(rebasing: all[item.start..<(item.start + item.count)])
                        let tags = batch.tagNames[item.facts.tagStart..<(item.facts.tagStart + item.facts.tagCount)]
                        outcome(item, try appendEntryLocked(entry, id: item.id, idKey: item.idKey, partition: item.partition,
                                                            timestamp: item.timestamp, deferCompression: true, detached: submit,
                                                            facts: (item.facts, tags)))
                    }
                }
                try finishSegmentCreations()
                let start = Ingester.now(), startCPU = Ingester.threadCPU()
                let frames = try compressor.finish()
                finished = true
                let helped = Ingester.threadCPU() - startCPU
                let written = try writeDetachedBlocksLocked(compressed: frames)
                batch.compressCPU = compressor.cpuSeconds + written
                batch.compressSeconds = Ingester.now() - start
                batch.compressCallerCPU = helped + written
            }
        }
    }

    /// Writes every active segment's detached blocks in block order, with the
    /// frames in `compressed` (by segment and block index); blocks missing
    /// there are compressed first, on two threads (LZ4 is most of the writer's
    /// CPU). Then lets the catalog know. REQUIRES: the lock is held, inside
    /// `guardWrite`. Returns the CPU seconds spent, summed over the threads
    /// (for `--profile`).
    @discardableResult
    func writeDetachedBlocksLocked(compressed: [DetachedBlockCompressor.Key: [UInt8]] = [:]) throws -> Double {
        let segs = active.values.filter { !$0.detached.isEmpty }
        guard !segs.isEmpty else { return 0 }
        var jobs: [(seg: Int, block: Int)] = []
        for (s, seg) in segs.enumerated() {
            for (b, d) in seg.detached.enumerated() where compressed[.init(segment: seg.sequence, block: d.index)] == nil {
                jobs.append((s, b))
            }
        }
        var frames = [[UInt8]](repeating: [], count: jobs.count)
        let failure = Locked<Error?>(nil)
        let cpu = Locked(0.0)
        let workers = min(2, jobs.count)
        if workers > 0 {
            frames.withUnsafeMutableBufferPointer { out in
                // Each worker writes only its own slots of `out` (stride by worker count).
                let slots = out
                parallelFor(workers) { w in
                    let cpuStart = Ingester.threadCPU()
                    defer { let used = Ingester.threadCPU() - cpuStart; cpu.withLock { $0 += used } }
                    var scratch: [UInt8] = []
                    for j in stride(from: w, to: jobs.count, by: workers) {
                        let seg = segs[jobs[j].seg]
                        let d = seg.detached[jobs[j].block]
                        var frame: [UInt8] = []
                        frame.reserveCapacity(Format.frameHeaderSize + d.entries.count + d.entries.count / 255 + 16)
                        do {
                            try d.entries.withUnsafeBytes {
                                try FrameCodec.appendBlock(entries: $0, entryCount: d.entryCount, codec: seg.codec, scratch: &scratch, to: &frame)
                            }
                        } catch {
                            failure.store(error)
                            return
                        }
                        slots[j] = frame
                    }
                }
            }
        }
        if let e = failure.load() { throw e }
        let writeCPU = Ingester.threadCPU()
        var j = 0
        for seg in segs {
            var segFrames: [[UInt8]] = []
            segFrames.reserveCapacity(seg.detached.count)
            for d in seg.detached {
                if let f = compressed[.init(segment: seg.sequence, block: d.index)] {
                    segFrames.append(f)
                } else {
                    segFrames.append(frames[j])
                    j += 1
                }
            }
            try seg.writeDetached(frames: segFrames)
            try noteWrites(seg)
        }
        return cpu.load() + Ingester.threadCPU() - writeCPU
    }

    /// The one place an example entry enters the store: dedup, then append.
    /// REQUIRES: the lock is held and the caller runs inside `guardWrite`;
    /// `idKey`, when given, is the key `ExampleIdentity.assign` gave the entry.
    /// With `deferCompression`, full blocks wait for `writeDetachedBlocksLocked`;
    /// `detached` is told of the segment each time one is set aside.
    /// `facts`: the example's counted facts and tags, when the caller has them
    /// (`EncodedBatch`), so the entry is not decoded to count it.
    func appendEntryLocked(_ entry: UnsafeRawBufferPointer, id: ExampleID, idKey: ExampleID? = nil, partition: PartitionKey,
                           timestamp: Int64, deferCompression: Bool = false,
                           detached: ((ActiveSegment) -> Void)? = nil,
                           facts: (ExampleFacts, ArraySlice<String>)? = nil) throws -> AppendOutcome {
        if let stored = try dedupCheckLocked(entry: entry, id: id, idKey: idKey, partition: partition, timestamp: timestamp, facts: facts?.0) {
            return .duplicate(stored)
        }
        let seg = try activeSegment(for: partition)
        let before = seg.detached.count
        let loc = try seg.append(entry: entry, deferCompression: deferCompression, example: facts.map { (id, $0.0, $0.1) })
        // `append` detaches at most one block (the one it closed), last in `detached`.
        if seg.detached.count > before { detached?(seg) }
        try dedupInsertedLocked(id: id, at: loc)
        try noteWrites(seg)
        return .inserted(id)
    }
}
