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
    /// REQUIRES: `filter.predicate == nil` (a predicate is evaluated on an
    /// `Example`: use `scan`) and not salvage mode (`skipDamaged`, whose
    /// skipping rules `scan` owns). Stops after `limit` rows; returns the rows written.
    public func scanJSONLines(_ filter: ScanFilter, limit: Int? = nil, emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        precondition(filter.predicate == nil && !skipDamaged, "scanJSONLines: use scan for predicates and salvage")
        return try lock.withLock {
            try openPartitions(filter)
            var rows = 0
            if limit == 0 { return 0 }
            var out: [UInt8] = []
            out.reserveCapacity(Self.jsonLinesChunk + Self.jsonLinesChunk / 2)
            var view = EntryView()
            // Locals: two inout accesses to `self.buffers` in one call would conflict.
            var block: [UInt8] = [], scratch: [UInt8] = []
            var side = ReadBuffers()
            let annotations = catalog.annotations
            func flush() throws {
                guard !out.isEmpty else { return }
                try out.withUnsafeBytes { try emit($0) }
                out.removeAll(keepingCapacity: true)
            }
            scanning: for p in catalog.sortedPartitions where filter.includes(p) {
                for seq in catalog.partitions[p] ?? [] {
                    try catalog.open(segment: seq)
                    guard let file = catalog.files[seq], let offsets = catalog.blockOffsets[seq] else { continue }
                    for offset in offsets {
                        let h = try file.readBlock(at: offset, into: &block, scratch: &scratch)
                        var count = 0
                        let more: Bool = try block.withUnsafeBytes { raw in
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
                                    let a = FoldedAnnotations(folding: anns, shape: view.shape,
                                                              hasAssistant: view.messages.contains { $0.role == .assistant })
                                    if a.excluded && !filter.includeExcluded { continue }
                                    correction = a.corrected
                                }
                                ExampleJSONEncoder.appendRecordLine(view, correction: correction, &out)
                                out.append(0x0A)
                                rows += 1
                                if let limit, rows >= limit { return false }
                                if out.count >= Self.jsonLinesChunk { try flush() }
                            }
                            return true
                        }
                        if !more { break scanning }
                        guard count == h.entryCount else {
                            throw StrataError(.corruption, "block declares \(h.entryCount) entries but holds \(count)", path: file.path, offset: offset)
                        }
                    }
                }
            }
            try flush()
            return rows
        }
    }
}
