import Foundation

/// A helper thread that encodes one compacted block at a time while the
/// compacting thread reads and builds the next one (`CompactSegmentWriter`):
/// block encoding (columnar streams, word model, zstd) is a third of
/// compaction's CPU, and the compacting thread is the only one busy
/// otherwise. The frame is exactly `FrameCodec.appendBlock`'s for the block,
/// so the bytes on disk do not depend on which thread encoded it. The thread
/// lives as long as its owner (`CompactionBuffers`, one per compacting
/// thread), so its encoder workspace is reused from partition to partition.
///
/// Contract: one job at a time: `start` only when idle, then `finish`.
// @unchecked: every mutable member is touched only under `condition`.
final class CompactionBlockEncoder: @unchecked Sendable {
    private struct Job { let entries: [UInt8]; let entryCount: Int; let codec: BlockCodec }

    private let condition = NSCondition()
    private var job: Job?
    private var result: Result<[UInt8], Error>?
    private var stopping = false
    private var threadStarted = false

    /// Starts encoding a detached block on the helper thread.
    func start(entries: [UInt8], entryCount: Int, codec: BlockCodec) {
        condition.lock()
        precondition(job == nil && result == nil, "the block encoder is busy")
        if !threadStarted {
            threadStarted = true
            let t = Thread { [self] in loop() }
            t.name = "strata.compaction.encoder"
            t.start()
        }
        job = Job(entries: entries, entryCount: entryCount, codec: codec)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the started block and returns its frame (throws its encoding error).
    func finish() throws -> [UInt8] {
        condition.lock()
        while result == nil { condition.wait() }
        let r = result!
        result = nil
        condition.unlock()
        return try r.get()
    }

    /// Ends the helper thread (after any started job is finished).
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        var scratch: [UInt8] = []
        condition.lock()
        while true {
            while job == nil && !stopping { condition.wait() }
            guard let j = job else { break }
            condition.unlock()
            var frame: [UInt8] = []
            let r = Result<[UInt8], Error> {
                try j.entries.withUnsafeBytes {
                    try FrameCodec.appendBlock(entries: $0, entryCount: j.entryCount, codec: j.codec, scratch: &scratch, to: &frame)
                }
                return frame
            }
            condition.lock()
            job = nil
            result = r
            condition.broadcast()
        }
        condition.unlock()
    }
}
