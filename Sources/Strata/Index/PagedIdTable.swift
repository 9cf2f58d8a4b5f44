/// A version 2 index file (SPEC.md §5.2) used where it lies: a read-only
/// snapshot looks ids up without loading the table. Opening reads the header,
/// coverage and overflow (checked against their checksums); a lookup reads the
/// page of slots its key's home falls in (and the next ones while the run of
/// candidates continues), each checked against its page checksum before any
/// slot of it is used. Memory and bytes read follow the lookups made, not the
/// store's size.
///
/// A damaged page is reported as `.corruption` with the file and the page's
/// offset; no slot of it is ever used. A slot is still only a candidate: the
/// caller confirms it against the record, as with the in-memory table.
final class PagedIdTable {
    let file: ReadableFile
    let path: String
    let header: IndexHeader
    let coverage: [(sequence: UInt64, blocks: UInt64)]
    let overflow: [(key: ExampleID, location: Location)]
    /// Checked pages, as slot words, by page number.
    private var pages: [Int: [UInt64]] = [:]
    private var buffer: [UInt8] = []
    /// Pages kept for repeated lookups (a batch of gets): 64 × 4 KiB.
    static let cachedPages = 64

    var count: Int { header.count }

    deinit { file.close() }

    private init(file: ReadableFile, path: String, header: IndexHeader,
                 coverage: [(sequence: UInt64, blocks: UInt64)], overflow: [(key: ExampleID, location: Location)]) {
        self.file = file
        self.path = path
        self.header = header
        self.coverage = coverage
        self.overflow = overflow
    }

    /// Opens the index file in `file` for paged lookups; nil for a version 1
    /// file (one checksum over the whole body: it must be loaded whole).
    static func open(_ file: ReadableFile, path: String) throws -> PagedIdTable? {
        let size = try file.currentSize()
        guard size <= Int64(Int.max / 2) else { throw IndexHeader.bad("file too large", 0, path) }
        var head: [UInt8] = []
        try file.read(at: 0, count: Format.indexHeaderSize, into: &head)
        let h = try head.withUnsafeBytes { try IndexHeader.decode($0, fileSize: Int(size), path: path) }
        guard h.version >= 2 else { return nil }
        // The header bounded the counts by the file size: this prefix is within the file.
        var meta: [UInt8] = []
        try file.readExactly(at: 0, count: h.pageSumsStart, into: &meta)
        return try meta.withUnsafeBytes { raw in
            try IndexFile.checkMetaSum(raw, h, path: path)
            var r = ByteReader(raw, path: path)
            try r.skip(Format.indexHeaderSize)
            let coverage = try h.readCoverage(&r, path: path)
            let overflow = try h.readOverflow(&r)
            return PagedIdTable(file: file, path: path, header: h, coverage: coverage, overflow: overflow)
        }
    }

    /// Same contract as `IdTable.find`: calls `visit` with the packed location
    /// of every slot whose fingerprint equals the key's until it returns true.
    func find(_ key: ExampleID, _ visit: (UInt64) throws -> Bool) throws -> UInt64? {
        let fp = IdTable.fingerprint(key)
        var i = IdTable.home(fp, capacity: header.capacity)
        var previous: UInt64 = 0
        while i < header.physical {
            let p = i / header.pageSlots
            let words = try page(p)
            let base = p * header.pageSlots
            while i < base + words.count / 2 {
                let f = words[2 * (i - base)]
                if f == 0 || f > fp { return nil }
                // The run must keep §5.1's order; a checked page that breaks it was written wrong.
                guard f >= previous, IdTable.home(f, capacity: header.capacity) <= i else {
                    throw IndexHeader.bad("table slot \(i) breaks the fingerprint order", header.slotsStart + Format.indexSlotSize * i, path)
                }
                previous = f
                let loc = words[2 * (i - base) + 1]
                if f == fp, try visit(loc) { return loc }
                i += 1
            }
        }
        return nil
    }

    /// Page `p`'s slot words, read and checked against its checksum.
    private func page(_ p: Int) throws -> [UInt64] {
        if let words = pages[p] { return words }
        let slots = header.pageRange(p)
        let offset = header.slotsStart + Format.indexSlotSize * slots.lowerBound
        try file.readExactly(at: Int64(header.pageSumsStart + 8 * p), count: 8, into: &buffer)
        let sum = try buffer.withUnsafeBytes { raw -> UInt64 in
            var r = ByteReader(raw, path: path)
            return try r.u64()
        }
        try file.readExactly(at: Int64(offset), count: Format.indexSlotSize * slots.count, into: &buffer)
        guard XXH.hash64(buffer) == sum else {
            throw StrataError(.corruption, "index file: checksum mismatch in page \(p) (slots \(slots.lowerBound)..<\(slots.upperBound)); "
                              + "run `strata index rebuild`", path: path, offset: Int64(offset))
        }
        var words = [UInt64](repeating: 0, count: 2 * slots.count)
        buffer.withUnsafeBytes { src in
            // src holds exactly the page's bytes (readExactly); u64 words are little-endian (IndexFile.write).
            words.withUnsafeMutableBytes { $0.copyMemory(from: src) }
        }
        if pages.count >= PagedIdTable.cachedPages { pages.removeAll(keepingCapacity: true) }
        pages[p] = words
        return words
    }
}
