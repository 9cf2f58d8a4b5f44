import Foundation
import Testing
@testable import Strata

/// A read-only snapshot whose index file lags the store (the writer did not
/// rewrite it at close: few keys missing) answers `get` without looking every
/// uncovered id up in the paged table, and still gives the same answers.
@Suite struct DeferredCatchUpTests {
    /// A store of `bulk` examples with an index file covering them, then
    /// `tail` more appended in a second session whose close leaves the index
    /// file as it was (fewer than a quarter of the keys missing, SPEC.md §5.4).
    private func laggingStore(bulk: Int, tail: Int) throws -> (path: String, old: [Example], new: [Example]) {
        let path = temporaryStorePath()
        let old = makeExamples(bulk, seed: 1, domains: ["a", "b", "c"])
        let new = makeExamples(tail, seed: 2, domains: ["late"])
        var store = try Store.open(at: path)
        _ = try store.append(contentsOf: old)
        try store.close()
        let indexFile = path + "/" + Format.indexDirectoryName + "/" + Format.indexFileName
        let before = try Data(contentsOf: URL(fileURLWithPath: indexFile))
        store = try Store.open(at: path)
        _ = try store.append(contentsOf: new)
        try store.close()
        let after = try Data(contentsOf: URL(fileURLWithPath: indexFile))
        #expect(before == after, "the second close rewrote the index file: the snapshot would not lag")
        return (path, old, new)
    }

    @Test func getOnALaggingIndexReadsAFewPagesNotOnePerUncoveredId() throws {
        let (path, old, new) = try laggingStore(bulk: 30_000, tail: 3_000)
        let indexFile = path + "/" + Format.indexDirectoryName + "/" + Format.indexFileName
        let pageBytes = Format.indexPageSlots * Format.indexSlotSize
        let indexSize = try FileManager.default.attributesOfItem(atPath: indexFile)[.size] as! Int
        #expect(indexSize > 64 * pageBytes, "index too small to tell page reads apart: \(indexSize) bytes")

        let fs = RecordingFileSystem()
        let reader = try StoreReader(path: path, fileSystem: fs)
        defer { reader.close() }
        #expect(try reader.get(new[1_234].id)?.id == new[1_234].id)
        #expect(try reader.get(old[777].id)?.id == old[777].id)
        // Header, coverage and the two ids' pages: not one page per uncovered id (3,000 here).
        let read = fs.bytesRead(indexFile)
        #expect(read <= 16 * pageBytes, "read \(read) bytes of the index (\(read / pageBytes) pages) for two gets")
    }

    @Test func deferredCatchUpGivesTheSameAnswersAndCount() throws {
        let (path, old, new) = try laggingStore(bulk: 6_000, tail: 1_500)
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        for e in new { #expect(try reader.get(e.id) == e) }
        for e in old.prefix(500) { #expect(try reader.get(e.id) == e) }
        #expect(try reader.get(ExampleID(high: 1, low: 2)) == nil)
        // Counting resolves the deferred ids; gets after it answer the same.
        #expect(reader.count == old.count + new.count)
        #expect(try reader.get(new[0].id) == new[0])
        #expect(try reader.get(old[0].id) == old[0])
    }
}
