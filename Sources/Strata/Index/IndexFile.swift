/// The dedup index snapshot file `index/ids.idx` (SPEC.md §5.2).
///
///     header (64 bytes)
///       0  8  magic "STRIDX01"
///       8  2  u16 format version (2; version 1 is still read)
///      10  2  u16 slot size (16)
///      12  4  u32 slots per page (256; version 1: reserved, 0)
///      16  8  u64 dedup key descriptor hash
///      24  8  u64 capacity (home slots); physical slots = capacity + slack(capacity)
///      32  8  u64 count (occupied slots)
///      40  8  u64 coverage entry count
///      48  8  u64 overflow entry count
///      56  8  u64 XXH3-64 of bytes [0, 56)
///     version 2:
///       coverage  := { sequence:u64 blocks:u64 }*          ascending sequence
///       overflow  := { key:16 segment:u64 block:u32 entry:u32 }*
///       metaSum   := u64 XXH3-64 of coverage and overflow
///       pageSums  := u64* XXH3-64 of each page of slots
///       slots     := { fingerprint:u64 packedLocation:u64 }* physical slots, in pages of 256
///     version 1:
///       coverage, slots, overflow, then u64 XXH3-64 of every byte from 64 up to it
///
/// Version 2 lets a read-only snapshot look ids up without loading the table
/// (`PagedIdTable`): it reads the header and coverage, then only the pages a
/// lookup touches, each checked against its own checksum.
struct IndexSnapshot {
    var descriptorHash: UInt64
    /// Segment sequence → blocks of it whose entries the table holds.
    var coverage: [(sequence: UInt64, blocks: UInt64)]
    var table: IdTable
    var overflow: [(key: ExampleID, location: Location)]
}

/// The index file's header, checked, with the offsets of what follows it.
struct IndexHeader {
    var version: UInt16
    var descriptorHash: UInt64
    var capacity: Int
    var count: Int
    var coverageCount: Int
    var overflowCount: Int
    /// Version 2 only.
    var pageSlots: Int

    var physical: Int { capacity + IdTable.slack(for: capacity) }
    var pageCount: Int { (physical + pageSlots - 1) / pageSlots }
    /// Version 2 offsets.
    var overflowStart: Int { Format.indexHeaderSize + 16 * coverageCount }
    var metaSumOffset: Int { overflowStart + 32 * overflowCount }
    var pageSumsStart: Int { metaSumOffset + 8 }
    var slotsStart: Int { pageSumsStart + 8 * pageCount }
    var fileSize: Int {
        version == 1
            ? Format.indexHeaderSize + 16 * coverageCount + Format.indexSlotSize * physical + 32 * overflowCount + 8
            : slotsStart + Format.indexSlotSize * physical
    }
    /// Slots `[lowerBound, upperBound)` of page `p`.
    func pageRange(_ p: Int) -> Range<Int> { (p * pageSlots)..<min(physical, (p + 1) * pageSlots) }

    static func bad(_ m: String, _ off: Int, _ path: String) -> StrataError {
        StrataError(.corruption, "index file: " + m, path: path, offset: Int64(off))
    }

