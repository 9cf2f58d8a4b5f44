import Dispatch

/// Parquet export of units with compacted (columnar) segments (SPEC.md §8.7):
/// a columnar block's examples are read from its streams
/// (`ColumnarBlock.Columns`) and their strings go into the Parquet column
/// writers as byte slices where they lie in the decompressed streams: no
/// reassembled entry bytes, no second id hash, no `String` or `ParquetValue`
/// per value. Metadata is stored as the JSON text the `metadata` column
/// holds, so it is copied, never parsed.
///
/// The selection (shape, predicate, quality, source, tags, annotations,
/// excluded, feedback, split) is the row path's (`visitBlock`), applied to
/// the same `EntryView` fields, so both paths write the same rows; the rows
/// go through the writer's direct API, which shreds them exactly as
/// `ParquetWriter.append` does: the file is byte-identical to the row
/// path's. Row-format blocks of the same unit, and every block of a salvage
/// (`--skip-damaged`) export — whose unit of skipping is the whole block,
/// decided before any of its rows is written — go through `visitBlock`.
extension Exporter {
    /// Whether a segment of the unit can hold columnar blocks (segment version ≥ 3, SPEC.md §3.6).
    func unitHasColumnarSegments(_ ctx: UnitContext) -> Bool {
        let catalog = ctx.snap.catalog
        for p in ctx.unit.partitions {
            for seg in ctx.snap.segments[p] ?? [] {
                if let f = catalog.files[seg.sequence], f.header.version >= Format.columnarSegmentVersion { return true }
            }
        }
        return false
    }

    /// The export's Parquet columns by name (`parquetSchema`), resolved once.
    struct ParquetFields {
        let id, shape, timestamp, quality, tags, source, instruction, input, output, prompt, response, messages, metadata,
            feedbackPositive, feedbackNegative, excluded, corrected: Int
        let domain, month: Int?

        init(_ schema: ParquetSchema) {
            func at(_ name: String) -> Int { schema.fields.firstIndex { $0.name == name }! }
            func opt(_ name: String) -> Int? { schema.fields.firstIndex { $0.name == name } }
            id = at("id"); shape = at("shape"); domain = opt("domain"); month = opt("month")
            timestamp = at("timestamp"); quality = at("quality_score"); tags = at("tags"); source = at("source")
            instruction = at("instruction"); input = at("input"); output = at("output")
            prompt = at("prompt"); response = at("response"); messages = at("messages"); metadata = at("metadata")
            feedbackPositive = at("feedback_positive"); feedbackNegative = at("feedback_negative")
            excluded = at("excluded"); corrected = at("corrected")
        }
    }

