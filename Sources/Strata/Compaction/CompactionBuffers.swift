import Foundation

/// Buffers one thread's compactions reuse from partition to partition: the
/// input blocks' decoded bytes and the output segments' block and frame
/// buffers. `strata compact` runs one small compaction per partition; fresh
/// buffers each time (each above glibc's mmap threshold) were mapped, faulted
/// in and unmapped per partition, a tenth of compaction's CPU in `perf`.
final class CompactionBuffers {
    var block: [UInt8] = []
    var scratch: [UInt8] = []
    var builder = SegmentBuilder.Buffers()
    let frames = Frames()
    /// Encodes blocks beside this thread (`CompactSegmentWriter`); its thread is started on first use.
    let encoder = CompactionBlockEncoder()

    /// A frame and its compression scratch (two properties: both are passed inout at once).
    final class Frames {
        var frame: [UInt8] = []
        var scratch: [UInt8] = []
    }
    /// True while a job on this thread holds the buffers (a nested job gets fresh ones).
    var inUse = false

    /// This thread's buffers, or fresh ones when they are taken.
    static func take() -> CompactionBuffers {
        let key = "strata.compaction.buffers"
        if let c = Thread.current.threadDictionary[key] as? CompactionBuffers {
            if c.inUse { return CompactionBuffers() }
            c.inUse = true
            return c
        }
        let c = CompactionBuffers()
        c.inUse = true
        Thread.current.threadDictionary[key] = c
        return c
    }

    func give() { inUse = false }

    deinit { encoder.stop() }
}
