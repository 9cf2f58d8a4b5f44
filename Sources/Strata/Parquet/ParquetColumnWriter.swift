/// Encoded pages of one column chunk plus what its ColumnMetaData needs.
struct ParquetChunkOutput {
    var dictionaryPage: [UInt8]?
    var dataPages: [UInt8]
    var numValues: Int
    var uncompressedSize: Int
    var compressedSize: Int
    var encodings: [Int32]
    var nullCount: Int
    var minValue: [UInt8]?
    var maxValue: [UInt8]?
    /// False when min/max were shortened (see `parquetTruncatedMin/Max`).
    var minExact = true
    var maxExact = true
}

/// Thrift `Encoding` values we write.
enum ParquetEncodingID {
    static let plain: Int32 = 0
    static let rle: Int32 = 3
    static let rleDictionary: Int32 = 8
}

/// Buffers one leaf column of the current row group: the open page as levels
/// plus PLAIN bytes or dictionary indices, and the finished pages compressed.
///
/// The mutable state is `@exclusivity(unchecked)`: a writer is used by one
/// thread and never re-entered, and the runtime's dynamic exclusivity check
/// on every access to these class properties (several per value appended)
/// was 7% of a Parquet export's instructions (callgrind).
final class ParquetColumnWriter {
    let leaf: ParquetLeaf
    let options: ParquetWriterOptions
    private let defWidth: Int
    private let repWidth: Int

    // Open page.
    @exclusivity(unchecked) private var defLevels: [UInt8] = []
    @exclusivity(unchecked) private var repLevels: [UInt8] = []
    /// PLAIN values, or one byte per value for BOOLEAN (packed when the page is written).
    @exclusivity(unchecked) private var values: [UInt8] = []
    @exclusivity(unchecked) private var indices: [UInt32] = []
    @exclusivity(unchecked) private var pageLevelCount = 0
    @exclusivity(unchecked) private var pageRows = 0
    /// PLAIN size of the open page's values, whatever their encoding.
    @exclusivity(unchecked) private var pagePlainBytes = 0

    // Chunk.
    @exclusivity(unchecked) private var dictionary: ParquetDictionary?
    @exclusivity(unchecked) private var dictionaryActive: Bool
    @exclusivity(unchecked) private var fallbackPending = false
    @exclusivity(unchecked) private var dataPagesWritten = 0
    @exclusivity(unchecked) private var usedPlain = false
    @exclusivity(unchecked) private var usedDictionary = false
    @exclusivity(unchecked) private var chunk: [UInt8] = []
    @exclusivity(unchecked) private var chunkUncompressed = 0
    @exclusivity(unchecked) private var chunkLevelCount = 0
    /// The row group's last page and dictionary page are submitted (`finishPages`).
    @exclusivity(unchecked) private var pagesFinished = false
    @exclusivity(unchecked) private var dictionaryPage: [UInt8]?
    @exclusivity(unchecked) private var dictionaryUncompressed = 0
    @exclusivity(unchecked) private var nullCount = 0
    /// Bytes of the open page's values or indices (which pages to compress first).
    var openPageBytes: Int { values.count + 4 * indices.count }
    /// Uncompressed PLAIN estimate of this chunk (levels + values), for the row-group size policy.
    @exclusivity(unchecked) private(set) var estimatedBytes = 0

    // Statistics.
    @exclusivity(unchecked) private var minBytes: [UInt8]?
    @exclusivity(unchecked) private var maxBytes: [UInt8]?
    @exclusivity(unchecked) private var minInt = Int64.max, maxInt = Int64.min
    @exclusivity(unchecked) private var minDouble = Double.infinity, maxDouble = -Double.infinity, sawDouble = false
    @exclusivity(unchecked) private var sawFalse = false, sawTrue = false

    /// Compresses finished pages (shared by the column writers of one file).
    private let compressor: ParquetPageCompressor

    init(leaf: ParquetLeaf, options: ParquetWriterOptions, compressor: ParquetPageCompressor? = nil) {
        self.leaf = leaf
        self.options = options
        self.compressor = compressor ?? ParquetPageCompressor(level: options.compressionLevel, limit: options.pagesInFlight)
        defWidth = parquetBitWidth(UInt64(leaf.maxDef))
        repWidth = parquetBitWidth(UInt64(leaf.maxRep))
        dictionaryActive = options.dictionaryEnabled && leaf.physical != .boolean
        if dictionaryActive { dictionary = ParquetDictionary() }
    }

    // MARK: Appending (called by the shredder)

    @inline(__always) private func levels(def: Int, rep: Int) {
        if leaf.maxDef > 0 { defLevels.append(UInt8(truncatingIfNeeded: def)) }
        if leaf.maxRep > 0 { repLevels.append(UInt8(truncatingIfNeeded: rep)) }
        pageLevelCount += 1
        estimatedBytes += 1
    }

