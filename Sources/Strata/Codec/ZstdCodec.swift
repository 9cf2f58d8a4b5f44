import CZstd
import Foundation

/// The only file that imports CZstd: one-shot zstd compression with optional
/// dictionaries, and dictionary training (ZDICT).
public enum ZstdCodec {
    /// Appends one zstd frame holding `input` to `output`; returns its size.
    @discardableResult
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32, dictionary: ZstdDictionary? = nil,
                                appendingTo output: inout [UInt8]) throws -> Int {
        let bound = ZSTD_compressBound(input.count)
        var result = 0
        var failure: String?
        let cdict = try dictionary?.cdict(level: level)
        output.withUnsafeMutableBufferPointer(appending: bound) { dst in
            let cctx = ZstdContexts.current.cctx
            let n: Int
            if let cdict {
                n = ZSTD_compress_usingCDict(cctx, dst.baseAddress, dst.count, input.baseAddress, input.count, cdict)
            } else {
                n = ZSTD_compressCCtx(cctx, dst.baseAddress, dst.count, input.baseAddress, input.count, level)
            }
            if ZSTD_isError(n) != 0 { failure = String(cString: ZSTD_getErrorName(n)); return 0 }
            result = n
            return n
        }
        if let failure { throw StrataError(.io, "zstd compression failed: \(failure)") }
        return result
    }

    /// The most bytes one zstd frame of `count` input bytes can take.
    static func compressBound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// Writes one zstd frame holding `input` into `output` (at least
    /// `compressBound(input.count)` bytes); returns its size. Unlike the
    /// appending form, nothing is zero-filled first.
    static func compress(_ input: UnsafeRawBufferPointer, level: Int32, dictionary: ZstdDictionary?,
                         into output: UnsafeMutableRawBufferPointer) throws -> Int {
        precondition(output.count >= ZSTD_compressBound(input.count), "zstd output buffer below the bound")
        let cctx = ZstdContexts.current.cctx
        let n: Int
        if let dictionary {
            n = ZSTD_compress_usingCDict(cctx, output.baseAddress, output.count, input.baseAddress, input.count,
                                         try dictionary.cdict(level: level))
        } else {
            n = ZSTD_compressCCtx(cctx, output.baseAddress, output.count, input.baseAddress, input.count, level)
        }
        if ZSTD_isError(n) != 0 { throw StrataError(.io, "zstd compression failed: \(String(cString: ZSTD_getErrorName(n)))") }
        return n
    }

    /// Decompresses one zstd frame that must expand to exactly `rawLength` bytes.
    /// Returns false on malformed input (zstd checks bounds itself).
    public static func decompress(_ input: UnsafeRawBufferPointer, rawLength: Int, dictionary: ZstdDictionary? = nil,
                                  into output: inout [UInt8]) -> Bool {
        output.removeAll(keepingCapacity: true)
        var ok = false
        output.withUnsafeMutableBufferPointer(appending: rawLength) { dst in
            let dctx = ZstdContexts.current.dctx
            let n: Int
            if let dictionary {
                n = ZSTD_decompress_usingDDict(dctx, dst.baseAddress, dst.count, input.baseAddress, input.count, dictionary.ddict)
            } else {
                n = ZSTD_decompressDCtx(dctx, dst.baseAddress, dst.count, input.baseAddress, input.count)
            }
            ok = ZSTD_isError(n) == 0 && n == rawLength
            return ok ? n : 0
        }
        return ok
    }

    /// Trains a dictionary of at most `capacity` bytes from `samples`
    /// (concatenated in `buffer`, sizes in `sizes`). Returns nil when zstd
    /// cannot train one (too few or too uniform samples).
    public static func trainDictionary(buffer: [UInt8], sizes: [Int], capacity: Int) -> [UInt8]? {
        guard !sizes.isEmpty else { return nil }
        var dict = [UInt8](repeating: 0, count: capacity)
        let n = dict.withUnsafeMutableBytes { d in
            buffer.withUnsafeBytes { b in
                sizes.withUnsafeBufferPointer { s in
                    ZDICT_trainFromBuffer(d.baseAddress, capacity, b.baseAddress, s.baseAddress, UInt32(s.count))
                }
            }
        }
        if ZDICT_isError(n) != 0 { return nil }
        dict.removeLast(capacity - n)
        return dict
    }
}

