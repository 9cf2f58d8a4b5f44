import Foundation
import Testing
@testable import Strata

/// A `StoreReader` opened for some partitions: it opens only their files,
/// answers about them as a whole-store reader does, and refuses with a usage
/// error whatever needs another partition (never a partial answer).
@Suite struct PartitionScopedReaderTests {
    static let january = PartitionKey(domain: "alpha", month: Month("2025-01")!)
    static let filter = ScanFilter(domains: ["alpha"], fromMonth: Month("2025-01"), toMonth: Month("2025-01"))

    /// Three domains × two months, several segments per partition, index written.
    static func makeStore() throws -> (path: String, examples: [Example]) {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.segmentTargetBytes = 16 << 10
        o.blockTargetBytes = 4 << 10
        let examples = makeExamples(1_200, domains: ["alpha", "beta", "gamma"], months: 2)
        // Three sessions: every partition gets a segment from each.
        for part in 0..<3 {
            let store = try Store.open(at: path, options: o)
            _ = try store.append(contentsOf: Array(examples[(part * 400)..<((part + 1) * 400)]))
            if part == 1 { try store.annotate(examples[0].id, .feedback(.positive, rating: 5)) }
            try store.close()
        }
        return (path, examples)
    }

    static func rows(_ r: StoreReader, _ f: ScanFilter) throws -> [Example] {
        var out: [Example] = []
        try r.scan(f) { out.append($0); return true }
        return out
    }

    static func jsonLines(_ r: StoreReader, _ f: ScanFilter) throws -> [UInt8] {
        var out: [UInt8] = []
        _ = try r.scanJSONLines(f) { out.append(contentsOf: $0) }
        return out
    }

    static func expectUsage(_ what: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("\(what): answered")
        } catch let e as StrataError {
            #expect(e.code == .usage, "\(what): \(e)")
        } catch {
            Issue.record("\(what): unexpected error \(error)")
        }
    }

    @Test func aReaderOpenedForOnePartitionOpensOnlyItsSegmentsAndScansItAsAWholeStoreReader() throws {
        let (path, examples) = try Self.makeStore()
        let whole = try StoreReader(path: path)
        defer { whole.close() }
        let fs = RecordingFileSystem()
        let scoped = try StoreReader(path: path, fileSystem: fs, partitions: { Self.filter.includes($0) })
        defer { scoped.close() }

        let inPartition = examples.filter { $0.domain == "alpha" && $0.month == Self.january.month }
        #expect(try Self.rows(scoped, Self.filter).map(\.id).sorted() == inPartition.map(\.id).sorted())
        #expect(try Self.rows(scoped, Self.filter) == Self.rows(whole, Self.filter))
        #expect(try Self.jsonLines(scoped, Self.filter) == Self.jsonLines(whole, Self.filter))
        #expect(scoped.partitions == whole.partitions)

        let touched = fs.segmentsTouched
        let manifest = try Manifest.decode(try PosixFileSystem.shared.readFile(path + "/MANIFEST"), path: path)
        #expect(manifest.segments.filter { $0.partition == Self.january }.count > 1, "the partition should span several segments")
        #expect(manifest.segments.count > touched.count)
        #expect(!touched.isEmpty)
        for t in touched { #expect(t.contains("/" + Self.january.path + "/"), "opened \(t), outside the partition") }
    }

    @Test func aScopedReaderRefusesWhatNeedsAnotherPartitionAndAnswersTheRest() throws {
        let (path, examples) = try Self.makeStore()
        let scoped = try StoreReader(path: path, partitions: { $0 == Self.january })
        defer { scoped.close() }
        let outside = try #require(examples.first { $0.domain == "beta" })
        let inside = try #require(examples.first { $0.domain == "alpha" && $0.month == Self.january.month })

        Self.expectUsage("scan of another partition") { _ = try Self.rows(scoped, ScanFilter(domains: ["beta"])) }
        Self.expectUsage("scan of the whole store") { _ = try Self.rows(scoped, .all) }
        Self.expectUsage("JSON lines of the whole store") { _ = try Self.jsonLines(scoped, .all) }
        Self.expectUsage("get of an example elsewhere") { _ = try scoped.get(outside.id) }
        Self.expectUsage("statistics") { _ = try StoreStatistics.compute(scoped) }
        Self.expectUsage("duplicate statistics") { _ = try scoped.duplicateStatistics() }

        // What it holds, it answers as a whole-store reader does (the index covers the store).
        #expect(try scoped.get(inside.id) == inside)
        #expect(PartitionKey(domain: examples[0].domain, month: examples[0].month) == Self.january)
        #expect(try scoped.getFolded(examples[0].id)?.annotations.count == 1)
    }

    /// scanJSONLines writes block bytes straight out: a predicate or salvage
    /// mode (which only `scan` applies) is refused with a usage error, not a trap.
    @Test func scanJSONLinesWithAPredicateOrInSalvageModeIsAUsageError() throws {
        let (path, _) = try Self.makeStore()
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        Self.expectUsage("predicate") {
            _ = try reader.scanJSONLines(ScanFilter(predicate: { _ in true })) { _ in }
        }
        let salvage = try StoreReader(path: path, skipDamaged: true)
        defer { salvage.close() }
        Self.expectUsage("salvage mode") { _ = try Self.jsonLines(salvage, Self.filter) }
        #expect(try !Self.jsonLines(reader, Self.filter).isEmpty)
    }

    @Test func aScopedReaderKeepsItsViewWhileCompactionReplacesAndDeletesItsSegments() throws {
        let (path, _) = try Self.makeStore()
        let scoped = try StoreReader(path: path, partitions: { $0 == Self.january })
        defer { scoped.close() }
        let whole = try StoreReader(path: path)
        let before = try Self.jsonLines(whole, Self.filter)
        whole.close()
        let oldFiles = segmentFiles(path).filter { $0.hasPrefix(Self.january.path + "/") }

        let store = try Store.open(at: path)
        let report = try store.compact(partition: Self.january)
        try store.close()
        #expect(!report.skipped)
        #expect(oldFiles.isDisjoint(with: segmentFiles(path)), "compaction left the old segments in place")

        #expect(try Self.jsonLines(scoped, Self.filter) == before)
    }
}