    func appendNull(def: Int, rep: Int) {
        levels(def: def, rep: rep)
        nullCount += 1
    }

    func appendBytes(_ p: UnsafeRawBufferPointer, rep: Int) {
        levels(def: leaf.maxDef, rep: rep)
        pagePlainBytes += 4 + p.count
        estimatedBytes += 4 + p.count
        if dictionaryActive {
            let (index, inserted) = dictionary!.index(of: p, lengthPrefixed: true)
            if inserted {
                updateBytesStats(p)
                if dictionary!.byteCount > options.dictionaryMaxBytes { fallbackPending = true }
            }
            indices.append(index)
        } else {
            updateBytesStats(p)
            withUnsafeBytes(of: UInt32(p.count).littleEndian) { values.append(contentsOf: $0) }
            values.append(contentsOf: p)
        }
    }

    func appendInt(_ v: Int64, rep: Int) {
        levels(def: leaf.maxDef, rep: rep)
        if v < minInt { minInt = v }
        if v > maxInt { maxInt = v }
        if leaf.physical == .int32 {
            withUnsafeBytes(of: Int32(truncatingIfNeeded: v).littleEndian) { appendFixed($0) }
        } else {
            withUnsafeBytes(of: v.littleEndian) { appendFixed($0) }
        }
    }

    func appendDouble(_ v: Double, rep: Int) {
        levels(def: leaf.maxDef, rep: rep)
        if !v.isNaN {
            sawDouble = true
            if v < minDouble { minDouble = v }
            if v > maxDouble { maxDouble = v }
        }
        withUnsafeBytes(of: v.bitPattern.littleEndian) { appendFixed($0) }
    }

    func appendBool(_ v: Bool, rep: Int) {
        levels(def: leaf.maxDef, rep: rep)
        if v { sawTrue = true } else { sawFalse = true }
        values.append(v ? 1 : 0)
        pagePlainBytes += 1
    }

    private func appendFixed(_ raw: UnsafeRawBufferPointer) {
        pagePlainBytes += raw.count
        estimatedBytes += raw.count
        if dictionaryActive {
            let (index, inserted) = dictionary!.index(of: raw, lengthPrefixed: false)
            if inserted && dictionary!.byteCount > options.dictionaryMaxBytes { fallbackPending = true }
            indices.append(index)
        } else {
            values.append(contentsOf: raw)
        }
    }

    private func updateBytesStats(_ p: UnsafeRawBufferPointer) {
        if let m = minBytes {
            if m.withUnsafeBytes({ parquetBytesLess(p, $0) }) { minBytes = Array(p) }
        } else {
            minBytes = Array(p)
        }
        if let m = maxBytes {
            if m.withUnsafeBytes({ parquetBytesLess($0, p) }) { maxBytes = Array(p) }
        } else {
            maxBytes = Array(p)
        }
    }

    /// Called after each complete row: pages end only on row boundaries so
    /// that no reader sees a record split across pages.
    func endRow() throws {
        pageRows += 1
        if fallbackPending && dataPagesWritten == 0 { abandonDictionaryIfItDoesNotPay() }
        let open: Int
        if dictionaryActive {
            open = indices.count * parquetBitWidth(UInt64(max(dictionary!.count, 1) - 1)) / 8
        } else {
            open = leaf.physical == .boolean ? values.count / 8 : values.count
        }
        if fallbackPending || open + pageLevelCount / 4 >= options.pageMaxBytes || pageRows >= options.pageMaxRows {
            try flushPage()
        }
    }

    // MARK: Pages

