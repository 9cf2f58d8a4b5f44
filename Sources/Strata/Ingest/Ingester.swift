import Foundation

/// Streams JSONL (or a JSON array) into a store: split, parse, validate,
/// dedup, append, commit every `commitEveryBytes` of input and at the end.
/// A bad record is reported (line, field, reason) and never stops the rest.
///
/// Two stages run on two threads, handing over batches of ~4 MiB of input:
/// the parse stage (read, split, parse, validate, hash, encode) and the store
/// stage (dedup, append to blocks, write, commit), with LZ4 on a helper
/// thread that takes each block as the store stage closes it. Each input byte is
/// parsed once; nothing is allocated per field.
public final class Ingester {
    public struct Summary: Sendable {
        public var read = 0
        public var inserted = 0
        public var duplicates = 0
        public var rejected = 0
        /// Header lines such as the training-file JSONL's `{"_meta": {...}}`, which are not examples.
        public var skipped = 0
        public var bytes: Int64 = 0
        public var commits = 0
        /// Unknown top-level keys met (kept in `metadata._extra`, or dropped, per
        /// `IngestMapping.unknownKeys`), and the records that had any.
        public var unknownFields = 0
        public var recordsWithUnknownFields = 0
        /// Up to 16 distinct unknown key names, in order of first appearance.
        public var unknownFieldNames: [String] = []
        /// Where the time went, per stage (`strata ingest --profile`).
        public var profile = StageTimes()
    }

    /// Seconds per pipeline stage. The parse and store stages run on their own
    /// threads, so their sums may exceed the wall time; a stage's `wait` is the
    /// time it sat idle for the other one (the other stage is the bottleneck).
    /// `cpu` holds the same stages in CPU seconds of the threads doing them
    /// (compression: summed over its two threads) -- on a shared machine the
    /// wall times include waiting for a core, the CPU times do not.
    public struct StageTimes: Sendable {
        public var cpu = StageCPU()
        /// Parse thread: reading (and decompressing) input.
        public var read = 0.0
        /// Parse thread: split, parse, validate, hash, encode.
        public var parse = 0.0
        /// Parse thread: waiting for the store stage to hand back a free batch.
        public var parseWait = 0.0
        /// Store thread: dedup and appending entries to blocks (compression excluded).
        public var append = 0.0
        /// Store thread: after a batch's append loop, waiting for (and helping) the
        /// compression a helper thread did during the loop, and writing the frames.
        public var compress = 0.0
        /// Store thread: commits (write the open blocks, fsync, manifest, index snapshot),
        /// including `commitAndClose`'s last one, which also seals the segments.
        public var commit = 0.0
        /// Store thread: waiting for the parse stage to hand over a batch.
        public var storeWait = 0.0
        /// The commit stage's steps (wall seconds, summed over the commits).
        public var commitSteps = CommitSteps()

        public var jsonObject: [String: Any] {
            ["read": read, "parse": parse, "parse_wait": parseWait, "append": append, "compress": compress,
             "commit": commit, "store_wait": storeWait,
             "cpu": ["read_parse": cpu.readParse, "append": cpu.append, "compress": cpu.compress, "commit": cpu.commit],
             "commit_steps": ["commits": commitSteps.commits, "background": commitSteps.background, "background_wait": commitSteps.backgroundWait,
                              "blocks": commitSteps.blocks, "fsync": commitSteps.fsync,
                              "manifest": commitSteps.manifest, "seal": commitSteps.seal, "index": commitSteps.index]]
        }
    }

    /// CPU seconds per stage (see `StageTimes`).
    public struct StageCPU: Sendable {
        /// Parse thread: read, split, parse, validate, hash, encode.
        public var readParse = 0.0
        /// Store thread: dedup and appending to blocks.
        public var append = 0.0
        /// Compressing the blocks a batch closed, summed over the threads that did it.
        public var compress = 0.0
        /// Store thread: commits (the fsyncs run on helper threads and are not counted).
        public var commit = 0.0
    }

