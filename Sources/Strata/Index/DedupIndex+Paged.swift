/// The writer's paged index (SPEC.md §5.2, §7.3): opening a store for
/// writing does not load the whole table. Lookups read the index file's
/// pages (`PagedIdTable`), and what the writer adds goes to the small
/// in-memory `table`. The whole table is loaded (`materialize`) only when
/// the writer needs it: before writing a snapshot, before compaction moves
/// examples, or once enough lookups went through pages that loading it is
/// cheaper than reading more of them (a large ingest).
extension PagedIdTable {
    /// Checks every page against its checksum, reading the file in 1 MiB
    /// pieces and keeping none of it: the writer's open, which must not
    /// meet a damaged page in the middle of an append (a damaged file is
    /// rebuilt at open instead, SPEC.md §5.4). Time follows the file's size;
    /// memory does not.
    func verifyAllPages() throws {
        let h = header
        var sums: [UInt8] = []
        try file.readExactly(at: Int64(h.pageSumsStart), count: 8 * h.pageCount, into: &sums)
        var chunk: [UInt8] = []
        let pagesPerRead = max(1, (1 << 20) / (h.pageSlots * Format.indexSlotSize))
        var p = 0
        while p < h.pageCount {
            let last = min(h.pageCount, p + pagesPerRead)
            let first = h.slotsStart + Format.indexSlotSize * h.pageRange(p).lowerBound
            let end = h.slotsStart + Format.indexSlotSize * h.pageRange(last - 1).upperBound
            try file.readExactly(at: Int64(first), count: end - first, into: &chunk)
            try chunk.withUnsafeBytes { raw in
                try sums.withUnsafeBytes { s in
                    for q in p..<last {
                        let r = h.pageRange(q)
                        let from = Format.indexSlotSize * r.lowerBound - (first - h.slotsStart)
                        let page = UnsafeRawBufferPointer(rebasing: raw[from..<(from + Format.indexSlotSize * r.count)])
                        // Little-endian u64 (IndexFile.write); s holds 8 bytes per page.
                        let want = s.loadUnaligned(fromByteOffset: 8 * q, as: UInt64.self).littleEndian
                        guard XXH.hash64(page) == want else {
                            throw StrataError(.corruption, "index file: checksum mismatch in page \(q)", path: path,
                                              offset: Int64(h.slotsStart + Format.indexSlotSize * r.lowerBound))
                        }
                    }
                }
            }
            p = last
        }
    }
}

extension DedupIndex {
    /// Paged lookups after which the writer loads the whole table.
    static let materializeAfterLookups = 1 << 16

    /// Loads the index file's whole table and merges what was added since
    /// the load into it; afterwards the index no longer reads the file.
    /// No-op when not paged.
    func materialize() throws {
        guard let p = paged else { return }
        let size = Int(try p.file.currentSize())
        var bytes: [UInt8] = []
        try p.file.readExactly(at: 0, count: size, into: &bytes)
        let snap = try IndexFile.decode(bytes, path: p.path)
        guard snap.descriptorHash == p.header.descriptorHash else {
            throw StrataError(.corruption, "index file changed under the writer", path: p.path)
        }
        var whole = snap.table
        table.forEach { fp, loc in whole.insert(fingerprint: fp, packed: loc) }
        table = whole
        paged = nil
        pagedLookups = 0
    }

    /// Loads the whole table once paged lookups got frequent (a large ingest).
    func materializeIfBusy() throws {
        if paged != nil, pagedLookups >= DedupIndex.materializeAfterLookups { try materialize() }
    }

    /// Whether the writer should rewrite the index file now: always when the
    /// table is in memory and changed (as before); when paged, only once the
    /// entries the file lacks are many (`due`) — the next open catches up the
    /// few from their segments' footers instead of the writer rewriting (and
    /// first loading) the whole table for them.
    func snapshotWanted(due: Bool) -> Bool {
        changedSinceSnapshot > 0 && (paged == nil || due)
    }

    /// Segments the next open would catch up from (their blocks beyond what
    /// the index file covers). Segments the catalog has not opened are
    /// covered: the load caught up (and so opened) every one that was not.
    func segmentsBehindFile(_ segments: [UInt64], catalog: SegmentCatalog) -> Int {
        guard let cov = fileCoverage else { return segments.count }
        return segments.filter { !catalog.isUnopened($0) && (catalog.blockOffsets[$0]?.count ?? 0) > cov[$0] ?? 0 }.count
    }

    /// Segments behind the file after which the writer rewrites it even for
    /// few new keys: bounds the footers each open reads to catch up.
    static let maxSegmentsBehindFile = 16
}