    private func appendLevels(_ levels: [UInt8], width: Int, to body: inout [UInt8]) {
        let at = body.count
        body.append(contentsOf: [0, 0, 0, 0])
        levels.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: width, into: &body) }
        let n = UInt32(body.count - at - 4)
        for k in 0..<4 { body[at + k] = UInt8(truncatingIfNeeded: n >> (8 * UInt32(k))) }
    }

    /// High cardinality: if the dictionary plus indices is no smaller than
    /// PLAIN, the first page decides that this chunk is written PLAIN. The
    /// open page is converted in place and stays open.
    private func abandonDictionaryIfItDoesNotPay() {
        guard dictionaryActive, let d = dictionary else { return }
        let width = parquetBitWidth(UInt64(max(d.count, 1) - 1))
        guard d.byteCount + indices.count * width / 8 >= pagePlainBytes else { return }
        values.removeAll(keepingCapacity: true)
        values.reserveCapacity(pagePlainBytes)
        for i in indices { d.appendPlain(Int(i), to: &values) }
        indices.removeAll(keepingCapacity: true)
        dictionary = nil
        dictionaryActive = false
        fallbackPending = false
    }

    func flushPage() throws {
        guard pageLevelCount > 0 else { return }
        let job = try compressor.job()
        job.body.removeAll(keepingCapacity: true)
        if leaf.maxRep > 0 { appendLevels(repLevels, width: repWidth, to: &job.body) }
        if leaf.maxDef > 0 { appendLevels(defLevels, width: defWidth, to: &job.body) }

        if dataPagesWritten == 0 { abandonDictionaryIfItDoesNotPay() }

        let encoding: Int32
        if dictionaryActive {
            let width = parquetBitWidth(UInt64(max(dictionary!.count, 1) - 1))
            job.body.append(UInt8(width))
            indices.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: width, into: &job.body) }
            encoding = ParquetEncodingID.rleDictionary
            usedDictionary = true
            // Dictionary full: later pages of this chunk are PLAIN.
            if fallbackPending { dictionaryActive = false; fallbackPending = false }
        } else {
            if leaf.physical == .boolean {
                var acc: UInt8 = 0
                for (i, b) in values.enumerated() {
                    acc |= b << UInt8(i & 7)
                    if i & 7 == 7 { job.body.append(acc); acc = 0 }
                }
                if values.count & 7 != 0 { job.body.append(acc) }
            } else {
                // Grown to the page plus 1/8, not doubled: bodies stay about one page's size.
                let needed = job.body.count + values.count
                if job.body.capacity < needed { job.body.reserveCapacity(needed + needed / 8) }
                job.body.append(contentsOf: values)
            }
            encoding = ParquetEncodingID.plain
            usedPlain = true
        }

        job.isDictionary = false
        job.valueCount = pageLevelCount
        job.encoding = encoding
        compressor.submit(job, owner: self)
        chunkLevelCount += pageLevelCount
        dataPagesWritten += 1

        defLevels.removeAll(keepingCapacity: true)
        repLevels.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        indices.removeAll(keepingCapacity: true)
        pageLevelCount = 0
        pageRows = 0
        pagePlainBytes = 0
    }

    /// Takes back a compressed page (`ParquetPageCompressor` hands them over
    /// in the order this writer submitted them): a data page joins the
    /// chunk, the dictionary page is kept apart.
    func take(_ job: ParquetPageJob) {
        var h = ThriftCompactWriter()
        if job.isDictionary {
            h.i32(1, 2)  // DICTIONARY_PAGE
            h.i32(2, Int32(job.body.count))
            h.i32(3, Int32(job.compressedCount))
            h.structBegin(7)  // DictionaryPageHeader
            h.i32(1, Int32(job.valueCount))
            h.i32(2, ParquetEncodingID.plain)
            h.structEnd()
            h.messageEnd()
            dictionaryPage = h.bytes + job.compressed
            dictionaryUncompressed = h.bytes.count + job.body.count
            return
        }
        h.i32(1, 0)  // DATA_PAGE
        h.i32(2, Int32(job.body.count))
        h.i32(3, Int32(job.compressedCount))
        h.structBegin(5)  // DataPageHeader
        h.i32(1, Int32(job.valueCount))
        h.i32(2, job.encoding)
        h.i32(3, ParquetEncodingID.rle)
        h.i32(4, ParquetEncodingID.rle)
        h.structEnd()
        h.messageEnd()
        chunk.append(contentsOf: h.bytes)
        chunk.append(contentsOf: job.compressed)
        chunkUncompressed += h.bytes.count + job.body.count
    }

    /// Submits the row group's open page and its dictionary page. The file
    /// writer calls this on every column before `finish`, so the last pages
    /// of all columns compress together.
    func finishPages() throws {
        guard !pagesFinished else { return }
        try flushPage()
        if usedDictionary, let d = dictionary {
            let job = try compressor.job()
            job.body.removeAll(keepingCapacity: true)
            job.body.append(contentsOf: d.plain)
            job.isDictionary = true
            job.valueCount = d.count
            compressor.submit(job, owner: self)
        }
        pagesFinished = true
    }

    /// Takes back a chunk's page buffer once it is written (`finish` handed it
    /// out), so the next row group's pages fill memory already in use instead
    /// of growing a new buffer from empty.
    func recycle(_ pages: inout [UInt8]) {
        guard chunk.isEmpty else { return }
        swap(&chunk, &pages)
        chunk.removeAll(keepingCapacity: true)
    }

    /// Flushes the open page and returns the chunk; the writer is then reset for the next row group.
    func finish() throws -> ParquetChunkOutput {
        try finishPages()
        try compressor.drain()
        let uncompressed = chunkUncompressed + dictionaryUncompressed
        var encodings: [Int32] = []
        if usedPlain || usedDictionary { encodings.append(ParquetEncodingID.plain) }
        if leaf.maxDef > 0 || leaf.maxRep > 0 || usedDictionary { encodings.append(ParquetEncodingID.rle) }
        if usedDictionary { encodings.append(ParquetEncodingID.rleDictionary) }
        var (minValue, maxValue) = statistics()
        var minExact = true, maxExact = true
        if leaf.physical == .byteArray, let lo = minValue, let hi = maxValue {
            // Long strings would bloat the footer; store shortened bounds instead.
            let text = leaf.type != .binary
            if lo.count > options.statisticsMaxBytes {
                minValue = parquetTruncatedMin(lo, limit: options.statisticsMaxBytes, utf8: text)
                minExact = false
            }
            if hi.count > options.statisticsMaxBytes {
                maxValue = parquetTruncatedMax(hi, limit: options.statisticsMaxBytes, utf8: text)
                maxExact = false
            }
            if minValue == nil || maxValue == nil { minValue = nil; maxValue = nil }
        }
        let out = ParquetChunkOutput(
            dictionaryPage: dictionaryPage, dataPages: chunk, numValues: chunkLevelCount,
            uncompressedSize: uncompressed, compressedSize: chunk.count + (dictionaryPage?.count ?? 0),
            encodings: encodings, nullCount: nullCount, minValue: minValue, maxValue: maxValue,
            minExact: minExact, maxExact: maxExact)
        reset()
        return out
    }

    /// PLAIN-encoded (no length prefix) min and max, or nil when unknown or too long to be worth storing.
    private func statistics() -> ([UInt8]?, [UInt8]?) {
        switch leaf.physical {
        case .byteArray:
            guard let lo = minBytes, let hi = maxBytes else { return (nil, nil) }
            return (lo, hi)
        case .int32:
            guard minInt <= maxInt else { return (nil, nil) }
            return (le(Int32(truncatingIfNeeded: minInt)), le(Int32(truncatingIfNeeded: maxInt)))
        case .int64:
            guard minInt <= maxInt else { return (nil, nil) }
            return (le(minInt), le(maxInt))
        case .double:
            guard sawDouble else { return (nil, nil) }
            // The spec asks for -0.0 as a zero minimum and +0.0 as a zero maximum.
            let lo = minDouble == 0 ? -0.0 : minDouble
            let hi = maxDouble == 0 ? 0.0 : maxDouble
            return (le(lo.bitPattern), le(hi.bitPattern))
        case .boolean:
            guard sawFalse || sawTrue else { return (nil, nil) }
            return ([sawFalse ? 0 : 1], [sawTrue ? 1 : 0])
        }
    }

    private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    private func reset() {
        dictionaryActive = options.dictionaryEnabled && leaf.physical != .boolean
        dictionary = dictionaryActive ? ParquetDictionary() : nil
        fallbackPending = false
        dataPagesWritten = 0
        usedPlain = false
        usedDictionary = false
        chunk = []
        chunkUncompressed = 0
        chunkLevelCount = 0
        pagesFinished = false
        dictionaryPage = nil
        dictionaryUncompressed = 0
        nullCount = 0
        estimatedBytes = 0
        minBytes = nil
        maxBytes = nil
        minInt = .max; maxInt = .min
        minDouble = .infinity; maxDouble = -.infinity; sawDouble = false
        sawFalse = false; sawTrue = false
    }
}

