/// A JSON value as the predicate language sees it (docs/QUERY.md).
public enum JSONScalar: Equatable, Sendable {
    case missing
    case null
    case bool(Bool)
    case number(Double)
    case string([UInt8])
    case array([JSONScalar])
    /// An object (its members are reached by a longer path, not compared).
    case object(isEmpty: Bool)
}

/// Finds the value at a dotted path in a JSON object's text without building
/// a tree: members off the path are skipped. Bounds-checked throughout;
/// malformed text yields `.missing`, never a trap.
public enum JSONPathLookup {
    /// The value at `path` (key components, not dotted text) in the JSON object `json`.
    public static func value(in json: String, at path: [String]) -> JSONScalar {
        var j = json
        return j.withUTF8 { value(in: UnsafeRawBufferPointer($0), path: path.map { Array($0.utf8) }[...]) }
    }

    static func value(in bytes: UnsafeRawBufferPointer, path: ArraySlice<[UInt8]>) -> JSONScalar {
        lookup(bytes, path).value
    }

    /// The exact source text of the value at `path`, or nil when missing.
    static func rawValue(in bytes: UnsafeRawBufferPointer, path: ArraySlice<[UInt8]>) -> UnsafeRawBufferPointer? {
        let (v, range) = lookup(bytes, path)
        guard v != .missing, let range else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    private static func lookup(_ bytes: UnsafeRawBufferPointer, _ path: ArraySlice<[UInt8]>) -> (value: JSONScalar, range: Range<Int>?) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return (path.isEmpty ? .object(isEmpty: true) : .missing, nil) }
        var lx = JSONLexer(base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        var key: [UInt8] = []
        do {
            lx.skipWhitespace()
            for component in path {
                guard lx.peek == 0x7B else { return (.missing, nil) }
                lx.i += 1
                var found = false
                lx.skipWhitespace()
                if lx.peek == 0x7D { return (.missing, nil) }
                while true {
                    lx.skipWhitespace()
                    guard lx.peek == 0x22 else { return (.missing, nil) }
                    lx.i += 1
                    key.removeAll(keepingCapacity: true)
                    try lx.scanString(copy: true, into: &key)
                    lx.skipWhitespace()
                    guard lx.peek == 0x3A else { return (.missing, nil) }
                    lx.i += 1
                    lx.skipWhitespace()
                    if key == component { found = true; break }
                    try skip(&lx, depth: 0)
                    lx.skipWhitespace()
                    if lx.peek == 0x2C { lx.i += 1; continue }
                    return (.missing, nil)
                }
                if !found { return (.missing, nil) }
            }
            let start = lx.i
            let v = try parse(&lx, depth: 0)
            return (v, start..<lx.i)
        } catch {
            return (.missing, nil)
        }
    }

    private static let maxDepth = 512

    private static func skip(_ lx: inout JSONLexer, depth: Int) throws {
        _ = try parse(&lx, depth: depth, keep: false)
    }

    /// Parses the value at `lx.i`; with `keep` false only skips it.
    private static func parse(_ lx: inout JSONLexer, depth: Int, keep: Bool = true) throws -> JSONScalar {
        guard depth < maxDepth else { throw lx.error("too deep") }
        switch lx.peek {
        case 0x22:
            lx.i += 1
            var s: [UInt8] = []
            try lx.scanString(copy: keep, into: &s)
            return .string(s)
        case 0x2D, 0x30...0x39:
            let r = try lx.scanNumber()
            return .number(lx.doubleValue(r))
        case 0x74, 0x66, 0x6E:
            let c = try lx.scanLiteral()
            return c == 0x6E ? .null : .bool(c == 0x74)
        case 0x5B:
            lx.i += 1
            var items: [JSONScalar] = []
            lx.skipWhitespace()
            if lx.peek == 0x5D { lx.i += 1; return .array([]) }
            while true {
                lx.skipWhitespace()
                let v = try parse(&lx, depth: depth + 1, keep: keep)
                if keep { items.append(v) }
                lx.skipWhitespace()
                if lx.peek == 0x2C { lx.i += 1; continue }
                guard lx.peek == 0x5D else { throw lx.error("expected ']'") }
                lx.i += 1
                return .array(items)
            }
        case 0x7B:
            lx.i += 1
            lx.skipWhitespace()
            if lx.peek == 0x7D { lx.i += 1; return .object(isEmpty: true) }
            var scratch: [UInt8] = []
            while true {
                lx.skipWhitespace()
                guard lx.peek == 0x22 else { throw lx.error("expected a key") }
                lx.i += 1
                try lx.scanString(copy: false, into: &scratch)
                lx.skipWhitespace()
                guard lx.peek == 0x3A else { throw lx.error("expected ':'") }
                lx.i += 1
                lx.skipWhitespace()
                _ = try parse(&lx, depth: depth + 1, keep: false)
                lx.skipWhitespace()
                if lx.peek == 0x2C { lx.i += 1; continue }
                guard lx.peek == 0x7D else { throw lx.error("expected '}'") }
                lx.i += 1
                return .object(isEmpty: false)
            }
        default:
            throw lx.error("expected a value")
        }
    }
}
