import Foundation

/// Materializes an export of a store (SPEC.md §8): streams the selected
/// examples into JSONL / one JSON document / Parquet files under `outPath`,
/// records what it wrote in `_strata_export.json`, and on a repeat run
/// rewrites only what changed (nothing at all when the store did not change).
///
/// Reads a snapshot of the store (like `StoreReader`), so it runs beside a live writer.
public final class Exporter {
    public static let manifestFileName = "_strata_export.json"
    public static let manifestVersion = 1
    /// The training-file format the JSON document and the `_meta` header follow (SPEC.md §8.2, §8.3).
    public static let trainingFileVersion = "4.0.0"
    public static let trainingFileFormatSpec = "brightrun-lora-v4"
    public static let lockFileName = ".strata_export.lock"
    /// Names of the files a run is publishing (hidden; removed once the manifest names them).
    public static let pendingFileName = ".strata_export.publishing"

    public let storePath: String
    public let outPath: String
    public let spec: ExportSpec
    public let fs: FileSystem
    /// The folded view of annotations; nil = no annotations (every example unannotated).
    public var annotations: ExportAnnotationSource?
    public var parquetOptions: ParquetWriterOptions = {
        var o = ParquetWriterOptions()
        o.rowGroupMaxBytes = 128 << 20
        o.rowGroupMaxRows = 1 << 20
        return o
    }()
    /// Mode of the files an export creates: private by default, like the store
    /// (`strata export --mode 644` for outputs other users must read). Directories
    /// it creates get the same bits plus search (x) wherever read is granted.
    public var fileMode: UInt32 = 0o600
    /// Salvage (`strata export --skip-damaged`): damaged segments and blocks are
    /// left out and listed (result, `_strata_export.json` `damaged_skipped`).
    public var skipDamaged = false
    var damaged: [StrataError] = []
    /// Columnar blocks whose rows a Parquet export read from the streams (Exporter+ParquetColumns.swift).
    var columnarBlocksRead = 0
    var directoryMode: UInt32 { Exporter.directoryMode(for: fileMode) }
    static func directoryMode(for fileMode: UInt32) -> UInt32 { fileMode | ((fileMode & 0o444) >> 2) }
    /// Finished data files are fsynced together once this many wait (and at the end).
    static let syncBatch = 64
    /// Write even when `OUT` holds files an earlier export did not list (`--force`).
    public var force = false

    public init(storePath: String, outPath: String, spec: ExportSpec, fileSystem: FileSystem = PosixFileSystem.shared) {
        self.storePath = storePath
        var o = outPath
        while o.count > 1 && o.hasSuffix("/") { o.removeLast() }
        self.outPath = o
        self.spec = spec
        self.fs = fileSystem
    }

    /// One independently rewritable group of files: the whole export, or one partition when partitioned.
    struct Unit {
        var key: String
        var partitions: [PartitionKey]
        var fingerprint: UInt64
    }

    // Filter state, in bytes.
    var tagBytes: [[UInt8]] = []
    var sourceBytes: [UInt8]?
    var shapeMask: UInt8 = 0

