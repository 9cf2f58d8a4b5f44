import Foundation

/// Compresses the blocks an ingest batch closes while the store thread keeps
/// appending the rest of the batch: a helper thread takes each block as soon
/// as it is detached, so LZ4 runs on whichever core the append loop and the
/// parse stage leave idle. At the end of the batch the store thread helps
/// with what is left (`finish`) and then writes the frames in block order.
///
/// Contract: a job's `entries` is an immutable copy-on-write buffer (the
/// segment's detached block); the helper only reads it and writes the frame
/// into its own result slot under `condition`. Frames are exactly those of
/// `FrameCodec.appendBlock` for the block, so the bytes on disk do not depend
/// on which thread compressed them.
// @unchecked: every mutable member is touched only under `condition`.
final class DetachedBlockCompressor: @unchecked Sendable {
    struct Key: Hashable { let segment: UInt64; let block: Int }
    private struct Job { let key: Key; let entries: [UInt8]; let entryCount: Int; let codec: BlockCodec }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var next = 0
    private var running = 0
    private var stopping = false
    private var helperDone = false
    private var frames: [Key: [UInt8]] = [:]
    private var failure: Error?
    /// CPU seconds spent compressing, summed over both threads.
    private(set) var cpuSeconds = 0.0

    /// The helper runs on `thread`, the store's one compression thread: a
    /// thread that stays keeps its malloc arena, where a new one per batch
    /// would take whichever arena another thread left (IOThreadPool.swift).
    init(on thread: IOThreadPool) {
        thread.async { [self] in helperLoop() }
    }

    /// Queues one detached block (`index` is its block index in the segment).
    func submit(segment: UInt64, index: Int, entries: [UInt8], entryCount: Int, codec: BlockCodec) {
        condition.lock()
        jobs.append(Job(key: Key(segment: segment, block: index), entries: entries, entryCount: entryCount, codec: codec))
        condition.broadcast()
        condition.unlock()
    }

    /// Takes the next job, or nil when none is queued (waits for one when `wait`
    /// and not stopping). REQUIRES: `condition` is held.
    private func take(wait: Bool) -> Job? {
        while next == jobs.count {
            if !wait || stopping { return nil }
            condition.wait()
        }
        let j = jobs[next]
        next += 1
        running += 1
        return j
    }

    private func run(_ job: Job, scratch: inout [UInt8]) {
        let start = Ingester.threadCPU()
        var frame: [UInt8] = []
        frame.reserveCapacity(Format.frameHeaderSize + job.entries.count + job.entries.count / 255 + 16)
        var error: Error?
        do {
            try job.entries.withUnsafeBytes {
                try FrameCodec.appendBlock(entries: $0, entryCount: job.entryCount, codec: job.codec, scratch: &scratch, to: &frame)
            }
        } catch let e {
            error = e
        }
        let used = Ingester.threadCPU() - start
        condition.lock()
        if let error, failure == nil { failure = error }
        frames[job.key] = frame
        cpuSeconds += used
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    private func helperLoop() {
        var scratch: [UInt8] = []
        condition.lock()
        while let job = take(wait: true) {
            condition.unlock()
            run(job, scratch: &scratch)
            condition.lock()
        }
        helperDone = true
        condition.broadcast()
        condition.unlock()
    }

    /// Compresses what is still queued on the calling thread too, waits for the
    /// helper, stops it, and returns the frames by (segment, block index).
    /// Throws the first compression error.
    /// Safe to call again (it then returns the same frames); must be called
    /// once before the compressor is dropped, or its helper thread waits forever.
    func finish() throws -> [Key: [UInt8]] {
        var scratch: [UInt8] = []
        condition.lock()
        while let job = take(wait: false) {
            condition.unlock()
            run(job, scratch: &scratch)
            condition.lock()
        }
        stopping = true
        condition.broadcast()
        while running > 0 || !helperDone { condition.wait() }
        let out = frames
        let failure = self.failure
        condition.unlock()
        if let failure { throw failure }
        return out
    }
}
