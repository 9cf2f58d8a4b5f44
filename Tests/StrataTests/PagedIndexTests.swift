import Foundation
import Testing
@testable import Strata


private func indexPath(_ store: String) -> String { store + "/" + Format.indexDirectoryName + "/" + Format.indexFileName }

private func indexHeader(_ store: String) throws -> IndexHeader {
    let bytes = try PosixFileSystem.shared.readFile(indexPath(store))
    return try bytes.withUnsafeBytes { try IndexHeader.decode($0, fileSize: bytes.count, path: indexPath(store)) }
}

/// A store of `n` examples whose index file covers all of them.
private func storeWithIndex(_ n: Int) throws -> (path: String, examples: [Example]) {
    let path = temporaryStorePath()
    let examples = makeExamples(n)
    let store = try Store.open(at: path)
    _ = try store.append(contentsOf: examples)
    try store.close()
    return (path, examples)
}

@Suite struct PagedIndexTests {
    @Test func readOnlyGetReadsTheIndexPagesItTouchesNotTheWholeFile() throws {
        let (path, examples) = try storeWithIndex(20_000)
        let h = try indexHeader(path)
        #expect(h.version == Format.indexVersion)
        let fileSize = try PosixFileSystem.shared.fileSize(indexPath(path))
        let fs = RecordingFileSystem()
        let reader = try StoreReader(path: path, fileSystem: fs)
        defer { reader.close() }
        let target = examples[12_345]
        #expect(try reader.get(target.id) == target)
        #expect(try reader.get(syntheticID(7)) == nil)
        // Header, coverage and its checksum, then per lookup a page sum and one
        // or two 4 KiB pages: bounded whatever the store's size.
        let read = fs.bytesRead(indexPath(path))
        let bound = h.pageSumsStart + 2 * 2 * (8 + Format.indexPageSlots * Format.indexSlotSize)
        #expect(read > 0)
        #expect(read <= bound, "read \(read) of \(fileSize) index bytes, bound \(bound)")
        #expect(fileSize > 10 * Int64(bound), "the store is too small to tell a paged read from a whole one")
    }

    @Test func pagedLookupsAnswerEveryIdAsTheLoadedTableDoes() throws {
        let (path, examples) = try storeWithIndex(3_000)
        // More examples after the snapshot: the reader catches them up from blocks, in memory.
        var options = StoreOptions()
        options.createIfMissing = false
        let store = try Store.open(at: path, options: options)
        let later = makeExamples(200, seed: 9)
        _ = try store.append(contentsOf: later)
        try store.commit()
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.loadedIndex().paged != nil)
        #expect(try reader.count == 3_200)
        for e in examples + later { #expect(try reader.get(e.id) == e) }
        for i in 0..<UInt64(500) { #expect(try reader.get(syntheticID(i, salt: 77)) == nil) }
        try store.close()
    }

    @Test func flippedBitInAnIndexPageIsReportedWithFileAndOffsetNeverAWrongAnswer() throws {
        let (path, examples) = try storeWithIndex(5_000)
        let h = try indexHeader(path)
        // The page the first example's key hashes to; flip one bit in its middle.
        let target = examples[0]
        let page = IdTable.home(IdTable.fingerprint(target.id), capacity: h.capacity) / h.pageSlots
        let pageOffset = h.slotsStart + Format.indexSlotSize * h.pageRange(page).lowerBound
        var bytes = try PosixFileSystem.shared.readFile(indexPath(path))
        bytes[pageOffset + 1_000] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: indexPath(path)))

        let reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(throws: StrataError.self) { _ = try reader.get(target.id) }
        do {
            _ = try reader.get(target.id)
        } catch let e as StrataError {
            #expect(e.code == .corruption)
            #expect(e.path == indexPath(path))
            #expect(e.offset == Int64(pageOffset))
        }
        // Every other lookup either answers right or fails the same way; none answers wrong.
        var failed = 0
        for e in examples {
            do { #expect(try reader.get(e.id) == e) } catch let err as StrataError where err.code == .corruption { failed += 1 }
        }
        #expect(failed >= 1 && failed < examples.count / 10)
        // A writer finds the damage on its whole load and rebuilds the derived file.
        var options = StoreOptions()
        options.createIfMissing = false
        let store = try Store.open(at: path, options: options)
        #expect(store.recoveryEvents.contains { $0.kind == .indexRebuilt }, "\(store.recoveryEvents)")
        #expect(try store.get(target.id) == target)
        try store.close()
        let again = try StoreReader(path: path)
        defer { again.close() }
        #expect(try again.get(target.id) == target)
    }

    @Test func wholeLoadRejectsAFlippedBitInAnyPage() throws {
        let (path, _) = try storeWithIndex(2_000)
        let h = try indexHeader(path)
        let clean = try PosixFileSystem.shared.readFile(indexPath(path))
        for p in [0, h.pageCount / 2, h.pageCount - 1] {
            var bytes = clean
            let offset = h.slotsStart + Format.indexSlotSize * h.pageRange(p).lowerBound
            bytes[offset + 3] ^= 0x01
            #expect(throws: StrataError.self) { _ = try IndexFile.decode(bytes, path: indexPath(path)) }
        }
        var meta = clean
        meta[Format.indexHeaderSize + 2] ^= 0x80  // a coverage byte
        #expect(throws: StrataError.self) { _ = try IndexFile.decode(meta, path: indexPath(path)) }
        _ = try IndexFile.decode(clean, path: indexPath(path))
    }

