import Foundation

/// One thing `strata verify` found wrong (or worth knowing), located on disk.
public struct VerifyProblem: Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        /// Damage or a broken invariant: the store is not intact.
        case error
        /// State the next writer open repairs by itself (leftovers of a killed
        /// ingest or compaction, a torn uncommitted tail, a stale index): no
        /// committed data is damaged; `strata verify --repair` fixes it now.
        case recoverable
        /// Harmless or self-healing state (torn tail, missing index snapshot): reported, store still intact.
        case warning
    }

    public var severity: Severity
    public var path: String
    public var offset: Int64?
    public var message: String
    /// Crash leftovers the writer removes on its next open (SPEC.md §7 step 2):
    /// damage to report, but not a reason for a maintenance job to stop.
    public var repairedByOpen = false

    public var description: String {
        "\(severity): \(path)" + (offset.map { " at offset \($0)" } ?? "") + ": \(message)"
    }
}

/// What `StoreVerifier.run` checked and found.
public struct VerifyReport: Sendable {
    public var problems: [VerifyProblem] = []
    public var segments = 0
    public var blocks = 0
    public var examples = 0
    public var annotations = 0
    public var duplicateSeen = 0
    public var otherEntries = 0
    public var bytesChecked: Int64 = 0
    public var indexEntries = 0
    public var dictionaries = 0
    public var quick = false

    /// True when no error was found (warnings and recoverable state allowed).
    public var intact: Bool { !problems.contains { $0.severity == .error } }
    public var errorCount: Int { problems.filter { $0.severity == .error }.count }
    public var recoverableCount: Int { problems.filter { $0.severity == .recoverable }.count }
    /// Intact, but holding state the next writer open repairs.
    public var needsRepair: Bool { intact && recoverableCount > 0 }
    /// A writer held the store's LOCK while this ran: files it was creating
    /// (not in the manifest read) were noted, not checked.
    public var writerRunning = false
    /// What was read and what was not (quick mode reads no block contents).
    public var checked: String {
        quick ? "MANIFEST, segment headers, trailers and footers of \(segments) segments, dictionaries"
              : "MANIFEST, every frame of \(segments) segments (\(blocks) blocks, \(examples) examples), dictionaries, dedup index"
    }
    public var notChecked: String {
        quick ? "block contents (frame checksums, decompression, entries, ids) and the dedup index; run `strata verify` for those"
              : (writerRunning ? "files a running writer created after the snapshot was taken" : "nothing")
    }
}

/// Checks every byte and invariant of a store without modifying it and
/// without taking the writer lock (SPEC.md §2–§6). Never throws and never
/// traps on damaged bytes: everything it finds becomes a `VerifyProblem`.
public final class StoreVerifier {
    public let root: String
    /// The snapshot's pinned files while `run` runs (SPEC.md §7.2), else the caller's file system.
    var fs: FileSystem
    let baseFS: FileSystem
    public let quick: Bool
    /// Called with (bytes checked, bytes to check) during a full verify.
    public var progress: ((Int64, Int64) -> Void)?

    var report = VerifyReport()
    var keyer: DedupKeyer?
    var manifest: Manifest?
    /// Index fingerprint (SPEC.md §5.1, never 0) of each example entry's dedup key,
    /// per segment and block; 0 for other entries. 8 bytes per entry keeps big stores verifiable.
    var keysAt: [UInt64: [[UInt64]]] = [:]
    var dictionaries: [UInt32: ZstdDictionary] = [:]
    var totalBytes: Int64 = 0
    /// The index covers segments or blocks the manifest does not have (§5.4: rebuilt on open).
    var staleIndex = false

    public init(path: String, fileSystem: FileSystem = PosixFileSystem.shared, quick: Bool = false) {
        root = path
        fs = fileSystem
        baseFS = fileSystem
        self.quick = quick
    }

