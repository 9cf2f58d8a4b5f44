import Foundation
import Testing
@testable import Strata

/// The segment layer's promises: statistics answered from segment counts equal
/// a full scan, opening reads only what is touched, and footers keep no
/// per-example ids in memory (Segment/, SPEC.md §3.3, §5.6).
@Suite struct SegmentLayerTests {
    private func options() -> StoreOptions {
        var o = StoreOptions()
        o.blockTargetBytes = 4 << 10
        return o
    }

    /// Two domains × three months, duplicates, feedback, exclusions (one of them
    /// compacted into a kind-4 entry).
    private func makeStore(_ path: String) throws -> [Example] {
        let ex = makeExamples(400)
        let s = try Store.open(at: path, options: options())
        _ = try s.append(contentsOf: ex)
        var dup = ex[3]
        dup.domain = "gamma"
        _ = try s.append(dup)                                   // a duplicate offer in another domain
        _ = try s.append(ex[5])
        let scored = ex.filter { $0.qualityScore != nil }.sorted { $0.qualityScore! < $1.qualityScore! }
        try s.annotate(scored[0].id, .exclude(reason: "lowest score"))    // holds a partition's minimum
        try s.annotate(ex[10].id, .exclude())
        try s.annotate(ex[11].id, .exclude())
        try s.annotate(ex[11].id, .include())                  // re-included: counted again
        try s.annotate(ex[12].id, .feedback(.positive))
        let p = PartitionKey(domain: ex[10].domain, month: ex[10].month)
        _ = try s.compact(partition: p)                        // folds ex[10]'s exclusion into its record
        try s.close()
        return ex
    }

    private func expectSame(_ a: StoreStatistics, _ b: StoreStatistics, _ context: String) {
        #expect(a.records == b.records, "\(context): records")
        #expect(a.byDomain == b.byDomain, "\(context): by domain")
        #expect(a.byMonth == b.byMonth, "\(context): by month")
        #expect(a.byShape == b.byShape, "\(context): by shape")
        #expect(a.bySource == b.bySource, "\(context): by source")
        #expect(a.byTag == b.byTag, "\(context): by tag")
        #expect(a.earliest == b.earliest && a.latest == b.latest, "\(context): dates")
        #expect(a.qualityCount == b.qualityCount && a.qualityMin == b.qualityMin && a.qualityMax == b.qualityMax, "\(context): quality")
        #expect(abs(a.qualitySum - b.qualitySum) < 1e-9, "\(context): quality sum")
        #expect(a.qualityHistogram == b.qualityHistogram, "\(context): histogram")
        #expect(a.bytesOnDisk == b.bytesOnDisk, "\(context): bytes on disk")
        #expect(a.partitions.map(\.key) == b.partitions.map(\.key), "\(context): partitions")
        #expect(a.partitions.map(\.records) == b.partitions.map(\.records), "\(context): partition records")
        #expect(a.partitions.map(\.segments) == b.partitions.map(\.segments), "\(context): partition segments")
    }

    @Test func statsFromSegmentCountsEqualAFullScan() throws {
        let path = temporaryStorePath()
        _ = try makeStore(path)
        // A writer with committed, unsealed appends: its active segment has no footer yet.
        let w = try Store.open(at: path, options: options())
        _ = try w.append(contentsOf: makeExamples(30, seed: 7))
        try w.commit()
        let r = try StoreReader.open(at: path)
        defer { r.close() }
        let fast = try StoreStatistics.fromSummaries(r)
        let scanned = try StoreStatistics.computeWithQuality(r)
        expectSame(fast.statistics, scanned.0, "with an active segment")
        #expect(fast.excluded == scanned.1.excluded && fast.excluded == 2)
        #expect(fast.duplicates == (try r.duplicateStatistics()))
        #expect(fast.duplicates.byDomain["gamma"] == 1)
        #expect(fast.segmentsRead >= 1)  // only the active segment had to be read
        try w.close()
    }

