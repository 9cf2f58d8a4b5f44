/// The logical shape of one column (or of a list element / struct field).
public indirect enum ParquetType: Sendable, Equatable {
    /// BYTE_ARRAY, logical STRING (converted UTF8).
    case string
    /// BYTE_ARRAY, logical JSON (converted JSON); values are UTF-8 JSON text.
    case json
    /// BYTE_ARRAY without annotation.
    case binary
    case double
    /// INT32, logical INTEGER(32, signed).
    case int32
    /// INT64, logical INTEGER(64, signed).
    case int64
    case bool
    /// INT64, logical TIMESTAMP(isAdjustedToUTC=true, unit=MILLIS): milliseconds since the Unix epoch.
    case timestampMillis
    /// Three-level LIST: `<opt> group name (LIST) { repeated group list { element } }`.
    case list(ParquetField)
    /// A group of named fields.
    case record([ParquetField])
}

/// A named, possibly nullable, column or nested field.
public struct ParquetField: Sendable, Equatable {
    public var name: String
    public var type: ParquetType
    public var nullable: Bool

    public init(_ name: String, _ type: ParquetType, nullable: Bool = true) {
        self.name = name
        self.type = type
        self.nullable = nullable
    }
}

/// The columns of a file, in order. Leaf columns are laid out depth-first.
public struct ParquetSchema: Sendable, Equatable {
    public var fields: [ParquetField]
    public init(_ fields: [ParquetField]) { self.fields = fields }
}

/// One cell of a row. Strings/JSON take `.string` (or `.bytes`), every integer
/// kind and timestamps take `.int`, lists take `.list`, records take `.record`
/// with one value per field in schema order.
public enum ParquetValue: Sendable, Equatable {
    case null
    case string(String)
    case bytes([UInt8])
    case double(Double)
    case int(Int64)
    case bool(Bool)
    case list([ParquetValue])
    case record([ParquetValue])
}

/// Parquet physical types (Thrift `Type`).
enum ParquetPhysicalType: Int32 {
    case boolean = 0, int32 = 1, int64 = 2, double = 5, byteArray = 6

    /// Width of a PLAIN value, nil for BYTE_ARRAY (length-prefixed) and BOOLEAN (bit-packed).
    var fixedWidth: Int? {
        switch self {
        case .int32: return 4
        case .int64, .double: return 8
        case .boolean, .byteArray: return nil
        }
    }
}

/// A leaf column after Dremel shredding: its path, physical type and max levels.
struct ParquetLeaf {
    var path: [String]
    var type: ParquetType
    var physical: ParquetPhysicalType
    var maxDef: Int
    var maxRep: Int
}

/// Shredding tree: mirrors the schema with each node's leaf range and levels.
final class ParquetNode {
    enum Kind {
        case leaf(Int)
        case list(ParquetNode, repLevel: Int)
        case record([ParquetNode])
    }
    let name: String
    let nullable: Bool
    var kind: Kind = .leaf(0)
    /// Leaves under this node: `leafRange.lowerBound..<upperBound`.
    var leafRange: Range<Int> = 0..<0

    init(name: String, nullable: Bool) {
        self.name = name
        self.nullable = nullable
    }

    /// Builds the node for `field`, appending its leaves to `leaves`.
    static func build(_ field: ParquetField, path: [String], def: Int, rep: Int, leaves: inout [ParquetLeaf]) -> ParquetNode {
        let node = ParquetNode(name: field.name, nullable: field.nullable)
        let def = def + (field.nullable ? 1 : 0)
        let path = path + [field.name]
        let first = leaves.count
        switch field.type {
        case .list(let element):
            // The repeated middle group adds one definition and one repetition level.
            let child = build(element, path: path + ["list"], def: def + 1, rep: rep + 1, leaves: &leaves)
            node.kind = .list(child, repLevel: rep + 1)
        case .record(let fields):
            node.kind = .record(fields.map { build($0, path: path, def: def, rep: rep, leaves: &leaves) })
        case .string, .json, .binary:
            node.kind = .leaf(leaves.count)
            leaves.append(ParquetLeaf(path: path, type: field.type, physical: .byteArray, maxDef: def, maxRep: rep))
        case .double:
            node.kind = .leaf(leaves.count)
            leaves.append(ParquetLeaf(path: path, type: field.type, physical: .double, maxDef: def, maxRep: rep))
        case .int32:
            node.kind = .leaf(leaves.count)
            leaves.append(ParquetLeaf(path: path, type: field.type, physical: .int32, maxDef: def, maxRep: rep))
        case .int64, .timestampMillis:
            node.kind = .leaf(leaves.count)
            leaves.append(ParquetLeaf(path: path, type: field.type, physical: .int64, maxDef: def, maxRep: rep))
        case .bool:
            node.kind = .leaf(leaves.count)
            leaves.append(ParquetLeaf(path: path, type: field.type, physical: .boolean, maxDef: def, maxRep: rep))
        }
        node.leafRange = first..<leaves.count
        return node
    }
}