    func problem(_ severity: VerifyProblem.Severity = .error, _ path: String, _ offset: Int64?, _ message: String) {
        report.problems.append(VerifyProblem(severity: severity, path: path, offset: offset, message: message,
                                             repairedByOpen: severity == .recoverable))
    }

    /// State the next writer open repairs: recoverable when no writer runs; a
    /// mere note (warning) while one does, since it may be that writer's work in progress.
    var leftover: VerifyProblem.Severity { report.writerRunning ? .warning : .recoverable }

    func problem(_ e: Error, path: String, offset: Int64? = nil) {
        if let e = e as? StrataError {
            problem(.error, e.path ?? path, e.offset ?? offset, e.message)
        } else {
            problem(.error, path, offset, "\(e)")
        }
    }

    func relative(_ p: String) -> String { p.hasPrefix(root + "/") ? String(p.dropFirst(root.count + 1)) : p }

    /// A segment found on disk or in the manifest.
    struct SegmentRef {
        var sequence: UInt64
        var partition: PartitionKey
        var path: String
        var entry: Manifest.SegmentEntry?
    }

    public func run() -> VerifyReport {
        report = VerifyReport()
        report.quick = quick
        staleIndex = false
        let mpath = root + "/" + Format.manifestFileName
        guard fs.isDirectory(root) else {
            problem(.error, root, nil, "no such directory")
            return report
        }
        report.writerRunning = baseFS.isLockHeld(root + "/" + Format.lockFileName) ?? false
        // A consistent snapshot (SPEC.md §7.2): the manifest and every file it
        // lists stay readable while writers append, compact and delete. If the
        // pin fails (damaged manifest, missing segment) the checks below report why.
        var pinned: PinnedFileSystem?
        if fs.fileExists(mpath), let snap = try? PinnedSnapshot.pin(root: root, fs: baseFS) {
            pinned = snap.fs
            fs = snap.fs
        }
        defer {
            pinned?.unpinAll()
            fs = baseFS
        }
        if !fs.fileExists(mpath) {
            problem(.error, mpath, nil, "MANIFEST missing: this is not a Strata store, or its manifest was deleted")
        } else {
            do {
                let bytes = try fs.readFile(mpath)
                report.bytesChecked += Int64(bytes.count)
                manifest = try Manifest.decode(bytes, path: mpath)
            } catch { problem(error, path: mpath) }
        }
        if let m = manifest {
            do { keyer = DedupKeyer(try DedupKey(manifest: m.dedup, path: mpath)) } catch { problem(error, path: mpath, offset: 24) }
        }
        let segments = collectSegments()
        loadDictionaries(segments)
        verifySecret()
        totalBytes = segments.reduce(0) { $0 + ((try? fs.fileSize($1.path)) ?? 0) }
        for s in segments {
            report.segments += 1
            let before = report.problems.count
            verifySegment(s)
            if s.entry == nil, manifest != nil {
                // Whatever is wrong inside an unlisted file goes away with it on the next open.
                for i in before..<report.problems.count {
                    report.problems[i].repairedByOpen = true
                    report.problems[i].severity = .recoverable
                }
            }
        }
        if !quick, manifest != nil { verifyIndex() }
        progress?(report.bytesChecked, max(totalBytes, report.bytesChecked))
        return report
    }

    // MARK: directory layout and manifest