    @Test func statsSummaryFileIsDerived() throws {
        let path = temporaryStorePath()
        _ = try makeStore(path)
        let sum = path + "/index/stats.sum"
        #expect(FileManager.default.fileExists(atPath: sum))
        let truth = try { let r = try StoreReader.open(at: path); defer { r.close() }; return try StoreStatistics.compute(r) }()
        // Answered from the file: nothing read.
        do {
            let r = try StoreReader.open(at: path)
            defer { r.close() }
            let s = try StoreStatistics.fromSummaries(r)
            #expect(s.segmentsRead == 0)
            expectSame(s.statistics, truth, "from stats.sum")
        }
        // Damaged, then missing: readers fall back to the footers; a writer rewrites it.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: sum)))
        bytes[bytes.count / 2] ^= 0x5a
        try Data(bytes).write(to: URL(fileURLWithPath: sum))
        for step in ["damaged", "missing"] {
            if step == "missing" { try FileManager.default.removeItem(atPath: sum) }
            let r = try StoreReader.open(at: path)
            defer { r.close() }
            #expect(r.digests.isEmpty, "\(step): a bad file must not be used")
            expectSame(try StoreStatistics.fromSummaries(r).statistics, truth, step)
        }
        try Store.open(at: path, options: options()).close()
        let r = try StoreReader.open(at: path)
        defer { r.close() }
        #expect(!r.digests.isEmpty)
        expectSame(try StoreStatistics.fromSummaries(r).statistics, truth, "rewritten")
    }

