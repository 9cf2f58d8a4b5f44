import Foundation
import Testing
@testable import Strata

/// Parquet export of compacted stores reads the columnar blocks' streams
/// (Exporter+ParquetColumns.swift, ColumnarBlock+Columns.swift) and writes
/// the same file, byte for byte, as the row path writes for the same store
/// before compaction: every shape, annotations folded in and appended later,
/// every filter, partitioned and split layouts; pyarrow and DuckDB read it.
@Suite struct ParquetColumnsExportTests {
    /// Two stores with the same examples and annotations: `row` stays in
    /// row-format (LZ4) segments, `col` is compacted into columnar segments.
    struct Twins {
        let row: Store, rowPath: String
        let col: Store, colPath: String
        func close() { try? row.close(); try? col.close() }
    }

    static func examples() -> [Example] {
        // Every shape and field; the 2 MB value is left out to keep the many exports quick.
        makeExamples(240) + ColumnarBlockTests.everyShapeExamples().filter { $0.jsonString.utf8.count < 1 << 20 }
    }

    /// Applies the same annotations to both stores.
    static func annotate(_ t: Twins, _ anns: [(ExampleID, Annotation)]) throws {
        for s in [t.row, t.col] { for (id, a) in anns { try s.annotate(id, a) } }
    }

    func twins(_ name: String, dictionary: CompactionOptions.DictionaryPolicy) throws -> Twins {
        let rowPath = temporaryStorePath(name + "-row"), colPath = temporaryStorePath(name + "-col")
        // Small segments and blocks: several of each per partition; closing seals them for compaction.
        var o = StoreOptions()
        o.segmentTargetBytes = 16 << 10
        o.blockTargetBytes = 4 << 10
        var t = Twins(row: try Store.open(at: rowPath, options: o), rowPath: rowPath, col: try Store.open(at: colPath, options: o), colPath: colPath)
        let all = Self.examples()
        for s in [t.row, t.col] { try s.append(contentsOf: all) }
        let chat = all.first { $0.shape == .chat }!, ins = all.first { $0.shape == .instruction }!
        let pr = all.first { $0.shape == .promptResponse }!
        try Self.annotate(t, [
            (pr.id, Annotation(.feedback(.positive, rating: nil, comment: nil))),
            (pr.id, Annotation(.feedback(.positive, rating: 5, comment: "good"))),
            (all[10].id, Annotation(.feedback(.negative, rating: nil, comment: nil))),
            (all[11].id, Annotation(.exclude, reason: "pii")),
            (all[12].id, Annotation(.exclude)),
            (all[12].id, Annotation(.include)),
            (ins.id, Annotation(.correction(text: "fixed output", field: nil))),
            (chat.id, Annotation(.correction(text: "fixed reply é", field: nil))),
        ])
        t.close()
        t = Twins(row: try Store.open(at: rowPath, options: o), rowPath: rowPath, col: try Store.open(at: colPath, options: o), colPath: colPath)
        var c = CompactionOptions()
        c.dictionary = dictionary
        let reports = try t.col.compactAll(options: c)
        #expect(reports.allSatisfy { !$0.skipped })
        return t
    }

