import Dispatch

/// One page body on its way through zstd: filled by the writing thread,
/// compressed by a worker, taken back (`ParquetPageCompressor.harvest`) by
/// the writing thread, which then reuses it for a later page.
// @unchecked: ownership is handed over, never shared. The writing thread
// fills the job before `submit` (the dispatch orders those writes before
// the worker's reads), the worker alone touches it until it leaves `group`,
// and the writing thread reads it only after `group.wait()`.
final class ParquetPageJob: @unchecked Sendable {
    /// The uncompressed page body (levels, then values or indices).
    var body: [UInt8] = []
    /// Owned output buffer, at least `ZstdCodec.compressBound(body.count)` bytes once compressed.
    private(set) var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private(set) var compressedCount = 0
    private(set) var error: Error?
    /// Data page: values (levels) in the page and their encoding; dictionary page: its entry count.
    var valueCount = 0
    var encoding: Int32 = 0
    var isDictionary = false
    /// The column writer the page belongs to (weak: a failed writer may drop pending jobs).
    weak var owner: ParquetColumnWriter?
    let group = DispatchGroup()

    var compressed: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: output[0..<compressedCount]) }

    func run(level: Int32) {
        error = nil
        compressedCount = 0
        let bound = ZstdCodec.compressBound(body.count)
        if output.count < bound {
            output.deallocate()
            // Never zero-filled: only the frame zstd writes is touched (and faulted in).
            output = .allocate(byteCount: bound, alignment: 16)
        }
        do {
            compressedCount = try body.withUnsafeBytes { try ZstdCodec.compress($0, level: level, dictionary: nil, into: output) }
        } catch {
            self.error = error
        }
    }

    deinit { output.deallocate() }
}

/// Compresses the pages of one Parquet file's column writers on worker
/// threads while the writing thread goes on filling columns, so a page's
/// zstd work (most of a Parquet export's CPU) runs beside the reading and
/// encoding instead of after it. Each page is one zstd frame compressed as
/// before, by the same call at the same level: the bytes are those of a
/// serial writer, whatever thread compresses them. Pages are taken back in
/// submission order, so each column's pages keep their order.
///
/// At most `limit` pages are in flight; `job()` first takes back the oldest
/// when the limit is reached, which bounds memory to `limit` page bodies and
/// makes the writer wait when compression falls behind. Only the writing
/// thread calls this class.
final class ParquetPageCompressor {
    let level: Int32
    let limit: Int
    private var pending: [ParquetPageJob] = []
    private var pendingHead = 0
    private var free: [ParquetPageJob] = []

    /// `limit` 0: one page per processor, at least 2.
    init(level: Int32, limit: Int = 0) {
        self.level = level
        self.limit = limit > 0 ? limit : max(2, ProcessorCount.available)
    }

    /// A job to fill (its buffers keep their capacity from earlier pages).
    /// Takes back the oldest page first when `limit` are in flight, so at
    /// most `limit` jobs (and page bodies) ever exist.
    func job() throws -> ParquetPageJob {
        while pending.count - pendingHead >= limit { try harvestOldest() }
        if let j = free.popLast() { return j }
        return ParquetPageJob()
    }

    /// Starts compressing `job` (from `job()`) for `owner`.
    func submit(_ job: ParquetPageJob, owner: ParquetColumnWriter) {
        job.owner = owner
        pending.append(job)
        let level = self.level
        job.group.enter()
        DispatchQueue.global().async {
            job.run(level: level)
            job.group.leave()
        }
    }

    /// Waits for every page submitted and hands each to its column writer.
    func drain() throws {
        while pendingHead < pending.count { try harvestOldest() }
    }

    private func harvestOldest() throws {
        let j = pending[pendingHead]
        pendingHead += 1
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
        j.group.wait()
        defer {
            j.owner = nil
            free.append(j)
        }
        if let e = j.error { throw e }
        j.owner?.take(j)
    }
}