    /// Decodes and checks the first 64 bytes of a file of `fileSize` bytes:
    /// magic, version, header checksum, and counts that fit the file size.
    static func decode(_ raw: UnsafeRawBufferPointer, fileSize: Int, path: String) throws -> IndexHeader {
        guard raw.count >= Format.indexHeaderSize, fileSize >= Format.indexHeaderSize + 8, raw.prefix(8).elementsEqual(Format.indexMagic) else {
            throw bad("bad magic or shorter than \(Format.indexHeaderSize + 8) bytes", 0, path)
        }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: raw[0..<Format.indexHeaderSize]), path: path)
        try r.skip(8)
        let version = try r.u16()
        guard version >= Format.oldestReadableVersion, version <= Format.indexVersion else {
            throw StrataError(.unsupportedVersion, "index file format version \(version) is not supported by this build", path: path, offset: 8)
        }
        guard try r.u16() == UInt16(Format.indexSlotSize) else { throw bad("slot size is not \(Format.indexSlotSize)", 10, path) }
        let pageSlots = try r.u32()
        let descriptor = try r.u64()
        let capacity = try r.u64(), count = try r.u64(), coverageCount = try r.u64(), overflowCount = try r.u64()
        let headerSum = try r.u64()
        guard XXH.hash64(UnsafeRawBufferPointer(rebasing: raw[0..<56])) == headerSum else { throw bad("header checksum mismatch", 56, path) }
        if version >= 2 {
            guard pageSlots == UInt32(Format.indexPageSlots) else { throw bad("slots per page is not \(Format.indexPageSlots)", 12, path) }
        }
        // Bound every count by the file size before multiplying, so no arithmetic can overflow.
        let limit = UInt64(fileSize)
        guard capacity >= 1, capacity <= limit, count <= capacity, coverageCount <= limit, overflowCount <= limit else {
            throw bad("header counts exceed the file size", 24, path)
        }
        let h = IndexHeader(version: version, descriptorHash: descriptor, capacity: Int(capacity), count: Int(count),
                            coverageCount: Int(coverageCount), overflowCount: Int(overflowCount), pageSlots: Format.indexPageSlots)
        guard h.fileSize == fileSize else { throw bad("file is \(fileSize) bytes, header implies \(h.fileSize)", 24, path) }
        return h
    }

    /// Coverage entries from `r` (at the coverage's first byte).
    func readCoverage(_ r: inout ByteReader, path: String) throws -> [(sequence: UInt64, blocks: UInt64)] {
        var coverage: [(sequence: UInt64, blocks: UInt64)] = []
        coverage.reserveCapacity(coverageCount)
        for i in 0..<coverageCount {
            let seq = try r.u64(), blocks = try r.u64()
            if let last = coverage.last, last.sequence >= seq {
                throw IndexHeader.bad("coverage not in ascending sequence order", Format.indexHeaderSize + 16 * i, path)
            }
            coverage.append((seq, blocks))
        }
        return coverage
    }

    /// Overflow entries from `r` (at the overflow's first byte).
    func readOverflow(_ r: inout ByteReader) throws -> [(key: ExampleID, location: Location)] {
        var overflow: [(key: ExampleID, location: Location)] = []
        for _ in 0..<overflowCount {
            let k = try ExampleID.read(from: &r)
            overflow.append((k, Location(segment: try r.u64(), blockIndex: try r.u32(), entryIndex: try r.u32())))
        }
        return overflow
    }
}

enum IndexFile {
    /// Writes the snapshot (version 2) atomically: tmp file, fsync, rename, directory fsync.
    static func write(_ table: IdTable, overflow: [ExampleID: Location], coverage: [(sequence: UInt64, blocks: UInt64)],
                      descriptorHash: UInt64, fs: FileSystem, storePath: String, fileMode: UInt32, directoryMode: UInt32) throws {
        let dir = storePath + "/" + Format.indexDirectoryName
        if !fs.isDirectory(dir) {
            try fs.createDirectory(dir, mode: directoryMode)
            try fs.syncDirectory(storePath)
        }
        let final = dir + "/" + Format.indexFileName
        try fs.replaceAtomically(final, mode: fileMode) { f in
            var h = ByteWriter(capacity: Format.indexHeaderSize)
            h.append(Format.indexMagic)
            h.u16(Format.indexVersion)
            h.u16(UInt16(Format.indexSlotSize))
            h.u32(UInt32(Format.indexPageSlots))
            h.u64(descriptorHash)
            h.u64(UInt64(table.capacity))
            h.u64(UInt64(table.count))
            h.u64(UInt64(coverage.count))
            h.u64(UInt64(overflow.count))
            h.u64(XXH.hash64(h.bytes))
            try f.write(h.bytes)
            var w = ByteWriter(capacity: 16 * coverage.count + 32 * overflow.count + 8)
            for c in coverage { w.u64(c.sequence); w.u64(c.blocks) }
            for (k, l) in overflow.sorted(by: { $0.key < $1.key }) {
                k.write(to: &w)
                w.u64(l.segment); w.u32(l.blockIndex); w.u32(l.entryIndex)
            }
            w.u64(XXH.hash64(w.bytes))
            try f.write(w.bytes)
            // Slots are written as stored: u64 words are little-endian on every platform Strata builds for.
            try table.words.withUnsafeBytes { raw in
                #if _endian(big)
                #error("IndexFile assumes a little-endian host")
                #endif
                let page = Format.indexPageSlots * Format.indexSlotSize
                var sums = ByteWriter(capacity: 8 * ((raw.count + page - 1) / page))
                var at = 0
                while at < raw.count {
                    sums.u64(XXH.hash64(UnsafeRawBufferPointer(rebasing: raw[at..<min(raw.count, at + page)])))
                    at += page
                }
                try f.write(sums.bytes)
                try f.write(raw)
            }
        }
    }

