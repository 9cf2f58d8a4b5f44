import Foundation

extension StoreReader {
    /// Threshold at which `scanJSONLines` hands its buffered text to `emit`.
    static let jsonLinesChunk = 1 << 20

    /// `strata scan`'s output for `filter`, written straight from the block
    /// bytes: each selected example, folded (SPEC.md §4.6), as one line of
    /// `ExampleJSONEncoder.appendRecordLine` plus a newline -- the bytes of
    /// `scan(filter) { $0.jsonString + "\n" }` -- in chunks of about
    /// `jsonLinesChunk` bytes given to `emit` (valid only during the call).
    /// No `Example` or `String` is built per row; every entry passes the checks
    /// a `get` makes (structure, UTF-8, id against content).
    ///
    /// A filter with a predicate (evaluated on an `Example`) or a reader in
    /// salvage mode (`skipDamaged`, whose skipping rules `scan` owns) is a
    /// usage error: use `scan`. Stops after `limit` rows; returns the rows written.
    public func scanJSONLines(_ filter: ScanFilter, limit: Int? = nil, emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        guard filter.predicate == nil && !skipDamaged else {
            throw StrataError(.usage, "scanJSONLines takes no predicate and no salvage-mode reader: use scan", path: path)
        }
        return try lock.withLock {
            try openPartitions(filter)
            if limit == 0 { return 0 }
            var jobs: [(file: SegmentFile, offset: Int64)] = []
            for p in catalog.sortedPartitions where filter.includes(p) {
                for seq in catalog.partitions[p] ?? [] {
                    try catalog.open(segment: seq)
                    guard let file = catalog.files[seq], let offsets = catalog.blockOffsets[seq] else { continue }
                    for offset in offsets { jobs.append((file, offset)) }
                }
            }
            let annotations = catalog.annotations
            // Two threads when no block needs the catalog (annotations outside the
            // blocks are read through it) and every row is printed (no limit).
            if annotations.isEmpty && limit == nil && Self.scanThreads > 1 && jobs.count > 1 {
                return try scanJSONLinesParallel(jobs, filter: filter, emit: emit)
            }
            var out = JSONOutput(capacity: Self.jsonLinesChunk + Self.jsonLinesChunk / 2)
            var state = BlockEncoder()
            var rows = 0
            for job in jobs {
                let (n, stopped) = try state.encode(job.file, job.offset, filter: filter, annotations: annotations, catalog: catalog,
                                                    rowsLeft: limit.map { $0 - rows }, into: &out)
                rows += n
                if stopped { break }
                if out.count >= Self.jsonLinesChunk {
                    try emit(out.bytes)
                    out.removeAll()
                }
            }
            if !out.isEmpty { try emit(out.bytes) }
            return rows
        }
    }

    /// Threads of a scan's block encoding (both cores of a two-core machine).
    static let scanThreads = min(2, ProcessorCount.available)
    /// Blocks encoded per round; a round's text is emitted in block order before the next starts.
    static let scanBlocksPerRound = 16

    /// `scanJSONLines` with blocks read, checked and encoded on `scanThreads`
    /// threads, a round at a time, and emitted in block order: the same bytes.
    /// REQUIRES: no annotation entries outside the blocks, no limit.
    private func scanJSONLinesParallel(_ jobs: [(file: SegmentFile, offset: Int64)], filter: ScanFilter,
                                       emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let threads = Self.scanThreads
        let round = Self.scanBlocksPerRound
        let texts = (0..<round).map { _ in JSONOutputBox() }
        var rowCounts = [Int](repeating: 0, count: round)
        var errors = [Error?](repeating: nil, count: round)
        var encoders = [BlockEncoder](repeating: BlockEncoder(), count: threads)
        let catalog = self.catalog
        var rows = 0
        var start = 0
        while start < jobs.count {
            let n = min(round, jobs.count - start)
            do {
                rowCounts.withUnsafeMutableBufferPointer { rowCounts in
                    errors.withUnsafeMutableBufferPointer { errors in
                        encoders.withUnsafeMutableBufferPointer { encoders in
                            // Worker w: encoders[w] and every threads-th slot of texts / rowCounts / errors; jobs and catalog read-only.
                            parallelFor(min(threads, n)) { w in
                                for k in stride(from: w, to: n, by: threads) {
                                    let text = texts[k]
                                    text.out.removeAll()
                                    errors[k] = nil
                                    do {
                                        let job = jobs[start + k]
                                        rowCounts[k] = try encoders[w].encode(job.file, job.offset, filter: filter, annotations: AnnotationMap(),
                                                                              catalog: catalog, rowsLeft: nil, into: &text.out).rows
                                    } catch {
                                        errors[k] = error
                                    }
                                }
                            }
                        }
                    }
                }
            }
            for k in 0..<n {
                if let e = errors[k] { throw e }
                rows += rowCounts[k]
                if !texts[k].out.isEmpty { try emit(texts[k].out.bytes) }
            }
            start += n
        }
        return rows
    }
}