    public func run() throws -> ExportResult {
        let started = Date()
        try spec.validate()
        tagBytes = spec.tags.map { Array($0.utf8) }
        sourceBytes = spec.source.map { Array($0.utf8) }
        shapeMask = spec.shapes.isEmpty ? 0xFF : spec.shapes.reduce(0) { $0 | (1 << $1.rawValue) }

        let snap = try ExportSnapshot(path: storePath, fs: fs, include: spec.includes, skipDamaged: skipDamaged)
        damaged = snap.skipped
        defer { snap.close() }
        let units: [Unit]
        if spec.partitioned {
            units = snap.partitions.map { Unit(key: $0.path, partitions: [$0], fingerprint: snap.fingerprint($0)) }
        } else {
            var all = ""
            for p in snap.partitions { all += p.path + "=" + hex64(snap.fingerprint(p)) + ";" }
            units = [Unit(key: "", partitions: snap.partitions, fingerprint: XXH.hash64(Array(all.utf8)))]
        }

        // What the previous export recorded.
        let old = readPreviousManifest()
        let specJSON = spec.canonicalJSON
        var oldUnits: [String: (fingerprint: UInt64, files: [ExportedFile])] = [:]
        if let old, old["spec_canonical"] as? String == specJSON, let us = old["units"] as? [[String: Any]] {
            for u in us {
                guard let k = u["key"] as? String, let f = (u["fingerprint"] as? String).flatMap({ UInt64($0, radix: 16) }),
                      let fl = u["files"] as? [[String: Any]] else { continue }
                let files = fl.compactMap(ExportedFile.init(json:))
                guard files.count == fl.count else { continue }
                oldUnits[k] = (f, files)
            }
        }
        let oldFiles = Set(((old?["files"] as? [[String: Any]]) ?? []).compactMap { $0["path"] as? String })
        let oldSidecars = ((old?["sidecars"] as? [[String: Any]]) ?? []).compactMap { $0["path"] as? String }

        var keep: [String: [ExportedFile]] = [:]
        for u in units {
            if let o = oldUnits[u.key], o.fingerprint == u.fingerprint, o.files.allSatisfy(fileIntact) { keep[u.key] = o.files }
        }
        let sameUnitSet = Set(oldUnits.keys) == Set(units.map(\.key))
        // A salvage export is never "up to date": once the damage is repaired the data must be written whole.
        let oldSalvaged = !((old?["damaged_skipped"] as? [Any]) ?? []).isEmpty
        if oldSalvaged || skipDamaged && !damaged.isEmpty { keep = [:] }
        if keep.count == units.count && sameUnitSet {
            // Nothing to write; still clear what a killed run left, if no export is writing now.
            if fs.isDirectory(outPath), let lock = try? fs.lockExclusive(outPath + "/" + Exporter.lockFileName) {
                removeAbandonedTemporaries()
                lock.unlock()
            }
            let files = units.flatMap { keep[$0.key]! }
            return ExportResult(upToDate: true, files: files, rewrittenFiles: 0, skipped: (old?["skipped"] as? NSNumber)?.intValue ?? 0,
                                seconds: Date().timeIntervalSince(started), storeGeneration: snap.manifest.generation)
        }

        if !fs.isDirectory(outPath) { try fs.createDirectory(outPath, mode: directoryMode) }
        // One writer per export directory (a hidden lock file, skipped by dataset readers).
        let lock: FileLock
        do { lock = try fs.lockExclusive(outPath + "/" + Exporter.lockFileName) } catch var e as StrataError where e.code == .locked {
            e.message = "another export is writing this directory (\(e.message)); retry when it finishes"
            throw e
        }
        defer { lock.unlock() }
        removeAbandonedTemporaries()
        if !force, let foreign = try firstForeignFile(known: oldFiles.union(oldSidecars)) {
            throw StrataError(.usage, "the output directory holds '\(foreign)', which no earlier export of it wrote; export into an empty or new directory, or pass --force to write beside (and over) such files",
                              path: outPath)
        }
        let created = ExampleJSONEncoder.timestampString(Int64(Date().timeIntervalSince1970 * 1000))
        let storeVersion = snap.versionObject()
        var pending: [ExportFileSink] = []
        // Written and flushed, not yet fsynced: synced together, in batches (few journal commits, bounded open files).
        var unsynced: [ExportFileSink] = []
        var files: [ExportedFile] = []
        var unitRecords: [[String: Any]] = []
        var skipped = 0
        // Parquet's sidecars, written after the data files are published.
        var sidecarFiles: [(name: String, bytes: [UInt8])] = []
        let manifestBytes = Locked<[UInt8]>([])
        do {
            for u in units {
                if let kept = keep[u.key] {
                    files += kept
                    unitRecords.append(["key": u.key, "fingerprint": hex64(u.fingerprint), "files": kept.map(\.jsonObject)])
                    continue
                }
                var ctx = UnitContext(unit: u, snap: snap, created: created, storeVersion: storeVersion)
                try writeUnit(&ctx)
                pending += ctx.completed
                unsynced += ctx.completed
                if unsynced.count >= Exporter.syncBatch {
                    try ParallelSync.run(unsynced.map { s in { try s.syncAndClose() } })
                    unsynced = []
                }
                skipped += ctx.skipped
                let recs = ctx.completed.map(\.record)
                files += recs
                unitRecords.append(["key": u.key, "fingerprint": hex64(u.fingerprint), "files": recs.map(\.jsonObject)])
            }
            // Publish: every new file under its final name, then the manifest, then drop stale files.
            // The names are recorded first, so files a crash leaves published but not yet
            // in the manifest are still known as this export's by the next run. That record
            // is written while the last data files are fsynced: neither waits for the other.
            if spec.format == .parquet {
                // Beside the dataset directory, as the event-log pipeline names them.
                sidecarFiles = [("schema.json", Array(parquetSchemaJSON().utf8)),
                                ("dataset_summary.md", Array(datasetSummary(files: files, created: created, storeVersion: storeVersion).utf8))]
            }
            let publishing = pending.map(\.record.path) + sidecarFiles.map(\.name)
            let names = Array(publishing.joined(separator: "\n").utf8)
            let manifest: [String: Any] = [
                "strata_export_version": Exporter.manifestVersion,
                "created": created,
                "spec": spec.jsonObject,
                "spec_canonical": specJSON,
                "store_version": storeVersion,
                "units": unitRecords,
                "files": files.map(\.jsonObject),
                "sidecars": sidecarFiles.map { ["path": $0.name, "bytes": $0.bytes.count, "xxh3_64": hex64(XXH.hash64($0.bytes))] as [String: Any] },
                "totals": ["rows": files.reduce(0) { $0 + $1.rows }, "bytes": files.reduce(Int64(0)) { $0 + $1.bytes }, "files": files.count],
                "skipped": skipped,
                "damaged_skipped": damaged.map { ["path": $0.path ?? "", "offset": $0.offset ?? -1, "message": $0.message] as [String: Any] },
            ]
            // The last data files' fsyncs, the record of the names and the manifest's
            // text run together: none waits for another.
            try ParallelSync.run(unsynced.map { s in { try s.syncAndClose() } } + [
                { try self.writeAtomically(Exporter.pendingFileName, names) },
                { manifestBytes.store(Array(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys, .prettyPrinted]))) },
            ])
        } catch {
            for s in pending { s.abandon() }
            throw error
        }
        var dirs = Set<String>()
        for s in pending {
            try s.publish()
            dirs.insert(String(s.finalPath[..<s.finalPath.lastIndex(of: "/")!]))
        }
        for (name, bytes) in sidecarFiles { try writeAtomically(name, bytes) }
        // The renamed files' directories are fsynced while the manifest is written
        // to its temporary and fsynced; it is renamed only after both.
        let manifestTemporary = Locked<String?>(nil)
        try ParallelSync.run(dirs.sorted(by: { $0.count > $1.count }).map { d in { try self.fs.syncDirectory(d) } }
                             + [{ manifestTemporary.store(try self.writeTemporary(Exporter.manifestFileName, manifestBytes.load())) }])
        try fs.rename(manifestTemporary.load()!, to: outPath + "/" + Exporter.manifestFileName)
        try fs.syncDirectory(outPath)
        try? fs.remove(outPath + "/" + Exporter.pendingFileName)
        let now = Set(files.map(\.path)).union(sidecarFiles.map(\.name))
        // Only names this export could have written: a doctored manifest naming
        // "../x" or "/etc/x" must not make an export delete outside OUT.
        for stale in oldFiles.union(oldSidecars) where !now.contains(stale) && Exporter.isSafeRelativePath(stale) {
            try? fs.remove(outPath + "/" + stale)
        }
        var result = ExportResult(upToDate: false, files: files, rewrittenFiles: pending.count, skipped: skipped,
                                  seconds: Date().timeIntervalSince(started), storeGeneration: snap.manifest.generation)
        result.damagedSkipped = damaged
        return result
    }

    /// The first file under `OUT` (depth first, sorted) that is neither listed
    /// by the previous `_strata_export.json` nor one of the export's own
    /// bookkeeping files (the manifest, the lock, hidden temporaries).
    private func firstForeignFile(known listed: Set<String>) throws -> String? {
        var known = listed
        if let p = try? fs.readFile(outPath + "/" + Exporter.pendingFileName) {
            known.formUnion(String(decoding: p, as: UTF8.self).split(separator: "\n").map(String.init))
        }
        func walk(_ rel: String) throws -> String? {
            let dir = rel.isEmpty ? outPath : outPath + "/" + rel
            for name in try fs.listDirectory(dir).sorted() {
                let path = rel.isEmpty ? name : rel + "/" + name
                if fs.isDirectory(outPath + "/" + path) {
                    if let f = try walk(path) { return f }
                    continue
                }
                if rel.isEmpty && (name == Exporter.manifestFileName || name == Exporter.lockFileName || name == Exporter.pendingFileName) { continue }
                if name.hasPrefix(".") && name.contains(".tmp-") { continue }
                if !known.contains(path) { return path }
            }
            return nil
        }
        return try walk("")
    }

    private func readPreviousManifest() -> [String: Any]? {
        let p = outPath + "/" + Exporter.manifestFileName
        guard fs.fileExists(p), let bytes = try? fs.readFile(p) else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    private func fileIntact(_ f: ExportedFile) -> Bool {
        (try? fs.fileSize(outPath + "/" + f.path)) == f.bytes
    }

    private func writeAtomically(_ name: String, _ bytes: [UInt8]) throws {
        try fs.rename(try writeTemporary(name, bytes), to: outPath + "/" + name)
    }

    /// Writes `bytes` to `OUT/.NAME.tmp-PID`, fsynced; returns that path.
    private func writeTemporary(_ name: String, _ bytes: [UInt8]) throws -> String {
        let tmp = outPath + "/." + name + ".tmp-\(getpid())"
        if fs.fileExists(tmp) || fs.isSymbolicLink(tmp) { try fs.remove(tmp) }
        let f = try fs.createNew(tmp, mode: fileMode)  // O_EXCL | O_NOFOLLOW
        do {
            try f.write(bytes)
            try f.sync()
            try f.close()
        } catch {
            try? f.close()
            try? fs.remove(tmp)
            throw error
        }
        return tmp
    }

    // MARK: - Writing one unit

    struct UnitContext {
        var unit: Unit
        let snap: ExportSnapshot
        let created: String
        let storeVersion: [String: Any]
        /// Per split index (1 when there is no split).
        var sinks: [ExportFileSink?] = []
        var parquet: [ParquetWriter?] = []
        var stats: [ExportStats]?
        var completed: [ExportFileSink] = []
        var skipped = 0

        init(unit: Unit, snap: ExportSnapshot, created: String, storeVersion: [String: Any]) {
            self.unit = unit
            self.snap = snap
            self.created = created
            self.storeVersion = storeVersion
        }
    }

    var splitCount: Int { spec.split?.names.count ?? 1 }

    /// Parquet data files live under this directory of OUT, which holds only
    /// Parquet files, so every reader (Polars included) reads it as a dataset;
    /// the sidecars and `_strata_export.json` sit beside it (SPEC.md §8.1).
    public static let parquetDatasetDirectory = "data"

    private func relPath(unit: Unit, split: Int) -> String {
        let ext = spec.format.fileExtension
        let splitName = spec.split?.names[split]
        let base = spec.format == .parquet ? Exporter.parquetDatasetDirectory + "/" : ""
        if spec.partitioned {
            let prefix = splitName.map { "split=\($0)/" } ?? ""
            if spec.layout == .etl, let p = unit.partitions.first {
                let y = String(format: "%04d", p.month.year), m = String(format: "%02d", p.month.month)
                return prefix + "\(p.domain)/\(y)/\(m)/\(spec.fileName ?? "data")_\(y)_\(m)." + ext
            }
            return base + prefix + unit.key + "/part-00000." + ext
        }
        return base + (splitName ?? spec.fileName ?? "data") + "." + ext
    }

    func openSink(_ ctx: inout UnitContext, _ split: Int) throws -> ExportFileSink {
        if let s = ctx.sinks[split] { return s }
        let s = try ExportFileSink(fs: fs, root: outPath, relPath: relPath(unit: ctx.unit, split: split),
                                   split: spec.split?.names[split], partition: spec.partitioned ? ctx.unit.key : nil, mode: fileMode)
        ctx.sinks[split] = s
        return s
    }

    /// Visits the selected examples of the unit, in partition then append order,
    /// with their folded annotations (SPEC.md §4.6, §8.4): the kind-4 entry that
    /// follows a compacted example in its block, then the unfolded kind-2 entries.
    private func forEachSelected(_ ctx: UnitContext, jobs: [BlockJob]? = nil, onlyShape: Shape? = nil, notShape: Shape? = nil,
                                 _ body: (inout EntryView, FoldedAnnotations?, Int, PartitionKey) throws -> Void) throws {
        var view = EntryView()
        var buffers = ReadBuffers()
        var side = ReadBuffers()
        for job in jobs ?? blockJobs(ctx) {
            let h: FrameHeader
            do {
                h = try job.file.readBlock(at: job.offset, into: &buffers.block, scratch: &buffers.scratch)
            } catch let e as StrataError where e.code == .corruption && skipDamaged {
                noteDamage(e)
                continue
            }
            try visitBlock(buffers.block, header: h, job, ctx, onlyShape: onlyShape, notShape: notShape, view: &view, side: &side, body)
        }
    }

    /// One block of a unit to read: the unit's blocks in partition, segment, block order.
    struct BlockJob {
        let file: SegmentFile
        let offset: Int64
        let partition: PartitionKey
    }

    func blockJobs(_ ctx: UnitContext) -> [BlockJob] {
        var jobs: [BlockJob] = []
        let catalog = ctx.snap.catalog
        for p in ctx.unit.partitions {
            for seg in ctx.snap.segments[p] ?? [] {
                guard let file = catalog.files[seg.sequence], let offsets = catalog.blockOffsets[seg.sequence] else { continue }
                for offset in offsets { jobs.append(BlockJob(file: file, offset: offset, partition: p)) }
            }
        }
        return jobs
    }

    /// Every pass meets the same damage: record it once.
    func noteDamage(_ e: StrataError) {
        if !damaged.contains(where: { $0.path == e.path && $0.offset == e.offset }) { damaged.append(e) }
    }

    /// The selection every export applies after the shape test (SPEC.md §8):
    /// the predicate, quality, source and tags, then the example's folded
    /// annotations (`folded`, from its block, plus later ones from the
    /// catalog, or the external source) and the excluded/feedback rules.
    /// Returns false when the example is left out; `annotations` is then
    /// meaningless. Shared by the row-format and the column paths.
    func selects(_ view: EntryView, folded: [Annotation], _ ctx: UnitContext, side: inout ReadBuffers,
                 annotations a: inout FoldedAnnotations?) throws -> Bool {
        a = nil
        if let w = spec.predicate, !w.matches(view) { return false }
        if let minQ = spec.minQuality { guard let q = view.quality, q >= minQ else { return false } }
        if let sb = sourceBytes { guard let s = view.source, s.elementsEqual(sb) else { return false } }
        if !tagBytes.isEmpty {
            if spec.allTags {
                guard tagBytes.allSatisfy({ t in view.tags.contains { $0.elementsEqual(t) } }) else { return false }
            } else {
                guard view.tags.contains(where: { t in tagBytes.contains { t.elementsEqual($0) } }) else { return false }
            }
        }
        let annotationMap = ctx.snap.annotationMap
        if let external = annotations {
            a = external.annotations(for: view.id)
        } else if !folded.isEmpty || annotationMap[view.id] != nil {
            let later = try annotationMap[view.id].map { try ctx.snap.catalog.readAnnotations(at: $0, target: view.id, buffers: &side) } ?? []
            a = FoldedAnnotations(folding: folded + later, shape: view.shape, hasAssistant: view.messages.contains { $0.role == .assistant })
        }
        if !spec.includeExcluded, a?.excluded == true { return false }
        if let fb = spec.feedback {
            let pos = a?.feedbackPositive ?? 0, neg = a?.feedbackNegative ?? 0
            switch fb {
            case .dropNegative: if neg > pos { return false }
            case .onlyPositive: if pos <= neg { return false }
            }
        }
        return true
    }

    /// Visits the selected examples of one decompressed block (see `forEachSelected`).
    /// Touches no state of the exporter when it has no annotations to fold
    /// (`annotations` nil, no annotation entries outside the blocks), so
    /// blocks may then be visited on several threads at once.
    func visitBlock(_ block: [UInt8], header h: FrameHeader, _ job: BlockJob, _ ctx: UnitContext, onlyShape: Shape?, notShape: Shape?,
                            view: inout EntryView, side: inout ReadBuffers,
                            _ body: (inout EntryView, FoldedAnnotations?, Int, PartitionKey) throws -> Void) throws {
        let split = spec.split
        let file = job.file, offset = job.offset, p = job.partition
        // Nothing to filter or fold for an example without folded annotations:
        // `selects` would keep it unannotated, so it is not called (once per block, not per row).
        let selectsAll = spec.predicate == nil && spec.minQuality == nil && sourceBytes == nil && tagBytes.isEmpty
            && annotations == nil && spec.feedback == nil && ctx.snap.annotationMap.isEmpty
        var count = 0
        try block.withUnsafeBytes { raw in
            var it = EntryIterator(raw, path: file.path, blockOffset: offset)
            while let (kind, entryBody, _) = try it.next() {
                count += 1
                guard kind == EntryKind.example.rawValue else { continue }
                var entry = entryBody
                // Folded annotations of a compacted example follow it in the same block.
                var folded: [Annotation] = []
                var peek = it
                if let (k2, b2, _) = try peek.next(), k2 == EntryKind.foldedAnnotations.rawValue {
                    it = peek
                    count += 1
                    var r = b2
                    let (target, anns) = try AnnotationCodec.decodeFolded(&r)
                    var idr = entry
                    guard try RecordCodec.peekExampleID(&idr) == target else {
                        throw r.corruption("folded annotations of \(target) do not follow their example")
                    }
                    folded = anns
                }
                if let s = EntryView.peekShape(entry) {
                    if (1 << s.rawValue) & shapeMask == 0 { continue }
                    if let onlyShape, s != onlyShape { continue }
                    if let notShape, s == notShape { continue }
                }
                try view.decode(&entry)
                // The checks every read makes (UTF-8, id vs content): an export
                // never accepts bytes a `get` rejects.
                try view.verifyContent(entry)
                var a: FoldedAnnotations?
                if !(selectsAll && folded.isEmpty) {
                    guard try selects(view, folded: folded, ctx, side: &side, annotations: &a) else { continue }
                }
                try body(&view, a, split?.index(of: view.id) ?? 0, p)
            }
        }
        guard count == h.entryCount else {
            throw StrataError(.corruption, "block declares \(h.entryCount) entries but holds \(count)", path: file.path, offset: offset)
        }
    }

    private func writeUnit(_ ctx: inout UnitContext) throws {
        let n = splitCount
        ctx.sinks = Array(repeating: nil, count: n)
        ctx.parquet = Array(repeating: nil, count: n)
        do {
            if spec.format == .json || spec.metaHeader {
                let stats = (0..<n).map { _ in ExportStats() }
                if canPipeline(ctx) {
                    try statsPipelined(ctx, stats)
                } else {
                    try forEachSelected(ctx) { e, a, s, p in
                        if spec.format == .json || ExampleJSONEncoder.represents(spec.schema, e.shape) { stats[s].add(e, partition: p, annotations: a) }
                    }
                }
                ctx.stats = stats
            }
            switch spec.format {
            case .jsonl: try writeJSONL(&ctx)
            case .json: try writeJSONDocument(&ctx)
            // Compacted segments: Parquet straight from the column streams (Exporter+ParquetColumns.swift).
            case .parquet: try unitHasColumnarSegments(ctx) ? writeParquetColumns(&ctx) : writeParquet(&ctx)
            }
            // Unpartitioned exports always have every file, even empty.
            if !spec.partitioned {
                for s in 0..<n where ctx.sinks[s] == nil {
                    _ = try openSink(&ctx, s)
                    if spec.format == .parquet { try finishParquet(&ctx, s) }
                    if spec.format == .json { try writeJSONDocumentHeader(&ctx, s) ; ctx.sinks[s]!.buffer.append(contentsOf: Array("],\"conversations\":[]}\n".utf8)) }
                    if spec.metaHeader { writeMetaHeader(&ctx, s) }
                }
            }
            for s in ctx.sinks { if let s { _ = try s.finish(); ctx.completed.append(s) } }
        } catch {
            for s in ctx.sinks { s?.abandon() }
            throw error
        }
    }

    func writeMetaHeader(_ ctx: inout UnitContext, _ s: Int) {
        let sink = ctx.sinks[s]!
        let st = ctx.stats![s]
        let fileName = String(sink.record.path.split(separator: "/").last!)
        // Training-file v4 header fields (SPEC.md §8.2), then Strata's own.
        var meta: [String: Any] = [
            "file_name": fileName, "total_pairs": st.examples, "version": Exporter.trainingFileVersion,
            "format_spec": Exporter.trainingFileFormatSpec, "name": spec.name ?? (outPath as NSString).lastPathComponent,
            "total_conversations": st.conversations, "total_training_pairs": st.trainingPairs,
            "quality_summary": st.qualitySummary, "scaffolding_distribution": st.scaffoldingDistribution,
            "distributions": st.distributions,
            "strata_version": "strata-export-\(Exporter.manifestVersion)",
            "schema": spec.schema.rawValue, "created": ctx.created,
            "store_generation": ctx.storeVersion["generation"] ?? 0,
        ]
        meta["split"] = spec.split?.names[s] ?? NSNull()
        meta["partition"] = spec.partitioned ? ctx.unit.key : NSNull()
        let d = (try? JSONSerialization.data(withJSONObject: ["_meta": meta], options: [.sortedKeys])) ?? Data()
        sink.buffer.append(contentsOf: d)
        sink.buffer.append(0x0A)
    }

    private func writeJSONL(_ ctx: inout UnitContext) throws {
        if canPipeline(ctx) { return try writeJSONLPipelined(&ctx) }
        let schema = spec.schema
        let sp = spec.systemPrompt
        var skipped = 0
        var c = ctx
        defer { c.skipped += skipped; ctx = c }
        try forEachSelected(ctx) { e, a, s, _ in
            guard ExampleJSONEncoder.represents(schema, e.shape) else { skipped += 1; return }
            let sink: ExportFileSink
            if let k = c.sinks[s] { sink = k } else {
                sink = try openSink(&c, s)
                if spec.metaHeader { writeMetaHeader(&c, s) }
            }
            ExampleJSONEncoder.append(schema, e, annotations: a, systemPrompt: sp, &sink.buffer)
            sink.buffer.append(0x0A)
            sink.record.rows += 1
            sink.record.noteQuality(e.quality)
            try sink.flushIfFull()
        }
    }

    /// Threads that decode, check and encode blocks in a JSONL export (1: the
    /// sequential path, which an export with annotations to fold always takes).
    /// The writer is one more thread, mostly waiting (Exporter+JSONLPipeline.swift).
    public var encodeThreads = min(2, ProcessorCount.available)

    /// What encoding one block produced: per split, its JSONL text and the
    /// quality of each row (in order, so the file records sum exactly as a
    /// sequential run would). A slot of the pipeline's ring.
    final class EncodedBlock {
        var text: [JSONOutputBox]
        var qualities: [[Double?]]
        var skipped = 0
        var damage: StrataError?
        var error: Error?
        /// Per split, what the statistics pass takes from each row (ExportStats.Row).
        var statRows: [[ExportStats.Row]]
        /// A row with a training-file conversation id was passed over (the JSON document's pass 2).
        var hasTurns = false
        init(splits: Int) {
            text = (0..<splits).map { _ in JSONOutputBox() }
            qualities = Array(repeating: [], count: splits)
            statRows = Array(repeating: [], count: splits)
        }

        /// Empties it for the next block, keeping the buffers' capacity (no
        /// allocation, no fresh pages, once the first rounds sized them).
        func reset() {
            for s in text.indices {
                text[s].out.removeAll()
                qualities[s].removeAll(keepingCapacity: true)
                statRows[s].removeAll(keepingCapacity: true)
            }
            hasTurns = false
            skipped = 0
            damage = nil
            error = nil
        }
    }

    // MARK: JSON document

    private func writeJSONDocumentHeader(_ ctx: inout UnitContext, _ s: Int) throws {
        let sink = try openSink(&ctx, s)
        let st = ctx.stats![s]
        var meta: [String: Any] = [
            "file_name": String(sink.record.path.split(separator: "/").last!),
            "name": spec.name ?? PathName.lastComponent(of: outPath),
            "format_spec": Exporter.trainingFileFormatSpec,
            "version": Exporter.trainingFileVersion,
            "strata_version": "strata-export-json-\(Exporter.manifestVersion)",
            "created_date": ctx.created,
            "last_updated": ctx.created,
            "vertical": st.vertical ?? NSNull(),
            "scaffolding_distribution": st.scaffoldingDistribution,
            "total_examples": st.examples,
            "total_conversations": st.conversations,
            "total_training_pairs": st.trainingPairs,
            "quality_summary": st.qualitySummary,
            "distributions": st.distributions,
            "filters": spec.jsonObject,
            "store_version": ctx.storeVersion,
        ]
        meta["split"] = spec.split?.names[s] ?? NSNull()
        let d = try JSONSerialization.data(withJSONObject: meta, options: [.sortedKeys])
        sink.buffer.append(contentsOf: Array("{\"training_file_metadata\":".utf8))
        sink.buffer.append(contentsOf: d)
        sink.buffer.append(contentsOf: Array(",\"consultant_profile\":null,\"examples\":[".utf8))
    }

    private func writeJSONDocument(_ ctx: inout UnitContext) throws {
        let n = splitCount
        for s in 0..<n { try writeJSONDocumentHeader(&ctx, s) }
        let c = ctx
        var counts = Array(repeating: 0, count: n)
        // Blocks holding training-file turns, when pass 2 ran on the encode threads (nil: every block).
        var turnJobs: [BlockJob]?
        if canPipeline(c) {
            // Passes 2 and 3 on the encode threads: every row is written as ",\n" + row
            // and the first row of a file drops its comma, the bytes of one thread.
            var pieces = [[UnsafeRawBufferPointer]](repeating: [], count: n)
            var turns: [BlockJob] = []
            func take(_ job: BlockJob, _ r: EncodedBlock) -> Int {
                if r.hasTurns { turns.append(job) }
                var bytes = 0
                for s in 0..<n where !r.qualities[s].isEmpty {
                    let text = r.text[s].out.bytes
                    let piece = counts[s] == 0 ? UnsafeRawBufferPointer(rebasing: text[1...]) : text
                    counts[s] += r.qualities[s].count
                    pieces[s].append(piece)
                    bytes += piece.count
                    let sink = c.sinks[s]!
                    sink.record.rows += r.qualities[s].count
                    for q in r.qualities[s] { sink.record.noteQuality(q) }
                }
                return bytes
            }
            func flush() throws {
                for s in 0..<n where !pieces[s].isEmpty {
                    try c.sinks[s]!.append(gathering: pieces[s])
                    pieces[s].removeAll(keepingCapacity: true)
                }
            }
            try pipelineBlocks(c, notShape: .chat, encode: { e, a, s, _, r in
                if TrainingTurns.conversationID(e) != nil { r.hasTurns = true; return }
                let t = r.text[s]
                t.out.append(0x2C)
                t.out.append(0x0A)
                ExampleJSONEncoder.appendRaw(e, annotations: a, &t.out)
                r.qualities[s].append(e.quality)
            }, take: take, flush: flush)
            for s in 0..<n { c.sinks[s]!.buffer.append(contentsOf: Array("\n],\"conversations\":[".utf8)) }
            counts = Array(repeating: 0, count: n)
            try pipelineBlocks(c, onlyShape: .chat, encode: { e, a, s, _, r in
                let t = r.text[s]
                t.out.append(0x2C)
                t.out.append(0x0A)
                ExampleJSONEncoder.appendConversation(e, annotations: a, &t.out)
                r.qualities[s].append(e.quality)
            }, take: take, flush: flush)
            turnJobs = turns
        } else {
        // Pass 2: instruction and prompt_response examples, in raw form (training-file turns go to pass 4).
        try forEachSelected(c, notShape: .chat) { e, a, s, _ in
            if TrainingTurns.conversationID(e) != nil { return }
            let sink = c.sinks[s]!
            if counts[s] > 0 { sink.buffer.append(0x2C) }
            counts[s] += 1
            sink.buffer.append(0x0A)
            ExampleJSONEncoder.appendRaw(e, annotations: a, &sink.buffer)
            sink.record.rows += 1
            sink.record.noteQuality(e.quality)
            try sink.flushIfFull()
        }
        for s in 0..<n { c.sinks[s]!.buffer.append(contentsOf: Array("\n],\"conversations\":[".utf8)) }
        counts = Array(repeating: 0, count: n)
        // Pass 3: chat examples as conversations with training pairs.
        try forEachSelected(c, onlyShape: .chat) { e, a, s, _ in
            let sink = c.sinks[s]!
            if counts[s] > 0 { sink.buffer.append(0x2C) }
            counts[s] += 1
            sink.buffer.append(0x0A)
            ExampleJSONEncoder.appendConversation(e, annotations: a, &sink.buffer)
            sink.record.rows += 1
            sink.record.noteQuality(e.quality)
            try sink.flushIfFull()
        }
        }
        // Pass 4: training-file turns as conversations with training pairs (SPEC.md §8.3).
        var runs = [TrainingTurns.Run?](repeating: nil, count: n)
        func close(_ s: Int) throws {
            guard let run = runs[s] else { return }
            let sink = c.sinks[s]!
            if counts[s] > 0 { sink.buffer.append(0x2C) }
            counts[s] += 1
            sink.buffer.append(0x0A)
            run.write(to: &sink.buffer)
            runs[s] = nil
            try sink.flushIfFull()
        }
        try forEachSelected(c, jobs: turnJobs, notShape: .chat) { e, a, s, _ in
            guard let cid = TrainingTurns.conversationID(e) else { return }
            if let run = runs[s], run.id != cid { try close(s) }
            if runs[s] == nil { runs[s] = TrainingTurns.Run(id: cid, first: e) }
            runs[s]!.add(e, annotations: a)
            let sink = c.sinks[s]!
            sink.record.rows += 1
            sink.record.noteQuality(e.quality)
        }
        for s in 0..<n { try close(s) }
        for s in 0..<n { c.sinks[s]!.buffer.append(contentsOf: Array("\n]}\n".utf8)) }
    }

    // MARK: Parquet

    var parquetSchema: ParquetSchema { Exporter.parquetSchema(partitioned: spec.partitioned) }

    /// The export's Parquet columns (SPEC.md §8.7). Hive-partitioned files omit `domain` and `month`, which the path carries.
    public static func parquetSchema(partitioned: Bool) -> ParquetSchema {
        var f: [ParquetField] = [ParquetField("id", .string, nullable: false), ParquetField("shape", .string, nullable: false)]
        if !partitioned {
            f.append(ParquetField("domain", .string, nullable: false))
            f.append(ParquetField("month", .string, nullable: false))
        }
        f += [
            ParquetField("timestamp", .timestampMillis, nullable: false),
            ParquetField("quality_score", .double),
            ParquetField("tags", .list(ParquetField("element", .string, nullable: false)), nullable: false),
            ParquetField("source", .string),
            ParquetField("instruction", .string),
            ParquetField("input", .string),
            ParquetField("output", .string),
            ParquetField("prompt", .string),
            ParquetField("response", .string),
            ParquetField("messages", .list(ParquetField("element", .record([
                ParquetField("role", .string, nullable: false), ParquetField("content", .string, nullable: false),
            ]), nullable: false))),
            ParquetField("metadata", .json, nullable: false),
            ParquetField("feedback_positive", .int64, nullable: false),
            ParquetField("feedback_negative", .int64, nullable: false),
            ParquetField("excluded", .bool, nullable: false),
            ParquetField("corrected", .string),
        ]
        return ParquetSchema(f)
    }

    func openParquet(_ ctx: inout UnitContext, _ s: Int) throws -> ParquetWriter {
        if let w = ctx.parquet[s] { return w }
        let sink = try openSink(&ctx, s)
        let w = try ParquetWriter(schema: parquetSchema, options: parquetOptions) { bytes in try sink.write(bytes) }
        w.addMetadata(key: "strata.export.spec", value: spec.canonicalJSON)
        ctx.parquet[s] = w
        return w
    }

    private func finishParquet(_ ctx: inout UnitContext, _ s: Int) throws {
        let w = try openParquet(&ctx, s)
        _ = try w.close()
    }

    private func writeParquet(_ ctx: inout UnitContext) throws {
        var c = ctx
        defer { ctx = c }
        let partitioned = spec.partitioned
        var row: [ParquetValue] = []
        row.reserveCapacity(21)
        try forEachSelected(ctx) { e, a, s, p in
            let w = try openParquet(&c, s)
            @inline(__always) func str(_ b: UnsafeRawBufferPointer) -> ParquetValue { .string(String(decoding: b, as: UTF8.self)) }
            row.removeAll(keepingCapacity: true)
            row.append(.string(e.id.hex))
            row.append(.string(e.shape.name))
            if !partitioned {
                row.append(.string(p.domain))
                row.append(.string(p.month.description))
            }
            row.append(.int(e.timestampMillis))
            row.append(e.quality.map { .double($0) } ?? .null)
            row.append(.list(e.tags.map(str)))
            row.append(e.source.map(str) ?? .null)
            switch e.shape {
            case .instruction:
                row += [str(e.first), str(e.second), str(e.third), .null, .null, .null]
            case .promptResponse:
                row += [.null, .null, .null, str(e.first), str(e.second), .null]
            case .chat:
                row += [.null, .null, .null, .null, .null,
                        .list(e.messages.map { .record([.string($0.role.name), str($0.content)]) })]
            }
            row.append(str(e.metadata))
            row.append(.int(a?.feedbackPositive ?? 0))
            row.append(.int(a?.feedbackNegative ?? 0))
            row.append(.bool(a?.excluded ?? false))
            row.append(a?.corrected.map { .string($0) } ?? .null)
            try w.append(row)
            let sink = c.sinks[s]!
            sink.record.rows += 1
            sink.record.noteQuality(e.quality)
        }
        for s in 0..<splitCount where c.parquet[s] != nil { _ = try c.parquet[s]!.close() }
    }

    /// `schema.json` as the event-log pipeline writes it: `{"fields":[{"name","type",...}]}`.
    func parquetSchemaJSON() -> String {
        func typeObject(_ f: ParquetField) -> [String: Any] {
            var o: [String: Any] = ["name": f.name, "nullable": f.nullable]
            switch f.type {
            case .string: o["type"] = "string"
            case .json: o["type"] = "string"; o["logical_type"] = "json"
            case .binary: o["type"] = "binary"
            case .double: o["type"] = "double"
            case .int32: o["type"] = "int32"
            case .int64: o["type"] = "int64"
            case .bool: o["type"] = "bool"
            case .timestampMillis: o["type"] = "timestamp"; o["unit"] = "ms"; o["timezone"] = "UTC"
            case let .list(e): o["type"] = "array"; o["items"] = typeObject(e)
            case let .record(fs): o["type"] = "struct"; o["fields"] = fs.map(typeObject)
            }
            return o
        }
        var obj: [String: Any] = ["fields": parquetSchema.fields.map(typeObject)]
        obj["partitioning"] = spec.partitioned ? [["name": "domain", "type": "string"], ["name": "month", "type": "string"]] : []
        if let sp = spec.split { obj["splits"] = sp.names }
        let d = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: d, as: UTF8.self) + "\n"
    }

    /// `dataset_summary.md` as the event-log pipeline writes it.
    func datasetSummary(files: [ExportedFile], created: String, storeVersion: [String: Any]) -> String {
        let rows = files.reduce(0) { $0 + $1.rows }
        let qc = files.reduce(0) { $0 + $1.qualityCount }
        let qs = files.reduce(0.0) { $0 + $1.qualitySum }
        let qmin = files.compactMap(\.qualityMin).min()
        let qmax = files.compactMap(\.qualityMax).max()
        func fmt(_ d: Double?) -> String { d.map { String(format: "%.4f", $0) } ?? "n/a" }
        var md = "# Dataset summary\n\n"
        md += "- Name: \(spec.name ?? (outPath as NSString).lastPathComponent)\n"
        md += "- Created: \(created)\n"
        md += "- Store: \(storeVersion["store_id"] ?? "") generation \(storeVersion["generation"] ?? 0) (fingerprint \(storeVersion["fingerprint"] ?? ""))\n"
        md += "- Dataset: `\(Exporter.parquetDatasetDirectory)/` (read it as one dataset, e.g. `polars.read_parquet(\"\(Exporter.parquetDatasetDirectory)\")`)\n"
        md += "- Layout: \(spec.partitioned ? "Hive partitioned (domain=…/month=…)" : "single file per split")\n"
        md += "- Total rows: \(rows)\n"
        md += "- Files: \(files.count)\n"
        md += "- Quality score: \(qc) scored, avg \(fmt(qc > 0 ? qs / Double(qc) : nil)), min \(fmt(qmin)), max \(fmt(qmax))\n\n"
        if let sp = spec.split {
            md += "## Splits\n\n| split | rows |\n|---|---|\n"
            for n in sp.names { md += "| \(n) | \(files.filter { $0.split == n }.reduce(0) { $0 + $1.rows }) |\n" }
            md += "\n"
        }
        md += "## Files\n\n| file | rows | bytes |\n|---|---|---|\n"
        for f in files { md += "| \(f.path) | \(f.rows) | \(f.bytes) |\n" }
        md += "\n## Schema\n\n| column | type | nullable |\n|---|---|---|\n"
        for f in parquetSchema.fields { md += "| \(f.name) | \(f.type.arrowName) | \(f.nullable) |\n" }
        md += "\n## Filters\n\n```json\n\(spec.canonicalJSON)\n```\n\n## Quality checks\n\n"
        md += "- Minimum rows (1): \(rows >= 1 ? "pass" : "FAIL (no rows)")\n"
        md += "- Nulls in required fields (id, shape, timestamp, metadata): pass (enforced by the schema)\n"
        return md
    }
}