    /// Listed and on-disk segments, reporting missing, unlisted and misplaced files.
    func collectSegments() -> [SegmentRef] {
        var onDisk: [UInt64: SegmentRef] = [:]
        let entries = (try? fs.listDirectory(root)) ?? []
        for d in entries.sorted() where d.hasPrefix("domain=") {
            let dpath = root + "/" + d
            guard fs.isDirectory(dpath) else { continue }
            for mdir in ((try? fs.listDirectory(dpath)) ?? []).sorted() {
                let ppath = dpath + "/" + mdir
                guard let key = PartitionKey(path: d + "/" + mdir), fs.isDirectory(ppath) else {
                    problem(.warning, ppath, nil, "not a partition directory (expected domain=<domain>/month=<YYYY-MM>); ignored")
                    continue
                }
                for f in ((try? fs.listDirectory(ppath)) ?? []).sorted() {
                    let fpath = ppath + "/" + f
                    if f.hasPrefix("seg-") && f.hasSuffix(".tmp") {
                        problem(leftover, fpath, nil, "incomplete temporary file; the writer deletes it on its next open")
                        continue
                    }
                    guard f.hasPrefix("seg-"), f.hasSuffix(".strata"), let seq = UInt64(f.dropFirst(4).dropLast(7)),
                          Format.segmentFileName(seq) == f else {
                        problem(.warning, fpath, nil, "unexpected file in a partition directory; ignored")
                        continue
                    }
                    if let other = onDisk[seq] {
                        problem(.error, fpath, nil, "segment sequence \(seq) also exists as \(relative(other.path)); sequences must be unique")
                        continue
                    }
                    onDisk[seq] = SegmentRef(sequence: seq, partition: key, path: fpath, entry: nil)
                }
            }
        }
        guard let m = manifest else {
            // No usable manifest: still check every segment file we can find.
            return onDisk.values.sorted { $0.sequence < $1.sequence }
        }
        let mpath = root + "/" + Format.manifestFileName
        var out: [SegmentRef] = []
        var seen = Set<UInt64>()
        for e in m.segments {
            guard seen.insert(e.sequence).inserted else {
                problem(.error, mpath, nil, "segment \(e.sequence) is listed twice")
                continue
            }
            if e.sequence >= m.nextSegment {
                problem(.error, mpath, nil, "segment \(e.sequence) is not below next_segment \(m.nextSegment)")
            }
            let path = root + "/" + e.partition.path + "/" + Format.segmentFileName(e.sequence)
            if let disk = onDisk[e.sequence], disk.path != path {
                problem(.error, disk.path, nil, "segment \(e.sequence) is listed under \(e.partition.path) but lives elsewhere")
            }
            guard fs.fileExists(path) else {
                problem(.error, path, nil, "listed in MANIFEST (\(e.state.rawValue)) but missing; data listed as committed is gone")
                onDisk[e.sequence] = nil
                continue
            }
            onDisk[e.sequence] = nil
            out.append(SegmentRef(sequence: e.sequence, partition: e.partition, path: path, entry: e))
        }
        for u in onDisk.values.sorted(by: { $0.sequence < $1.sequence }) {
            if report.writerRunning {
                // Created after the manifest this check read: a new active segment or compaction output.
                problem(.warning, u.path, nil, "not in the MANIFEST this check read; the running writer is creating it (not checked)")
                continue
            }
            problem(.recoverable, u.path, nil, "segment file not listed in MANIFEST (left by a killed ingest or compaction); the writer deletes it on its next open")
            out.append(u)
        }
        return out.sorted { $0.sequence < $1.sequence }
    }

