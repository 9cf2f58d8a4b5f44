/// A persistent index from a pipeline's own id (a metadata field such as
/// `metadata.train_id` or `metadata.source_key`) to example ids, so that
/// `strata get --by metadata.train_id=train_123` costs a few small reads
/// whatever the store's size (SPEC.md §5.5).
///
/// Like the dedup index it is derived data: it covers a recorded set of
/// segment blocks, anything the store holds beyond them (new blocks, segments
/// written by compaction) is scanned at lookup time and folded in at the
/// next `refresh`, and it can always be rebuilt from the segments. Hits are
/// confirmed against the example itself, so a fingerprint collision or a
/// stale slot never returns a wrong example.
public enum ExternalIdIndex {
    /// `metadata.KEY[.KEY…]` with keys of `[A-Za-z0-9_-]` (the path is also the file name).
    public static func validate(path: String) throws -> [[UInt8]] {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "metadata",
              parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII || $0 == "_" || $0 == "-" } }) else {
            throw StrataError(.usage, "external id '\(path)' must be metadata.KEY[.KEY…] with keys of letters, digits, '_' and '-' (e.g. metadata.train_id)", field: "--external-id")
        }
        return parts.dropFirst().map { Array($0.utf8) }
    }

    static func filePath(store: String, path: String) -> String {
        store + "/" + Format.indexDirectoryName + "/" + Format.externalIdFilePrefix + path + Format.externalIdFileSuffix
    }

    /// The external-id paths declared for the store (one index file each).
    public static func declared(store: String, fs: FileSystem = PosixFileSystem.shared) -> [String] {
        let dir = store + "/" + Format.indexDirectoryName
        let names = (try? fs.listDirectory(dir)) ?? []
        return names.filter { $0.hasPrefix(Format.externalIdFilePrefix) && $0.hasSuffix(Format.externalIdFileSuffix) }
            .map { String($0.dropFirst(Format.externalIdFilePrefix.count).dropLast(Format.externalIdFileSuffix.count)) }
            .sorted()
    }

    /// The text an external id value is keyed by: a string's UTF-8 bytes; a
    /// number's integer decimal (when integral and exact) or shortest JSON
    /// form; true/false. Other values (null, arrays, objects) are not ids.
    static func keyText(_ v: JSONScalar) -> [UInt8]? {
        switch v {
        case .string(let s): return s
        case .number(let d):
            if d == d.rounded(), abs(d) < 9_007_199_254_740_992 { return Array(String(Int64(d)).utf8) }
            var o: [UInt8] = []
            JSONWriter.appendDouble(d, to: &o)
            return o
        case .bool(let b): return Array((b ? "true" : "false").utf8)
        default: return nil
        }
    }

    static func fingerprint(_ key: [UInt8]) -> UInt64 {
        let h = XXH.hash64(key)
        return h == 0 ? 1 : h  // 0 marks an empty slot
    }

    // MARK: file

    /// Header + coverage of an index file, and where its slots start.
    struct Header {
        var path: String
        var slotCount: UInt64
        var entryCount: UInt64
        /// Segment sequence → number of its blocks (from the first) whose examples are in the table.
        var coverage: [UInt64: UInt32]
        var slotsOffset: Int64
    }

    static let headerSize = 40
    static let slotSize = 32

    static func encode(path: String, coverage: [UInt64: UInt32], slots: [(fp: UInt64, id: ExampleID)], slotCount: Int, entryCount: Int) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize + path.utf8.count + coverage.count * 12 + 8 + slotCount * slotSize)
        w.append(Format.externalIdMagic)
        w.u16(Format.externalIdVersion)
        w.u16(UInt16(path.utf8.count))
        w.u32(UInt32(coverage.count))
        w.u64(UInt64(slotCount))
        w.u64(UInt64(entryCount))
        w.u64(0)  // reserved
        w.append(Array(path.utf8))
        for (seq, blocks) in coverage.sorted(by: { $0.key < $1.key }) {
            w.u64(seq)
            w.u32(blocks)
        }
        w.u64(XXH.hash64(w.bytes))  // header checksum
        for (k, s) in slots.enumerated() {
            if s.fp == 0 {
                w.append(repeatElement(UInt8(0), count: slotSize))
                continue
            }
            let start = w.bytes.count
            w.u64(s.fp)
            w.u64(s.id.high)
            w.u64(s.id.low)
            w.u64(slotChecksum(w.bytes[start..<(start + 24)], index: k))
        }
        return w.bytes
    }

    static func slotChecksum<C: Collection>(_ bytes: C, index: Int) -> UInt64 where C.Element == UInt8 {
        var b = Array(bytes)
        withUnsafeBytes(of: UInt64(index).littleEndian) { b.append(contentsOf: $0) }
        return XXH.hash64(b)
    }

    static func readHeader(_ file: ReadableFile, filePath: String) throws -> Header {
        var buf: [UInt8] = []
        let size = try file.currentSize()
        guard size >= Int64(headerSize + 8) else { throw StrataError(.corruption, "external-id index is shorter than its header", path: filePath, offset: 0) }
        try file.readExactly(at: 0, count: headerSize, into: &buf)
        let fixed = buf
        var r0: (pathLen: Int, cov: Int, slots: UInt64, entries: UInt64) = (0, 0, 0, 0)
        try fixed.withUnsafeBytes { raw in
            var r = ByteReader(raw, path: filePath)
            guard Array(try r.slice(8, "magic")) == Format.externalIdMagic else { throw r.corruption("not an external-id index (bad magic)", at: 0) }
            let v = try r.u16("version")
            guard v == Format.externalIdVersion else {
                throw StrataError(.unsupportedVersion, "external-id index version \(v) (this build reads \(Format.externalIdVersion)); rebuild it with `strata init STORE --external-id PATH`", path: filePath)
            }
            r0.pathLen = Int(try r.u16("path length"))
            r0.cov = Int(try r.u32("coverage count"))
            r0.slots = try r.u64("slot count")
            r0.entries = try r.u64("entry count")
        }
        let varLen = r0.pathLen + r0.cov * 12
        guard Int64(headerSize + varLen + 8) <= size, r0.slots.nonzeroBitCount <= 1, r0.slots <= UInt64(Int32.max) else {
            throw StrataError(.corruption, "external-id index header declares sizes beyond the file", path: filePath, offset: 0)
        }
        var rest: [UInt8] = []
        try file.readExactly(at: Int64(headerSize), count: varLen + 8, into: &rest)
        let all = fixed + rest
        let sumAt = headerSize + varLen
        let stored = all[sumAt..<(sumAt + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard XXH.hash64(Array(all[0..<sumAt])) == stored else {
            throw StrataError(.corruption, "external-id index header checksum mismatch", path: filePath, offset: Int64(sumAt))
        }
        guard Int64(sumAt + 8) + Int64(r0.slots) * Int64(slotSize) == size else {
            throw StrataError(.corruption, "external-id index size does not match its slot count", path: filePath, offset: Int64(sumAt + 8))
        }
        var h = Header(path: String(decoding: all[headerSize..<(headerSize + r0.pathLen)], as: UTF8.self), slotCount: r0.slots,
                       entryCount: r0.entries, coverage: [:], slotsOffset: Int64(sumAt + 8))
        var k = headerSize + r0.pathLen
        for _ in 0..<r0.cov {
            let seq = all[k..<(k + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            let n = all[(k + 8)..<(k + 12)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            h.coverage[seq] = n
            k += 12
        }
        return h
    }

    /// Slot `k` read from the file: nil when empty. A damaged slot is corruption.
    static func readSlot(_ file: ReadableFile, _ h: Header, _ k: Int, filePath: String, buffer: inout [UInt8]) throws -> (fp: UInt64, id: ExampleID)? {
        let offset = h.slotsOffset + Int64(k) * Int64(slotSize)
        try file.readExactly(at: offset, count: slotSize, into: &buffer)
        if buffer.allSatisfy({ $0 == 0 }) { return nil }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(buffer[at + $1]) << (8 * UInt64($1)) } }
        guard slotChecksum(buffer[0..<24], index: k) == u64(24), u64(0) != 0 else {
            throw StrataError(.corruption, "external-id index slot \(k) is damaged (checksum mismatch); rebuild the index", path: filePath, offset: offset)
        }
        return (u64(0), ExampleID(high: u64(8), low: u64(16)))
    }
}
