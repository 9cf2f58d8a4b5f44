import Foundation
import Testing
@testable import Strata
import StrataTestSupport

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
        #expect(try reader.count == old.count + new.count)
        #expect(try reader.get(new[0].id) == new[0])
        #expect(try reader.get(old[0].id) == old[0])
    }
    /// A reader opened for some partitions whose index file lags in another
    /// partition cannot count the store: a usage error, never a trap or a
    /// number that is not the store's. A whole-store reader counts it.
    @Test func countOnAScopedReaderWhoseIndexLagsOutsideItsScopeIsAUsageError() throws {
        let (path, old, new) = try laggingStore(bulk: 3_000, tail: 500)
        let scoped = try StoreReader(path: path, partitions: { $0.domain == "a" })
        defer { scoped.close() }
        do {
            let n = try scoped.count
            Issue.record("answered \(n)")
        } catch let e as StrataError {
            #expect(e.code == .usage, "\(e)")
        }
        let whole = try StoreReader(path: path)
        defer { whole.close() }
        #expect(try whole.count == old.count + new.count)
    }

    /// The same, with the lag inside the scope: the count is the store's.
    @Test func countOnAScopedReaderWhoseIndexLagsInsideItsScopeIsExact() throws {
        let (path, old, new) = try laggingStore(bulk: 3_000, tail: 500)
        let scoped = try StoreReader(path: path, partitions: { $0.domain == "late" })
        defer { scoped.close() }
        #expect(try scoped.count == old.count + new.count)
        #expect(try scoped.get(new[7].id) == new[7])
    }

    /// A count that fails halfway through checking the caught-up ids (an
    /// index page read fails) loses none of them: it throws, gets still find
    /// every example, and a later count is exact.
    @Test func aCountThatFailsMidwayLosesNoCaughtUpId() throws {
        let (path, old, new) = try laggingStore(bulk: 6_000, tail: 1_500)
        let fs = FaultFileSystem()
        let reader = try StoreReader(path: path, fileSystem: fs)
        defer { reader.close() }
        #expect(try reader.get(new[0].id) == new[0])  // loads the index, defers the caught-up ids
        fs.arm([.init(.read, nth: 0, action: .fail(.io), label: "index read") { $0.hasSuffix("/" + Format.indexFileName) }])
        #expect(throws: StrataError.self) { _ = try reader.count }
        #expect(!fs.fired.isEmpty)
        fs.arm([])
        for e in new { #expect(try reader.get(e.id) == e) }
        #expect(try reader.count == old.count + new.count)
    }
}
