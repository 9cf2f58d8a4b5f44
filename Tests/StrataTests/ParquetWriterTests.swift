import Foundation
import Testing
@testable import Strata

@Suite struct ParquetWriterTests {
    typealias S = ParquetTestSupport

    static let message = ParquetType.record([ParquetField("role", .string, nullable: false),
                                             ParquetField("content", .string, nullable: false)])

    /// Every column type the export uses, with nulls where allowed.
    static let fullSchema = ParquetSchema([
        ParquetField("id", .string, nullable: false),
        ParquetField("domain", .string, nullable: false),
        ParquetField("prompt", .string),
        ParquetField("unique_text", .string, nullable: false),
        ParquetField("quality", .double),
        ParquetField("ts", .timestampMillis, nullable: false),
        ParquetField("count32", .int32),
        ParquetField("count64", .int64, nullable: false),
        ParquetField("flag", .bool),
        ParquetField("metadata", .json),
        ParquetField("blob", .binary),
        ParquetField("tags", .list(ParquetField("element", .string))),
        ParquetField("req_tags", .list(ParquetField("element", .string, nullable: false)), nullable: false),
        ParquetField("messages", .list(ParquetField("element", message, nullable: false))),
    ])

    static func fullRows(_ n: Int) -> [[ParquetValue]] {
        var r = S.Random(state: 42)
        let domains = ["metabolic_diabetes", "cardio", "mental_health", "oncologie", "日本語ドメイン"]
        let words = ["the", "patient", "glucose", "élevé", "naïve", "数据", "🙂", "insulin", "reports", "Größe", "\"quoted\"", "back\\slash", "tab\tnew\nline"]
        func text(_ k: Int) -> String { (0..<k).map { _ in words[r.int(words.count)] }.joined(separator: " ") }
        let promptPool = (0..<400).map { i in "prompt \(i): " + text(8) }
        var rows: [[ParquetValue]] = []
        for i in 0..<n {
            let prompt: ParquetValue
            switch r.int(20) {
            case 0: prompt = .null
            case 1: prompt = .string(String(repeating: "long é ", count: 2000 + r.int(20000)))  // long, beyond stats limit
            case 2: prompt = .string("")
            default: prompt = .string(promptPool[r.int(promptPool.count)])
            }
            let tags: ParquetValue
            switch r.int(6) {
            case 0: tags = .null
            case 1: tags = .list([])
            default: tags = .list((0..<(1 + r.int(4))).map { _ in r.chance(10) ? .null : .string(words[r.int(words.count)]) })
            }
            let messages: ParquetValue
            switch r.int(5) {
            case 0: messages = .null
            case 1: messages = .list([])
            default:
                messages = .list((0..<(1 + r.int(4))).map { k in
                    .record([.string(["system", "user", "assistant", "tool"][k % 4]), .string(text(r.int(12)))])
                })
            }
            let quality: ParquetValue = r.chance(15) ? .null : .double([0.0, -0.0, 1.0, 0.5, 0.123456789, 1e-7, -3.25][r.int(7)] + (r.chance(50) ? Double(r.int(1000)) / 997 : 0))
            let meta: ParquetValue = r.chance(10) ? .null : .string(#"{"user_id":"u\#(r.int(50))","score":\#(r.int(100)),"note":"é\"x"}"#)
            rows.append([
                .string(String(format: "%032x", i)),
                .string(domains[r.int(domains.count)]),
                prompt,
                .string("unique \(i) \(r.next()) " + text(3)),
                quality,
                .int(1_700_000_000_000 + Int64(i) * 60_000 - Int64(r.int(1000))),
                r.chance(10) ? .null : .int(Int64(r.int(2_000_000_000)) - 1_000_000_000),
                .int(Int64(bitPattern: r.next()) >> Int64(r.int(64))),
                r.chance(10) ? .null : .bool(r.chance(50)),
                meta,
                r.chance(20) ? .null : .bytes((0..<r.int(40)).map { _ in UInt8(r.int(256)) }),
                tags,
                .list((0..<r.int(3)).map { _ in .string(words[r.int(words.count)]) }),
                messages,
            ])
        }
        return rows
    }

    static func write(_ rows: [[ParquetValue]], schema: ParquetSchema, options: ParquetWriterOptions, to path: String) throws -> ParquetFileSummary {
        let w = try ParquetWriter(path: path, schema: schema, options: options)
        w.addMetadata(key: "strata.test", value: #"{"hello":"wörld"}"#)
        for row in rows { try w.append(row) }
        return try w.close()
    }

    static func check(_ mode: String, _ parquet: URL, _ expected: URL) throws {
        let (status, out, err) = try S.runPython("check_parquet.py", [mode, parquet.path, expected.path])
        if status != 0 {
            Issue.record("check_parquet.py \(mode) failed (exit \(status)):\n\(err)\n\(out)")
        }
    }

    @Test func pyarrowAndDuckDBReadEveryValue() throws {
        let dir = try S.tempDir("values")
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = ParquetWriterOptions()
        options.rowGroupMaxRows = 1500
        options.pageMaxRows = 300
        options.dictionaryMaxBytes = 8 << 10  // forces the mid-chunk fallback on `prompt`
        let rows = Self.fullRows(5000)
        let parquet = dir.appendingPathComponent("full.parquet")
        let summary = try Self.write(rows, schema: Self.fullSchema, options: options, to: parquet.path)
        #expect(summary.rows == 5000)
        #expect(summary.rowGroups == 4)
        let expected = dir.appendingPathComponent("expected.json")
        try S.expectedJSON(schema: Self.fullSchema, rows: rows,
                           extra: ["row_groups": "4", "key_value": #"{"strata.test":"{\"hello\":\"wörld\"}"}"#])
            .write(to: expected, atomically: true, encoding: .utf8)
        try Self.check("values", parquet, expected)
    }

    @Test func defaultOptionsWriteOneReadableRowGroup() throws {
        let dir = try S.tempDir("default")
        defer { try? FileManager.default.removeItem(at: dir) }
        let rows = Self.fullRows(700)
        let parquet = dir.appendingPathComponent("default.parquet")
        let summary = try Self.write(rows, schema: Self.fullSchema, options: ParquetWriterOptions(), to: parquet.path)
        #expect(summary.rowGroups == 1)
        let expected = dir.appendingPathComponent("expected.json")
        try S.expectedJSON(schema: Self.fullSchema, rows: rows, extra: ["row_groups": "1"])
            .write(to: expected, atomically: true, encoding: .utf8)
        try Self.check("values", parquet, expected)
    }

    @Test func emptyFileIsReadable() throws {
        let dir = try S.tempDir("empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        let parquet = dir.appendingPathComponent("empty.parquet")
        let summary = try Self.write([], schema: Self.fullSchema, options: ParquetWriterOptions(), to: parquet.path)
        #expect(summary.rows == 0 && summary.rowGroups == 0)
        let expected = dir.appendingPathComponent("expected.json")
        try S.expectedJSON(schema: Self.fullSchema, rows: [], extra: ["row_groups": "0"])
            .write(to: expected, atomically: true, encoding: .utf8)
        try Self.check("values", parquet, expected)
    }

    @Test func statisticsMatchData() throws {
        let schema = ParquetSchema([
            ParquetField("name", .string, nullable: false),
            ParquetField("note", .string),
            ParquetField("score", .double),
            ParquetField("n", .int64, nullable: false),
            ParquetField("n32", .int32),
            ParquetField("flag", .bool),
            ParquetField("ts", .timestampMillis, nullable: false),
            ParquetField("meta", .json),
            ParquetField("long", .string),
        ])
        var r = S.Random(state: 7)
        // Unsigned byte order puts "é…" and "日…" after "z…"; a signed comparison would not.
        let names = ["apple", "zebra", "élan", "日本", "Zulu", "a", "", "~tilde", "émile"]
        var rows: [[ParquetValue]] = []
        for i in 0..<3000 {
            rows.append([
                .string(names[r.int(names.count)] + (r.chance(50) ? "\(i)" : "")),
                r.chance(30) ? .null : .string(names[r.int(names.count)]),
                r.chance(20) ? .null : .double([-0.0, 0.0, -2.5, 3.75, 1e-9][r.int(5)] * Double(1 + r.int(3))),
                .int(Int64(r.int(1_000_000)) - 500_000),
                r.chance(25) ? .null : .int(Int64(r.int(1000)) - 10),
                r.chance(25) ? .null : .bool(r.chance(90)),
                .int(1_600_000_000_000 + Int64(r.int(1_000_000_000))),
                r.chance(50) ? .null : .string(#"{"k":\#(r.int(10))}"#),
                // Longer than statisticsMaxBytes: bounds are stored shortened.
                r.chance(10) ? .null : .string(String(repeating: ["é", "a", "z", "日", "\u{10FFFF}a"][r.int(5)], count: 30 + r.int(60)) + "\(i)"),
            ])
        }
        // Column `note` in the last row group is all null: no min/max, null_count only.
        for i in 2500..<3000 { rows[i][1] = .null }
        var options = ParquetWriterOptions()
        options.rowGroupMaxRows = 1000
        options.pageMaxRows = 128
        let dir = try S.tempDir("stats")
        defer { try? FileManager.default.removeItem(at: dir) }
        let parquet = dir.appendingPathComponent("stats.parquet")
        _ = try Self.write(rows, schema: schema, options: options, to: parquet.path)

        // Expected statistics computed here, independently of the writer.
        var groups: [String] = []
        for g in stride(from: 0, to: rows.count, by: 1000) {
            let slice = rows[g..<min(g + 1000, rows.count)]
            var cols: [String] = []
            for (j, f) in schema.fields.enumerated() {
                let vals = slice.map { $0[j] }
                let nulls = vals.filter { $0 == .null }.count
                var minJ = "null", maxJ = "null"
                switch f.type {
                case .string, .json:
                    let bs = vals.compactMap { v -> [UInt8]? in if case .string(let s) = v { return Array(s.utf8) } else { return nil } }
                    if let lo = bs.min(by: { $0.lexicographicallyPrecedes($1) }), let hi = bs.max(by: { $0.lexicographicallyPrecedes($1) }) {
                        minJ = S.jsonString(String(decoding: lo, as: UTF8.self))
                        maxJ = S.jsonString(String(decoding: hi, as: UTF8.self))
                    }
                case .double:
                    let ds = vals.compactMap { v -> Double? in if case .double(let d) = v { return d } else { return nil } }
                    if let lo = ds.min(), let hi = ds.max() {
                        minJ = lo == 0 ? "\"-0.0\"" : "\(lo)"
                        maxJ = hi == 0 ? "\"0.0\"" : "\(hi)"
                    }
                case .bool:
                    let bs = vals.compactMap { v -> Bool? in if case .bool(let b) = v { return b } else { return nil } }
                    if !bs.isEmpty {
                        minJ = bs.contains(false) ? "false" : "true"
                        maxJ = bs.contains(true) ? "true" : "false"
                    }
                default:
                    let xs = vals.compactMap { v -> Int64? in if case .int(let x) = v { return x } else { return nil } }
                    if let lo = xs.min(), let hi = xs.max() { minJ = "\(lo)"; maxJ = "\(hi)" }
                }
                let inexact = f.name == "long" ? ",\"inexact\":true" : ""
                cols.append("\(S.jsonString(f.name)):{\"min\":\(minJ),\"max\":\(maxJ),\"null_count\":\(nulls)\(inexact)}")
            }
            groups.append("{" + cols.joined(separator: ",") + "}")
        }
        let expected = dir.appendingPathComponent("expected.json")
        try S.expectedJSON(schema: schema, rows: rows, extra: ["row_groups": "3", "statistics": "[" + groups.joined(separator: ",") + "]"])
            .write(to: expected, atomically: true, encoding: .utf8)
        try Self.check("stats", parquet, expected)
    }

    @Test func longStatisticsAreShortenedToValidBounds() {
        let text = Array("abcé日\u{10FFFF}".utf8)  // 3 + 2 + 3 + 4 bytes
        #expect(parquetTruncatedMin(text, limit: 5, utf8: true) == Array("abcé".utf8))
        #expect(parquetTruncatedMin(text, limit: 7, utf8: true) == Array("abcé".utf8))
        #expect(parquetTruncatedMax(text, limit: 7, utf8: true) == Array("abcê".utf8))
        #expect(parquetTruncatedMax(Array("a\u{10FFFF}\u{10FFFF}b".utf8), limit: 9, utf8: true) == Array("b".utf8))
        #expect(parquetTruncatedMax([0x01, 0xFF, 0xFF, 0x00], limit: 3, utf8: false) == [0x02])
        #expect(parquetTruncatedMax([0xFF, 0xFF], limit: 1, utf8: false) == nil)
        #expect(parquetTruncatedMax(text, limit: 20, utf8: true) == text)
    }

    @Test func dictionaryFallsBackToPlainOnHighCardinality() throws {
        let leaf = ParquetLeaf(path: ["s"], type: .string, physical: .byteArray, maxDef: 0, maxRep: 0)
        var options = ParquetWriterOptions()
        options.pageMaxRows = 1000

        let unique = ParquetColumnWriter(leaf: leaf, options: options)
        for i in 0..<5000 {
            var s = "value number \(i) with some padding"
            s.withUTF8 { unique.appendBytes(UnsafeRawBufferPointer($0), rep: 0) }
            try unique.endRow()
        }
        let u = try unique.finish()
        #expect(u.dictionaryPage == nil)
        #expect(u.encodings == [ParquetEncodingID.plain])
        #expect(u.numValues == 5000)

        let repeated = ParquetColumnWriter(leaf: leaf, options: options)
        for i in 0..<5000 {
            var s = "category \(i % 7)"
            s.withUTF8 { repeated.appendBytes(UnsafeRawBufferPointer($0), rep: 0) }
            try repeated.endRow()
        }
        let d = try repeated.finish()
        #expect(d.dictionaryPage != nil)
        #expect(d.encodings.contains(ParquetEncodingID.rleDictionary))
        #expect(d.minValue == Array("category 0".utf8))
        #expect(d.maxValue == Array("category 6".utf8))
    }

    @Test func dictionaryFallsBackToPlainWhenFull() throws {
        let leaf = ParquetLeaf(path: ["s"], type: .string, physical: .byteArray, maxDef: 1, maxRep: 0)
        var options = ParquetWriterOptions()
        options.pageMaxRows = 500
        options.dictionaryMaxBytes = 2000
        let w = ParquetColumnWriter(leaf: leaf, options: options)
        // Low cardinality at first (dictionary pays), then new values fill the dictionary.
        for i in 0..<3000 {
            var s = i < 500 ? "v\(i % 5)" : "fresh value \(i)"
            s.withUTF8 { w.appendBytes(UnsafeRawBufferPointer($0), rep: 0) }
            try w.endRow()
        }
        let out = try w.finish()
        #expect(out.dictionaryPage != nil)
        #expect(out.encodings == [ParquetEncodingID.plain, ParquetEncodingID.rle, ParquetEncodingID.rleDictionary])
    }

    @Test func rowsThatDoNotMatchTheSchemaAreRejectedWithoutWriting() throws {
        var bytes: [UInt8] = []
        let w = try ParquetWriter(schema: Self.fullSchema, sink: { bytes += $0 })
        let good = Self.fullRows(1)[0]
        var bad = good
        bad[0] = .null  // required
        #expect(throws: StrataError.self) { try w.append(bad) }
        bad = good
        bad[6] = .int(Int64(Int32.max) + 1)  // int32 overflow
        #expect(throws: StrataError.self) { try w.append(bad) }
        bad = good
        bad[11] = .list([.int(1)])  // wrong element type
        #expect(throws: StrataError.self) { try w.append(bad) }
        #expect(throws: StrataError.self) { try w.append(Array(good.prefix(3))) }
        try w.append(good)
        #expect(w.rowCount == 1)
        let summary = try w.close()
        #expect(summary.bytes == bytes.count)
        #expect(Array(bytes.prefix(4)) == Array("PAR1".utf8))
        #expect(Array(bytes.suffix(4)) == Array("PAR1".utf8))
        #expect(throws: StrataError.self) { try w.append(good) }
    }
}

extension ParquetWriterTests {
    @Test func sinkFailurePoisonsTheWriter() throws {
        struct Full: Error {}
        var calls = 0
        var options = ParquetWriterOptions()
        options.rowGroupMaxRows = 2
        let w = try ParquetWriter(schema: Self.fullSchema, options: options, sink: { _ in
            calls += 1
            if calls > 1 { throw Full() }
        })
        let rows = Self.fullRows(2)
        try w.append(rows[0])
        #expect(throws: Full.self) { try w.append(rows[1]) }  // row group flush hits the sink
        #expect { try w.append(rows[0]) } throws: { ($0 as? StrataError)?.code == .poisoned }
        #expect { try w.close() } throws: { ($0 as? StrataError)?.code == .poisoned }
    }

    /// Pages compress on worker threads, many at once; each column's pages
    /// must still land in the order they were cut, so the file is the one a
    /// writer compressing one page at a time produces.
    @Test func pagesCompressedManyAtOnceAreTheBytesOfOneAtATime() throws {
        let rows = Self.fullRows(3000)
        func bytes(inFlight: Int) throws -> [UInt8] {
            var options = ParquetWriterOptions()
            options.rowGroupMaxRows = 1100
            options.pageMaxRows = 40
            options.dictionaryMaxBytes = 4 << 10
            options.pagesInFlight = inFlight
            var out: [UInt8] = []
            let w = try ParquetWriter(schema: Self.fullSchema, options: options, sink: { out += $0 })
            for row in rows { try w.append(row) }
            let summary = try w.close()
            #expect(summary.rowGroups == 3)
            return out
        }
        let serial = try bytes(inFlight: 1)
        #expect(try bytes(inFlight: 16) == serial)
        #expect(try bytes(inFlight: 0) == serial)
    }
}

@Suite struct ParquetEncodingTests {
    /// Reference decoder for the RLE / bit-packed hybrid.
    static func decode(_ bytes: [UInt8], bitWidth: Int, count: Int) -> [UInt32] {
        var out: [UInt32] = []
        var p = 0
        func varint() -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                let b = bytes[p]; p += 1
                v |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { return v }
                shift += 7
            }
        }
        while out.count < count {
            let h = varint()
            if h & 1 == 0 {
                var v: UInt32 = 0
                for k in 0..<((bitWidth + 7) / 8) { v |= UInt32(bytes[p + k]) << (8 * UInt32(k)) }
                p += (bitWidth + 7) / 8
                out += Array(repeating: v, count: Int(h >> 1))
            } else {
                let n = Int(h >> 1) * 8
                var bitPos = 0
                for _ in 0..<n {
                    var v: UInt32 = 0
                    for b in 0..<bitWidth {
                        let bit = (bytes[p + (bitPos + b) / 8] >> UInt8((bitPos + b) % 8)) & 1
                        v |= UInt32(bit) << UInt32(b)
                    }
                    bitPos += bitWidth
                    out.append(v)
                }
                p += n * bitWidth / 8
            }
        }
        #expect(p == bytes.count)
        return Array(out.prefix(count))
    }

    @Test func rleHybridEncodesRunsAsRunsAndRoundTrips() {
        var out: [UInt8] = []
        let run: [UInt32] = Array(repeating: 5, count: 100)
        run.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: 3, into: &out) }
        #expect(out == [0xC8, 0x01, 0x05])  // varint(100 << 1), value in one byte

        var r = ParquetTestSupport.Random(state: 1)
        for width in [1, 2, 3, 7, 8, 13, 20, 32] {
            let maxV = width == 32 ? UInt64(UInt32.max) : (UInt64(1) << UInt64(width)) - 1
            for _ in 0..<20 {
                var values: [UInt32] = []
                for _ in 0..<r.int(600) {
                    let v = UInt32(r.next() % (maxV + 1))
                    values += Array(repeating: v, count: r.chance(30) ? 1 + r.int(30) : 1)
                }
                var enc: [UInt8] = []
                values.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: width, into: &enc) }
                #expect(Self.decode(enc, bitWidth: width, count: values.count) == values)
            }
        }
    }