/// One reading thread's state for encoding scan lines block by block.
struct BlockEncoder {
    var view = EntryView()
    var block: [UInt8] = []
    var scratch: [UInt8] = []
    var side = ReadBuffers()

    /// Appends the scan lines of the block at `offset` of `file` to `out`:
    /// every example entry decoded and checked (structure, UTF-8, id), its
    /// annotations folded (the kind-4 entry after it, then `annotations`' kind-2
    /// entries, read through `catalog`), excluded ones left out unless
    /// `filter.includeExcluded`. Stops after `rowsLeft` rows (`stopped`).
    mutating func encode(_ file: SegmentFile, _ offset: Int64, filter: ScanFilter, annotations: AnnotationMap, catalog: SegmentCatalog,
                         rowsLeft: Int?, into out: inout JSONOutput) throws -> (rows: Int, stopped: Bool) {
        let h = try file.readBlock(at: offset, into: &block, scratch: &scratch)
        var count = 0
        var rows = 0
        var view = self.view, side = self.side
        defer { self.view = view; self.side = side }
        let stopped: Bool = try block.withUnsafeBytes { raw in
            var it = EntryIterator(raw, path: file.path, blockOffset: offset)
            while let (kind, body, _) = try it.next() {
                count += 1
                if kind == EntryKind.foldedAnnotations.rawValue {
                    // Only valid right after its example, where the peek below consumes it.
                    var r = body
                    let (target, _) = try AnnotationCodec.decodeFolded(&r)
                    throw r.corruption("folded annotations of \(target) do not follow their example")
                }
                guard kind == EntryKind.example.rawValue else { continue }
                var entry = body
                try view.decode(&entry)
                try view.verifyContent(entry)
                // Folded annotations of a compacted example follow it in its block (SPEC.md §4.5).
                var anns: [Annotation] = []
                var peek = it
                if let (k2, b2, _) = try peek.next(), k2 == EntryKind.foldedAnnotations.rawValue {
                    it = peek
                    count += 1
                    var r = b2
                    let (target, folded) = try AnnotationCodec.decodeFolded(&r)
                    guard target == view.id else { throw r.corruption("folded annotations of \(target) do not follow their example") }
                    anns = folded
                }
                if let locs = annotations[view.id] {
                    anns += try catalog.readAnnotations(at: locs, target: view.id, buffers: &side)
                }
                var correction: String?
                if !anns.isEmpty {
                    let a = FoldedAnnotations(folding: anns, shape: view.shape, hasAssistant: view.messages.contains { $0.role == .assistant })
                    if a.excluded && !filter.includeExcluded { continue }
                    correction = a.corrected
                }
                ExampleJSONEncoder.appendRecordLine(view, correction: correction, &out)
                out.append(0x0A)
                rows += 1
                if let rowsLeft, rows >= rowsLeft { return true }
            }
            return false
        }
        if !stopped && count != h.entryCount {
            throw StrataError(.corruption, "block declares \(h.entryCount) entries but holds \(count)", path: file.path, offset: offset)
        }
        return (rows, stopped)
    }
}
