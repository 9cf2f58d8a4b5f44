/// The one loop over a decompressed block's entries (SPEC.md §3.1, §4):
/// every entry is bounds-checked by `EntryIterator`, and the block must hold
/// exactly the entry count its frame declares. Recovery, reads, exports,
/// compaction, verify, dump and index rebuild all walk blocks through it.
enum BlockCursor {
    /// Visits the entries in order as (kind, body, index in block); `body`
    /// returns false to stop early (the count is then not checked). Returns
    /// false when stopped. `declaredCount` nil skips the count check (a
    /// block being built, whose count is what this walk finds).
    @discardableResult
    static func forEach(_ bytes: UnsafeRawBufferPointer, path: String?, blockOffset: Int64, declaredCount: Int?,
                        _ body: (_ kind: UInt8, _ entry: ByteReader, _ index: Int) throws -> Bool) throws -> Bool {
        var it = EntryIterator(bytes, path: path, blockOffset: blockOffset)
        var i = 0
        while let (kind, entry, _) = try it.next() {
            if try !body(kind, entry, i) { return false }
            i += 1
        }
        if let declaredCount, i != declaredCount {
            throw StrataError(.corruption, "block declares \(declaredCount) entries but holds \(i)", path: path, offset: blockOffset)
        }
        return true
    }
}
