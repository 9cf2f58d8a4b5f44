import Dispatch

/// Parquet export of units with compacted (columnar) segments (SPEC.md §8.7):
/// a columnar block's examples are read from its streams
/// (`ColumnarBlock.Columns`) by the read-ahead thread into a table of
/// columns (`ColumnRows`: numbers, and the strings' places in the
/// decompressed streams), and the writer fills each Parquet column of the
/// block's selected rows in one loop (`writeColumns`): no reassembled entry
/// bytes, no second id hash, no `String` or `ParquetValue` per value, no
/// per-value dispatch over the schema. Metadata is stored as the JSON text
/// the `metadata` column holds, so it is copied, never parsed.
///
/// The selection (shape, predicate, quality, source, tags, annotations,
/// excluded, feedback, split) is the row path's (`selects`), applied to the
/// same `EntryView` fields, so both paths write the same rows; the column
/// writers receive the same values and row ends as from
/// `ParquetWriter.append`, and `appendColumns` closes row groups after the
/// same rows: the file is byte-identical to the row path's. Row-format blocks
/// of the same unit, and every block of a salvage (`--skip-damaged`) export
/// — whose unit of skipping is the whole block, decided before any of its
/// rows is written — go through `visitBlock` a row at a time.
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
        func partition(_ p: PartitionKey) -> (domain: [UInt8], month: [UInt8]) {
            if partitionBytes?.key != p { partitionBytes = (p, Array(p.domain.utf8), Array(p.month.description.utf8)) }
            return (partitionBytes!.domain, partitionBytes!.month)
        }

        // A row of a row-format block.
        func fill(_ e: inout EntryView, _ a: FoldedAnnotations?, _ s: Int, _ p: PartitionKey) throws {
            let w = try openParquet(&c, s)
            try w.beginRow()
            idHex.removeAll(keepingCapacity: true)
            e.id.appendHex(to: &idHex)
            idHex.withUnsafeBytes { w.put(f.id, bytes: $0) }
            w.put(f.shape, bytes: names.shape(e.shape))
            if let fd = f.domain, let fm = f.month {
                let pb = partition(p)
                pb.domain.withUnsafeBytes { w.put(fd, bytes: $0) }
                pb.month.withUnsafeBytes { w.put(fm, bytes: $0) }
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

        var view = EntryView()
        var side = ReadBuffers()
        // The selected rows of a columnar block, per split (reused across blocks).
        var selected = [[Int32]](repeating: [], count: c.parquet.count)
        var folded = [[FoldedAnnotations?]](repeating: [], count: c.parquet.count)
        let split = spec.split
        // Nothing to filter or fold for an example without folded annotations:
        // `selects` would keep it unannotated (as `visitBlock` decides).
        let selectsAll = spec.predicate == nil && spec.minQuality == nil && sourceBytes == nil && tagBytes.isEmpty
            && annotations == nil && spec.feedback == nil && c.snap.annotationMap.isEmpty

        func writeColumnar(_ rows: ColumnRows, _ columns: ColumnarBlock.Columns, _ job: BlockJob) throws {
            try columns.withStreamBases { labels, texts, metadata in
                let bases = ColumnRows.Bases(labels: labels, texts: texts, metadata: metadata)
                for s in selected.indices {
                    selected[s].removeAll(keepingCapacity: true)
                    folded[s].removeAll(keepingCapacity: true)
                }
                for i in 0..<rows.count {
                    if (1 << rows.shapes[i].rawValue) & shapeMask == 0 { continue }
                    var a: FoldedAnnotations?
                    let fi = Int(rows.foldedAt[i])
                    if !(selectsAll && fi < 0) {
                        rows.view(i, bases, into: &view)
                        guard try selects(view, folded: fi < 0 ? [] : rows.folded[fi], c, side: &side, annotations: &a) else { continue }
                    }
                    let s = split?.index(of: rows.ids[i]) ?? 0
                    selected[s].append(Int32(i))
                    folded[s].append(a)
                }
                for s in selected.indices where !selected[s].isEmpty {
                    let w = try openParquet(&c, s)
                    try writeColumns(w, rows, bases, selected[s], folded[s], partition(job.partition), f, names, &idHex)
                    let sink = c.sinks[s]!
                    sink.record.rows += selected[s].count
                    for i in selected[s] { sink.record.noteQuality(rows.quality(Int(i))) }
                }
            }
            if let e = rows.error { throw e }
        }

        // Blocks are read, decompressed and parsed into columns a round ahead
        // by a helper thread (the loader fills only the next round's slots;
        // the writer reads only the current round's and owns everything else;
        // `group.wait()` orders the hand-over), so the columnar streams' zstd
        // decoding, UTF-8 checks and id hashing overlap the writing. The
        // writer stays on the calling thread: it owns the Parquet column
        // writers' page buffers (megabytes per column) and the zstd context
        // that compresses them, and when it ran on whichever of two threads
        // picked it up each round those buffers were grown, freed and faulted
        // in again from two malloc arenas. Errors keep their block order: a
        // load error is raised (or, salvaging, noted) when the writer reaches
        // that block, a parse error after the block's rows before it.
        let jobs = blockJobs(c)
        let skip = skipDamaged
        let loader = ParquetBlockLoader(jobs: jobs, columnsAllowed: !skip)
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
                    try writeColumnar(slots[k].rows, slots[k].columns, job)
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

    /// Writes rows `selected` of a columnar block (with their annotations,
    /// `folded`) into `w`, a column at a time: the values and row ends each
    /// column writer receives are those of `fill`'s `put` calls for the same
    /// rows (`ParquetWriter.put` documents them).
    private func writeColumns(_ w: ParquetWriter, _ rows: ColumnRows, _ b: ColumnRows.Bases, _ selected: [Int32],
                              _ folded: [FoldedAnnotations?], _ partition: (domain: [UInt8], month: [UInt8]),
                              _ f: ParquetFields, _ names: NameBytes, _ idHex: inout [UInt8]) throws {
        idHex.removeAll(keepingCapacity: true)
        for i in selected { rows.ids[Int(i)].appendHex(to: &idHex) }
        let hasPartitionColumns = f.domain != nil
        let partitionBytes = 10 + partition.domain.count + partition.month.count
        // A present string adds a level and 4 + length, a null a level (ParquetColumnWriter.estimatedBytes).
        @inline(__always) func str(_ n: Int) -> Int { 5 + n }
        func rowBytes(_ k: Int) -> Int {
            let i = Int(selected[k])
            let shape = rows.shapes[i]
            var n = str(32) + str(names.shape(shape).count) + (hasPartitionColumns ? partitionBytes : 0)
            n += 9 + (rows.flags[i] & RecordCodec.flagQuality != 0 ? 9 : 1)
            let tags = rows.tagRange(i)
            if tags.isEmpty { n += 1 } else { for t in tags { n += str(Int(rows.tags[t].count)) } }
            n += rows.flags[i] & RecordCodec.flagSource != 0 ? str(Int(rows.sources[i].count)) : 1
            switch shape {
            case .instruction: n += str(Int(rows.first[i].count)) + str(Int(rows.second[i].count)) + str(Int(rows.third[i].count)) + 2
            case .promptResponse: n += 3 + str(Int(rows.first[i].count)) + str(Int(rows.second[i].count))
            case .chat: n += 5
            }
            let messages = rows.messageRange(i)
            if shape != .chat || messages.isEmpty {
                n += 2
            } else {
                for m in messages { n += str(names.role(rows.roles[m]).count) + str(Int(rows.contents[m].count)) }
            }
            n += str(Int(rows.metadata[i].count)) + 9 + 9 + 1
            n += folded[k]?.corrected.map { str($0.utf8.count) } ?? 1
            return n
        }
        try idHex.withUnsafeBytes { hex in
            try w.appendColumns(rows: selected.count, rowBytes: rowBytes) { range in
                // One loop per column; each row ends in each column as `endRow` ends it in all.
                func strings(_ field: Int, _ value: (Int, Int) -> UnsafeRawBufferPointer?) throws {
                    let col = w.leafColumn(field)
                    for k in range {
                        if let v = value(k, Int(selected[k])) { col.appendBytes(v, rep: 0) } else { col.appendNull(def: 0, rep: 0) }
                        try col.endRow()
                    }
                }
                func ints(_ field: Int, _ value: (Int) -> Int64) throws {
                    let col = w.leafColumn(field)
                    let double = col.leaf.physical == .double
                    for k in range {
                        if double { col.appendDouble(Double(value(k)), rep: 0) } else { col.appendInt(value(k), rep: 0) }
                        try col.endRow()
                    }
                }
                try strings(f.id) { k, _ in UnsafeRawBufferPointer(rebasing: hex[(32 * k)..<(32 * k + 32)]) }
                try strings(f.shape) { _, i in names.shape(rows.shapes[i]) }
                if let fd = f.domain, let fm = f.month {
                    try partition.domain.withUnsafeBytes { d in try strings(fd) { _, _ in d } }
                    try partition.month.withUnsafeBytes { m in try strings(fm) { _, _ in m } }
                }
                try ints(f.timestamp) { k in rows.timestamps[Int(selected[k])] }
                let quality = w.leafColumn(f.quality)
                for k in range {
                    let i = Int(selected[k])
                    if rows.flags[i] & RecordCodec.flagQuality != 0 {
                        quality.appendDouble(rows.qualities[i], rep: 0)
                    } else {
                        quality.appendNull(def: 0, rep: 0)
                    }
                    try quality.endRow()
                }
                let (tagColumns, tagEmptyDef, tagRep) = w.listColumns(f.tags)
                let tagColumn = tagColumns[0]
                for k in range {
                    let tags = rows.tagRange(Int(selected[k]))
                    if tags.isEmpty { tagColumn.appendNull(def: tagEmptyDef, rep: 0) }
                    for t in tags { tagColumn.appendBytes(rows.tags[t].bytes(b.labels), rep: t == tags.lowerBound ? 0 : tagRep) }
                    try tagColumn.endRow()
                }
                try strings(f.source) { _, i in rows.flags[i] & RecordCodec.flagSource != 0 ? rows.sources[i].bytes(b.labels) : nil }
                try strings(f.instruction) { _, i in rows.shapes[i] == .instruction ? rows.first[i].bytes(b.texts) : nil }
                try strings(f.input) { _, i in rows.shapes[i] == .instruction ? rows.second[i].bytes(b.texts) : nil }
                try strings(f.output) { _, i in rows.shapes[i] == .instruction ? rows.third[i].bytes(b.texts) : nil }
                try strings(f.prompt) { _, i in rows.shapes[i] == .promptResponse ? rows.first[i].bytes(b.texts) : nil }
                try strings(f.response) { _, i in rows.shapes[i] == .promptResponse ? rows.second[i].bytes(b.texts) : nil }
                let (messageColumns, messageEmptyDef, messageRep) = w.listColumns(f.messages)
                for (j, col) in messageColumns.enumerated() {
                    for k in range {
                        let i = Int(selected[k])
                        let messages = rows.messageRange(i)
                        if rows.shapes[i] != .chat {
                            col.appendNull(def: 0, rep: 0)
                        } else if messages.isEmpty {
                            col.appendNull(def: messageEmptyDef, rep: 0)
                        } else {
                            for m in messages {
                                let v = j == 0 ? names.role(rows.roles[m]) : rows.contents[m].bytes(b.texts)
                                col.appendBytes(v, rep: m == messages.lowerBound ? 0 : messageRep)
                            }
                        }
                        try col.endRow()
                    }
                }
                try strings(f.metadata) { _, i in rows.metadata[i].bytes(b.metadata) }
                try ints(f.feedbackPositive) { k in Int64(folded[k]?.feedbackPositive ?? 0) }
                try ints(f.feedbackNegative) { k in Int64(folded[k]?.feedbackNegative ?? 0) }
                let excluded = w.leafColumn(f.excluded)
                for k in range {
                    excluded.appendBool(folded[k]?.excluded ?? false, rep: 0)
                    try excluded.endRow()
                }
                let corrected = w.leafColumn(f.corrected)
                for k in range {
                    if var text = folded[k]?.corrected {
                        text.withUTF8 { corrected.appendBytes(UnsafeRawBufferPointer($0), rep: 0) }
                    } else {
                        corrected.appendNull(def: 0, rep: 0)
                    }
                    try corrected.endRow()
                }
            }
        }
    }

    /// Blocks per round of the Parquet export's read-ahead.
    static let parquetRound = 8

    /// One block read ahead: its frame checked and its payload decompressed
    /// (columnar streams, read into `rows`; or row-format entries), or the
    /// error doing so.
    struct LoadedBlock {
        var columns = ColumnarBlock.Columns()
        var rows = ColumnRows()
        var view = EntryView()
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
                if columnar { rows.read(columns, view: &view) }
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

        /// Fills `next` with round `round`'s blocks (round 0 goes straight to
        /// `current`), the blocks split between two threads: decoding the
        /// streams (word-coded text above all) is the column path's largest
        /// cost after the pages' zstd, and one thread left the writer waiting.
        func load(round: Int) {
            let start = round * Exporter.parquetRound
            let n = min(Exporter.parquetRound, jobs.count - start)
            guard n > 0 else { return }
            let threads = min(Self.threads, n)
            let jobs = self.jobs, columnsAllowed = self.columnsAllowed
            func fill(_ slots: inout [LoadedBlock]) {
                slots.withUnsafeMutableBufferPointer { buffer in
                    let slots = buffer
                    // Thread w loads slots w, w + threads, …: each slot is written by one thread; jobs are read-only.
                    parallelFor(threads) { w in
                        for k in stride(from: w, to: n, by: threads) { slots[k].load(jobs[start + k], columnsAllowed: columnsAllowed) }
                    }
                }
            }
            if round == 0 { fill(&current) } else { fill(&next) }
        }

        static let threads = min(2, ProcessorCount.available)

        func advance() { swap(&current, &next) }
    }
}

/// The examples of one columnar block as columns: what `Cursor.next` reads
/// for each (numbers, and where each string lies in its decompressed stream:
/// labels for domain, source and tags, texts for the content, metadata),
/// with the folded annotations that follow an example. Filled by the
/// read-ahead thread; reused from block to block.
struct ColumnRows {
    /// A string's place in its stream.
    struct Span {
        var at: UInt32 = 0
        var count: UInt32 = 0

        @inline(__always) func bytes(_ base: UnsafeRawPointer?) -> UnsafeRawBufferPointer {
            count == 0 ? EntryView.emptyBytes : UnsafeRawBufferPointer(start: base! + Int(at), count: Int(count))
        }
    }

    /// Where the labels, texts and metadata streams start (`Columns.withStreamBases`).
    struct Bases {
        let labels, texts, metadata: UnsafeRawPointer?
    }

    private(set) var count = 0
    private(set) var shapes: [Shape] = []
    /// The entry's flags (`RecordCodec.flagQuality`, `flagSource`, `flagIDKey`).
    private(set) var flags: [UInt8] = []
    private(set) var timestamps: [Int64] = []
    private(set) var qualities: [Double] = []
    private(set) var ids: [ExampleID] = []
    private(set) var idKeys: [ExampleID] = []
    private(set) var domains: [Span] = []
    private(set) var sources: [Span] = []
    /// Row i's tags are `tags[tagEnds[i - 1]..<tagEnds[i]]`.
    private(set) var tagEnds: [Int32] = []
    private(set) var tags: [Span] = []
    /// instruction / prompt, input / response, output.
    private(set) var first: [Span] = []
    private(set) var second: [Span] = []
    private(set) var third: [Span] = []
    /// Row i's messages are `messageEnds[i - 1]..<messageEnds[i]` of `roles` and `contents`.
    private(set) var messageEnds: [Int32] = []
    private(set) var roles: [Role] = []
    private(set) var contents: [Span] = []
    private(set) var metadata: [Span] = []
    /// Index into `folded` of row i's folded annotations, -1 for none.
    private(set) var foldedAt: [Int32] = []
    private(set) var folded: [[Annotation]] = []
    /// The error that stopped the reading, after `count` rows.
    private(set) var error: Error?

    @inline(__always) func tagRange(_ i: Int) -> Range<Int> { (i == 0 ? 0 : Int(tagEnds[i - 1]))..<Int(tagEnds[i]) }
    @inline(__always) func messageRange(_ i: Int) -> Range<Int> { (i == 0 ? 0 : Int(messageEnds[i - 1]))..<Int(messageEnds[i]) }
    func quality(_ i: Int) -> Double? { flags[i] & RecordCodec.flagQuality != 0 ? qualities[i] : nil }

    private mutating func reset() {
        count = 0
        error = nil
        shapes.removeAll(keepingCapacity: true)
        flags.removeAll(keepingCapacity: true)
        timestamps.removeAll(keepingCapacity: true)
        qualities.removeAll(keepingCapacity: true)
        ids.removeAll(keepingCapacity: true)
        idKeys.removeAll(keepingCapacity: true)
        domains.removeAll(keepingCapacity: true)
        sources.removeAll(keepingCapacity: true)
        tagEnds.removeAll(keepingCapacity: true)
        tags.removeAll(keepingCapacity: true)
        first.removeAll(keepingCapacity: true)
        second.removeAll(keepingCapacity: true)
        third.removeAll(keepingCapacity: true)
        messageEnds.removeAll(keepingCapacity: true)
        roles.removeAll(keepingCapacity: true)
        contents.removeAll(keepingCapacity: true)
        metadata.removeAll(keepingCapacity: true)
        foldedAt.removeAll(keepingCapacity: true)
        folded.removeAll(keepingCapacity: true)
    }

    /// Reads the block's entries as the row path visits them: every example,
    /// with the folded annotations entry that follows it (checked to name
    /// it); other entries are skipped. Damage stops the reading and is kept
    /// in `error` (the rows before it stay).
    mutating func read(_ columns: ColumnarBlock.Columns, view: inout EntryView) {
        reset()
        do {
            try columns.withCursor { cursor in
                while let (kind, _) = try cursor.next(into: &view) {
                    guard kind == EntryKind.example.rawValue else { continue }
                    var annotations: [Annotation]?
                    if cursor.peekKind() == EntryKind.foldedAnnotations.rawValue, var (_, r) = try cursor.next(into: &view) {
                        let (target, anns) = try AnnotationCodec.decodeFolded(&r)
                        guard target == view.id else { throw r.corruption("folded annotations of \(target) do not follow their example") }
                        annotations = anns
                    }
                    append(view, annotations, cursor)
                }
            }
        } catch {
            self.error = error
        }
    }

    private mutating func append(_ v: EntryView, _ annotations: [Annotation]?, _ cursor: ColumnarBlock.Cursor) {
        func span(_ b: UnsafeRawBufferPointer, _ k: ColumnarBlock.Stream) -> Span {
            Span(at: UInt32(truncatingIfNeeded: cursor.position(of: b, in: k)), count: UInt32(truncatingIfNeeded: b.count))
        }
        count += 1
        shapes.append(v.shape)
        var f: UInt8 = 0
        if v.quality != nil { f |= RecordCodec.flagQuality }
        if v.source != nil { f |= RecordCodec.flagSource }
        if v.idKey != nil { f |= RecordCodec.flagIDKey }
        flags.append(f)
        timestamps.append(v.timestampMillis)
        qualities.append(v.quality ?? 0)
        ids.append(v.id)
        idKeys.append(v.idKey ?? ExampleID(high: 0, low: 0))
        domains.append(span(v.domain, .labels))
        sources.append(v.source.map { span($0, .labels) } ?? Span())
        for t in v.tags { tags.append(span(t, .labels)) }
        tagEnds.append(Int32(tags.count))
        first.append(span(v.first, .texts))
        second.append(span(v.second, .texts))
        third.append(span(v.third, .texts))
        for m in v.messages {
            roles.append(m.role)
            contents.append(span(m.content, .texts))
        }
        messageEnds.append(Int32(roles.count))
        metadata.append(span(v.metadata, .metadata))
        if let annotations {
            foldedAt.append(Int32(folded.count))
            folded.append(annotations)
        } else {
            foldedAt.append(-1)
        }
    }

    /// Row i as the `EntryView` the row path selects on.
    func view(_ i: Int, _ b: Bases, into v: inout EntryView) {
        v.shape = shapes[i]
        v.id = ids[i]
        v.timestampMillis = timestamps[i]
        v.quality = quality(i)
        v.idKey = flags[i] & RecordCodec.flagIDKey != 0 ? idKeys[i] : nil
        v.domain = domains[i].bytes(b.labels)
        v.source = flags[i] & RecordCodec.flagSource != 0 ? sources[i].bytes(b.labels) : nil
        v.tags.removeAll(keepingCapacity: true)
        for t in tagRange(i) { v.tags.append(tags[t].bytes(b.labels)) }
        v.first = first[i].bytes(b.texts)
        v.second = second[i].bytes(b.texts)
        v.third = third[i].bytes(b.texts)
        v.messages.removeAll(keepingCapacity: true)
        for m in messageRange(i) { v.messages.append((roles[m], contents[m].bytes(b.texts))) }
        v.metadata = metadata[i].bytes(b.metadata)
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