extension ParquetSchema {
    /// Writes the flattened SchemaElement list (root first, depth-first) for the footer.
    func writeSchemaElements(_ w: inout ThriftCompactWriter) {
        var count = 1
        func countElements(_ f: ParquetField) {
            count += 1
            switch f.type {
            case .list(let e): count += 1; countElements(e)
            case .record(let fs): fs.forEach(countElements)
            default: break
            }
        }
        fields.forEach(countElements)
        w.listBegin(2, .structure, count: count)
        // Root: name + num_children only.
        w.structElementBegin()
        w.string(4, "schema")
        w.i32(5, Int32(fields.count))
        w.structEnd()
        for f in fields { Self.writeElement(f, &w) }
    }

    private static func group(_ name: String, repetition: Int32, children: Int, list: Bool, _ w: inout ThriftCompactWriter) {
        w.structElementBegin()
        w.i32(3, repetition)
        w.string(4, name)
        w.i32(5, Int32(children))
        if list {
            w.i32(6, 3)  // ConvertedType LIST
            w.structBegin(10)
            w.emptyStruct(3)  // LogicalType.LIST
            w.structEnd()
        }
        w.structEnd()
    }

    private static func writeElement(_ f: ParquetField, _ w: inout ThriftCompactWriter) {
        let repetition: Int32 = f.nullable ? 1 : 0
        switch f.type {
        case .list(let element):
            group(f.name, repetition: repetition, children: 1, list: true, &w)
            group("list", repetition: 2, children: 1, list: false, &w)
            writeElement(element, &w)
            return
        case .record(let fields):
            group(f.name, repetition: repetition, children: fields.count, list: false, &w)
            for c in fields { writeElement(c, &w) }
            return
        default: break
        }
        w.structElementBegin()
        switch f.type {
        case .string, .json, .binary: w.i32(1, ParquetPhysicalType.byteArray.rawValue)
        case .double: w.i32(1, ParquetPhysicalType.double.rawValue)
        case .int32: w.i32(1, ParquetPhysicalType.int32.rawValue)
        case .int64, .timestampMillis: w.i32(1, ParquetPhysicalType.int64.rawValue)
        case .bool: w.i32(1, ParquetPhysicalType.boolean.rawValue)
        case .list, .record: break
        }
        w.i32(3, repetition)
        w.string(4, f.name)
        // Converted type (field 6) for old readers, logical type (field 10) for new ones.
        switch f.type {
        case .string:
            w.i32(6, 0)  // UTF8
            w.structBegin(10); w.emptyStruct(1); w.structEnd()  // STRING
        case .json:
            w.i32(6, 19)  // JSON
            w.structBegin(10); w.emptyStruct(12); w.structEnd()  // JSON
        case .int32:
            w.i32(6, 17)  // INT_32
            w.structBegin(10); w.structBegin(10); w.i8(1, 32); w.bool(2, true); w.structEnd(); w.structEnd()
        case .int64:
            w.i32(6, 18)  // INT_64
            w.structBegin(10); w.structBegin(10); w.i8(1, 64); w.bool(2, true); w.structEnd(); w.structEnd()
        case .timestampMillis:
            w.i32(6, 9)  // TIMESTAMP_MILLIS
            w.structBegin(10)
            w.structBegin(8)  // TimestampType
            w.bool(1, true)  // isAdjustedToUTC
            w.structBegin(2); w.emptyStruct(1); w.structEnd()  // unit = MILLIS
            w.structEnd()
            w.structEnd()
        default: break
        }
        w.structEnd()
    }
}

extension ParquetType {
    /// The type in Arrow terms, as pyarrow prints it (`string`, `double`,
    /// `timestamp[ms, tz=UTC]`, `list<element: string>`,
    /// `struct<role: string, content: string>`), for schema summaries.
    public var arrowName: String {
        switch self {
        case .string: "string"
        case .json: "string (JSON)"
        case .binary: "binary"
        case .double: "double"
        case .int32: "int32"
        case .int64: "int64"
        case .bool: "bool"
        case .timestampMillis: "timestamp[ms, tz=UTC]"
        case let .list(e): "list<\(e.name): \(e.type.arrowName)\(e.nullable ? "" : " not null")>"
        case let .record(fs): "struct<" + fs.map { "\($0.name): \($0.type.arrowName)\($0.nullable ? "" : " not null")" }.joined(separator: ", ") + ">"
        }
    }
}
