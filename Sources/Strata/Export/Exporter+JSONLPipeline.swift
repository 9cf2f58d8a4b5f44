import Foundation

/// The JSONL export on several threads (SPEC.md §8.2): encode threads take the
/// unit's blocks one at a time, in order, and read, check and encode each into
/// a slot of a ring; the calling thread writes the slots' text in block order,
/// gathering the finished blocks into one `writev` of ≥ 1 MiB, and frees the
/// slots. No round barriers: an encode thread moves to the next block as soon
/// as it is done, and waits only when the writer is a whole ring behind.
/// The bytes are those of the sequential path.
extension Exporter {
    /// Slots in the ring per encode thread: how far encoding may run ahead of the writer.
    static let pipelineSlotsPerThread = 24
    /// The writer gathers finished blocks until their text reaches this many
    /// bytes (or nothing more is ready and it has at least a quarter of it).
    static let gatherBytes = 1 << 20

    /// What encode threads and the writer share.
    /// @unchecked Sendable: `next` and `stop` are read and written only under
    /// `claim`; a slot (`slots[i % count]`) is written only by the thread that
    /// claimed job i, between its `free.wait()` and `ready[slot].signal()`, and
    /// read only by the writer between that signal's wait and its `free.signal()`,
    /// so each slot has one owner at a time and the semaphores order the accesses.
    final class JSONLPipeline: @unchecked Sendable {
        let slots: [EncodedBlock]
        let ready: [DispatchSemaphore]
        /// Counts free slots. Created at 0 and raised to the slot count: a
        /// semaphore released below its initial value traps in libdispatch, and
        /// an abandoned run may leave slots taken.
        let free = DispatchSemaphore(value: 0)
        let claim = Lock()
        let jobCount: Int
        var next = 0
        var stop = false

        init(slots: Int, splits: Int, jobs: Int) {
            self.slots = (0..<slots).map { _ in EncodedBlock(splits: splits) }
            ready = (0..<slots).map { _ in DispatchSemaphore(value: 0) }
            jobCount = jobs
            for _ in 0..<slots { free.signal() }
        }

        /// The next job for an encode thread, once a slot is free; nil when
        /// every job is taken or the writer stopped the run.
        func take() -> Int? {
            free.wait()
            let i: Int? = claim.withLock {
                guard !stop, next < jobCount else { return nil }
                next += 1
                return next - 1
            }
            if i == nil { free.signal() }  // the slot it waited for stays free for the others
            return i
        }

        /// Stops the encode threads after their current block (the writer failed).
        func halt(threads: Int) {
            claim.withLock { stop = true }
            for _ in 0..<threads { free.signal() }
        }
    }

    /// Whether a pass over the unit may run on the encode threads: no
    /// annotations outside the blocks (`visitBlock` then touches no exporter state).
    func canPipeline(_ ctx: UnitContext) -> Bool {
        annotations == nil && ctx.snap.annotationMap.isEmpty && encodeThreads > 1
    }