    /// CPU seconds the calling thread has used.
    @inline(__always) static func threadCPU() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    @inline(__always) static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    public struct Rejection {
        public var source: String
        public var error: StrataError
        /// The record's text when short enough to keep (≤ 1 MiB), for a rejects file.
        public var text: [UInt8]?
    }

    public let store: Store
    public let mapping: IngestMapping
    /// Pseudonymizes identifier fields in metadata before storing (`--hash-field`).
    public var fieldHasher: FieldHasher?
    public var commitEveryBytes: Int64 = 64 << 20
    /// Also commit after this many records (0 = no record limit).
    public var commitEveryRecords = 0
    /// Also commit once this many seconds passed since the last commit (0 = not
    /// by time). When input arrives slowly (a pipe, stdin) the parse stage hands
    /// over what it has whenever the input is idle for half this time, so records
    /// become durable and visible to readers within about this interval.
    public var commitEverySeconds: Double = 1
    /// Called for each rejected record (on the parse thread, in input order).
    public var onReject: ((Rejection) -> Void)?
    /// Called for each duplicate: (source, line, id of the stored example it duplicates).
    public var onDuplicate: ((String, Int, ExampleID) -> Void)?
    /// Called after each commit, once it is durable, with the summary as of that commit; everything counted in it is durable.
    public var onCommit: ((Summary) -> Void)?
    /// Called after each batch with the input bytes consumed so far.
    public var onProgress: ((Int64) -> Void)?
    public private(set) var summary = Summary()

    private var uncommittedBytes: Int64 = 0
    private var uncommittedRecords = 0
    /// The summary as of the commit whose fsyncs run in the background
    /// (`Store.beginBackgroundCommit`), reported by `onCommit` once it is durable.
    private var committing: Summary?
    private var lastCommitAt = Date()
    /// Input records per batch handed between the stages.
    static let batchInputBytes = 4 << 20
    /// Batches in flight between the stages. More than two lets the parse
    /// stage run ahead while the store stage waits for a commit's fsyncs
    /// (disk time, no CPU), instead of idling on a full hand-over.
    static let stagedBatches = 4

    public init(store: Store, mapping: IngestMapping) throws {
        self.store = store
        self.mapping = mapping
        _ = try IngestLineParser(mapping: mapping)  // validate the mapping up front
    }

    /// A batch plus the counts of what the parse stage saw for it.
    final class StagedBatch {
        let encoded = EncodedBatch()
        var read = 0
        var rejected = 0
        var skipped = 0
        var unknownFields = 0
        var recordsWithUnknownFields = 0
        var unknownFieldNames: [String] = []
        var error: Error?
        var isLast = false
        /// Parse-thread seconds spent on this batch (read, parse, wait for it), and its CPU seconds.
        var cpuSeconds = 0.0
        var readSeconds = 0.0
        var parseSeconds = 0.0
        var waitSeconds = 0.0

        func reset() {
            encoded.reset()
            read = 0
            rejected = 0
            skipped = 0
            unknownFields = 0
            recordsWithUnknownFields = 0
            unknownFieldNames.removeAll()
            error = nil
            isLast = false
            readSeconds = 0
            cpuSeconds = 0
            parseSeconds = 0
            waitSeconds = 0
        }
    }

    /// Ingests one input file ("-" for standard input), plain or gzip/zstd
    /// compressed (detected by magic bytes). A missing or unreadable file is
    /// an `.io` error; an empty one (no records) is `.invalidInput`.
    public func ingest(path: String) throws {
        // Through the store's file system, so input faults can be injected like any other I/O.
        let input = try store.fs.openInput(path)
        defer { input.close() }
        let idleMillis = commitEverySeconds > 0 ? Int32(clamping: Int(max(1, commitEverySeconds * 500))) : -1
        try run(source: path == "-" ? "<stdin>" : path) { buffer in
            // Wait for input at most half the commit interval: -1 tells the
            // parse stage the input is idle (hand over what it has).
            if idleMillis > 0, try !input.waitForInput(milliseconds: idleMillis) { return -1 }
            return try buffer.withUnsafeMutableBytes { try input.read(into: $0) }
        }
    }