/// A lower bound of `value` of at most `limit` bytes: its longest prefix that
/// fits (cut on a scalar boundary for UTF-8, so the bound is valid text).
func parquetTruncatedMin(_ value: [UInt8], limit: Int, utf8: Bool) -> [UInt8] {
    guard value.count > limit else { return value }
    var n = limit
    if utf8 { while n > 0 && value[n] & 0xC0 == 0x80 { n -= 1 } }  // value[n] starts the first dropped scalar
    return Array(value[0..<n])
}

/// An upper bound of `value` of at most `limit` bytes: a prefix whose last
/// unit is incremented (a byte, or for UTF-8 a Unicode scalar, since UTF-8
/// byte order is scalar order). Nil if no such bound exists (all 0xFF / U+10FFFF).
func parquetTruncatedMax(_ value: [UInt8], limit: Int, utf8: Bool) -> [UInt8]? {
    guard value.count > limit else { return value }
    if !utf8 {
        var p = Array(value[0..<limit])
        while let last = p.last {
            if last < 0xFF { p[p.count - 1] = last + 1; return p }
            p.removeLast()
        }
        return nil
    }
    var scalars = Array(String(decoding: parquetTruncatedMin(value, limit: limit, utf8: true), as: UTF8.self).unicodeScalars)
    while let last = scalars.popLast() {
        var next = last.value + 1
        if next == 0xD800 { next = 0xE000 }  // skip surrogates
        if let s = Unicode.Scalar(next) {
            var out = String(String.UnicodeScalarView(scalars))
            out.unicodeScalars.append(s)
            let bytes = Array(out.utf8)
            if bytes.count <= limit { return bytes }
        }
    }
    return nil
}