    /// Dictionary files under dicts/ (SPEC.md §6): every referenced one must
    /// exist and decode; unreferenced ones are leftovers the writer removes.
    func loadDictionaries(_ segments: [SegmentRef]) {
        let dir = root + "/" + Format.dictionaryDirectory
        let referenced = Set(segments.compactMap { $0.entry?.dictionaryID }.filter { $0 != 0 })
        var present = Set<UInt32>()
        if fs.isDirectory(dir) {
            for name in ((try? fs.listDirectory(dir)) ?? []).sorted() {
                let p = dir + "/" + name
                if name.hasSuffix(".tmp") {
                    problem(leftover, p, nil, "incomplete temporary dictionary; the writer deletes it on its next open")
                    continue
                }
                guard let id = DictionaryFile.id(fromFileName: name) else {
                    problem(.warning, p, nil, "unexpected file in dicts/; ignored")
                    continue
                }
                present.insert(id)
                do {
                    let bytes = try fs.readFile(p)
                    report.bytesChecked += Int64(bytes.count)
                    dictionaries[id] = try DictionaryFile.decode(bytes, expectedID: id, path: p)
                    report.dictionaries += 1
                } catch {
                    problem(error, path: p)
                    if !referenced.contains(id) {
                        report.problems[report.problems.count - 1].severity = leftover
                        report.problems[report.problems.count - 1].repairedByOpen = true
                    }
                }
                if !referenced.contains(id) {
                    problem(leftover, p, nil, "dictionary \(id) is used by no listed segment (left by an interrupted compaction); the writer removes it on its next open")
                }
            }
        }
        for id in referenced.subtracting(present).sorted() {
            problem(.error, dir + "/" + Format.dictionaryFileName(id), nil, "dictionary \(id) is named by segments but missing; their blocks cannot be read")
        }
    }

    /// The pseudonym key (SPEC.md §9): when the MANIFEST says pseudonyms were
    /// made, the key file must exist and be the one they were made with.
    func verifySecret() {
        guard let want = manifest?.extra[Store.secretManifestKey]?.string else { return }
        let p = root + "/keys/field-hash.key"
        guard fs.fileExists(p) else {
            problem(.error, p, nil, "missing, but the MANIFEST records pseudonymized fields made with it; restore it from a backup (a new key would change every pseudonym)")
            return
        }
        do {
            let key = try Store.decodeSecret(try fs.readFile(p), path: p)
            if Store.secretFingerprint(key) != want {
                problem(.error, p, 16, "not the key this store's pseudonyms were made with (fingerprint \(Store.secretFingerprint(key)), MANIFEST says \(want))")
            }
        } catch { problem(error, path: p) }
    }

    // MARK: segments

    func verifySegment(_ s: SegmentRef) {
        let expectSealed = s.entry?.state == .sealed
        // Header, trailer and footer through the same code readers use.
        var segment: SegmentFile?
        do {
            segment = try SegmentFile(fs: fs, path: s.path, sequence: s.sequence, partition: s.partition, expectSealed: expectSealed)
        } catch {
            problem(error, path: s.path)
        }
        if let h = segment?.header, let e = s.entry, h.dictionaryID != e.dictionaryID {
            problem(.error, s.path, 12, "segment header names dictionary \(h.dictionaryID), MANIFEST says \(e.dictionaryID)")
        }
        if let seg = segment, seg.footer != nil, s.entry?.state == .active {
            problem(leftover, s.path, nil, "sealed on disk but listed active (a crash between sealing and the manifest update); the next open records it as sealed")
        }
        if quick {
            if let seg = segment { report.blocks += seg.footer?.blocks.count ?? 0; report.examples += seg.footer?.exampleCount ?? 0 }
            report.bytesChecked += (try? fs.fileSize(s.path)) ?? 0
            segment?.close()
            return
        }
        if let seg = segment {
            seg.dictionary = dictionaries[seg.header.dictionaryID]
        }
        walkSegment(s, segment: segment)
        segment?.close()
    }

    /// What one block held, for comparing against the footer.
    struct BlockSeen { var offset: Int64; var entryCount: Int }