    func writeParquetColumns(_ ctx: inout UnitContext) throws {
        var c = ctx
        defer { ctx = c }
        let f = ParquetFields(parquetSchema)
        // Names written for every row, as bytes that live for the whole export.
        let names = NameBytes()
        var idHex: [UInt8] = []
        idHex.reserveCapacity(32)
        var partitionBytes: (key: PartitionKey, domain: [UInt8], month: [UInt8])?

        func fill(_ e: inout EntryView, _ a: FoldedAnnotations?, _ s: Int, _ p: PartitionKey) throws {
            let w = try openParquet(&c, s)
            try w.beginRow()
            idHex.removeAll(keepingCapacity: true)
            e.id.appendHex(to: &idHex)
            idHex.withUnsafeBytes { w.put(f.id, bytes: $0) }
            w.put(f.shape, bytes: names.shape(e.shape))
            if let fd = f.domain, let fm = f.month {
                if partitionBytes?.key != p { partitionBytes = (p, Array(p.domain.utf8), Array(p.month.description.utf8)) }
                partitionBytes!.domain.withUnsafeBytes { w.put(fd, bytes: $0) }
                partitionBytes!.month.withUnsafeBytes { w.put(fm, bytes: $0) }
            }
            w.put(f.timestamp, int: e.timestampMillis)
            w.put(f.quality, double: e.quality)
            w.put(f.tags, list: e.tags)
            w.put(f.source, bytes: e.source)
            let instruction = e.shape == .instruction, pair = e.shape == .promptResponse
            w.put(f.instruction, bytes: instruction ? e.first : nil)
            w.put(f.input, bytes: instruction ? e.second : nil)
            w.put(f.output, bytes: instruction ? e.third : nil)
            w.put(f.prompt, bytes: pair ? e.first : nil)
            w.put(f.response, bytes: pair ? e.second : nil)
            let messages = e.messages
            w.put(f.messages, records: e.shape == .chat ? messages.count : nil) { k, j in
                j == 0 ? names.role(messages[k].role) : messages[k].content
            }
            w.put(f.metadata, bytes: e.metadata)
            w.put(f.feedbackPositive, int: Int64(a?.feedbackPositive ?? 0))
            w.put(f.feedbackNegative, int: Int64(a?.feedbackNegative ?? 0))
            w.put(f.excluded, bool: a?.excluded ?? false)
            if var corrected = a?.corrected {
                corrected.withUTF8 { w.put(f.corrected, bytes: UnsafeRawBufferPointer($0)) }
            } else {
                w.put(f.corrected, bytes: nil)
            }
            try w.endRow()
            let sink = c.sinks[s]!
            sink.record.rows += 1
            sink.record.noteQuality(e.quality)
        }

        // Blocks are read and decompressed a round ahead by a helper thread
        // (the loader fills only the next round's slots; the writer reads only
        // the current round's and owns everything else; `group.wait()` orders
        // the hand-over), so the columnar streams' zstd decoding overlaps the
        // writing. The writer stays on the calling thread: it owns the Parquet
        // column writers' page buffers (megabytes per column) and the zstd
        // context that compresses them, and when it ran on whichever of two
        // threads picked it up each round those buffers were grown, freed and
        // faulted in again from two malloc arenas. Errors keep their block
        // order: a load error is raised (or, salvaging, noted) when the writer
        // reaches that block.
        let jobs = blockJobs(c)
        let skip = skipDamaged
        let loader = ParquetBlockLoader(jobs: jobs, columnsAllowed: !skip)
        var view = EntryView()
        var side = ReadBuffers()
        func write(_ round: Int, _ slots: [LoadedBlock]) throws {
            let start = round * Exporter.parquetRound
            for k in 0..<Exporter.parquetRound where start + k < jobs.count {
                let job = jobs[start + k]
                if let e = slots[k].error {
                    if let se = e as? StrataError, se.code == .corruption, skip { noteDamage(se); continue }
                    throw e
                }
                if slots[k].columnar {
                    columnarBlocksRead += 1
                    try visitColumns(slots[k].columns, job, c, view: &view, side: &side, fill)
                } else {
                    try visitBlock(slots[k].buffers.block, header: slots[k].header!, job, c, onlyShape: nil, notShape: nil,
                                   view: &view, side: &side, fill)
                }
            }
        }
        let rounds = (jobs.count + Exporter.parquetRound - 1) / Exporter.parquetRound
        if rounds > 0 { loader.load(round: 0) }
        for r in 0..<rounds {
            let group = DispatchGroup()
            if r + 1 < rounds { DispatchQueue.global().async(group: group) { loader.load(round: r + 1) } }
            // Any error abandons the export as a whole; the loader is still waited for.
            defer { group.wait() }
            try write(r, loader.current)
            group.wait()
            loader.advance()
        }
        for s in 0..<c.parquet.count where c.parquet[s] != nil { _ = try c.parquet[s]!.close() }
    }

    /// Blocks per round of the Parquet export's read-ahead.
    static let parquetRound = 8

    /// One block read ahead: its frame checked and its payload decompressed
    /// (columnar streams, or row-format entries), or the error doing so.
    struct LoadedBlock {
        var columns = ColumnarBlock.Columns()
        var buffers = ReadBuffers()
        var header: FrameHeader?
        var columnar = false
        var error: Error?

        mutating func load(_ job: BlockJob, columnsAllowed: Bool) {
            header = nil
            error = nil
            columnar = false
            do {
                let h = try job.file.readFrame(at: job.offset, into: &buffers.scratch)
                columnar = columnsAllowed && h.type == FrameType.columnarBlock.rawValue
                    && job.file.header.version >= Format.columnarSegmentVersion
                let columnar = columnar
                try buffers.scratch.withUnsafeBytes { raw in
                    let payload = UnsafeRawBufferPointer(rebasing: raw[Format.frameHeaderSize..<h.frameLength])
                    if columnar {
                        try columns.load(payload, rawLength: h.rawLength, entryCount: h.entryCount, dictionary: job.file.dictionary,
                                         path: job.file.path, offset: job.offset)
                    } else {
                        try FrameCodec.decodeBlockPayload(payload, header: h, dictionary: job.file.dictionary, segmentVersion: job.file.header.version,
                                                          into: &buffers.block, path: job.file.path, offset: job.offset)
                    }
                }
                header = h
            } catch {
                self.error = error
            }
        }
    }

