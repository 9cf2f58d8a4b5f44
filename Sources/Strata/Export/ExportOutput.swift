import Foundation

/// One file an export wrote (or kept from the previous run), as recorded in `_strata_export.json`.
public struct ExportedFile: Sendable, Equatable {
    /// Relative to the export directory, `/`-separated.
    public var path: String
    public var split: String?
    /// `domain=…/month=…` for partitioned exports.
    public var partition: String?
    public var rows: Int
    public var bytes: Int64
    public var xxh3: UInt64
    /// Examples with a quality score, and their sum / min / max (for summaries).
    public var qualityCount: Int = 0
    public var qualitySum: Double = 0
    public var qualityMin: Double?
    public var qualityMax: Double?

    var jsonObject: [String: Any] {
        var o: [String: Any] = ["path": path, "rows": rows, "bytes": bytes, "xxh3_64": hex64(xxh3),
                                "quality": ["count": qualityCount, "sum": qualitySum,
                                            "min": qualityMin ?? NSNull(), "max": qualityMax ?? NSNull()] as [String: Any]]
        o["split"] = split ?? NSNull()
        o["partition"] = partition ?? NSNull()
        return o
    }

    init(path: String, split: String?, partition: String?, rows: Int, bytes: Int64, xxh3: UInt64) {
        self.path = path
        self.split = split
        self.partition = partition
        self.rows = rows
        self.bytes = bytes
        self.xxh3 = xxh3
    }

    init?(json o: [String: Any]) {
        guard let p = o["path"] as? String, let rows = (o["rows"] as? NSNumber)?.intValue,
              let bytes = (o["bytes"] as? NSNumber)?.int64Value, let h = o["xxh3_64"] as? String,
              let x = UInt64(h, radix: 16) else { return nil }
        self.init(path: p, split: o["split"] as? String, partition: o["partition"] as? String, rows: rows, bytes: bytes, xxh3: x)
        if let q = o["quality"] as? [String: Any] {
            qualityCount = (q["count"] as? NSNumber)?.intValue ?? 0
            qualitySum = (q["sum"] as? NSNumber)?.doubleValue ?? 0
            qualityMin = (q["min"] as? NSNumber)?.doubleValue
            qualityMax = (q["max"] as? NSNumber)?.doubleValue
        }
    }

    mutating func noteQuality(_ q: Double?) {
        guard let q else { return }
        qualityCount += 1
        qualitySum += q
        qualityMin = min(qualityMin ?? q, q)
        qualityMax = max(qualityMax ?? q, q)
    }
}

/// What `Exporter.run()` did.
public struct ExportResult: Sendable {
    /// The existing export already matched the spec and the store: nothing was written.
    public var upToDate: Bool
    /// Every data file of the export, rewritten or kept.
    public var files: [ExportedFile]
    /// Data files written by this run.
    public var rewrittenFiles: Int
    /// Examples selected but not representable in the schema (chat examples in alpaca / prompt_response).
    public var skipped: Int
    public var seconds: Double
    public var storeGeneration: UInt64
    /// Salvage mode (`skipDamaged`): damaged segments and blocks left out (file, offset, reason).
    public var damagedSkipped: [StrataError] = []

    public var rows: Int { files.reduce(0) { $0 + $1.rows } }
    public var bytes: Int64 { files.reduce(0) { $0 + $1.bytes } }

    public var jsonObject: [String: Any] {
        ["up_to_date": upToDate, "files": files.count, "rewritten_files": rewrittenFiles, "rows": rows, "bytes": bytes,
         "skipped": skipped, "seconds": seconds, "store_generation": storeGeneration,
         "damaged_skipped": damagedSkipped.map(\.description),
         "paths": files.map(\.path)]
    }
}

/// A data file being written under a temporary name: buffered (≥ 1 MiB writes), checksummed as written.
final class ExportFileSink {
    static let chunk = 1 << 20
    let fs: FileSystem
    let finalPath: String
    let tempPath: String
    var record: ExportedFile
    let file: WritableFile
    var buffer = JSONOutput(capacity: ExportFileSink.chunk + ExportFileSink.chunk / 2)
    let hasher = XXH64Stream()
    var closed = false
    /// Bytes of the file whose writeback was already started (`startWriteback`).
    private var writebackStarted: Int64 = 0
    /// Writeback is started every this many bytes, so the final fsync finds
    /// little left to write and the disk works while rows are encoded.
    static let writebackStep: Int64 = 8 << 20

