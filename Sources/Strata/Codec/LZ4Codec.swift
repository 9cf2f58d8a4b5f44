import CLZ4

/// The only file that imports CLZ4: LZ4 block compression (no LZ4 frame).
public enum LZ4Codec {
    /// Appends the LZ4 block compression of `input` to `output`; returns the compressed size.
    @discardableResult
    public static func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) -> Int {
        let bound = Int(LZ4_compressBound(Int32(input.count)))
        let start = output.count
        output.reserveCapacity(start + bound)
        var written = 0
        output.withUnsafeMutableBufferPointer(appending: bound) { dst in
            // dst has room for `bound` bytes, which LZ4 guarantees is enough.
            written = Int(LZ4_compress_default(
                input.baseAddress?.assumingMemoryBound(to: CChar.self), UnsafeMutableRawPointer(dst.baseAddress!).assumingMemoryBound(to: CChar.self),
                Int32(input.count), Int32(bound)))
            return written
        }
        return written
    }

    /// Decompresses an LZ4 block that must expand to exactly `rawLength` bytes.
    /// Returns nil when the input is malformed (LZ4_decompress_safe never
    /// reads or writes out of bounds).
    public static func decompress(_ input: UnsafeRawBufferPointer, rawLength: Int, into output: inout [UInt8]) -> Bool {
        if rawLength == 0 {
            output.removeAll(keepingCapacity: true)
            return input.count == 0 || (input.count == 1 && input[0] == 0)
        }
        // A reused buffer (readers decode block after block into one) is only
        // resized by the difference: no zero-filling of a whole block each time.
        if output.count < rawLength {
            output.append(contentsOf: repeatElement(0, count: rawLength - output.count))
        } else if output.count > rawLength {
            output.removeLast(output.count - rawLength)
        }
        let n = output.withUnsafeMutableBytes { dst in
            LZ4_decompress_safe(
                input.baseAddress?.assumingMemoryBound(to: CChar.self), dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                Int32(input.count), Int32(rawLength))
        }
        guard n == Int32(rawLength) else {
            output.removeAll(keepingCapacity: true)
            return false
        }
        return true
    }
}

extension Array where Element == UInt8 {
    /// Grows the array by up to `extra` bytes, lets `body` fill them and
    /// keeps only the number of bytes it reports as written.
    @inline(__always)
    mutating func withUnsafeMutableBufferPointer(appending extra: Int, _ body: (UnsafeMutableBufferPointer<UInt8>) -> Int) {
        let start = count
        append(contentsOf: repeatElement(0, count: extra))
        var used = 0
        self.withUnsafeMutableBufferPointer { all in
            used = body(UnsafeMutableBufferPointer(rebasing: all[start..<(start + extra)]))
        }
        removeLast(extra - used)
    }
}