    /// Reads every frame from offset 32, checking each checksum, decompression,
    /// entry and id; then compares what it saw with the footer.
    func walkSegment(_ s: SegmentRef, segment: SegmentFile?) {
        let file: ReadableFile
        do { file = try fs.openReadable(s.path) } catch { problem(error, path: s.path); return }
        defer { file.close() }
        let size: Int64
        do { size = try file.currentSize() } catch { problem(error, path: s.path); return }
        let footer = segment?.footer
        let footerOffset = segment?.trailer?.footerOffset
        let sealed = footer != nil || s.entry?.state == .sealed
        // With a footer, blocks end where it starts; without one, at the end of the file.
        var end = footerOffset ?? size
        if sealed, footerOffset == nil {
            // Footer unreadable: walk up to the trailer if one seems present, else the whole file.
            end = size
        }
        let footerBlockOffsets = footer?.blocks.map(\.offset) ?? []
        // What the last commit made durable (SPEC.md §7): damage below it is lost committed data.
        let committed = sealed ? nil : s.entry?.committed
        if let committed, size < committed {
            problem(.error, s.path, size, "active segment has \(size) bytes but its last commit made \(committed) bytes durable: committed data is missing (the file was truncated)")
        }
        var blocks: [BlockSeen] = []
        var keys: [[UInt64]] = []
        var exampleRefs: [EntryRef] = []
        var annotationCount = 0
        var minTs = Int64.max, maxTs = Int64.min
        var rawBytes: Int64 = 0
        // Recounts what the footer's counts claim, through the writers' own code.
        var counts = SegmentBuilder(sequence: s.sequence, codec: .raw, blockTarget: 0)
        var offset = Int64(Format.segmentHeaderSize)
        var buf: [UInt8] = []
        var block: [UInt8] = []
        var damaged = false
        report.bytesChecked += Int64(Format.segmentHeaderSize)

        /// After damage at `at`: continue at the next block the footer lists, or stop.
        func resync(after at: Int64) -> Int64? {
            damaged = true
            return footerBlockOffsets.first { $0 > at }
        }

        while offset < end {
            let left = end - offset
            if left < Int64(Format.frameHeaderSize) {
                tail(s, sealed: sealed, committed: committed, offset: offset, bytes: left, why: "fewer than 24 bytes after the last frame")
                break
            }
            let h: FrameHeader
            do {
                try file.readExactly(at: offset, count: Format.frameHeaderSize, into: &buf)
                h = try buf.withUnsafeBytes { try FrameCodec.parseHeader($0, path: s.path, offset: offset) }
            } catch {
                problem(error, path: s.path, offset: offset)
                guard let next = resync(after: offset) else { break }
                offset = next
                continue
            }
            if Int64(h.frameLength) > left {
                if sealed {
                    problem(.error, s.path, offset, "frame declares \(h.frameLength) bytes but only \(left) remain before the footer")
                } else {
                    tail(s, sealed: false, committed: committed, offset: offset, bytes: left, why: "the last frame is incomplete")
                }
                guard let next = resync(after: offset) else { break }
                offset = next
                continue
            }
            do {
                try file.readExactly(at: offset, count: h.frameLength, into: &buf)
            } catch { problem(error, path: s.path, offset: offset); break }
            report.bytesChecked += Int64(h.frameLength)
            progress?(report.bytesChecked, totalBytes)
            let sumOK = buf.withUnsafeBytes { FrameCodec.checksumMatches($0, header: h) }
            if !sumOK, !sealed, let committed, offset >= committed {
                // Past the committed length: an interrupted, uncommitted write.
                tail(s, sealed: false, committed: committed, offset: offset, bytes: size - offset, why: "a frame past the committed length fails its checksum")
                break
            }
            if !sumOK {
                let last = offset + Int64(h.frameLength) == size
                problem(.error, s.path, offset, "frame checksum mismatch (type \(h.type), \(h.storedLength) stored bytes)"
                        + (last && !sealed && committed == nil ? "; it is the last frame: a torn write the writer drops on open, or damage" : ""))
                guard let next = resync(after: offset) else { break }
                offset = next
                continue
            }
            if h.type == FrameType.footer.rawValue {
                if offset + Int64(h.frameLength) + Int64(Format.segmentTrailerSize) == size, footer == nil {
                    // A footer the header/trailer check could not use was already reported.
                    break
                }
                problem(.error, s.path, offset, "footer frame where a block was expected")
                break
            }
            guard FrameType(rawValue: h.type) != nil else {
                problem(.error, s.path, offset, "unknown frame type \(h.type)")
                guard let next = resync(after: offset) else { break }
                offset = next
                continue
            }
            let bi = blocks.count
            blocks.append(BlockSeen(offset: offset, entryCount: h.entryCount))
            rawBytes += Int64(h.rawLength)
            var blockKeys: [UInt64] = []
            do {
                try buf.withUnsafeBytes { raw in
                    try FrameCodec.decodeBlockPayload(UnsafeRawBufferPointer(rebasing: raw[Format.frameHeaderSize...]), header: h,
                                                      dictionary: segment?.dictionary, segmentVersion: segment?.header.version ?? Format.segmentVersion,
                                                      into: &block, path: s.path, offset: offset)
                }
                try block.withUnsafeBytes { raw in
                    try BlockCursor.forEach(raw, path: s.path, blockOffset: offset, declaredCount: h.entryCount) { entry in
                        let ei = entry.index
                        var r = entry.body
                        switch entry.kind {
                        case EntryKind.example.rawValue:
                            let e = try RecordCodec.decodeExampleBody(&r)
                            guard r.isAtEnd else { throw r.corruption("example entry \(ei) has \(r.remaining) trailing bytes") }
                            if e.domain != s.partition.domain || e.month != s.partition.month {
                                problem(.error, s.path, offset, "example \(e.id) (entry \(ei)) belongs to domain=\(e.domain)/month=\(e.month), not this partition")
                            }
                            minTs = min(minTs, e.timestampMillis)
                            maxTs = max(maxTs, e.timestampMillis)
                            exampleRefs.append(EntryRef(id: e.id, blockIndex: bi, entryIndex: ei))
                            blockKeys.append(IdTable.fingerprint(try keyer?.key(of: e) ?? e.id))
                            report.examples += 1
                        case EntryKind.duplicateSeen.rawValue:
                            _ = try DuplicateSeen.decode(&r)
                            blockKeys.append(0)
                            report.duplicateSeen += 1
                        case EntryKind.annotation.rawValue:
                            _ = try AnnotationCodec.decodeBody(&r)
                            guard r.isAtEnd else { throw r.corruption("annotation entry \(ei) has \(r.remaining) trailing bytes") }
                            annotationCount += 1
                            blockKeys.append(0)
                            report.annotations += 1
                        case EntryKind.foldedAnnotations.rawValue:
                            _ = try AnnotationCodec.decodeFolded(&r)
                            report.otherEntries += 1
                            blockKeys.append(0)
                        default:
                            throw StrataError(.corruption, "entry \(ei) has unknown kind \(entry.kind)", path: s.path, offset: offset)
                        }
                        return true
                    }
                    try counts.adoptWrittenBlock(at: offset, entries: raw, path: s.path)
                }
            } catch {
                problem(error, path: s.path, offset: offset)
                damaged = true
            }
            keys.append(blockKeys)
            report.blocks += 1
            offset += Int64(h.frameLength)
        }
        keysAt[s.sequence] = keys

        // The footer must describe exactly the blocks and entries found.
        guard let footer, let footerOffset, !damaged else { return }
        report.bytesChecked += size - footerOffset
        if footer.blocks.count != blocks.count
            || !zip(footer.blocks, blocks).allSatisfy({ $0.offset == $1.offset && $0.entryCount == $1.entryCount }) {
            let firstDiff = zip(footer.blocks, blocks).enumerated().first { $0.element.0.offset != $0.element.1.offset || $0.element.0.entryCount != $0.element.1.entryCount }?.offset
            problem(.error, s.path, footerOffset, "footer lists \(footer.blocks.count) blocks, the file holds \(blocks.count)"
                    + (firstDiff.map { "; first difference at block \($0)" } ?? ""))
        }
        let sorted = exampleRefs.sorted { $0.id < $1.id }
        let listed = (try? segment?.exampleRefs()) ?? nil
        if sorted != listed {
            problem(.error, s.path, footerOffset, "footer lists \(footer.exampleCount) examples, the blocks hold \(sorted.count) (or at other positions)")
        }
        if let c = footer.counts, c != counts.counts {
            problem(.error, s.path, footerOffset, "footer counts (\(c.examples) examples, \(c.duplicatesSeen) duplicate offers, \(c.qualityCount) scored) differ from what the blocks hold (\(counts.counts.examples), \(counts.counts.duplicatesSeen), \(counts.counts.qualityCount))")
        }
        if footer.annotations.count != annotationCount {
            problem(.error, s.path, footerOffset, "footer lists \(footer.annotations.count) annotations, the blocks hold \(annotationCount)")
        }
        if !exampleRefs.isEmpty, footer.minTimestamp != minTs || footer.maxTimestamp != maxTs {
            problem(.error, s.path, footerOffset, "footer time range \(footer.minTimestamp)…\(footer.maxTimestamp) differs from the examples' \(minTs)…\(maxTs)")
        }
        if footer.rawBytes != rawBytes {
            problem(.error, s.path, footerOffset, "footer says \(footer.rawBytes) raw bytes, blocks decompress to \(rawBytes)")
        }
    }