    @Test func readerReadsOnlyThePartitionsItTouches() throws {
        let path = temporaryStorePath()
        let ex = makeExamples(200, domains: ["alpha", "beta"], months: 1)
        let s = try Store.open(at: path, options: options())
        _ = try s.append(contentsOf: ex)
        try s.close()
        // Damage the footer of beta's segment.
        let beta = PartitionKey(domain: "beta", month: ex.first { $0.domain == "beta" }!.month)
        let dir = path + "/" + beta.path
        let seg = dir + "/" + (try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".strata") }!)
        var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: seg)))
        let footerOffset = b.withUnsafeBytes { raw in Int(raw.loadUnaligned(fromByteOffset: b.count - 40, as: UInt64.self).littleEndian) }
        b[footerOffset + Format.frameHeaderSize + 1] ^= 0x5a
        try Data(b).write(to: URL(fileURLWithPath: seg))

        let r = try StoreReader.open(at: path)   // reads no footer
        defer { r.close() }
        let a = ex.first { $0.domain == "alpha" }!
        #expect(try r.get(a.id) == a)
        var n = 0
        try r.scan(ScanFilter(domains: ["alpha"])) { _ in n += 1; return true }
        #expect(n == ex.filter { $0.domain == "alpha" }.count)
        let bx = ex.first { $0.domain == "beta" }!
        #expect { try r.get(bx.id) } throws: { ($0 as? StrataError)?.code == .corruption }
        #expect { try r.get(bx.id) } throws: { ($0 as? StrataError)?.code == .corruption }   // every touch, not only the first
        // Without the summaries the index's block counts come from the footers: the
        // damage is met by the first `get` (which loads the index), not by the open,
        // and a scan of the intact partition still reads.
        try FileManager.default.removeItem(atPath: path + "/index/stats.sum")
        let r2 = try StoreReader(path: path)
        defer { r2.close() }
        var n2 = 0
        try r2.scan(ScanFilter(domains: ["alpha"])) { _ in n2 += 1; return true }
        #expect(n2 == n)
        #expect { try r2.get(a.id) } throws: { ($0 as? StrataError)?.code == .corruption }
    }

    /// A closed store of `n` examples in one partition, and its only segment.
    private func onePartitionStore(_ n: Int) throws -> (path: String, examples: [Example], partition: PartitionKey, segment: String, sequence: UInt64) {
        let path = temporaryStorePath()
        let ex = makeExamples(n, domains: ["alpha"], months: 1)
        let s = try Store.open(at: path, options: options())
        _ = try s.append(contentsOf: ex)
        try s.close()
        let p = PartitionKey(domain: "alpha", month: ex[0].month)
        let dir = path + "/" + p.path
        let name = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".strata") }!
        return (path, ex, p, dir + "/" + name, Store.segmentSequence(fromFileName: name)!)
    }

    @Test func openSegmentsKeepNoExampleIdsInMemory() throws {
        let (_, ex, p, segPath, seq) = try onePartitionStore(120)
        let f = try SegmentFile(fs: PosixFileSystem.shared, path: segPath, sequence: seq, partition: p, expectSealed: true)
        defer { f.close() }
        #expect(f.footer?.examples.isEmpty == true)
        #expect(f.footer?.exampleCount == 120)
        let refs = try f.exampleRefs()
        #expect(refs.map(\.id) == ex.map(\.id).sorted())
        #expect(f.header.version == 2 && f.footer?.counts?.examples == 120)
    }

    /// A segment written before footers had counts (format version 1) still
    /// reads, and `stats` counts it by reading its blocks.
    @Test func versionOneSegmentsStillReadAndCount() throws {
        let (path, ex, p, segPath, seq) = try onePartitionStore(80)
        // Rewrite it as version 1: header version 1, footer without counts.
        let f = try SegmentFile(fs: PosixFileSystem.shared, path: segPath, sequence: seq, partition: p, expectSealed: true)
        var footer = try #require(f.footer)
        footer.examples = try f.exampleRefs()
        footer.counts = nil
        let footerOffset = f.trailer!.footerOffset
        f.close()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: segPath)))[0..<Int(footerOffset)].map { $0 }
        var h = SegmentHeader(sequence: seq)
        h.version = 1
        var hb = h.encode()
        hb.replaceSubrange(24..<32, with: withUnsafeBytes(of: XXH.hash64(Array(hb[0..<24])).littleEndian, Array.init))
        bytes.replaceSubrange(0..<32, with: hb)
        var tail: [UInt8] = []
        footer.encodeSealingTail(footerOffset: footerOffset, into: &tail)
        try Data(bytes + tail).write(to: URL(fileURLWithPath: segPath))
        try FileManager.default.removeItem(atPath: path + "/index/stats.sum")

        let r = try StoreReader.open(at: path)
        defer { r.close() }
        for e in ex.prefix(10) { #expect(try r.get(e.id) == e) }
        let fast = try StoreStatistics.fromSummaries(r)
        #expect(fast.segmentsRead == 1)
        expectSame(fast.statistics, try StoreStatistics.compute(r), "version 1 segment")
        let v = StoreVerifier(path: path).run()
        #expect(v.problems.isEmpty, "\(v.problems)")
    }

    /// The summary file's seed corpus (Fuzz/corpus/SummaryFile) decodes; every
    /// truncation and every flipped byte is a StrataError, never a trap or a misread.
    @Test func summaryFileDecodesItsSeedAndRejectsDamage() throws {
        let seed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: packageRoot + "/Fuzz/corpus/SummaryFile/one-segment"))).dropFirst()
        let good = try SummaryFile.decode(Array(seed), path: "seed")
        #expect(good.count == 1 && good[0].counts.examples == 1 && good[0].counts.byShape == [0, 1, 0])
        #expect(SummaryFile.encode(good) == Array(seed))
        for n in 0..<seed.count {
            #expect(throws: StrataError.self) { try SummaryFile.decode(Array(seed.prefix(n)), path: "cut") }
        }
        for i in seed.indices {
            var b = Array(seed)
            b[i - seed.startIndex] ^= 0x41
            #expect(throws: StrataError.self) { try SummaryFile.decode(b, path: "flip") }
        }
    }
}
