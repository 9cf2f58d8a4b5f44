import ArgumentParser
import Foundation
import Strata

struct IngestCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Append JSONL (or a JSON array) of examples to a store, creating it if missing.",
        discussion: """
        Reads each FILE (standard input when none or '-'). Bad records are reported with \
        their line number, field and reason and never stop the good ones.
        Examples:
          strata ingest ./store examples.jsonl
          strata ingest ./store module4.jsonl --map domain=metadata.health_domain \\
              --map timestamp=metadata.processing_timestamp --rejects bad.jsonl
          cat captures.jsonl | strata ingest ./store --default-domain support --naive-timestamps-utc --json
          strata ingest ./store events.jsonl.zst --map 'quality_score=metadata.rating:scale=1..5'
          strata ingest ./store module4.jsonl.gz --map 'timestamp=metadata.source_key:regex=(\\d{4})/(\\d{2})/(\\d{2})'
        Input may be gzip or zstd compressed (detected by its first bytes, also on standard input). \
        Top-level keys no field is read from are kept in metadata._extra (--unknown-fields). \
        If the store did not exist and the ingest fails, it is removed again.
        """
    )

    @Argument(help: "Store directory (created if missing).") var store: String
    @Argument(help: "Input files; '-' or none for standard input.") var files: [String] = []
    @Option(name: .customLong("map"), help: "TARGET=SOURCE: read field TARGET from dotted JSON path SOURCE (repeatable).")
    var maps: [String] = []
    @Option(help: "Domain for records that have none.") var defaultDomain: String?
    @Flag(help: "Treat ISO timestamps without an offset as UTC.") var naiveTimestampsUtc = false
    @Flag(help: "Use the current time for records without a timestamp.") var timestampNow = false
    @Option(help: "Timestamp for records without one: ISO 8601 with Z/offset, a date (2025-03-14), or epoch seconds/milliseconds.")
    var defaultTimestamp: String?
    @Option(help: "Top-level keys no field is read from: keep (in metadata._extra), drop, or reject the record.")
    var unknownFields: String = "keep"
    @Option(name: .customLong("hash-field"), help: "Replace this metadata field's value with a keyed pseudonym (HMAC-SHA256 with the store's secret), e.g. metadata.user_id (repeatable).")
    var hashFields: [String] = []
    @Option(help: "Write each rejected record (line, field, reason, text) as JSONL to this file.") var rejects: String?
    @Option(help: "Write each duplicate (line and the id it duplicates) as JSONL to this file.") var reportDuplicates: String?
    @Option(help: "Commit after this many MB of input (and at the end).") var commitEveryMb: Int = 64
    @Option(help: "Also commit after this many records (0 = only by size).") var commitEvery: Int = 0
    @Option(help: "Also commit when this many seconds passed since the last commit (0 = not by time); slow input such as a pipe is committed within about this interval.") var commitEverySeconds: Double = 1
    @Flag(help: "Print progress and the summary as JSON lines; the last line is the summary.") var json = false
    @Flag(help: "No progress output.") var quiet = false
    @Flag(help: "Also print the seconds spent per pipeline stage (read, parse, append, compress, commit, and each stage's wait for the other).") var profile = false

    func run() throws {
        try runCommand {
            var mapping = try IngestMapping(maps)
            mapping.defaultDomain = defaultDomain
            mapping.naiveTimestampsAreUTC = naiveTimestampsUtc
            try mapping.setUnknownKeys(named: unknownFields, option: "--unknown-fields")
            let policy = mapping.unknownKeys
            if timestampNow && defaultTimestamp != nil {
                throw StrataError(.usage, "give --timestamp-now or --default-timestamp, not both", field: "--default-timestamp")
            }
            if timestampNow { mapping.defaultTimestampMillis = Int64(Date().timeIntervalSince1970 * 1000) }
            if let defaultTimestamp { try mapping.setDefaultTimestamp(defaultTimestamp, option: "--default-timestamp") }
            // Every input must be readable before the store is touched (an I/O error, exit 74).
            for f in files where f != "-" {
                guard FileManager.default.isReadableFile(atPath: f) else {
                    let why = FileManager.default.fileExists(atPath: f) ? "not readable" : "no such file"
                    throw StrataError(.io, "cannot open input: \(why)", path: f)
                }
            }
            // A store this run creates is removed again if the run fails.
            let existing = (try? FileManager.default.contentsOfDirectory(atPath: store)) ?? nil
            let createdHere = existing == nil || existing!.isEmpty
            var options = StoreOptions()
            options.commitPolicy = .manual
            let s = try Store.open(at: store, options: options)
            var succeeded = false
            defer {
                if !succeeded && createdHere {
                    try? s.close()
                    removeNewStore(existedEmpty: existing != nil)
                }
            }
            for event in s.recoveryEvents where !quiet { printError("strata: recovery: \(event)") }
            let ingester = try Ingester(store: s, mapping: mapping)
            if !hashFields.isEmpty { ingester.fieldHasher = try FieldHasher(fields: hashFields, secret: try s.fieldHashSecret()) }
            ingester.commitEveryBytes = Int64(max(1, commitEveryMb)) << 20
            ingester.commitEveryRecords = max(0, commitEvery)
            ingester.commitEverySeconds = max(0, commitEverySeconds)
            let rejectsOut = try rejects.map { try LineFile(path: $0) }
            let dupOut = try reportDuplicates.map { try LineFile(path: $0) }
            var shownRejections = 0
            ingester.onReject = { r in
                if shownRejections < 20 && !json { printError("strata: rejected: \(r.error)") }
                shownRejections += 1
                var obj: [String: Any] = ["file": r.source, "line": r.error.line ?? 0, "reason": r.error.message]
                if let f = r.error.field { obj["field"] = f }
                if let t = r.text { obj["text"] = String(decoding: t, as: UTF8.self) }
                rejectsOut?.write(jsonLine(obj))
            }
            ingester.onDuplicate = { source, line, id in
                dupOut?.write(jsonLine(["file": source, "line": line, "duplicate_of": id.hex]))
            }
            let total = files.filter { $0 != "-" }.reduce(Int64(0)) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int64) ?? 0) }
            let progress = Progress(label: "ingest", total: total > 0 ? total : nil, quiet: quiet || json)
            ingester.onProgress = { progress.update(done: $0) }
            if json {
                ingester.onCommit = { sum in print(jsonLine(["event": "commit", "read": sum.read, "inserted": sum.inserted, "duplicates": sum.duplicates, "rejected": sum.rejected])); fflush(nil) }  // nil: all streams (the global `stdout` is not concurrency-safe)
            }
            let started = Date()
            for f in files.isEmpty ? ["-"] : files { try ingester.ingest(path: f) }
            // Commits and seals the segments this run wrote (fast reopen), with one round of fsyncs.
            try ingester.commitAndClose()
            // Declared external-id indexes take in what this run added (SPEC.md §5.5).
            try ExternalIdIndex.refreshAll(store: store)
            rejectsOut?.close()
            dupOut?.close()
            let sum = ingester.summary
            let seconds = Date().timeIntervalSince(started)
            progress.finish(done: sum.bytes)
            if json {
                var obj: [String: Any] = ["read": sum.read, "inserted": sum.inserted, "duplicates": sum.duplicates, "rejected": sum.rejected,
                                          "skipped": sum.skipped, "bytes": sum.bytes, "seconds": seconds, "store": store,
                                          "unknown_fields": sum.unknownFields, "records_with_unknown_fields": sum.recordsWithUnknownFields,
                                          "unknown_field_names": sum.unknownFieldNames, "unknown_fields_policy": policy.rawValue]
                if profile { obj["profile"] = sum.profile.jsonObject }
                print(jsonLine(obj))
            } else {
                if profile {
                    let p = sum.profile
                    let f = { (x: Double) in String(format: "%.3f", x) }
                    print("profile, wall s: parse thread: read \(f(p.read)), parse \(f(p.parse)), waiting for store \(f(p.parseWait)); "
                          + "store thread: append \(f(p.append)), compress+write \(f(p.compress)), commit \(f(p.commit)), waiting for parse \(f(p.storeWait))")
                    print("profile, CPU s: read+parse \(f(p.cpu.readParse)), append \(f(p.cpu.append)), compress+write \(f(p.cpu.compress)) (2 threads), commit \(f(p.cpu.commit))")
                    let c = p.commitSteps
                    print("profile, commit wall s (\(c.commits) commits, \(c.background) with fsyncs in the background): open blocks \(f(c.blocks)), fsync round \(f(c.fsync)), manifest install \(f(c.manifest)), waiting for background rounds \(f(c.backgroundWait)), seal \(f(c.seal)), index+summaries \(f(c.index))")
                }
                if shownRejections > 20 { printError("strata: ... \(shownRejections - 20) more rejections\(rejects == nil ? " (use --rejects FILE to keep them all)" : "")") }
                print("read \(sum.read), inserted \(sum.inserted), duplicates \(sum.duplicates), rejected \(sum.rejected) in \(String(format: "%.2f", seconds)) s (\(formatAmount(Double(sum.bytes) / max(seconds, 1e-6), "B"))/s)")
                if sum.unknownFields > 0 && policy != .reject {
                    let what = policy == .keep ? "kept in metadata._extra" : "dropped"
                    print("unknown top-level fields: \(sum.unknownFields) in \(sum.recordsWithUnknownFields) records, \(what) (\(sum.unknownFieldNames.joined(separator: ", ")); --unknown-fields keep|drop|reject)")
                }
            }
            if sum.rejected > 0 && sum.inserted + sum.duplicates == 0 { throw ExitCode(ExitStatus.dataError.rawValue) }
            succeeded = true
        }
    }

    /// Removes what this run created: the directory, or its contents when it existed empty.
    private func removeNewStore(existedEmpty: Bool) {
        let fm = FileManager.default
        if existedEmpty {
            for name in (try? fm.contentsOfDirectory(atPath: store)) ?? [] { try? fm.removeItem(atPath: store + "/" + name) }
        } else {
            try? fm.removeItem(atPath: store)
        }
    }
}

/// A small append-only text file for reports (rejects, duplicates).
final class LineFile {
    private let handle: FileHandle
    init(path: String) throws {
        // Private (0600) whatever the umask: reports quote input lines, which may hold personal data.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StrataError(.io, "cannot create report file: \(String(cString: strerror(errno)))", path: path)
        }
        _ = fchmod(fd, 0o600)
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
    func write(_ line: String) { handle.write(Data((line + "\n").utf8)) }
    func close() { try? handle.close() }
}