    /// The read-ahead's two rounds of slots: the writer reads `current`
    /// while one helper thread fills `next`; `advance()` swaps them once the
    /// helper is done. Slots and their buffers are reused from round to round.
    // @unchecked: `load` (helper) touches only `next`, the writer only `current`,
    // and the writer calls `advance` only after waiting for the helper's group.
    final class ParquetBlockLoader: @unchecked Sendable {
        let jobs: [BlockJob]
        let columnsAllowed: Bool
        private(set) var current = [LoadedBlock](repeating: LoadedBlock(), count: Exporter.parquetRound)
        private var next = [LoadedBlock](repeating: LoadedBlock(), count: Exporter.parquetRound)

        init(jobs: [BlockJob], columnsAllowed: Bool) {
            self.jobs = jobs
            self.columnsAllowed = columnsAllowed
        }

        /// Fills `next` with round `round`'s blocks (round 0 goes straight to `current`).
        func load(round: Int) {
            let start = round * Exporter.parquetRound
            for k in 0..<Exporter.parquetRound where start + k < jobs.count {
                if round == 0 {
                    current[k].load(jobs[start + k], columnsAllowed: columnsAllowed)
                } else {
                    next[k].load(jobs[start + k], columnsAllowed: columnsAllowed)
                }
            }
        }

        func advance() { swap(&current, &next) }
    }

    /// `visitBlock` for a columnar block: the same selection, over examples read from the streams.
    private func visitColumns(_ columns: ColumnarBlock.Columns, _ job: BlockJob, _ ctx: UnitContext,
                              view: inout EntryView, side: inout ReadBuffers,
                              _ body: (inout EntryView, FoldedAnnotations?, Int, PartitionKey) throws -> Void) throws {
        let split = spec.split
        try columns.withCursor { cursor in
            while let (kind, _) = try cursor.next(into: &view) {
                guard kind == EntryKind.example.rawValue else { continue }
                // Folded annotations of a compacted example follow it in the same block.
                var folded: [Annotation] = []
                if cursor.peekKind() == EntryKind.foldedAnnotations.rawValue, var (_, r) = try cursor.next(into: &view) {
                    let (target, anns) = try AnnotationCodec.decodeFolded(&r)
                    guard target == view.id else { throw r.corruption("folded annotations of \(target) do not follow their example") }
                    folded = anns
                }
                if (1 << view.shape.rawValue) & shapeMask == 0 { continue }
                var a: FoldedAnnotations?
                guard try selects(view, folded: folded, ctx, side: &side, annotations: &a) else { continue }
                try body(&view, a, split?.index(of: view.id) ?? 0, job.partition)
            }
        }
    }
}

/// Shape and role names as bytes that stay valid for the owner's lifetime
/// (the direct Parquet API takes byte slices).
private final class NameBytes {
    private let storage: UnsafeMutableRawBufferPointer
    private var shapes: [UnsafeRawBufferPointer] = []
    private var roles: [UnsafeRawBufferPointer] = []

    init() {
        let shapeNames = Shape.allCases.map { (Int($0.rawValue), Array($0.name.utf8)) }
        let roleNames = Role.allCases.map { (Int($0.rawValue), Array($0.name.utf8)) }
        storage = .allocate(byteCount: (shapeNames + roleNames).reduce(0) { $0 + $1.1.count }, alignment: 1)
        var at = 0
        func place(_ list: [(Int, [UInt8])], into table: inout [UnsafeRawBufferPointer]) {
            table = Array(repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: (list.map(\.0).max() ?? 0) + 1)
            for (i, b) in list {
                let dst = UnsafeMutableRawBufferPointer(rebasing: storage[at..<(at + b.count)])
                dst.copyBytes(from: b)
                table[i] = UnsafeRawBufferPointer(dst)
                at += b.count
            }
        }
        place(shapeNames, into: &shapes)
        place(roleNames, into: &roles)
    }

    deinit { storage.deallocate() }

    func shape(_ s: Shape) -> UnsafeRawBufferPointer { shapes[Int(s.rawValue)] }
    func role(_ r: Role) -> UnsafeRawBufferPointer { roles[Int(r.rawValue)] }
}
