import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// Ingest's commits between batches run their fsync round in the background
/// (`Store.beginBackgroundCommit`) while the next batches are appended. The
/// rules of `commit()` still hold: a commit is acknowledged (`onCommit`) only
/// once its fsyncs and manifest install finished, and a failed fsync poisons
/// the writer.
@Suite struct BackgroundCommitTests {
    /// Every commit `onCommit` reports is already visible to a reader: its
    /// manifest was installed before the report. The manifest fsync is slowed
    /// down, so a report made when the round started would find the old manifest.
    @Test func aBackgroundCommitIsReportedOnlyAfterItsManifestIsInstalled() throws {
        let path = temporaryStorePath()
        let input = path + "-input.jsonl"
        _ = try FaultInjectionTests.writeInput(6_000, to: input)
        let fs = FaultFileSystem(rules: [.init(.sync, nth: 0, action: .pause(milliseconds: 40), label: "slow manifest fsync") {
            $0.hasSuffix(Format.manifestFileName + ".tmp")
        }])
        var o = StoreOptions()
        o.fileSystem = fs
        o.commitPolicy = .manual
        var reports: [(inserted: Int, visible: Int)] = []
        do {
            let store = try Store.open(at: path, options: o)
            let ingester = try Ingester(store: store, mapping: IngestMapping())
            ingester.commitEveryRecords = 500
            ingester.onCommit = { sum in
                let visible = (try? StoreReader(path: path)).map { r in defer { r.close() }; return (try? r.count) ?? -1 } ?? -1
                reports.append((sum.inserted, visible))
            }
            try ingester.ingest(path: input)
            try ingester.commitAndClose()
            #expect(store.commitStepTimes.background > 0, "no commit ran in the background: the test proves nothing")
        }
        #expect(reports.count >= 10)
        for r in reports { #expect(r.visible >= r.inserted, "reported \(r.inserted) committed, a reader saw \(r.visible)") }
    }

    /// A segment fsync that fails in a background round poisons the writer:
    /// the ingest stops with the error, that commit is never reported, nothing
    /// more is committed, and what was reported before is stored.
    @Test func aFailedFsyncInABackgroundCommitPoisonsTheWriter() throws {
        let path = temporaryStorePath()
        let input = path + "-input.jsonl"
        let expected = try FaultInjectionTests.writeInput(12_000, to: input)
        // One partition: each commit round fsyncs its one segment file once; the third round fails.
        let fs = FaultFileSystem(rules: [.init(.sync, nth: 3, action: .fail(.io), label: "third segment fsync") { $0.contains("/seg-") }])
        let acknowledged = try FaultInjectionTests.ingest(into: path, on: fs, commitPolicy: .manual) { store, ingester in
            let error = #expect(throws: StrataError.self) {
                try ingester.ingest(path: input)
                try ingester.commitAndClose()
            }
            #expect(error?.code == .io || error?.code == .poisoned, "\(String(describing: error))")
            #expect(fs.fired == ["third segment fsync: sync \(path)/domain=faults/month=2025-01/seg-0000000001.strata"], "\(fs.fired)")
            let again = #expect(throws: StrataError.self) { try store.commit() }
            #expect(again?.code == .poisoned)
        }
        #expect(acknowledged == 1_000, "the two rounds before the failed one are reported, the failed one is not")
        try FaultInjectionTests.expectCommittedPart(of: expected, at: path, acknowledged: acknowledged)
    }
}

/// New segments opened by an ingest batch get their files and directories
/// from a helper thread (`SegmentFileCreator`) while the batch is appended.
@Suite struct DeferredSegmentCreationTests {
    static func jsonl(domains: Int, perDomain: Int) -> [UInt8] {
        var text = ""
        for i in 0..<(domains * perDomain) {
            let d = i % domains
            let ts = Int64(1_735_689_600_000) + Int64(i % 3) * 2_678_400_000 + Int64(i)
            text += #"{"prompt":"Q\#(i) about \#(d)","response":"A\#(i)","domain":"d\#(d)","timestamp":\#(ts)}"# + "\n"
        }
        return Array(text.utf8)
    }

    /// The summaries written at close come from memory for the segments the
    /// writer sealed; they equal what reading each sealed footer gives.
    @Test func summariesOfSegmentsSealedAtCloseEqualTheirFooters() throws {
        let path = temporaryStorePath()
        do {
            let store = try Store.open(at: path)
            let ing = try Ingester(store: store, mapping: IngestMapping())
            try ing.ingest(data: Self.jsonl(domains: 7, perDomain: 60))
            try ing.commitAndClose()
        }
        let mp = path + "/" + Format.manifestFileName
        let manifest = try Manifest.decode(Array(try Data(contentsOf: URL(fileURLWithPath: mp))), path: mp)
        let written = SegmentDigest.load(fs: PosixFileSystem.shared, storePath: path, manifest: manifest)
        #expect(manifest.segments.count == 21)
        #expect(written.count == manifest.segments.count)
        for e in manifest.segments {
            let f = try SegmentFile(fs: PosixFileSystem.shared, path: path + "/" + e.partition.path + "/" + Format.segmentFileName(e.sequence),
                                    sequence: e.sequence, partition: e.partition, expectSealed: true)
            defer { f.close() }
            #expect(written[e.sequence] == (try SegmentDigest(file: f, fs: PosixFileSystem.shared)), "segment \(e.sequence)")
        }
    }

    /// A segment file that cannot be created (an injected I/O error on the
    /// helper thread) fails the batch with an error naming the path and
    /// poisons the writer; nothing of the batch is committed.
    @Test func aSegmentFileThatCannotBeCreatedFailsTheBatchAndPoisonsTheWriter() throws {
        let path = temporaryStorePath()
        let fs = FaultFileSystem(rules: [.init(.create, action: .fail(.io), label: "segment create") { $0.contains("domain=d5/") }])
        var o = StoreOptions()
        o.fileSystem = fs
        o.commitPolicy = .manual
        do {
            let store = try Store.open(at: path, options: o)
            let ing = try Ingester(store: store, mapping: IngestMapping())
            let error = #expect(throws: StrataError.self) { try ing.ingest(data: Self.jsonl(domains: 7, perDomain: 60)) }
            #expect(error?.code == .io)
            #expect(error?.path?.contains("domain=d5/") == true, "\(String(describing: error))")
            let again = #expect(throws: StrataError.self) { try store.commit() }
            #expect(again?.code == .poisoned)
            try? store.close()
        }
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.count == 0)
    }
}