    init(fs: FileSystem, root: String, relPath: String, split: String?, partition: String?, mode: UInt32) throws {
        self.fs = fs
        finalPath = root + "/" + relPath
        let slash = finalPath.lastIndex(of: "/")!
        let dir = String(finalPath[..<slash])
        // Hidden while incomplete: readers of Hive layouts skip names starting with ".".
        tempPath = dir + "/." + finalPath[finalPath.index(after: slash)...] + ".tmp-\(getpid())"
        // Directories the export creates under OUT must be real directories:
        // a planted symlink (domain=x -> /elsewhere) would redirect the data.
        var sub = root
        for part in relPath.split(separator: "/").dropLast() {
            sub += "/" + part
            if fs.isSymbolicLink(sub) {
                throw StrataError(.permission, "export directory is a symbolic link; refusing to write through it (remove the link)", path: sub)
            }
        }
        if !fs.isDirectory(dir) { try fs.createDirectory(dir, mode: Exporter.directoryMode(for: mode)) }
        if fs.fileExists(tempPath) || fs.isSymbolicLink(tempPath) { try fs.remove(tempPath) }
        file = try fs.createNew(tempPath, mode: mode)  // O_EXCL | O_NOFOLLOW
        record = ExportedFile(path: relPath, split: split, partition: partition, rows: 0, bytes: 0, xxh3: 0)
    }

    @inline(__always) func flushIfFull() throws {
        if buffer.count >= Self.chunk { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try writeThrough(buffer.bytes)
        buffer.removeAll()
    }

    /// Appends a large piece of output (a block's JSONL text): written
    /// straight from `bytes` when nothing is buffered ahead of it, else
    /// through the buffer, so the file's bytes keep their order either way.
    /// (Writing it straight after flushing a short buffer saved the copy but
    /// cost more in the kernel: 3x the write calls, 337 vs 349 CPU ms on c200.)
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard buffer.isEmpty, bytes.count >= Self.chunk / 16 else {
            buffer.append(bytes: bytes)
            return
        }
        try writeThrough(bytes)
    }

    /// Appends several pieces of output (blocks' JSONL text) in order, after
    /// anything buffered, in one gathering write: no copy into the buffer and
    /// one system call for the lot.
    func append(gathering pieces: [UnsafeRawBufferPointer]) throws {
        if buffer.isEmpty {
            try writeThrough(gathering: pieces)
        } else {
            try writeThrough(gathering: [buffer.bytes] + pieces)
            buffer.removeAll()
        }
    }

    /// Writes `bytes` to the file (every write goes through here) and adds them to the checksum.
    private func writeThrough(_ bytes: UnsafeRawBufferPointer) throws {
        try file.write(bytes)
        hasher.update(bytes)
        record.bytes += Int64(bytes.count)
        if record.bytes - writebackStarted >= Self.writebackStep { startWriteback() }
    }

    private func writeThrough(gathering pieces: [UnsafeRawBufferPointer]) throws {
        if let posix = file as? PosixWritableFile {
            try posix.write(gathering: pieces)
        } else {
            for p in pieces { try file.write(p) }  // simulated files: one write each
        }
        for p in pieces {
            hasher.update(p)
            record.bytes += Int64(p.count)
        }
        if record.bytes - writebackStarted >= Self.writebackStep { startWriteback() }
    }

    /// Starts writeback of the bytes written since the last call
    /// (`WritableFile.startWriteback`: does not wait, guarantees nothing).
    /// Durability still comes from `complete()`'s fsync; this only moves the
    /// disk's work earlier, beside the encoding, and keeps dirty pages few on big exports.
    private func startWriteback() {
        file.startWriteback(offset: writebackStarted, length: record.bytes - writebackStarted)
        writebackStarted = record.bytes
    }

    /// Appends bytes produced elsewhere (the Parquet writer's sink).
    func write(_ bytes: [UInt8]) throws {
        bytes.withUnsafeBytes { buffer.append(bytes: $0) }
        try flushIfFull()
    }

    /// Flushes and records the checksum; the file stays open for `syncAndClose()`.
    func finish() throws -> ExportedFile {
        try flush()
        record.xxh3 = hasher.digest
        return record
    }

    /// fsyncs and closes the finished temporary file (still under its temporary name).
    func syncAndClose() throws {
        try file.sync()
        try file.close()
        closed = true
    }

    /// `finish()` then `syncAndClose()`.
    func complete() throws -> ExportedFile {
        let r = try finish()
        try syncAndClose()
        return r
    }

    /// Moves the completed file to its final name.
    func publish() throws { try fs.rename(tempPath, to: finalPath) }

    func abandon() {
        if !closed { try? file.close(); closed = true }
        try? fs.remove(tempPath)
    }
}
