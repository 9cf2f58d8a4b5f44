/// Encoder for the Thrift compact protocol, limited to what a Parquet footer
/// and page headers need: structs, bool, i8, i32 (and enums), i64, binary,
/// and lists. Field headers use the short delta form when the id grows by
/// 1...15 and the long form otherwise, so any field order is legal.
public struct ThriftCompactWriter {
    /// Compact-protocol type codes (as they appear in field and list headers).
    public enum FieldType: UInt8 {
        case boolTrue = 1, boolFalse = 2, i8 = 3, i16 = 4, i32 = 5, i64 = 6, double = 7
        case binary = 8, list = 9, set = 10, map = 11, structure = 12
    }

    public private(set) var bytes: [UInt8] = []
    private var lastFieldID: Int16 = 0
    /// Last field id of every enclosing struct; restored when a nested struct ends.
    private var stack: [Int16] = []

    public init() {}

    // MARK: Raw encodings

    @inline(__always) mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always) static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    mutating func fieldHeader(_ id: Int16, _ type: FieldType) {
        let delta = Int(id) - Int(lastFieldID)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            varint(Self.zigzag(Int64(id)))
        }
        lastFieldID = id
    }

    // MARK: Fields

    public mutating func bool(_ id: Int16, _ v: Bool) { fieldHeader(id, v ? .boolTrue : .boolFalse) }
    public mutating func i8(_ id: Int16, _ v: Int8) { fieldHeader(id, .i8); bytes.append(UInt8(bitPattern: v)) }
    public mutating func i32(_ id: Int16, _ v: Int32) { fieldHeader(id, .i32); varint(Self.zigzag(Int64(v))) }
    public mutating func i64(_ id: Int16, _ v: Int64) { fieldHeader(id, .i64); varint(Self.zigzag(v)) }
    public mutating func binary(_ id: Int16, _ v: [UInt8]) { fieldHeader(id, .binary); binaryValue(v) }
    public mutating func string(_ id: Int16, _ v: String) { binary(id, Array(v.utf8)) }

    /// Starts a struct-typed field; close it with `structEnd()`.
    public mutating func structBegin(_ id: Int16) {
        fieldHeader(id, .structure)
        structElementBegin()
    }

    /// Writes the stop byte of the current struct and restores the enclosing field-id context.
    public mutating func structEnd() {
        bytes.append(0)
        lastFieldID = stack.popLast() ?? 0
    }

    /// An empty struct field (e.g. a Parquet logical-type marker such as `StringType {}`).
    public mutating func emptyStruct(_ id: Int16) {
        structBegin(id)
        structEnd()
    }

    /// Starts a list field; follow with `count` elements of `element` type.
    public mutating func listBegin(_ id: Int16, _ element: FieldType, count: Int) {
        fieldHeader(id, .list)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | element.rawValue)
        } else {
            bytes.append(0xF0 | element.rawValue)
            varint(UInt64(count))
        }
    }

    // MARK: List elements (no field header)

    public mutating func i32Value(_ v: Int32) { varint(Self.zigzag(Int64(v))) }
    public mutating func i64Value(_ v: Int64) { varint(Self.zigzag(v)) }
    public mutating func binaryValue(_ v: [UInt8]) { varint(UInt64(v.count)); bytes.append(contentsOf: v) }
    public mutating func stringValue(_ v: String) { binaryValue(Array(v.utf8)) }

    /// Starts a struct that is a list element (or the top-level message).
    public mutating func structElementBegin() {
        stack.append(lastFieldID)
        lastFieldID = 0
    }

    /// Ends a top-level message started without `structElementBegin` (stop byte only).
    public mutating func messageEnd() { bytes.append(0) }
}
