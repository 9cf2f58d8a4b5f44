/// Reads ingest input that may be gzip or zstd compressed, deciding by the
/// first bytes (magic numbers, SPEC-independent: RFC 1952 `1f 8b`, zstd frame
/// `28 b5 2f fd`), never by the file name, so standard input works the same.
/// Anything else is passed through unchanged.
///
/// `read(into:)` has the contract of POSIX read: it fills a prefix of the
/// buffer and returns its length, 0 at the end of the (decompressed) input,
/// and -1 when the raw reader reports idle input (passed through unchanged, so
/// the ingest pipeline can commit on time while a slow producer waits).
final class InputDecompressor {
    enum Format: String { case plain, gzip, zstd }

    private let readRaw: (inout [UInt8]) throws -> Int
    private var raw = [UInt8](repeating: 0, count: 1 << 18)
    private var rawStart = 0
    private var rawEnd = 0
    private var rawEOF = false
    private(set) var format: Format?
    private var gzip: GzipStreamDecoder?
    private var zstd: ZstdStreamDecoder?
    /// Bytes read from the underlying input (compressed size).
    private(set) var rawBytes: Int64 = 0

    init(readRaw: @escaping (inout [UInt8]) throws -> Int) {
        self.readRaw = readRaw
    }

    /// Appends what the next raw read returns after the unconsumed bytes.
    /// Returns false when the raw reader reported idle input (-1): nothing read.
    @discardableResult
    private func refill() throws -> Bool {
        if rawStart == rawEnd { rawStart = 0; rawEnd = 0 }
        if scratch.count != raw.count - rawEnd { scratch = [UInt8](repeating: 0, count: raw.count - rawEnd) }
        let n = try readRaw(&scratch)
        if n < 0 { return false }
        if n == 0 { rawEOF = true; return true }
        raw.replaceSubrange(rawEnd..<(rawEnd + n), with: scratch[0..<n])
        rawEnd += n
        rawBytes += Int64(n)
        return true
    }
    private var scratch: [UInt8] = []

    /// Decides the format; false when the input went idle before 4 bytes arrived.
    private func detect() throws -> Bool {
        while rawEnd - rawStart < 4 && !rawEOF { guard try refill() else { return false } }
        let b = raw[rawStart..<rawEnd]
        if b.count >= 2 && b[rawStart] == 0x1F && b[rawStart + 1] == 0x8B {
            format = .gzip
            gzip = try GzipStreamDecoder()
        } else if b.count >= 4 && b.prefix(4).elementsEqual([0x28, 0xB5, 0x2F, 0xFD]) {
            format = .zstd
            zstd = try ZstdStreamDecoder()
        } else {
            format = .plain
        }
        return true
    }

    func read(into out: inout [UInt8]) throws -> Int {
        if format == nil, !(try detect()) { return -1 }
        if format == .plain {
            if rawStart < rawEnd {
                let n = min(out.count, rawEnd - rawStart)
                out.replaceSubrange(0..<n, with: raw[rawStart..<(rawStart + n)])
                rawStart += n
                return n
            }
            if rawEOF { return 0 }
            let n = try readRaw(&out)
            if n > 0 { rawBytes += Int64(n) }
            return n
        }
        while true {
            if rawStart == rawEnd && !rawEOF, !(try refill()) { return -1 }
            let inMiddle = format == .gzip ? gzip!.inMember : zstd!.inFrame
            if rawStart == rawEnd && rawEOF {
                if inMiddle {
                    throw StrataError(.invalidInput, "\(format!.rawValue) input is truncated (ends inside a compressed \(format == .gzip ? "member" : "frame"))")
                }
                return 0
            }
            let (consumed, produced) = try raw.withUnsafeBytes { r in
                try out.withUnsafeMutableBytes { o in
                    let input = UnsafeRawBufferPointer(rebasing: r[rawStart..<rawEnd])
                    return format == .gzip ? try gzip!.decode(input, into: o) : try zstd!.decode(input, into: o)
                }
            }
            rawStart += consumed
            if produced > 0 { return produced }
            if consumed == 0 && rawStart < rawEnd && rawEOF {
                throw StrataError(.invalidInput, "\(format!.rawValue) input could not be decoded")
            }
        }
    }
}