    func tail(_ s: SegmentRef, sealed: Bool, committed: Int64? = nil, offset: Int64, bytes: Int64, why: String) {
        if sealed {
            problem(.error, s.path, offset, "\(why) in a sealed segment (\(bytes) bytes)")
        } else if let committed, offset < committed {
            problem(.error, s.path, offset, "\(why), below the committed length \(committed): committed data is damaged")
        } else if report.writerRunning {
            problem(.warning, s.path, offset, "\(bytes) bytes of an uncommitted write in progress (\(why))")
        } else {
            problem(.recoverable, s.path, offset, "torn tail of \(bytes) bytes (\(why)); a crash interrupted an uncommitted write, the writer drops it on open")
        }
    }

    // MARK: index

    /// The index file must agree with the segments: every entry it holds points at
    /// an example with that key, and every example in the blocks it covers is found.
    func verifyIndex() {
        let first = report.problems.count
        verifyIndexContents()
        // An index whose coverage disagrees with the manifest is stale (a killed
        // compaction, or a writer between its manifest swap and index rewrite): the
        // next open rebuilds it (SPEC.md §5.4), so what follows from that is recoverable.
        if staleIndex {
            for i in first..<report.problems.count where report.problems[i].severity == .error {
                report.problems[i].severity = leftover
                report.problems[i].repairedByOpen = true
            }
        }
    }

