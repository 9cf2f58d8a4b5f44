/// Little-endian, varint-aware append buffer for format encoding.
/// Encoding code takes and returns bytes; it never touches files.
public struct ByteWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    @inline(__always) public mutating func u8(_ v: UInt8) { bytes.append(v) }
    @inline(__always) public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    @inline(__always) public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    @inline(__always) public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    /// Big-endian u64 (used only for ids, which are written in canonical hex order).
    @inline(__always) public mutating func u64BE(_ v: UInt64) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
    @inline(__always) public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    @inline(__always) public mutating func f64(_ v: Double) { u64(v.bitPattern) }

    /// Unsigned LEB128.
    @inline(__always) public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always) public mutating func varint(_ value: Int) { varint(UInt64(value)) }

    /// varint length followed by the bytes.
    @inline(__always) public mutating func lengthPrefixed<C: Collection>(_ data: C) where C.Element == UInt8 {
        varint(UInt64(data.count))
        bytes.append(contentsOf: data)
    }

    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { lengthPrefixed($0) }
    }

    public mutating func append<C: Collection>(_ data: C) where C.Element == UInt8 { bytes.append(contentsOf: data) }

    /// Overwrites 4 bytes at `offset` (used to back-patch lengths).
    public mutating func patchU32(_ v: UInt32, at offset: Int) {
        precondition(offset + 4 <= bytes.count, "patch out of range")
        let le = v.littleEndian
        withUnsafeBytes(of: le) { src in for i in 0..<4 { bytes[offset + i] = src[i] } }
    }

    public mutating func patchU64(_ v: UInt64, at offset: Int) {
        precondition(offset + 8 <= bytes.count, "patch out of range")
        let le = v.littleEndian
        withUnsafeBytes(of: le) { src in for i in 0..<8 { bytes[offset + i] = src[i] } }
    }
}

/// Bounds-checked little-endian reader over bytes from disk. Every read
/// throws `.corruption` instead of trapping when the bytes run out or a value
/// is out of range, because these bytes are untrusted.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var position: Int
    /// For error messages: the file and the file offset of `bytes[0]`.
    public var path: String?
    public var baseOffset: Int64
    /// False for decompressed block contents: errors then report the block's
    /// file offset and the byte position inside the decompressed block.
    public var positionsAreInFile: Bool

    /// REQUIRES: `bytes` stays valid for the reader's lifetime.
    public init(_ bytes: UnsafeRawBufferPointer, path: String? = nil, baseOffset: Int64 = 0, positionsAreInFile: Bool = true) {
        self.bytes = bytes
        self.position = 0
        self.path = path
        self.baseOffset = baseOffset
        self.positionsAreInFile = positionsAreInFile
    }

    public var remaining: Int { bytes.count - position }
    public var isAtEnd: Bool { position >= bytes.count }

    public func corruption(_ message: String, at pos: Int? = nil) -> StrataError {
        if positionsAreInFile {
            return StrataError(.corruption, message, path: path, offset: baseOffset + Int64(pos ?? position))
        }
        return StrataError(.corruption, "\(message) (byte \(pos ?? position) of the decompressed block at this offset)",
                           path: path, offset: baseOffset)
    }

    @inline(__always) mutating func need(_ n: Int, _ what: StaticString) throws {
        guard n >= 0, n <= bytes.count - position else {
            throw corruption("truncated \(what): need \(n) bytes, \(bytes.count - position) left")
        }
    }

    @inline(__always) public mutating func u8(_ what: StaticString = "u8") throws -> UInt8 {
        try need(1, what)
        defer { position += 1 }
        return bytes[position]
    }

    @inline(__always) public mutating func u16(_ what: StaticString = "u16") throws -> UInt16 {
        try need(2, what)
        // loadUnaligned: disk bytes have no alignment guarantee.
        defer { position += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    @inline(__always) public mutating func u32(_ what: StaticString = "u32") throws -> UInt32 {
        try need(4, what)
        defer { position += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    @inline(__always) public mutating func u64(_ what: StaticString = "u64") throws -> UInt64 {
        try need(8, what)
        defer { position += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    @inline(__always) public mutating func u64BE(_ what: StaticString = "u64") throws -> UInt64 {
        try need(8, what)
        defer { position += 8 }
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    @inline(__always) public mutating func i64(_ what: StaticString = "i64") throws -> Int64 { Int64(bitPattern: try u64(what)) }
    @inline(__always) public mutating func f64(_ what: StaticString = "f64") throws -> Double { Double(bitPattern: try u64(what)) }

    /// Unsigned LEB128, at most 10 bytes, no overflow past 64 bits.
    @inline(__always) public mutating func varint(_ what: StaticString = "varint") throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < bytes.count else { throw corruption("truncated \(what)", at: start) }
            let b = bytes[position]
            position += 1
            if shift == 63 && b > 1 { throw corruption("\(what) overflows 64 bits", at: start) }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw corruption("\(what) longer than 10 bytes", at: start) }
        }
    }

    /// A varint that must fit in `0...limit` (e.g. a length or count).
    @inline(__always) public mutating func count(_ what: StaticString, limit: Int) throws -> Int {
        let start = position
        let v = try varint(what)
        guard v <= UInt64(limit) else { throw corruption("\(what) \(v) exceeds limit \(limit)", at: start) }
        return Int(v)
    }

    /// Returns a view of the next `n` bytes. REQUIRES: use only while `bytes` is live.
    @inline(__always) public mutating func slice(_ n: Int, _ what: StaticString = "bytes") throws -> UnsafeRawBufferPointer {
        try need(n, what)
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    /// varint length + bytes, validated as UTF-8.
    public mutating func string(_ what: StaticString) throws -> String {
        let start = position
        let n = try count(what, limit: remaining)
        let raw = try slice(n, what)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw corruption("\(what) is not valid UTF-8", at: start)
        }
        return s
    }

    public mutating func skip(_ n: Int, _ what: StaticString = "bytes") throws {
        try need(n, what)
        position += n
    }
}
