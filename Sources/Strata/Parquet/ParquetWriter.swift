import Foundation

/// Tuning of the physical layout. Defaults follow common writers (Arrow, DuckDB).
public struct ParquetWriterOptions: Sendable {
    /// zstd level for every page.
    public var compressionLevel: Int32 = 3
    /// A row group is closed once its uncompressed PLAIN estimate reaches this size...
    public var rowGroupMaxBytes: Int = 128 << 20
    /// ...or once it holds this many rows, whichever comes first.
    public var rowGroupMaxRows: Int = 1 << 20
    /// A data page is closed at this many (estimated, uncompressed) bytes...
    /// Larger than Arrow's 1 MiB because each page is one zstd frame and text
    /// compresses better in bigger frames (DuckDB writes one page per chunk):
    /// measured 1 MiB +0.7%, 4 MiB +0.1%, 16 MiB -0.04% against DuckDB's size.
    public var pageMaxBytes: Int = 16 << 20
    /// ...or rows. Without a page index readers cannot skip pages, so rows do not limit pages by default.
    public var pageMaxRows: Int = 1 << 20
    public var dictionaryEnabled: Bool = true
    /// A column chunk stops adding to its dictionary once the dictionary page exceeds this size.
    public var dictionaryMaxBytes: Int = 1 << 20
    /// BYTE_ARRAY min/max longer than this are stored shortened (a prefix for
    /// min, an incremented prefix for max) and marked inexact, as Arrow does.
    public var statisticsMaxBytes: Int = 64
    public var createdBy: String = "strata"
    /// Pages compressed at once on worker threads while rows are added
    /// (`ParquetPageCompressor`); 0 = one per processor (at least 2). Any
    /// value writes the same bytes.
    public var pagesInFlight: Int = 0

    public init() {}
}

/// What `close()` reports.
public struct ParquetFileSummary: Sendable, Equatable {
    public var rows: Int
    public var rowGroups: Int
    public var bytes: Int
}

extension StrataError.Code {
    /// A row does not match the Parquet schema it is written with.
    public static let parquetSchemaMismatch = Self("parquet-schema-mismatch")
}

/// Streaming Parquet writer: rows in, a complete `.parquet` byte stream out
/// through `sink`. Memory is bounded by one row group's compressed pages plus
/// one open page per column.
///
/// Layout: `PAR1`, row groups (per column: optional dictionary page, data
/// pages v1, zstd), footer (FileMetaData, compact Thrift), footer length, `PAR1`.
public final class ParquetWriter {
    public let schema: ParquetSchema
    public let options: ParquetWriterOptions
    public internal(set) var rowCount = 0

    private let sink: ([UInt8]) throws -> Void
    let nodes: [ParquetNode]
    private let leaves: [ParquetLeaf]
    let columns: [ParquetColumnWriter]
    private var offset = 0
    var rowGroupRows = 0
    private var rowGroups: [RowGroupMeta] = []
    private var keyValues: [(String, String)] = []
    var closed = false
    /// Set when the sink failed: the bytes already written are incomplete, so refuse more.
    var failed: StrataError?
    private var fileHandle: FileHandle?

    private struct ChunkMeta {
        var output: ParquetChunkOutput
        var dictionaryOffset: Int?
        var dataOffset: Int
        var start: Int
    }

    private struct RowGroupMeta {
        var chunks: [ChunkMeta]
        var rows: Int
    }

    /// `sink` receives the file's bytes in order; it is never called after `close()`.
    public init(schema: ParquetSchema, options: ParquetWriterOptions = ParquetWriterOptions(),
                sink: @escaping ([UInt8]) throws -> Void) throws {
        guard !schema.fields.isEmpty else { throw StrataError(.usage, "a Parquet schema needs at least one column") }
        self.schema = schema
        self.options = options
        self.sink = sink
        var leaves: [ParquetLeaf] = []
        nodes = schema.fields.map { ParquetNode.build($0, path: [], def: 0, rep: 0, leaves: &leaves) }
        self.leaves = leaves
        let compressor = ParquetPageCompressor(level: options.compressionLevel, limit: options.pagesInFlight)
        columns = leaves.map { ParquetColumnWriter(leaf: $0, options: options, compressor: compressor) }
        try emit(Array("PAR1".utf8))
    }