    func verifyIndexContents() {
        let path = root + "/" + Format.indexDirectoryName + "/" + Format.indexFileName
        guard let m = manifest, let keyer else { return }
        let listed = Set(m.segments.map(\.sequence))
        let haveExamples = keysAt.values.contains { $0.contains { $0.contains { $0 != 0 } } }
        guard fs.fileExists(path) else {
            if haveExamples {
                problem(.warning, path, nil, "index file missing: the next open rebuilds it from the segments (or run `strata index rebuild`)")
            }
            return
        }
        let snap: IndexSnapshot
        do {
            let bytes = try fs.readFile(path)
            report.bytesChecked += Int64(bytes.count)
            snap = try IndexFile.decode(bytes, path: path)
        } catch {
            problem(error, path: path)
            return
        }
        guard snap.descriptorHash == keyer.key.descriptorHash else {
            problem(.error, path, 16, "index file was built for another dedup key than the MANIFEST's; run `strata index rebuild`")
            return
        }
        var covered: [UInt64: Int] = [:]
        for c in snap.coverage where c.blocks > 0 {
            guard listed.contains(c.sequence) else {
                staleIndex = true
                problem(.error, path, 64, "index covers segment \(c.sequence), which the MANIFEST does not list; run `strata index rebuild`")
                continue
            }
            let have = keysAt[c.sequence]?.count ?? 0
            if Int(c.blocks) > have {
                staleIndex = true
                problem(.error, path, 64, "index covers \(c.blocks) blocks of segment \(c.sequence), which holds \(have); run `strata index rebuild`")
            }
            covered[c.sequence] = min(Int(c.blocks), have)
        }
        func key(at loc: Location) -> UInt64 {
            guard let blocks = keysAt[loc.segment], Int(loc.blockIndex) < blocks.count,
                  Int(loc.entryIndex) < blocks[Int(loc.blockIndex)].count else { return 0 }
            return blocks[Int(loc.blockIndex)][Int(loc.entryIndex)]
        }
        // Index → segments.
        var badEntries = 0
        snap.table.forEach { fp, packed in
            let loc = PackedLocation.unpack(packed)
            guard key(at: loc) == fp else {
                badEntries += 1
                if badEntries <= 10 {
                    problem(.error, path, nil, "index entry points at segment \(loc.segment) block \(loc.blockIndex) entry \(loc.entryIndex), which holds no example with that key")
                }
                return
            }
        }
        for (k, loc) in snap.overflow where key(at: loc) != IdTable.fingerprint(k) {
            badEntries += 1
            problem(.error, path, nil, "index overflow entry for \(k) points at a location that does not hold it")
        }
        if badEntries > 10 { problem(.error, path, nil, "\(badEntries - 10) more index entries point at the wrong place") }
        // Segments → index. The index holds the first example of each key (SPEC.md §5):
        // an example it resolves to its own location is that first one.
        var firsts = 0, storedAgain = 0, missing = 0
        var overflowByFP: [UInt64: Location] = [:]
        for (k, loc) in snap.overflow { overflowByFP[IdTable.fingerprint(k)] = loc }
        for seq in m.segments.map(\.sequence).sorted() {
            guard let blocks = keysAt[seq] else { continue }
            for bi in 0..<min(covered[seq] ?? 0, blocks.count) {
                for (ei, fp) in blocks[bi].enumerated() where fp != 0 {
                    let here = Location(segment: seq, blockIndex: UInt32(bi), entryIndex: UInt32(ei))
                    let probe = ExampleID(high: fp == 1 ? 0 : fp, low: 0)
                    let found = snap.table.find(probe) { key(at: PackedLocation.unpack($0)) == fp }.map(PackedLocation.unpack) ?? overflowByFP[fp]
                    guard let found else {
                        missing += 1
                        if missing <= 10 {
                            problem(.error, path, nil, "the example in segment \(seq) block \(bi) entry \(ei) is not in the index")
                        }
                        continue
                    }
                    if found == here { firsts += 1 } else { storedAgain += 1 }
                }
            }
        }
        if missing > 10 { problem(.error, path, nil, "\(missing - 10) more examples are missing from the index") }
        if storedAgain > 0 {
            problem(.warning, path, nil, "\(storedAgain) examples repeat the dedup key of an earlier one (the index resolves each key to the first)")
        }
        report.indexEntries = snap.table.count + snap.overflow.count
        if badEntries == 0, missing == 0, report.indexEntries != firsts {
            problem(.error, path, 32, "index holds \(report.indexEntries) entries, the blocks it covers hold \(firsts) distinct keys")
        }
        // Examples written after the snapshot are legal: the next open catches up from them (SPEC.md §5.4).
        var uncovered = 0
        for seg in m.segments {
            guard let blocks = keysAt[seg.sequence] else { continue }
            for bi in min(covered[seg.sequence] ?? 0, blocks.count)..<blocks.count { uncovered += blocks[bi].lazy.filter { $0 != 0 }.count }
        }
        if uncovered > 0 {
            problem(.warning, path, nil, "\(uncovered) examples were written after the index snapshot; the next open catches up from them")
        }
    }
}
