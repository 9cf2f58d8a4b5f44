import Foundation
import Testing
@testable import Strata

/// Expected export rows computed independently from `Example` values, and
/// helpers to run the Python checker (Tests/python/check_export.py).
enum ExportExpect {
    static func iso(_ ms: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    static func opt(_ v: Any?) -> Any { v ?? NSNull() }

    static func messages(_ ms: [Message]) -> [[String: Any]] { ms.map { ["role": $0.role.name, "content": $0.content] } }

    static func userTurn(_ instruction: String, _ input: String) -> String { input.isEmpty ? instruction : instruction + "\n\n" + input }

    static func raw(_ e: Example) -> [String: Any] {
        var o: [String: Any] = [
            "id": e.id.hex, "shape": e.shape.name, "domain": e.domain, "timestamp": iso(e.timestampMillis),
            "quality_score": opt(e.qualityScore), "tags": e.tags, "source": opt(e.source), "metadata": e.metadataJSON,
            "feedback_positive": 0, "feedback_negative": 0, "excluded": false, "corrected": NSNull(),
        ]
        switch e.content {
        case let .instruction(i, inp, out): o["instruction"] = i; o["input"] = inp; o["output"] = out
        case let .promptResponse(p, r): o["prompt"] = p; o["response"] = r
        case let .chat(ms): o["messages"] = messages(ms)
        }
        return o
    }

    /// nil when the schema cannot represent the example.
    static func row(_ schema: JSONLSchema, _ e: Example) -> [String: Any]? {
        switch (schema, e.content) {
        case (.raw, _): return raw(e)
        case let (.alpaca, .instruction(i, inp, out)): return ["instruction": i, "input": inp, "output": out, "metadata": e.metadataJSON]
        case let (.alpaca, .promptResponse(p, r)): return ["instruction": p, "input": "", "output": r, "metadata": e.metadataJSON]
        case let (.promptResponse, .instruction(i, inp, out)): return ["prompt": userTurn(i, inp), "response": out]
        case let (.promptResponse, .promptResponse(p, r)): return ["prompt": p, "response": r]
        case let (.chat, .instruction(i, inp, out)):
            return ["messages": [["role": "user", "content": userTurn(i, inp)], ["role": "assistant", "content": out]]]
        case let (.chat, .promptResponse(p, r)):
            return ["messages": [["role": "user", "content": p], ["role": "assistant", "content": r]]]
        case let (.chat, .chat(ms)): return ["messages": messages(ms)]
        default: return nil
        }
    }

    static func parquet(_ e: Example, partitioned: Bool) -> [String: Any] {
        var o: [String: Any] = [
            "id": e.id.hex, "shape": e.shape.name, "timestamp": e.timestampMillis,
            "quality_score": opt(e.qualityScore), "tags": e.tags, "source": opt(e.source), "metadata": e.metadataJSON,
            "instruction": NSNull(), "input": NSNull(), "output": NSNull(), "prompt": NSNull(), "response": NSNull(), "messages": NSNull(),
            "feedback_positive": 0, "feedback_negative": 0, "excluded": false, "corrected": NSNull(),
            "domain": e.domain, "month": e.month.description,
        ]
        switch e.content {
        case let .instruction(i, inp, out): o["instruction"] = i; o["input"] = inp; o["output"] = out
        case let .promptResponse(p, r): o["prompt"] = p; o["response"] = r
        case let .chat(ms): o["messages"] = messages(ms)
        }
        _ = partitioned  // hive readers add domain/month from the path
        return o
    }

    static func conversation(_ e: Example) -> [String: Any] {
        guard case let .chat(ms) = e.content else { fatalError("not chat") }
        var pairs: [[String: Any]] = []
        for (i, m) in ms.enumerated() where m.role == .assistant {
            var u = i - 1
            while u >= 0 && ms[u].role != .user { u -= 1 }
            let history = ms[0..<max(u, 0)].filter { $0.role != .system }
            pairs.append([
                "turn_number": pairs.count + 1,
                "system_prompt": opt(ms[..<i].first { $0.role == .system }?.content),
                "conversation_history": messages(Array(history)),
                "current_user_input": u >= 0 ? ms[u].content : "",
                "target_response": m.content,
            ])
        }
        return [
            "conversation_metadata": [
                "conversation_id": e.id.hex, "domain": e.domain, "timestamp": iso(e.timestampMillis),
                "quality_score": opt(e.qualityScore), "tags": e.tags, "source": opt(e.source), "metadata": e.metadataJSON,
                "total_turns": ms.count, "feedback_positive": 0, "feedback_negative": 0, "excluded": false,
                "created_date": String(iso(e.timestampMillis).prefix(10)), "quality_tier": NSNull(), "source_file": NSNull(),
            ] as [String: Any],
            "messages": messages(ms),
            "training_pairs": pairs,
        ]
    }

    /// Writes `expected` to a temporary file and runs check_export.py MODE; records a failure with the checker's output.
    static func check(_ mode: String, _ expected: [String: Any], _ paths: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try ParquetTestSupport.tempDir("export-expect")
        let file = dir.appendingPathComponent("expected.json").path
        try JSONSerialization.data(withJSONObject: expected).write(to: URL(fileURLWithPath: file))
        let (status, out, err) = try ParquetTestSupport.runPython("check_export.py", [mode, file] + paths)
        #expect(status == 0, "check_export.py \(mode) failed (\(status)):\n\(err)\(out)", sourceLocation: sourceLocation)
    }

    /// Every example of the store, in scan order.
    static func scan(_ store: Store) throws -> [Example] {
        var all: [Example] = []
        try store.scan { all.append($0); return true }
        return all
    }

    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    static func object(_ line: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    }

    static func outDir(_ name: String = #function) -> String { temporaryStorePath("export-" + name) }
}
