import Foundation
@testable import Strata

/// Helpers shared by the Parquet tests: deterministic data, an expected-rows
/// JSON writer, and a runner for the Python checkers in Tests/python.
enum ParquetTestSupport {
    static var pythonDir: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("python")
    }

    static func tempDir(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("strata-parquet-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs `python3 <script> args…`; returns (exit status, stdout, stderr).
    /// A missing python3 is reported as a failure with a clear message, never a skip.
    static func runPython(_ script: String, _ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", pythonDir.appendingPathComponent(script).path] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch {
            return (127, "", "cannot start python3 (install Python 3 with `pip install pyarrow duckdb polars`): \(error)")
        }
        // Read before waiting so a full pipe cannot deadlock the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// SplitMix64: reproducible test data.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { int(100) < percent }
    }

    // MARK: JSON for expected values

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    static func typeName(_ t: ParquetType) -> String {
        switch t {
        case .string: return "string"
        case .json: return "json"
        case .binary: return "binary"
        case .double: return "double"
        case .int32: return "int32"
        case .int64: return "int64"
        case .bool: return "bool"
        case .timestampMillis: return "timestamp_ms"
        case .list(let e): return "list<\(typeName(e.type))>"
        case .record(let fs): return "struct<" + fs.map { "\($0.name):\(typeName($0.type))" }.joined(separator: ",") + ">"
        }
    }

    static func json(_ v: ParquetValue, _ t: ParquetType) -> String {
        switch (v, t) {
        case (.null, _): return "null"
        case (.string(let s), _): return jsonString(s)
        case (.bytes(let b), .binary): return jsonString(b.map { String(format: "%02x", $0) }.joined())
        case (.bytes(let b), _): return jsonString(String(decoding: b, as: UTF8.self))
        case (.double(let d), _): return "\(d)"
        case (.int(let i), .double): return "\(Double(i))"
        case (.int(let i), _): return "\(i)"
        case (.bool(let b), _): return b ? "true" : "false"
        case (.list(let items), .list(let e)): return "[" + items.map { json($0, e.type) }.joined(separator: ",") + "]"
        case (.record(let items), .record(let fs)):
            return "{" + zip(items, fs).map { jsonString($1.name) + ":" + json($0, $1.type) }.joined(separator: ",") + "}"
        default: return "null"
        }
    }

    /// `{"columns":[{"name","type"}…], "rows":[{…}…], …extra}` for check_parquet.py.
    static func expectedJSON(schema: ParquetSchema, rows: [[ParquetValue]], extra: [String: String] = [:]) -> String {
        var s = "{\"columns\":["
        s += schema.fields.map { "{\"name\":\(jsonString($0.name)),\"type\":\(jsonString(typeName($0.type)))}" }.joined(separator: ",")
        s += "],\"rows\":[\n"
        s += rows.map { row in
            "{" + zip(row, schema.fields).map { jsonString($1.name) + ":" + json($0, $1.type) }.joined(separator: ",") + "}"
        }.joined(separator: ",\n")
        s += "\n]"
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { s += ",\(jsonString(k)):\(v)" }
        return s + "}\n"
    }
}