    /// Ingests records already in memory (JSONL text or a JSON array).
    public func ingest(data: [UInt8], source: String = "<memory>") throws {
        var offset = 0
        try run(source: source) { buffer in
            let n = min(buffer.count, data.count - offset)
            buffer.withUnsafeMutableBytes { dst in
                data.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + n)])) }
            }
            offset += n
            return n
        }
    }

    /// Runs both stages; `readRaw` fills the buffer and returns the byte count
    /// (0 at end, -1 when the input is idle: what is parsed so far is handed
    /// over); compressed input is decompressed on the parse thread.
    private func run(source: String, readChunk readRaw: @escaping (inout [UInt8]) throws -> Int) throws {
        let input = InputDecompressor(readRaw: readRaw)
        let readChunk: (inout [UInt8]) throws -> Int = { try input.read(into: &$0) }
        let free = BlockingQueue<StagedBatch>()
        let ready = BlockingQueue<StagedBatch>()
        for _ in 0..<Ingester.stagedBatches { free.push(StagedBatch()) }
        let cancelled = Locked(false)
        let mapping = self.mapping
        let onReject = self.onReject
        let recordLimit = commitEveryRecords
        let hasher = fieldHasher
        let dedupKey = store.dedupKey
        let handOff = ParseHandOff(readChunk: readChunk, onReject: onReject)
        // On the store's parse thread: it stays across ingest calls (a library user may make
        // thousands), so the batches' buffers stay in one malloc arena.
        store.parseThread.async {
            Ingester.parseStage(source: source, mapping: mapping, readChunk: handOff.readChunk, free: free, ready: ready,
                                cancelled: cancelled, recordLimit: recordLimit, hasher: hasher, dedupKey: dedupKey,
                                onReject: handOff.onReject)
        }
        var failure: Error?
        while true {
            let waitStart = Ingester.now()
            let staged = ready.pop()
            summary.profile.storeWait += Ingester.now() - waitStart
            summary.profile.read += staged.readSeconds
            summary.profile.parse += staged.parseSeconds
            summary.profile.parseWait += staged.waitSeconds
            summary.profile.cpu.readParse += staged.cpuSeconds
            let last = staged.isLast
            if failure == nil {
                do {
                    if let e = staged.error { throw e }
                    try storeStage(staged, source: source)
                } catch {
                    failure = error
                    cancelled.store(true)
                }
            }
            staged.reset()
            free.push(staged)
            if last { break }
        }
        // The stage has ended; its thread is idle again before the call returns (a close then ends it).
        store.parseThread.waitIdle()
        if let failure {
            // What an earlier commit made durable is still reported.
            try? finishBackgroundCommit(wait: true)
            throw failure
        }
    }

    private func storeStage(_ staged: StagedBatch, source: String) throws {
        summary.read += staged.read
        summary.rejected += staged.rejected
        summary.skipped += staged.skipped
        summary.unknownFields += staged.unknownFields
        summary.recordsWithUnknownFields += staged.recordsWithUnknownFields
        for n in staged.unknownFieldNames where summary.unknownFieldNames.count < 16 && !summary.unknownFieldNames.contains(n) {
            summary.unknownFieldNames.append(n)
        }
        summary.bytes += staged.encoded.inputBytes
        var inserted = 0, duplicates = 0
        let onDuplicate = self.onDuplicate
        let appendStart = Ingester.now(), appendCPU = Ingester.threadCPU()
        defer {
            summary.profile.append += Ingester.now() - appendStart - staged.encoded.compressSeconds
            summary.profile.compress += staged.encoded.compressSeconds
            summary.profile.cpu.append += Ingester.threadCPU() - appendCPU - staged.encoded.compressCallerCPU
            summary.profile.cpu.compress += staged.encoded.compressCPU
        }
        try store.append(batch: staged.encoded) { item, outcome in
            if outcome.isDuplicate {
                duplicates += 1
                // The stored example it duplicates: `item.id` is the offer's own id,
                // which differs under normalization, prompt_only and content+FIELD keys.
                onDuplicate?(source, item.line, outcome.id)
            } else {
                inserted += 1
            }
        }
        summary.inserted += inserted
        summary.duplicates += duplicates
        uncommittedBytes += staged.encoded.inputBytes
        uncommittedRecords += staged.encoded.items.count
        onProgress?(summary.bytes)
        try finishBackgroundCommit(wait: false)
        let dueByTime = commitEverySeconds > 0 && uncommittedRecords > 0 && Date().timeIntervalSince(lastCommitAt) >= commitEverySeconds
        if uncommittedBytes >= commitEveryBytes || (commitEveryRecords > 0 && uncommittedRecords >= commitEveryRecords) || dueByTime {
            try beginBackgroundCommit()
        }
    }

    /// A commit between batches: its fsyncs run while the next batches are
    /// appended; `onCommit` reports it once they finished (checked after each
    /// batch, and waited for by the next commit).
    private func beginBackgroundCommit() throws {
        try finishBackgroundCommit(wait: true)
        try timedCommit { try store.beginBackgroundCommit() }
        committing = summary
        lastCommitAt = Date()
        uncommittedBytes = 0
        uncommittedRecords = 0
    }

    /// Reports the background commit once it is durable (with `wait`, waits for it).
    private func finishBackgroundCommit(wait: Bool) throws {
        guard var done = committing else { return }
        var finished = false
        try timedCommit { finished = try store.completeBackgroundCommit(wait: wait) }
        guard finished else { return }
        committing = nil
        summary.commits += 1
        done.commits = summary.commits
        done.profile = summary.profile
        onCommit?(done)
    }

    /// Makes everything ingested so far durable and closes the store. The
    /// store's close seals every segment it wrote and commits, so the last
    /// commit and the sealing share one round of fsyncs (a `commit()` then
    /// `close()` syncs every segment file twice). Counted as a commit.
    public func commitAndClose() throws {
        try finishBackgroundCommit(wait: true)
        try timedCommit { try store.commitAndClose() }
        uncommittedBytes = 0
        uncommittedRecords = 0
        summary.commits += 1
        onCommit?(summary)
    }

    /// Runs a commit, adding its wall and CPU time to the profile's commit stage.
    private func timedCommit(_ body: () throws -> Void) throws {
        let start = Ingester.now(), startCPU = Ingester.threadCPU()
        defer {
            summary.profile.commit += Ingester.now() - start
            summary.profile.cpu.commit += Ingester.threadCPU() - startCPU
            summary.profile.commitSteps = store.commitStepTimes
        }
        try body()
    }

    /// Makes everything ingested so far durable.
    public func commit() throws {
        try finishBackgroundCommit(wait: true)
        try timedCommit { try store.commit() }
        lastCommitAt = Date()
        uncommittedBytes = 0
        uncommittedRecords = 0
        summary.commits += 1
        onCommit?(summary)
    }

    // MARK: parse stage (its own thread; touches only its own state and the queues)

    private static func parseStage(source: String, mapping: IngestMapping, readChunk: (inout [UInt8]) throws -> Int,
                                   free: BlockingQueue<StagedBatch>, ready: BlockingQueue<StagedBatch>,
                                   cancelled: Locked<Bool>, recordLimit: Int, hasher: FieldHasher?,
                                   dedupKey: DedupKey, onReject: ((Rejection) -> Void)?) {
        var hasher = hasher
        var parser = try! IngestLineParser(mapping: mapping)  // validated in init
        var draft = ExampleDraft()
        var identity = ExampleIdentity(dedupKey)
        var idScratch = ByteWriter(capacity: 4096)
        var partitions = PartitionCache()
        var strings = StringInterner()
        var splitter = JSONDocumentSplitter()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var staged = free.pop()
        // Parse-thread clock: time up to `mark` is charged to the batch being filled.
        var mark = Ingester.now()
        var cpuMark = Ingester.threadCPU()
        func handOver() {
            let t = Ingester.now()
            staged.parseSeconds += t - mark
            let c = Ingester.threadCPU()
            staged.cpuSeconds += c - cpuMark
            cpuMark = c
            ready.push(staged)
            staged = free.pop()
            mark = Ingester.now()
            staged.waitSeconds += mark - t
        }

        var records = 0
        func handle(_ piece: JSONDocumentSplitter.Piece) throws {
            records += 1
            // `json.dump(obj, indent=2)` output: line 1 is a lone '{'. Say so
            // once instead of rejecting every line of the object.
            if records == 1, case let .record(bytes, line) = piece, line == 1,
               bytes.elementsEqual("{".utf8) || (bytes.count > 1 && bytes.first == 0x7B && bytes.dropFirst().allSatisfy { $0 == 0x20 || $0 == 0x09 }) {
                throw StrataError(.invalidInput, "line 1 opens a JSON object that continues on the next lines (pretty-printed JSON?): ingest reads JSONL, one object per line, or one JSON array of objects ([{...}, {...}]), whose elements may span lines", path: source, line: 1)
            }
            staged.read += 1
            switch piece {
            case let .rejected(error):
                staged.rejected += 1
                var e = error
                if e.path == nil { e.path = source }
                onReject?(Rejection(source: source, error: e, text: nil))
            case let .record(bytes, line):
                staged.encoded.inputBytes += Int64(bytes.count + 1)
                if isMetaHeader(bytes) {
                    staged.skipped += 1
                    return
                }
                do {
                    try parser.parse(bytes, into: &draft)
                    if parser.unknownKeyCount > 0 {
                        staged.unknownFields += parser.unknownKeyCount
                        staged.recordsWithUnknownFields += 1
                        if staged.unknownFieldNames.count < 16 { noteUnknownNames(bytes) }
                    }
                    try Ingester.encode(&draft, claimedID: parser.id, hasher: &hasher, identity: &identity, idScratch: &idScratch,
                                        partitions: &partitions, strings: &strings, into: staged.encoded, line: line)
                    if staged.encoded.inputBytes >= Int64(batchInputBytes) || (recordLimit > 0 && staged.encoded.items.count >= recordLimit) {
                        handOver()
                    }
                } catch var e as StrataError {
                    staged.rejected += 1
                    e.line = line
                    if e.path == nil { e.path = source }
                    onReject?(Rejection(source: source, error: e, text: bytes.count <= 1 << 20 ? Array(bytes) : nil))
                } catch {
                    staged.rejected += 1
                    onReject?(Rejection(source: source, error: StrataError(.invalidInput, "\(error)", path: source, line: line), text: nil))
                }
            }
        }

        /// Names of the line's unknown keys (from the parser's raw member ranges).
        func noteUnknownNames(_ bytes: UnsafeRawBufferPointer) {
            for r in parser.unknownMembers.prefix(16) {
                var e = r.lowerBound + 1
                while e < r.upperBound, bytes[e] != 0x22 { e += bytes[e] == 0x5C ? 2 : 1 }
                let name = String(decoding: bytes[(r.lowerBound + 1)..<min(e, r.upperBound)], as: UTF8.self)
                if !staged.unknownFieldNames.contains(name) && staged.unknownFieldNames.count < 16 { staged.unknownFieldNames.append(name) }
            }
        }

        do {
            var total: Int64 = 0
            while !cancelled.load() {
                let readStart = Ingester.now()
                staged.parseSeconds += readStart - mark
                let n = try readChunk(&chunk)
                mark = Ingester.now()
                staged.readSeconds += mark - readStart
                if n == 0 { break }
                if n < 0 {
                    // Idle input: hand over the batch (possibly empty) so the store
                    // stage can commit on time (`commitEverySeconds`).
                    handOver()
                    continue
                }
                total += Int64(n)
                try chunk.withUnsafeBytes { raw in try splitter.feed(UnsafeRawBufferPointer(rebasing: raw[0..<n]), handle) }
            }
            try splitter.finish(handle)
            if records == 0 && !cancelled.load() {
                throw StrataError(.invalidInput, total == 0 ? "input is empty (0 bytes): nothing to ingest" : "input holds no records (only whitespace)", path: source)
            }
        } catch {
            staged.error = error
        }
        staged.parseSeconds += Ingester.now() - mark
        staged.cpuSeconds += Ingester.threadCPU() - cpuMark
        staged.isLast = true
        ready.push(staged)
    }

    /// Validates, pseudonymizes, identifies and encodes a parsed draft into
    /// `batch`. One function with inout parameters, not inline in the parse
    /// stage's record handler: there the draft is a captured (boxed) variable,
    /// and each by-value use of it copied it (4 retains and releases).
    static func encode(_ draft: inout ExampleDraft, claimedID: ExampleID?, hasher: inout FieldHasher?, identity: inout ExampleIdentity,
                       idScratch: inout ByteWriter, partitions: inout PartitionCache, strings: inout StringInterner,
                       into batch: EncodedBatch, line: Int) throws {
        try ExampleValidation.validate(draft, metadataChecked: true)
        hasher?.apply(to: &draft)
        let (id, idKey) = try identity.assign(draft)
        // A raw export's id is the one its store assigned: the content
        // id, or a keyed id (SPEC.md §4.1) that this store reproduces
        // when its dedup key is the same.
        if let claimed = claimedID, claimed != id,
           idKey == nil || claimed != CanonicalContent.id(of: draft, scratch: &idScratch) {
            throw StrataError(.invalidInput, "id \(claimed) does not match the content's id \(id)", field: "id")
        }
        batch.add(draft, id: id, idKey: idKey, partition: partitions.key(for: draft), line: line, strings: &strings)
    }

    /// True for a `{"_meta": ...}` header line (training-file JSONL), which carries no example.
    static func isMetaHeader(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
        guard i < b.count, b[i] == UInt8(ascii: "{") else { return false }
        i += 1
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
        let key = Array(#""_meta""#.utf8)
        return b.count - i >= key.count && b[i..<(i + key.count)].elementsEqual(key)
    }
}