    @Test func specWorkedExampleIndexFileLayout() throws {
        // SPEC.md §5.2: capacity 1 250, 1 000 keys, 3 segments covered, no overflow.
        var table = IdTable(capacity: 1_250, words: IdTable.zeroedWords(2 * (1_250 + 64)), count: 0)
        for i in 0..<UInt64(1_000) { table.insert(syntheticID(i), packed: i) }
        #expect(table.capacity == 1_250)
        let path = temporaryStorePath()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try IndexFile.write(table, overflow: [:], coverage: [(1, 4), (2, 4), (3, 1)], descriptorHash: 42,
                            fs: PosixFileSystem.shared, storePath: path, fileMode: 0o644, directoryMode: 0o755)
        let h = try indexHeader(path)
        #expect(h.physical == 1_314 && h.pageCount == 6)
        #expect(h.metaSumOffset == 112 && h.pageSumsStart == 120 && h.slotsStart == 168)
        #expect(try PosixFileSystem.shared.fileSize(indexPath(path)) == 21_192)
        #expect(h.pageRange(5) == 1_280..<1_314)
        let snap = try IndexFile.decode(try PosixFileSystem.shared.readFile(indexPath(path)), path: indexPath(path))
        #expect(snap.table.count == 1_000 && snap.coverage.count == 3)
        // The paged reader finds every key the loaded table finds.
        let f = try PosixFileSystem.shared.openReadable(indexPath(path))
        let paged = try #require(try PagedIdTable.open(f, path: indexPath(path)))
        for i in 0..<UInt64(1_000) {
            #expect(try paged.find(syntheticID(i)) { $0 == i } == i)
            #expect(try paged.find(syntheticID(i, salt: 5)) { _ in true } == nil)
        }
    }

    @Test func goldenStoresWithVersion1IndexFilesAnswerGets() throws {
        for generation in GoldenFixtureTests.generations {
            let dir = GoldenFixtureTests.directory("content|none", generation: generation)
            #expect(try indexHeader(dir).version == 1)
            // Reader: a version 1 file is loaded whole.
            var scanned: [Example] = []
            let r = try StoreReader(path: dir)
            try r.scan(ScanFilter(includeExcluded: true)) { scanned.append($0); return true }
            #expect(!scanned.isEmpty)
            for e in scanned { #expect(try r.get(e.id) == e) }
            #expect(try r.loadedIndex().paged == nil)
            r.close()
            // A writer (on a copy) rewrites it as version 2, which readers page.
            let copy = temporaryStorePath("goldenIndexCopy")
            try FileManager.default.copyItem(atPath: dir, toPath: copy)
            let s = try Store.open(at: copy)
            _ = try s.rebuildIndex()
            try s.close()
            #expect(try indexHeader(copy).version == 2)
            let r2 = try StoreReader(path: copy)
            defer { r2.close() }
            #expect(try r2.loadedIndex().paged != nil)
            for e in scanned { #expect(try r2.get(e.id) == e) }
        }
    }

    /// A `get` from a compacted (columnar, frame type 5) segment rebuilds its
    /// block once: the read after the index's confirmation takes the block the
    /// confirmation decoded, so only that block's frame is read from the file.
    @Test func getFromACompactedSegmentReadsAndDecodesItsBlockOnce() throws {
        let path = temporaryStorePath()
        _ = try makeCompactableStore(path, examples: 300)
        let s = try Store.open(at: path)
        var c = CompactionOptions()
        c.dictionary = .never
        c.blockTargetBytes = 8 << 10  // several columnar blocks in the partition
        try s.compact(partition: s.partitions[0], options: c)
        try s.close()
        let m = try Manifest.decode(try PosixFileSystem.shared.readFile(path + "/MANIFEST"), path: "MANIFEST")
        let entry = try #require(m.segments.first { $0.codec == "zstd-columnar" })
        let segPath = path + "/" + entry.partition.path + "/" + Format.segmentFileName(entry.sequence)
        let plain = try StoreReader(path: path)
        defer { plain.close() }
        let file = try SegmentFile(fs: PosixFileSystem.shared, path: segPath, sequence: entry.sequence, partition: entry.partition, expectSealed: true)
        defer { file.close() }
        let footer = try #require(file.footer)
        let offsets = footer.blocks.map(\.offset)
        #expect(offsets.count >= 3, "the compacted partition needs several blocks")
        // One example in block 0 and one in block 1 of the columnar segment.
        var inBlock: [Int: ExampleID] = [:]
        try plain.scan(ScanFilter(domains: [entry.partition.domain], fromMonth: entry.partition.month, toMonth: entry.partition.month, includeExcluded: true)) { e in
            if let loc = try? plain.locate(e.id), segPath.hasSuffix(Format.segmentFileName(loc.segment)), loc.blockIndex < 2 {
                inBlock[Int(loc.blockIndex)] = inBlock[Int(loc.blockIndex)] ?? e.id
            }
            return inBlock.count < 2
        }
        let (a, b) = (try #require(inBlock[0]), try #require(inBlock[1]))
        let fs = RecordingFileSystem()
        let reader = try StoreReader(path: path, fileSystem: fs)
        defer { reader.close() }
        #expect(try reader.getFolded(a) == plain.getFolded(a))
        let before = fs.bytesRead(segPath)
        #expect(try reader.getFolded(b) == plain.getFolded(b))
        // Block 1's frame header and frame, read once (twice before the reader took the confirmation's block).
        #expect(fs.bytesRead(segPath) - before == Format.frameHeaderSize + Int(offsets[2] - offsets[1]))
    }
}