    /// Creates (or truncates) the file at `path` and writes to it.
    public convenience init(path: String, schema: ParquetSchema, options: ParquetWriterOptions = ParquetWriterOptions()) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw StrataError(.io, "cannot create Parquet file", path: path)
        }
        try self.init(schema: schema, options: options, sink: { bytes in
            do { try handle.write(contentsOf: bytes) } catch {
                throw StrataError(.io, "cannot write Parquet file", path: path, cause: error)
            }
        })
        fileHandle = handle
    }

    /// Adds a footer key/value entry (e.g. the export's JSON schema); may be called until `close()`.
    public func addMetadata(key: String, value: String) {
        keyValues.append((key, value))
    }

    /// Appends one row: one value per top-level field, in schema order.
    /// Throws `.parquetSchemaMismatch` (and writes nothing) if the row does not fit the schema.
    public func append(_ row: [ParquetValue]) throws {
        if let failed { throw failed }
        guard !closed else { throw StrataError(.usage, "Parquet writer is closed") }
        guard row.count == schema.fields.count else {
            throw StrataError(.parquetSchemaMismatch, "row has \(row.count) values, schema has \(schema.fields.count) columns")
        }
        for (v, f) in zip(row, schema.fields) {
            do { try Self.validate(v, f) } catch var e as StrataError {
                if e.field != f.name { e.field = f.name + "/" + (e.field ?? "") }
                throw e
            }
        }
        for (v, n) in zip(row, nodes) { shred(v, n, def: 0, rep: 0) }
        for c in columns { try c.endRow() }
        rowCount += 1
        rowGroupRows += 1
        if rowGroupRows >= options.rowGroupMaxRows || estimatedRowGroupBytes >= options.rowGroupMaxBytes {
            try flushRowGroup()
        }
    }

    var estimatedRowGroupBytes: Int {
        var n = 0
        for c in columns { n += c.estimatedBytes }
        return n
    }

    /// Writes the buffered row group (if any) and the footer. Returns what was written.
    @discardableResult
    public func close() throws -> ParquetFileSummary {
        if let failed { throw failed }
        guard !closed else { throw StrataError(.usage, "Parquet writer is already closed") }
        try flushRowGroup()
        var w = ThriftCompactWriter()
        writeFileMetaData(&w)
        var tail = w.bytes
        withUnsafeBytes(of: UInt32(w.bytes.count).littleEndian) { tail.append(contentsOf: $0) }
        tail.append(contentsOf: Array("PAR1".utf8))
        try emit(tail)
        closed = true
        if let fileHandle {
            do { try fileHandle.close() } catch { throw StrataError(.io, "cannot close Parquet file", cause: error) }
        }
        return ParquetFileSummary(rows: rowCount, rowGroups: rowGroups.count, bytes: offset)
    }

    private func emit(_ bytes: [UInt8]) throws {
        do { try sink(bytes) } catch {
            failed = StrataError(.poisoned, "an earlier Parquet write failed; the file is incomplete", cause: error)
            throw error
        }
        offset += bytes.count
    }

    deinit { try? fileHandle?.close() }

    // MARK: Rows

    /// Checks a whole row before any of it is shredded, so a bad row leaves no partial levels behind.
    /// Errors name the innermost field; `append` prefixes the column.
    private static func validate(_ v: ParquetValue, _ f: ParquetField) throws {
        func mismatch(_ what: String) -> StrataError {
            // Name the case only: values can be megabytes of text.
            let got = "\(v)".prefix(while: { $0 != "(" })
            return StrataError(.parquetSchemaMismatch, "expected \(what), got \(got)", field: f.name)
        }
        if case .null = v {
            if !f.nullable { throw StrataError(.parquetSchemaMismatch, "null in a required field", field: f.name) }
            return
        }
        switch (f.type, v) {
        case (.string, .string), (.string, .bytes), (.json, .string), (.json, .bytes),
             (.binary, .string), (.binary, .bytes), (.double, .double), (.double, .int),
             (.int64, .int), (.timestampMillis, .int), (.bool, .bool):
            return
        case (.int32, .int(let i)):
            if Int32(exactly: i) == nil { throw mismatch("a 32-bit integer") }
        case (.list(let element), .list(let items)):
            for item in items { try validate(item, element) }
        case (.record(let fields), .record(let items)):
            guard fields.count == items.count else { throw mismatch("\(fields.count) record fields") }
            for (item, field) in zip(items, fields) { try validate(item, field) }
        default:
            throw mismatch("\(f.type)")
        }
    }

    /// Dremel shredding: `def`/`rep` are the levels reached by the enclosing fields.
    private func shred(_ v: ParquetValue, _ node: ParquetNode, def: Int, rep: Int) {
        if case .null = v {
            for i in node.leafRange { columns[i].appendNull(def: def, rep: rep) }
            return
        }
        let def = node.nullable ? def + 1 : def
        switch node.kind {
        case .leaf(let i):
            let c = columns[i]
            switch v {
            case .string(var s): s.withUTF8 { c.appendBytes(UnsafeRawBufferPointer($0), rep: rep) }
            case .bytes(let b): b.withUnsafeBytes { c.appendBytes($0, rep: rep) }
            case .int(let x): if c.leaf.physical == .double { c.appendDouble(Double(x), rep: rep) } else { c.appendInt(x, rep: rep) }
            case .double(let x): c.appendDouble(x, rep: rep)
            case .bool(let x): c.appendBool(x, rep: rep)
            case .null, .list, .record: break  // excluded by validate
            }
        case .record(let children):
            guard case .record(let items) = v else { return }
            for (item, child) in zip(items, children) { shred(item, child, def: def, rep: rep) }
        case .list(let element, let repLevel):
            guard case .list(let items) = v else { return }
            if items.isEmpty {
                // Present but empty: levels stop at this list's definition level.
                for i in element.leafRange { columns[i].appendNull(def: def, rep: rep) }
            } else {
                for (k, item) in items.enumerated() {
                    shred(item, element, def: def + 1, rep: k == 0 ? rep : repLevel)
                }
            }
        }
    }

    // MARK: Row groups and footer

    func flushRowGroup() throws {
        guard rowGroupRows > 0 else { return }
        // Every column's last pages first, so they compress in parallel;
        // largest first, so the longest jobs do not end up last on one core.
        for c in columns.sorted(by: { $0.openPageBytes > $1.openPageBytes }) { try c.finishPages() }
        var chunks: [ChunkMeta] = []
        for c in columns {
            var out = try c.finish()
            let start = offset
            var dictionaryOffset: Int?
            if let d = out.dictionaryPage {
                dictionaryOffset = offset
                try emit(d)
            }
            let dataOffset = offset
            try emit(out.dataPages)
            var meta = ChunkMeta(output: out, dictionaryOffset: dictionaryOffset, dataOffset: dataOffset, start: start)
            meta.output.dictionaryPage = nil  // keep only metadata in memory
            meta.output.dataPages = []
            c.recycle(&out.dataPages)
            chunks.append(meta)
        }
        rowGroups.append(RowGroupMeta(chunks: chunks, rows: rowGroupRows))
        rowGroupRows = 0
    }

    private func writeFileMetaData(_ w: inout ThriftCompactWriter) {
        w.i32(1, 2)  // version
        schema.writeSchemaElements(&w)
        w.i64(3, Int64(rowCount))
        w.listBegin(4, .structure, count: rowGroups.count)
        for g in rowGroups {
            w.structElementBegin()
            w.listBegin(1, .structure, count: g.chunks.count)
            var uncompressed = 0, compressed = 0
            for (leaf, chunk) in zip(leaves, g.chunks) {
                writeColumnChunk(chunk, leaf, &w)
                uncompressed += chunk.output.uncompressedSize
                compressed += chunk.output.compressedSize
            }
            w.i64(2, Int64(uncompressed))  // total_byte_size
            w.i64(3, Int64(g.rows))
            w.i64(5, Int64(g.chunks.first?.start ?? 0))  // file_offset
            w.i64(6, Int64(compressed))  // total_compressed_size
            w.structEnd()
        }
        if !keyValues.isEmpty {
            w.listBegin(5, .structure, count: keyValues.count)
            for (k, v) in keyValues {
                w.structElementBegin()
                w.string(1, k)
                w.string(2, v)
                w.structEnd()
            }
        }
        w.string(6, options.createdBy)
        // TypeDefinedOrder for every leaf, so readers trust min_value/max_value
        // (unsigned byte order for strings, signed for numbers).
        w.listBegin(7, .structure, count: leaves.count)
        for _ in leaves {
            w.structElementBegin()
            w.emptyStruct(1)
            w.structEnd()
        }
        w.messageEnd()
    }

    private func writeColumnChunk(_ c: ChunkMeta, _ leaf: ParquetLeaf, _ w: inout ThriftCompactWriter) {
        let o = c.output
        w.structElementBegin()
        w.i64(2, Int64(c.start))  // file_offset
        w.structBegin(3)  // ColumnMetaData
        w.i32(1, leaf.physical.rawValue)
        w.listBegin(2, .i32, count: o.encodings.count)
        for e in o.encodings { w.i32Value(e) }
        w.listBegin(3, .binary, count: leaf.path.count)
        for p in leaf.path { w.stringValue(p) }
        w.i32(4, 6)  // ZSTD
        w.i64(5, Int64(o.numValues))
        w.i64(6, Int64(o.uncompressedSize))
        w.i64(7, Int64(o.compressedSize))
        w.i64(9, Int64(c.dataOffset))
        if let d = c.dictionaryOffset { w.i64(11, Int64(d)) }
        w.structBegin(12)  // Statistics
        w.i64(3, Int64(o.nullCount))
        if let lo = o.minValue, let hi = o.maxValue {
            w.binary(5, hi)  // max_value
            w.binary(6, lo)  // min_value
            w.bool(7, o.maxExact)  // is_max_value_exact
            w.bool(8, o.minExact)  // is_min_value_exact
        }
        w.structEnd()
        w.structEnd()
        w.structEnd()
    }
}