    @Test func thriftCompactUsesDeltasZigzagAndLongFieldHeaders() {
        var w = ThriftCompactWriter()
        w.i32(1, -1)          // delta 1, i32: 0x15, zigzag(-1) = 1
        w.i64(3, 150)         // delta 2, i64: 0x26, zigzag(150) = 300 = AC 02
        w.bool(4, true)       // 0x11
        w.string(20, "ab")    // delta 16: long form 0x08, zigzag(20) = 40
        w.structBegin(21)     // 0x1C
        w.i32(1, 2)           // nested ids restart at 0: 0x15 0x04
        w.structEnd()         // 0x00
        w.listBegin(22, .i32, count: 16)  // 0x19, 0xF5, 16
        for _ in 0..<16 { w.i32Value(0) }
        w.i32(2, 1)           // id goes down: long form 0x05, zigzag(2) = 4, value 2
        w.messageEnd()
        let expected: [UInt8] = [0x15, 0x01, 0x26, 0xAC, 0x02, 0x11, 0x08, 40, 2, 0x61, 0x62, 0x1C, 0x15, 0x04, 0x00,
                                 0x19, 0xF5, 16] + Array(repeating: 0, count: 16) + [0x05, 0x04, 0x02, 0x00]
        #expect(w.bytes == expected)
    }
}
