import Testing
@testable import Strata

/// `ParquetWriter.appendColumns` (rows given a column at a time, as the
/// columnar-block export gives them) writes the bytes of `append` given the
/// same rows one by one: the same pages, dictionary fallbacks and row-group
/// cuts, also when batches and single rows alternate.
@Suite struct ParquetAppendColumnsTests {
    static let schema = ParquetSchema([
        ParquetField("s", .string, nullable: false),
        ParquetField("o", .string),
        ParquetField("i", .int64, nullable: false),
        ParquetField("d", .double),
        ParquetField("l", .list(ParquetField("element", .string, nullable: false))),
        ParquetField("r", .list(ParquetField("element", .record([
            ParquetField("a", .string, nullable: false), ParquetField("b", .string, nullable: false),
        ]), nullable: false))),
        ParquetField("b", .bool, nullable: false),
    ])

    struct Row {
        var s: String, o: String?, i: Int64, d: Double?, l: [String]?, r: [(String, String)]?, b: Bool

        var values: [ParquetValue] {
            [.string(s), o.map { .string($0) } ?? .null, .int(i), d.map { .double($0) } ?? .null,
             l.map { .list($0.map { .string($0) }) } ?? .null,
             r.map { .list($0.map { .record([.string($0.0), .string($0.1)]) }) } ?? .null, .bool(b)]
        }

        /// What the row adds to the column writers' `estimatedBytes`.
        var estimate: Int {
            func str(_ t: String) -> Int { 5 + t.utf8.count }
            var n = str(s) + (o.map(str) ?? 1) + 9 + (d == nil ? 1 : 9)
            n += (l ?? []).isEmpty ? 1 : l!.reduce(0) { $0 + str($1) }
            n += (r ?? []).isEmpty ? 2 : r!.reduce(0) { $0 + str($1.0) + str($1.1) }
            return n + 1
        }
    }

    /// Deterministic rows: repeated and unique strings (dictionaries that pay
    /// and that overflow), nulls, empty and null lists, multi-byte text.
    static func rows(_ n: Int) -> [Row] {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ m: Int) -> Int {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return Int((x >> 33) % UInt64(m))
        }
        func text(_ k: Int) -> String { String(repeating: ["a", "é", "z", "日"][k % 4], count: 1 + next(40)) + "\(k)" }
        return (0..<n).map { k in
            Row(s: next(3) == 0 ? "same" : text(k),
                o: next(4) == 0 ? nil : "o\(next(20))",
                i: Int64(next(1000)) - 500,
                d: next(5) == 0 ? nil : Double(next(100)) / 7,
                l: next(6) == 0 ? nil : (0..<next(4)).map { "t\(next(8))-\($0)" },
                r: next(5) == 0 ? nil : (0..<next(3)).map { _ in (["user", "assistant"][next(2)], text(k)) },
                b: next(2) == 0)
        }
    }

    func bytes(_ options: ParquetWriterOptions, _ rows: [Row], batches: [Int]?) throws -> ([UInt8], ParquetFileSummary) {
        var out: [UInt8] = []
        let w = try ParquetWriter(schema: Self.schema, options: options) { out += $0 }
        guard let batches else {
            for r in rows { try w.append(r.values) }
            return (out, try w.close())
        }
        var at = 0, b = 0
        while at < rows.count {
            let n = min(batches[b % batches.count], rows.count - at)
            b += 1
            // Every third batch goes row by row: the two ways of appending mix.
            if b % 3 == 0 {
                for r in rows[at..<(at + n)] { try w.append(r.values) }
                at += n
                continue
            }
            let batch = Array(rows[at..<(at + n)])
            try w.appendColumns(rows: n, rowBytes: { batch[$0].estimate }) { range in
                func strings(_ field: Int, _ value: (Row) -> String?) throws {
                    let c = w.leafColumn(field)
                    for k in range {
                        if var v = value(batch[k]) { v.withUTF8 { c.appendBytes(UnsafeRawBufferPointer($0), rep: 0) } } else { c.appendNull(def: 0, rep: 0) }
                        try c.endRow()
                    }
                }
                try strings(0) { $0.s }
                try strings(1) { $0.o }
                let i = w.leafColumn(2)
                for k in range { i.appendInt(batch[k].i, rep: 0); try i.endRow() }
                let d = w.leafColumn(3)
                for k in range {
                    if let v = batch[k].d { d.appendDouble(v, rep: 0) } else { d.appendNull(def: 0, rep: 0) }
                    try d.endRow()
                }
                let (lc, lEmpty, lRep) = w.listColumns(4)
                for k in range {
                    if let l = batch[k].l {
                        if l.isEmpty { lc[0].appendNull(def: lEmpty, rep: 0) }
                        for (j, var t) in l.enumerated() { t.withUTF8 { lc[0].appendBytes(UnsafeRawBufferPointer($0), rep: j == 0 ? 0 : lRep) } }
                    } else {
                        lc[0].appendNull(def: 0, rep: 0)
                    }
                    try lc[0].endRow()
                }
                let (rc, rEmpty, rRep) = w.listColumns(5)
                for (f, c) in rc.enumerated() {
                    for k in range {
                        if let r = batch[k].r {
                            if r.isEmpty { c.appendNull(def: rEmpty, rep: 0) }
                            for (j, m) in r.enumerated() {
                                var t = f == 0 ? m.0 : m.1
                                t.withUTF8 { c.appendBytes(UnsafeRawBufferPointer($0), rep: j == 0 ? 0 : rRep) }
                            }
                        } else {
                            c.appendNull(def: 0, rep: 0)
                        }
                        try c.endRow()
                    }
                }
                let bc = w.leafColumn(6)
                for k in range { bc.appendBool(batch[k].b, rep: 0); try bc.endRow() }
            }
            at += n
        }
        return (out, try w.close())
    }

    @Test(arguments: [(3000, 1 << 20), (1 << 20, 7), (128 << 20, 1 << 20)])
    func appendColumnsWritesTheBytesOfAppendingTheRowsOneByOne(_ groupBytes: Int, _ groupRows: Int) throws {
        var o = ParquetWriterOptions()
        o.rowGroupMaxBytes = groupBytes
        o.rowGroupMaxRows = groupRows
        o.pageMaxBytes = 700
        o.pageMaxRows = 11
        o.dictionaryMaxBytes = 300
        let rows = Self.rows(400)
        let (expected, summary) = try bytes(o, rows, batches: nil)
        if groupBytes < 1 << 20 || groupRows < 1 << 20 { #expect(summary.rowGroups > 5, "the options should cut many row groups") }
        for batches in [[1], [13, 50, 2], [400]] {
            let (got, s) = try bytes(o, rows, batches: batches)
            #expect(s == summary, "batches \(batches)")
            #expect(got == expected, "batches \(batches): differs from byte \(zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
        }
    }
}
