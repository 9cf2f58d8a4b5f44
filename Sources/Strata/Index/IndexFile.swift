/// The dedup index snapshot file `index/ids.idx` (SPEC.md §5.2).
///
///     header (64 bytes)
///       0  8  magic "STRIDX01"
///       8  2  u16 format version
///      10  2  u16 slot size (16)
///      12  4  u32 reserved, 0
///      16  8  u64 dedup key descriptor hash
///      24  8  u64 capacity (home slots); physical slots = capacity + slack(capacity)
///      32  8  u64 count (occupied slots)
///      40  8  u64 coverage entry count
///      48  8  u64 overflow entry count
///      56  8  u64 XXH3-64 of bytes [0, 56)
///     coverage  := { sequence:u64 blocks:u64 }*          ascending sequence
///     slots     := { fingerprint:u64 packedLocation:u64 }* physical slots
///     overflow  := { key:16 segment:u64 block:u32 entry:u32 }*
///     checksum  := u64 XXH3-64 of every byte from 64 up to here
struct IndexSnapshot {
    var descriptorHash: UInt64
    /// Segment sequence → blocks of it whose entries the table holds.
    var coverage: [(sequence: UInt64, blocks: UInt64)]
    var table: IdTable
    var overflow: [(key: ExampleID, location: Location)]
}

enum IndexFile {
    /// Writes the snapshot atomically: tmp file, fsync, rename, directory fsync.
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
            h.u16(Format.version)
            h.u16(UInt16(Format.indexSlotSize))
            h.u32(0)
            h.u64(descriptorHash)
            h.u64(UInt64(table.capacity))
            h.u64(UInt64(table.count))
            h.u64(UInt64(coverage.count))
            h.u64(UInt64(overflow.count))
            h.u64(XXH.hash64(h.bytes))
            try f.write(h.bytes)
            let sum = XXH64Stream()
            var w = ByteWriter(capacity: 16 * coverage.count + 32 * overflow.count)
            for c in coverage { w.u64(c.sequence); w.u64(c.blocks) }
            sum.update(w.bytes)
            try f.write(w.bytes)
            // Slots are written as stored: u64 words are little-endian on every platform Strata builds for.
            try table.words.withUnsafeBytes { raw in
                #if _endian(big)
                #error("IndexFile assumes a little-endian host")
                #endif
                sum.update(raw)
                try f.write(raw)
            }
            w.bytes.removeAll(keepingCapacity: true)
            for (k, l) in overflow.sorted(by: { $0.key < $1.key }) {
                k.write(to: &w)
                w.u64(l.segment); w.u32(l.blockIndex); w.u32(l.entryIndex)
            }
            sum.update(w.bytes)
            w.u64(sum.digest)
            try f.write(w.bytes)
        }
    }

    /// Decodes and checks a snapshot. Throws `.corruption` (with file and
    /// offset) on any bad magic, checksum, size or table invariant.
    static func decode(_ bytes: [UInt8], path: String) throws -> IndexSnapshot {
        try bytes.withUnsafeBytes { raw in
            func bad(_ m: String, _ off: Int) -> StrataError { StrataError(.corruption, "index file: " + m, path: path, offset: Int64(off)) }
            guard raw.count >= Format.indexHeaderSize + 8, raw.prefix(8).elementsEqual(Format.indexMagic) else {
                throw bad("bad magic or shorter than \(Format.indexHeaderSize + 8) bytes", 0)
            }
            var r = ByteReader(raw, path: path)
            try r.skip(8)
            let version = try r.u16()
            guard version >= Format.oldestReadableVersion, version <= Format.version else {
                throw StrataError(.unsupportedVersion, "index file format version \(version) is not supported by this build", path: path, offset: 8)
            }
            guard try r.u16() == UInt16(Format.indexSlotSize) else { throw bad("slot size is not \(Format.indexSlotSize)", 10) }
            _ = try r.u32()
            let descriptor = try r.u64()
            let capacity = try r.u64(), count = try r.u64(), coverageCount = try r.u64(), overflowCount = try r.u64()
            let headerSum = try r.u64()
            guard XXH.hash64(UnsafeRawBufferPointer(rebasing: raw[0..<56])) == headerSum else { throw bad("header checksum mismatch", 56) }
            // Bound every count by the file size before multiplying, so no arithmetic can overflow.
            let limit = UInt64(raw.count)
            guard capacity >= 1, capacity <= limit, count <= capacity, coverageCount <= limit, overflowCount <= limit else {
                throw bad("header counts exceed the file size", 24)
            }
            let cap = Int(capacity)
            let physical = cap + IdTable.slack(for: cap)
            let expected = Format.indexHeaderSize + 16 * Int(coverageCount) + Format.indexSlotSize * physical + 32 * Int(overflowCount) + 8
            guard expected == raw.count else { throw bad("file is \(raw.count) bytes, header implies \(expected)", 24) }
            let body = UnsafeRawBufferPointer(rebasing: raw[Format.indexHeaderSize..<(raw.count - 8)])
            var tail = ByteReader(UnsafeRawBufferPointer(rebasing: raw[(raw.count - 8)...]), path: path, baseOffset: Int64(raw.count - 8))
            guard XXH.hash64(body) == (try tail.u64()) else { throw bad("body checksum mismatch", raw.count - 8) }

            var coverage: [(sequence: UInt64, blocks: UInt64)] = []
            coverage.reserveCapacity(Int(coverageCount))
            for i in 0..<Int(coverageCount) {
                let seq = try r.u64(), blocks = try r.u64()
                if let last = coverage.last, last.sequence >= seq { throw bad("coverage not in ascending sequence order", 64 + 16 * i) }
                coverage.append((seq, blocks))
            }
            let slotsStart = r.position
            var words = IdTable.zeroedWords(2 * physical)
            words.withUnsafeMutableBytes { dst in
                // Sizes checked above: the slot region is exactly dst.count bytes; copyMemory tolerates unaligned sources.
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[slotsStart..<(slotsStart + dst.count)]))
            }
            try r.skip(Format.indexSlotSize * physical)
            // Invariants lookups rely on: fingerprints ascending, none before its home slot, count matches.
            var occupied = 0
            var previous: UInt64 = 0
            for i in 0..<physical where words[2 * i] != 0 {
                let fp = words[2 * i]
                guard fp >= previous, IdTable.home(fp, capacity: cap) <= i else {
                    throw bad("table slot \(i) breaks the fingerprint order", slotsStart + 16 * i)
                }
                previous = fp
                occupied += 1
            }
            guard occupied == Int(count) else { throw bad("header says \(count) entries, table holds \(occupied)", 32) }
            var overflow: [(key: ExampleID, location: Location)] = []
            for _ in 0..<Int(overflowCount) {
                let k = try ExampleID.read(from: &r)
                overflow.append((k, Location(segment: try r.u64(), blockIndex: try r.u32(), entryIndex: try r.u32())))
            }
            return IndexSnapshot(descriptorHash: descriptor, coverage: coverage,
                                 table: IdTable(capacity: cap, words: words, count: occupied), overflow: overflow)
        }
    }
}