    /// The export specs with a Parquet form: both layouts, splits, every filter.
    static func specs() throws -> [(String, ExportSpec)] {
        var out: [(String, ExportSpec)] = []
        func add(_ name: String, _ change: (inout ExportSpec) throws -> Void) rethrows {
            var s = ExportSpec(format: .parquet)
            try change(&s)
            out.append((name, s))
        }
        add("plain") { _ in }
        add("partitioned") { $0.partitioned = true }
        try add("split") { $0.split = try SplitSpec(parsing: "train=0.8,validation=0.1,test=0.1") }
        try add("partitioned split") { $0.partitioned = true; $0.split = try SplitSpec(parsing: "train=0.5,test=0.5") }
        add("min quality") { $0.minQuality = 0.5 }
        add("any tag") { $0.tags = ["t1", "t2"] }
        add("all tags") { $0.tags = ["t1", "x"]; $0.allTags = true }
        add("source") { $0.source = "pipe" }
        add("shapes") { $0.shapes = [.chat, .promptResponse] }
        add("domain and month") { $0.domains = ["beta"]; $0.fromMonth = Month(year: 2025, month: 2); $0.toMonth = Month(year: 2025, month: 2) }
        add("only positive") { $0.feedback = .onlyPositive }
        add("drop negative") { $0.feedback = .dropNegative }
        add("include excluded") { $0.includeExcluded = true }
        try add("predicate") { $0.predicate = try RecordPredicate(parsing: #"metadata.n >= 100 AND quality_score >= 0.2"#) }
        return out
    }

    /// Exports `store` with `spec`; returns every data file's bytes by relative path and the exporter.
    func export(_ store: String, _ spec: ExportSpec, _ label: String, annotations: ExportAnnotationSource? = nil,
                options: ParquetWriterOptions? = nil) throws -> ([String: [UInt8]], Exporter) {
        let out = ExportExpect.outDir(label)
        let ex = Exporter(storePath: store, outPath: out, spec: spec)
        ex.annotations = annotations
        if let options { ex.parquetOptions = options }
        let r = try ex.run()
        var files: [String: [UInt8]] = [:]
        for f in r.files { files[f.path] = try PosixFileSystem.shared.readFile(out + "/" + f.path) }
        return (files, ex)
    }

    /// Both stores exported with every spec give byte-identical files; the
    /// compacted store's rows came from the column streams.
    func expectSameParquet(_ t: Twins, _ label: String, annotations: ExportAnnotationSource? = nil, options: ParquetWriterOptions? = nil,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (name, spec) in try Self.specs() {
            let (rowFiles, rowEx) = try export(t.rowPath, spec, "\(label)-\(name)-row", annotations: annotations, options: options)
            let (colFiles, colEx) = try export(t.colPath, spec, "\(label)-\(name)-col", annotations: annotations, options: options)
            #expect(rowEx.columnarBlocksRead == 0, "\(label) \(name)", sourceLocation: sourceLocation)
            #expect(colEx.columnarBlocksRead > 0, "\(label) \(name): the columnar path did not run", sourceLocation: sourceLocation)
            #expect(colFiles.keys.sorted() == rowFiles.keys.sorted(), "\(label) \(name)", sourceLocation: sourceLocation)
            for (path, bytes) in rowFiles {
                let got = colFiles[path] ?? []
                // Report where the files part, not megabytes of bytes.
                let firstDifference = zip(got, bytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, bytes.count)
                let same = got == bytes
                #expect(same, "\(label) \(name): \(path) differs from byte \(firstDifference) (\(got.count) vs \(bytes.count) bytes)",
                        sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [CompactionOptions.DictionaryPolicy.never, .always])
    func compactedStoreExportsByteIdenticalParquetToTheRowFormatStoreForEverySpec(_ dictionary: CompactionOptions.DictionaryPolicy) throws {
        let t = try twins("pqcols-\(dictionary)", dictionary: dictionary)
        defer { t.close() }
        // Annotations folded into the columnar blocks.
        try expectSameParquet(t, "folded-\(dictionary)")
        // Annotations appended after compaction (outside the blocks), and new
        // examples in row-format segments beside the columnar ones.
        let all = Self.examples()
        try Self.annotate(t, [
            (all[20].id, Annotation(.feedback(.negative, rating: 1, comment: nil))),
            (all[11].id, Annotation(.include)),
            (all[30].id, Annotation(.correction(text: "later fix", field: nil))),
        ])
        let more = makeExamples(60, seed: 7)
        for s in [t.row, t.col] { try s.append(contentsOf: more) }
        try expectSameParquet(t, "later-\(dictionary)")
    }

    /// Row groups and pages cut inside a columnar block's batch of rows
    /// (small limits: a row group every few kilobytes, pages of 5 rows,
    /// dictionaries that overflow) land where the row path cuts them.
    @Test func smallRowGroupsAndPagesGiveTheSameParquetFromColumns() throws {
        let t = try twins("pqcols-small-groups", dictionary: .never)
        defer { t.close() }
        var o = ParquetWriterOptions()
        o.rowGroupMaxBytes = 6 << 10
        o.pageMaxRows = 5
        o.pageMaxBytes = 2 << 10
        o.dictionaryMaxBytes = 512
        try expectSameParquet(t, "small-groups", options: o)
        o.rowGroupMaxBytes = 128 << 20
        o.rowGroupMaxRows = 9
        try expectSameParquet(t, "nine-row-groups", options: o)
    }

    @Test func externalAnnotationSourceGivesTheSameParquetFromColumns() throws {
        let t = try twins("pqcols-external", dictionary: .never)
        defer { t.close() }
        let all = Self.examples()
        let src = StubAnnotations()
        src.map[all[1].id] = FoldedAnnotations(feedbackPositive: 2)
        src.map[all[2].id] = FoldedAnnotations(feedbackNegative: 1)
        src.map[all[3].id] = FoldedAnnotations(excluded: true)
        src.map[all[4].id] = FoldedAnnotations(feedbackPositive: 1, corrected: "fixed 日本")
        try expectSameParquet(t, "external", annotations: src)
    }

    /// pyarrow and DuckDB read the compacted store's export, with every value
    /// as computed independently from the examples (Tests/python/check_export.py).
    @Test func compactedStoreParquetReadsBackInPyarrowAndDuckDBWithEveryValue() throws {
        let path = temporaryStorePath("pqcols-read")
        let store = try Store.open(at: path)
        try store.append(contentsOf: makeExamples(300))
        try store.close()
        let reopened = try Store.open(at: path)
        defer { try? reopened.close() }
        #expect(try reopened.compactAll().allSatisfy { !$0.skipped })
        let all = try ExportExpect.scan(reopened)
        let out = ExportExpect.outDir("pqcols-read")
        let ex = Exporter(storePath: path, outPath: out, spec: ExportSpec(format: .parquet))
        _ = try ex.run()
        #expect(ex.columnarBlocksRead > 0)
        try ExportExpect.check("parquet", ["rows": all.map { ExportExpect.parquet($0, partitioned: false) }], [out + "/data/data.parquet"])
        var spec = ExportSpec(format: .parquet)
        spec.partitioned = true
        let hive = ExportExpect.outDir("pqcols-read-hive")
        _ = try Exporter(storePath: path, outPath: hive, spec: spec).run()
        try ExportExpect.check("hive", ["rows": all.map { ExportExpect.parquet($0, partitioned: true) }], [hive + "/data"])
    }

    /// A damaged columnar block fails the Parquet export with the segment's
    /// path and the block's offset; a salvage export (`skipDamaged`) leaves
    /// exactly that block out and writes the rest.
    @Test func damagedColumnarBlockFailsTheParquetExportOrIsLeftOutWhenSalvaging() throws {
        let path = temporaryStorePath("pqcols-damage")
        let segment = try compactedColumnarSegment(path)
        let good = ExportExpect.outDir("pqcols-damage-good")
        let all = try Exporter(storePath: path, outPath: good, spec: ExportSpec(format: .parquet)).run().rows
        var bytes = try PosixFileSystem.shared.readFile(segment)
        let h = try bytes.withUnsafeBytes { try FrameCodec.parseHeader(UnsafeRawBufferPointer(rebasing: $0[Format.segmentHeaderSize...]), path: nil, offset: 32) }
        bytes[Format.segmentHeaderSize + Format.frameHeaderSize + h.storedLength / 2] ^= 0x55
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        do {
            _ = try Exporter(storePath: path, outPath: ExportExpect.outDir("pqcols-damage-fail"), spec: ExportSpec(format: .parquet)).run()
            Issue.record("the export of a damaged block succeeded")
        } catch let e as StrataError {
            #expect(e.code == .corruption && e.path == segment && e.offset == Int64(Format.segmentHeaderSize), "\(e)")
        }
        let ex = Exporter(storePath: path, outPath: ExportExpect.outDir("pqcols-damage-salvage"), spec: ExportSpec(format: .parquet))
        ex.skipDamaged = true
        let r = try ex.run()
        #expect(r.damagedSkipped.map(\.path) == [segment])
        #expect(r.rows < all && r.rows >= all - h.entryCount)
    }

    // MARK: The column view against reassembly

    /// Every damaged payload of the columnar corruption table, and every
    /// stream-header byte flipped, is rejected by the column view too (as
    /// corruption naming the file), and on the good payload the view yields
    /// exactly the examples the reassembled entries decode to.
    @Test func columnViewAcceptsExactlyWhatReassemblyAccepts() throws {
        func viaColumns(_ payload: [UInt8], rawLength: Int, entryCount: Int) throws -> [Example] {
            var cols = ColumnarBlock.Columns()
            try payload.withUnsafeBytes {
                try cols.load($0, rawLength: rawLength, entryCount: entryCount, dictionary: nil, path: "seg.strata", offset: 1000)
            }
            var view = EntryView()
            var out: [Example] = []
            try cols.withCursor { c in
                while let (kind, _) = try c.next(into: &view) {
                    if kind == EntryKind.example.rawValue { out.append(view.example()) }
                }
            }
            return out
        }
        func viaRows(_ payload: [UInt8], rawLength: Int, entryCount: Int) throws -> [Example] {
            let bytes = try ColumnarBlockTests.decode(payload, rawLength: rawLength, entryCount: entryCount)
            var out: [Example] = []
            try bytes.withUnsafeBytes { raw in
                var it = EntryIterator(raw, path: nil, blockOffset: 0)
                while let (kind, body, _) = try it.next() {
                    guard kind == EntryKind.example.rawValue else { continue }
                    var r = body
                    out.append(try RecordCodec.decodeExampleBody(&r))
                }
            }
            return out
        }
        // A real compacted block (every stream present).
        let path = temporaryStorePath("pqcols-view")
        let bytes = try PosixFileSystem.shared.readFile(try compactedColumnarSegment(path))
        let h = try bytes.withUnsafeBytes { try FrameCodec.parseHeader(UnsafeRawBufferPointer(rebasing: $0[Format.segmentHeaderSize...]), path: nil, offset: 32) }
        let start = Format.segmentHeaderSize + Format.frameHeaderSize
        let payload = Array(bytes[start..<(start + h.storedLength)])
        let want = try viaRows(payload, rawLength: h.rawLength, entryCount: h.entryCount)
        let got = try viaColumns(payload, rawLength: h.rawLength, entryCount: h.entryCount)
        #expect(!want.isEmpty && got == want)
        #expect(got.map(\.id) == want.map(\.id))

        var damaged: [(String, [UInt8], Int, Int)] = []
        for i in 0..<(2 + 10 * Int(payload[1])) {
            var p = payload
            p[i] ^= 0xFF
            damaged.append(("header byte \(i) flipped", p, h.rawLength, h.entryCount))
        }
        damaged.append(("one entry fewer declared", payload, h.rawLength, h.entryCount - 1))
        damaged.append(("one raw byte more declared", payload, h.rawLength + 1, h.entryCount))
        // Hand-built: the worked example with a bad role, bad UTF-8, metadata not an object, quality out of range.
        let w = ColumnarBlockTests.workedStreams
        func replacing(_ id: UInt8, _ b: [UInt8]) -> [(id: UInt8, bytes: [UInt8])] { w.map { $0.id == id ? ($0.id, b) : $0 } }
        let raw = ColumnarBlockTests.workedEntry.count
        damaged.append(("invalid UTF-8 in a text", ColumnarBlockTests.payload(replacing(8, [0x02, 0xC3, 0x28, 0x02, 0x79, 0x6f])), raw, 1))
        damaged.append(("metadata not an object", ColumnarBlockTests.payload(replacing(10, [0x02, 0x5b, 0x5d])), raw, 1))
        damaged.append(("quality NaN", ColumnarBlockTests.payload((replacing(3, [0x02, 0x01]) + [(5, [0x00] + withUnsafeBytes(of: Double.nan.bitPattern.littleEndian) { Array($0) })])
            .sorted { $0.id < $1.id }), raw + 8, 1))
        let chatWorked: [(id: UInt8, bytes: [UInt8])] = [(1, [0x01]), (3, [0x03, 0x00]), (4, [0x00]), (7, [0x01, 0x64, 0x00]),
                                                         (8, [0x01, 0x61]), (9, [0x01, 0x09]), (10, [0x02, 0x7b, 0x7d])]
        damaged.append(("unknown role", ColumnarBlockTests.payload(chatWorked), 1 + 1 + 1 + 16 + 8 + 1 + 2 + 1 + 1 + 1 + 2 + 3, 1))
        for (name, p, rawLength, entryCount) in damaged {
            var rowsRejected = false
            do { _ = try viaRows(p, rawLength: rawLength, entryCount: entryCount) } catch { rowsRejected = true }
            do {
                let got = try viaColumns(p, rawLength: rawLength, entryCount: entryCount)
                Issue.record("\(name): the column view accepted \(got.count) examples (reassembly \(rowsRejected ? "rejects" : "accepts"))")
            } catch let e as StrataError {
                #expect(rowsRejected, "\(name): the column view rejects what the row decoder accepts: \(e)")
                #expect(e.code == .corruption && e.path == "seg.strata" && (e.offset ?? -1) >= 1000, "\(name): \(e)")
            }
        }
    }
}