/// Maps a draft's domain bytes and month to a PartitionKey without allocating
/// a String per record (domains repeat; the cache holds their Strings).
struct PartitionCache {
    private var domains: [(bytes: [UInt8], name: String)] = []

    mutating func key(for d: ExampleDraft) -> PartitionKey {
        let month = Month(timestampMillis: d.timestampMillis)
        let name: String = d.storage.withUnsafeBytes { all in
            let b = UnsafeRawBufferPointer(rebasing: all[d.domain.start..<(d.domain.start + d.domain.count)])
            for e in domains where e.bytes.count == b.count && e.bytes.elementsEqual(b) { return e.name }
            let s = String(decoding: b, as: UTF8.self)
            if domains.count < 4096 { domains.append((Array(b), s)) }
            return s
        }
        return PartitionKey(domain: name, month: month)
    }
}

/// The input reader and the reject callback, moved to the parse thread.
// @unchecked: the parse thread is their only user until its last batch, which `run` waits for.
struct ParseHandOff: @unchecked Sendable {
    let readChunk: (inout [UInt8]) throws -> Int
    let onReject: ((Ingester.Rejection) -> Void)?
}

/// A minimal blocking FIFO for handing batches between the two stages.
// @unchecked: `items` is touched only under `condition`; an item belongs to one stage at a time (handed over, never shared).
final class BlockingQueue<T>: @unchecked Sendable {
    private var items: [T] = []
    private let condition = NSCondition()

    func push(_ item: T) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    func pop() -> T {
        condition.lock()
        while items.isEmpty { condition.wait() }
        let item = items.removeFirst()
        condition.unlock()
        return item
    }
}