    /// Decodes and checks a whole snapshot (the writer's load, the verifier).
    /// Throws `.corruption` (with file and offset) on any bad magic, checksum,
    /// size or table invariant.
    static func decode(_ bytes: [UInt8], path: String) throws -> IndexSnapshot {
        try bytes.withUnsafeBytes { raw in
            let h = try IndexHeader.decode(raw, fileSize: raw.count, path: path)
            var r = ByteReader(raw, path: path)
            try r.skip(Format.indexHeaderSize)
            let coverage: [(sequence: UInt64, blocks: UInt64)], overflow: [(key: ExampleID, location: Location)]
            let slotsStart: Int
            if h.version == 1 {
                let body = UnsafeRawBufferPointer(rebasing: raw[Format.indexHeaderSize..<(raw.count - 8)])
                var tail = ByteReader(UnsafeRawBufferPointer(rebasing: raw[(raw.count - 8)...]), path: path, baseOffset: Int64(raw.count - 8))
                guard XXH.hash64(body) == (try tail.u64()) else { throw IndexHeader.bad("body checksum mismatch", raw.count - 8, path) }
                coverage = try h.readCoverage(&r, path: path)
                slotsStart = r.position
                try r.skip(Format.indexSlotSize * h.physical)
                overflow = try h.readOverflow(&r)
            } else {
                try checkMetaSum(raw, h, path: path)
                coverage = try h.readCoverage(&r, path: path)
                overflow = try h.readOverflow(&r)
                slotsStart = h.slotsStart
                for p in 0..<h.pageCount { try checkPage(p, raw, h, path: path) }
            }
            var words = IdTable.zeroedWords(2 * h.physical)
            words.withUnsafeMutableBytes { dst in
                // Sizes checked by the header: the slot region is exactly dst.count bytes; copyMemory tolerates unaligned sources.
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[slotsStart..<(slotsStart + dst.count)]))
            }
            // Invariants lookups rely on: fingerprints ascending, none before its home slot, count matches.
            var occupied = 0
            var previous: UInt64 = 0
            for i in 0..<h.physical where words[2 * i] != 0 {
                let fp = words[2 * i]
                guard fp >= previous, IdTable.home(fp, capacity: h.capacity) <= i else {
                    throw IndexHeader.bad("table slot \(i) breaks the fingerprint order", slotsStart + 16 * i, path)
                }
                previous = fp
                occupied += 1
            }
            guard occupied == h.count else { throw IndexHeader.bad("header says \(h.count) entries, table holds \(occupied)", 32, path) }
            return IndexSnapshot(descriptorHash: h.descriptorHash, coverage: coverage,
                                 table: IdTable(capacity: h.capacity, words: words, count: occupied), overflow: overflow)
        }
    }

    /// Version 2: the coverage and overflow against their checksum. `raw` holds at least the bytes up to the page sums.
    static func checkMetaSum(_ raw: UnsafeRawBufferPointer, _ h: IndexHeader, path: String) throws {
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: raw[h.metaSumOffset..<(h.metaSumOffset + 8)]), path: path,
                           baseOffset: Int64(h.metaSumOffset))
        guard XXH.hash64(UnsafeRawBufferPointer(rebasing: raw[Format.indexHeaderSize..<h.metaSumOffset])) == (try r.u64()) else {
            throw IndexHeader.bad("coverage and overflow checksum mismatch", h.metaSumOffset, path)
        }
    }

    /// Version 2: page `p` of a whole file in memory against its checksum.
    static func checkPage(_ p: Int, _ raw: UnsafeRawBufferPointer, _ h: IndexHeader, path: String) throws {
        let slots = h.pageRange(p)
        let start = h.slotsStart + Format.indexSlotSize * slots.lowerBound
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: raw[(h.pageSumsStart + 8 * p)..<(h.pageSumsStart + 8 * p + 8)]), path: path)
        guard XXH.hash64(UnsafeRawBufferPointer(rebasing: raw[start..<(start + Format.indexSlotSize * slots.count)])) == (try r.u64()) else {
            throw IndexHeader.bad("checksum mismatch in page \(p) (slots \(slots.lowerBound)..<\(slots.upperBound))", start, path)
        }
    }
}