extension ZstdCodec {
    /// Trains with fastCover at fixed parameters (no parameter search): much
    /// faster than `trainDictionary`, which searches (compaction's choice).
    public static func trainDictionaryFast(buffer: [UInt8], sizes: [Int], capacity: Int, level: Int32) -> [UInt8]? {
        guard !sizes.isEmpty else { return nil }
        var params = ZDICT_fastCover_params_t()
        params.k = 256
        params.d = 8
        // 2^f frequency counters (zstd's default f = 20 allocates and clears
        // 6 MB per training): on the benchmark corpus f = 16 made compaction's
        // CPU ~10% lower and the store 0.02% larger (f = 14: +0.1%, f = 12: +0.5%).
        params.f = 16
        params.steps = 0
        params.nbThreads = 1
        params.splitPoint = 1.0
        params.accel = 2
        params.zParams.compressionLevel = level
        var dict = [UInt8](repeating: 0, count: capacity)
        let n = dict.withUnsafeMutableBytes { d in
            buffer.withUnsafeBytes { b in
                sizes.withUnsafeBufferPointer { s in
                    ZDICT_trainFromBuffer_fastCover(d.baseAddress, capacity, b.baseAddress, s.baseAddress, UInt32(s.count), params)
                }
            }
        }
        if ZDICT_isError(n) != 0 { return nil }
        dict.removeLast(capacity - n)
        return dict
    }
}

/// A zstd dictionary with its digested compression/decompression forms.
// @unchecked: `ddict` is read-only after init (zstd allows sharing it between threads); `cdicts` is touched only under `lock`.
public final class ZstdDictionary: @unchecked Sendable {
    public let bytes: [UInt8]
    /// Dictionary ID as stored in the dictionary header (0 for raw content).
    public let dictionaryID: UInt32
    /// The word model stored with the dictionary (SPEC.md §6.1), if any:
    /// columnar blocks of its segments may code their text with it.
    public let wordModel: WordModel?
    let ddict: OpaquePointer
    private var cdicts: [Int32: OpaquePointer] = [:]
    private let lock = Lock()

    public init?(bytes: [UInt8], wordModel: WordModel? = nil) {
        guard let d = bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) }) else { return nil }
        self.bytes = bytes
        self.wordModel = wordModel
        self.ddict = d
        self.dictionaryID = bytes.withUnsafeBytes { UInt32(ZDICT_getDictID($0.baseAddress, $0.count)) }
    }

    /// The digested compression form at `level`. Throws `.corruption`
    /// when zstd cannot digest the dictionary for compression: a damaged
    /// dictionary can still pass `ZSTD_createDDict` (found by the
    /// DictionaryFile fuzz target), and compaction compresses with the
    /// domain's stored dictionary.
    func cdict(level: Int32) throws -> OpaquePointer {
        try lock.withLock {
            if let c = cdicts[level] { return c }
            guard let c = bytes.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, level) }) else {
                throw StrataError(.corruption, "zstd dictionary \(dictionaryID) cannot be used for compression (zstd rejects its tables)")
            }
            cdicts[level] = c
            return c
        }
    }

    deinit {
        ZSTD_freeDDict(ddict)
        for c in cdicts.values { ZSTD_freeCDict(c) }
    }
}

/// Per-thread reusable zstd contexts (creating one per call is costly).
final class ZstdContexts {
    let cctx: OpaquePointer
    let dctx: OpaquePointer

    private init() {
        // Creation only fails on allocation failure.
        cctx = ZSTD_createCCtx()!
        dctx = ZSTD_createDCtx()!
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        ZSTD_freeDCtx(dctx)
    }

    static var current: ZstdContexts {
        let key = "strata.zstd.contexts"
        if let c = Thread.current.threadDictionary[key] as? ZstdContexts { return c }
        let c = ZstdContexts()
        Thread.current.threadDictionary[key] = c
        return c
    }
}

/// Streaming zstd decompression for compressed ingest input (docs/INGEST.md);
/// concatenated frames decode as one stream, like `zstd -d` does.
public final class ZstdStreamDecoder {
    private let dctx: OpaquePointer
    /// True while a frame has started and not yet ended (end of input here is truncation).
    public private(set) var inFrame = false

    public init() throws {
        guard let d = ZSTD_createDStream() else { throw StrataError(.io, "ZSTD_createDStream failed") }
        dctx = d
    }

    deinit { ZSTD_freeDStream(dctx) }

    /// Decodes from `input` into `output`; returns the bytes consumed and produced.
    /// Damaged input throws `.invalidInput` naming zstd's reason.
    public func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> (consumed: Int, produced: Int) {
        var inb = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var outb = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let rc = ZSTD_decompressStream(dctx, &outb, &inb)
        if ZSTD_isError(rc) != 0 {
            throw StrataError(.invalidInput, "zstd input is damaged: \(String(cString: ZSTD_getErrorName(rc)))")
        }
        // rc == 0: a frame ended and is fully flushed.
        inFrame = rc != 0
        return (inb.pos, outb.pos)
    }
}
