import CZlib

/// The only file that imports CZlib: streaming gzip decompression for
/// compressed ingest input (docs/INGEST.md). Concatenated gzip members (as
/// `cat a.gz b.gz` makes) decode as one stream, like `gzip -d` does.
public final class GzipStreamDecoder {
    private let stream: UnsafeMutablePointer<z_stream>
    /// True between a member's header and its end (so end of input here is truncation).
    public private(set) var inMember = false

    public init() throws {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // windowBits 15 + 16: gzip wrapper only (a zlib or raw stream is an error).
        let rc = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            stream.deallocate()
            throw StrataError(.io, "zlib inflateInit2 failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Decodes from `input` into `output`; returns the bytes consumed and produced.
    /// Damaged input throws `.invalidInput` naming zlib's reason.
    public func decode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> (consumed: Int, produced: Int) {
        guard input.count > 0 || inMember, output.count > 0 else { return (0, 0) }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
        inMember = true
        let rc = inflate(stream, Z_NO_FLUSH)
        let consumed = input.count - Int(stream.pointee.avail_in)
        let produced = output.count - Int(stream.pointee.avail_out)
        switch rc {
        case Z_OK, Z_BUF_ERROR:
            break
        case Z_STREAM_END:
            // End of one member; another may follow.
            inMember = false
            inflateReset(stream)
        default:
            let why = stream.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
            throw StrataError(.invalidInput, "gzip input is damaged: \(why)")
        }
        return (consumed, produced)
    }
}