    /// Visits the unit's selected examples (`forEachSelected`'s order and
    /// filters) with `encode` on the encode threads, each block into a slot;
    /// `take` receives each block and its slot in block order on this thread (its result: the
    /// bytes it queued to write), and `flush` runs before the taken slots are
    /// reused (writing what `take` queued). A block's error is thrown when its
    /// turn comes, as one thread would meet it. `jobs`: the blocks to visit (all by default).
    /// REQUIRES: `canPipeline(ctx)`.
    func pipelineBlocks(_ ctx: UnitContext, jobs selected: [BlockJob]? = nil, onlyShape: Shape? = nil, notShape: Shape? = nil,
                        encode: @escaping (inout EntryView, FoldedAnnotations?, Int, PartitionKey, EncodedBlock) -> Void,
                        take: (BlockJob, EncodedBlock) throws -> Int, flush: () throws -> Void) throws {
        let n = splitCount
        let jobs = selected ?? blockJobs(ctx)
        guard !jobs.isEmpty else { return }
        let threads = min(encodeThreads, jobs.count)
        let unit = ctx
        let pipe = JSONLPipeline(slots: threads * Exporter.pipelineSlotsPerThread, splits: n, jobs: jobs.count)
        let slotCount = pipe.slots.count
        let skipDamaged = self.skipDamaged

        // One encode thread: its own decoding state for the whole unit.
        func encodeLoop() {
            var view = EntryView(), buffers = ReadBuffers(), side = ReadBuffers()
            while let i = pipe.take() {
                let r = pipe.slots[i % slotCount]
                r.reset()
                let job = jobs[i]
                do {
                    let h: FrameHeader
                    do {
                        h = try job.file.readBlock(at: job.offset, into: &buffers.block, scratch: &buffers.scratch)
                    } catch let e as StrataError where e.code == .corruption && skipDamaged {
                        r.damage = e
                        pipe.ready[i % slotCount].signal()
                        continue
                    }
                    try visitBlock(buffers.block, header: h, job, unit, onlyShape: onlyShape, notShape: notShape, view: &view, side: &side) { e, a, s, p in
                        encode(&e, a, s, p, r)
                    }
                } catch {
                    r.error = error
                }
                pipe.ready[i % slotCount].signal()
            }
        }
        // @unchecked: runs `encodeLoop`, whose captures are read-only (jobs, unit,
        // self's settings, `encode`'s own) or the pipeline, whose contract is stated above.
        struct Loop: @unchecked Sendable { let run: () -> Void }
        let loop = Loop(run: encodeLoop)
        let group = DispatchGroup()
        for _ in 0..<threads { DispatchQueue.global().async(group: group) { loop.run() } }
        // Every exit waits for the encode threads: they read `jobs` and the pipeline.
        defer { group.wait() }
        do {
            var i = 0
            while i < jobs.count {
                // Take finished blocks in order: wait for the first, then any that are ready,
                // until the batch is big enough to write.
                var batched = 0
                var bytes = 0
                while i < jobs.count {
                    let sem = pipe.ready[i % slotCount]
                    if batched > 0 && bytes >= Exporter.gatherBytes / 4 {
                        if sem.wait(timeout: .now()) == .timedOut { break }
                    } else {
                        sem.wait()
                    }
                    let r = pipe.slots[i % slotCount]
                    batched += 1
                    if let e = r.error { throw e }
                    if let d = r.damage { noteDamage(d) } else { bytes += try take(jobs[i], r) }
                    i += 1
                    if bytes >= Exporter.gatherBytes || batched == slotCount / 2 { break }
                }
                try flush()
                for _ in 0..<batched { pipe.free.signal() }
            }
        } catch {
            // Finished slots not yet written are dropped with the pipeline; the semaphores need no draining.
            pipe.halt(threads: threads)
            throw error
        }
    }

    /// The JSONL export on the encode threads. REQUIRES: `canPipeline(ctx)`.
    func writeJSONLPipelined(_ ctx: inout UnitContext) throws {
        let schema = spec.schema
        let sp = spec.systemPrompt
        let n = splitCount
        var c = ctx
        defer { ctx = c }
        var pieces = [[UnsafeRawBufferPointer]](repeating: [], count: n)
        try pipelineBlocks(ctx, encode: { e, a, s, _, r in
            guard ExampleJSONEncoder.represents(schema, e.shape) else { r.skipped += 1; return }
            let t = r.text[s]
            ExampleJSONEncoder.append(schema, e, annotations: a, systemPrompt: sp, &t.out)
            t.out.append(0x0A)
            r.qualities[s].append(e.quality)
        }, take: { _, r in
            c.skipped += r.skipped
            var bytes = 0
            for s in 0..<n where !r.qualities[s].isEmpty {
                let sink: ExportFileSink
                if let k = c.sinks[s] { sink = k } else {
                    sink = try openSink(&c, s)
                    if spec.metaHeader { writeMetaHeader(&c, s) }
                }
                pieces[s].append(r.text[s].out.bytes)
                bytes += r.text[s].out.count
                sink.record.rows += r.qualities[s].count
                for q in r.qualities[s] { sink.record.noteQuality(q) }
            }
            return bytes
        }, flush: {
            for s in 0..<n where !pieces[s].isEmpty {
                try c.sinks[s]!.append(gathering: pieces[s])
                pieces[s].removeAll(keepingCapacity: true)
            }
        })
    }

    /// The statistics pass (`--meta-header`, the JSON document) on the encode
    /// threads: rows' facts are taken there, added here in row order.
    func statsPipelined(_ ctx: UnitContext, _ stats: [ExportStats]) throws {
        let all = spec.format == .json
        let schema = spec.schema
        try pipelineBlocks(ctx, encode: { e, a, s, _, r in
            if all || ExampleJSONEncoder.represents(schema, e.shape) { r.statRows[s].append(ExportStats.Row(e, annotations: a)) }
        }, take: { job, r in
            for s in r.statRows.indices { for row in r.statRows[s] { stats[s].add(row, partition: job.partition) } }
            return 0
        }, flush: {})
    }
}