extension Exporter {
    /// A relative path without empty, "." or ".." components (what an export writes).
    static func isSafeRelativePath(_ p: String) -> Bool {
        guard !p.isEmpty, !p.hasPrefix("/") else { return false }
        return p.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }
}

extension Exporter {
    /// Removes temporary files (`.<name>.tmp-<pid>`, SPEC.md §8.1) that a killed
    /// export left in OUT and the directories it writes. Called only while
    /// holding the export lock, so no live run owns them. Only regular files
    /// owned by this user with that name pattern; symbolic links are not followed.
    func removeAbandonedTemporaries() {
        func isTemporary(_ name: String) -> Bool {
            guard name.hasPrefix("."), let r = name.range(of: ".tmp-", options: .backwards) else { return false }
            let pid = name[r.upperBound...]
            return !pid.isEmpty && pid.allSatisfy(\.isASCII) && pid.allSatisfy(\.isNumber)
        }
        func visit(_ dir: String, depth: Int) {
            guard depth <= 4, let names = try? fs.listDirectory(dir) else { return }
            for n in names {
                let p = dir + "/" + n
                if fs.isSymbolicLink(p) { continue }
                if fs.isDirectory(p) {
                    visit(p, depth: depth + 1)
                } else if isTemporary(n), fs.isOwnLeftover(p, magic: nil) {
                    try? fs.remove(p)
                }
            }
        }
        visit(outPath, depth: 0)
    }
}
