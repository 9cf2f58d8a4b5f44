/// One entry of a decompressed block, as `BlockCursor` yields it.
struct BlockEntry {
    let kind: UInt8
    /// A reader over exactly the entry's body (after length and kind).
    let body: ByteReader
    /// Index of the entry in its block.
    let index: Int
    /// Byte range of the whole entry (length, kind, body) in the block.
    let range: Range<Int>
}

/// The one loop over a decompressed block's entries (SPEC.md §3.1, §4):
/// every entry is bounds-checked by `EntryIterator`, and the block must hold
/// exactly the entry count its frame declares. Recovery, reads, compaction's
/// inputs, verify, dump, inspect, statistics and index rebuild all walk
/// blocks through it.
enum BlockCursor {
    /// Visits the entries in order; `body` returns false to stop early (the
    /// count is then not checked). Returns false when stopped. `declaredCount`
    /// nil skips the count check (a block whose count is what this walk finds).
    @discardableResult
    static func forEach(_ bytes: UnsafeRawBufferPointer, path: String?, blockOffset: Int64, declaredCount: Int?,
                        _ body: (BlockEntry) throws -> Bool) throws -> Bool {
        var it = EntryIterator(bytes, path: path, blockOffset: blockOffset)
        var i = 0
        var start = it.reader.position
        while let (kind, entry, _) = try it.next() {
            if try !body(BlockEntry(kind: kind, body: entry, index: i, range: start..<it.reader.position)) { return false }
            start = it.reader.position
            i += 1
        }
        if let declaredCount, i != declaredCount {
            throw StrataError(.corruption, "block declares \(declaredCount) entries but holds \(i)", path: path, offset: blockOffset)
        }
        return true
    }
}

extension SegmentFile {
    /// Reads, verifies and decompresses the block at `offset` and visits its
    /// entries through `BlockCursor`, checked against the frame's entry count.
    @discardableResult
    func forEachEntry(inBlockAt offset: Int64, buffers: inout ReadBuffers, _ body: (BlockEntry) throws -> Bool) throws -> Bool {
        let h = try readBlock(at: offset, into: &buffers.block, scratch: &buffers.scratch)
        return try buffers.block.withUnsafeBytes {
            try BlockCursor.forEach($0, path: path, blockOffset: offset, declaredCount: h.entryCount, body)
        }
    }
}
