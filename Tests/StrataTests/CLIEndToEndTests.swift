import Foundation
import Testing
@testable import Strata

@Suite struct CLIEndToEndTests {
    @Test func etlModuleFileIngestsWithMappedDomainAndTimestamp() throws {
        let store = temporaryStorePath()
        let r = try runStrata(["ingest", store, fixturePath("etl_module4.jsonl"), "--map", "domain=metadata.health_domain",
                               "--map", "timestamp=metadata.processing_timestamp", "--map", "quality_score=metadata.quality_score", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(r.jsonLines.last)
        #expect(summary["read"] as? Int == 4)
        #expect(summary["inserted"] as? Int == 2)
        #expect(summary["duplicates"] as? Int == 1)
        #expect(summary["rejected"] as? Int == 1)
        #expect(FileManager.default.fileExists(atPath: store + "/domain=metabolic_diabetes/month=2025-11"))
        #expect(FileManager.default.fileExists(atPath: store + "/domain=cardio_hypertension/month=2025-10"))
        // The metadata object is kept byte for byte.
        let reader = try StoreReader(path: store)
        var metas: [String] = []
        try reader.scan { metas.append($0.metadataJSON); return true }
        #expect(metas.contains { $0.contains(#""clinical_insights": {"conditions": ["hypertension"], "medications": ["amlodipine"]}"#) })
    }

    @Test func loraTrainingFileSkipsMetaHeaderAndMapsTurns() throws {
        let store = temporaryStorePath()
        let r = try runStrata(["ingest", store, fixturePath("lora_training_turns.jsonl"), "--map", "prompt=current_user_input",
                               "--map", "response=target_response", "--map", "timestamp=training_metadata.created_at",
                               "--map", "metadata=conversation_metadata", "--map", "id=turn_uid_unused", "--default-domain", "financial_planning", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(r.jsonLines.last)
        #expect(summary["inserted"] as? Int == 3)
        #expect(summary["skipped"] as? Int == 1)
        #expect(summary["rejected"] as? Int == 0)
    }

    @Test func productionCaptureFileIngestsNaiveTimestampsAsUTCAndReportsBadLine() throws {
        let store = temporaryStorePath()
        let rejects = store + "-rejects.jsonl"
        let r = try runStrata(["ingest", store, fixturePath("production_captures.jsonl"), "--default-domain", "roofing", "--naive-timestamps-utc",
                               "--map", "quality_score=quality_signals.auto_score", "--map", "metadata=quality_signals",
                               "--rejects", rejects, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(r.jsonLines.last)
        #expect(summary["inserted"] as? Int == 2)
        #expect(summary["duplicates"] as? Int == 1)
        #expect(summary["rejected"] as? Int == 1)
        let rej = try String(contentsOfFile: rejects, encoding: .utf8)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(rej.utf8)) as? [String: Any])
        #expect(obj["line"] as? Int == 4)
        #expect(obj["field"] as? String == "timestamp")
    }

    @Test func getPrintsTheExampleInBriefFieldNames() throws {
        let store = temporaryStorePath()
        let line = #"{"prompt":"p1","response":"r1","domain":"d","timestamp":"2025-01-02T03:04:05Z","tags":["t"],"metadata":{"a":-0.0}}"#
        try runStrata(["ingest", store], stdin: Data(line.utf8))
        let id = CanonicalContent.id(of: .promptResponse(prompt: "p1", response: "r1"))
        let r = try runStrata(["get", store, id.hex])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(obj["id"] as? String == id.hex)
        #expect(obj["prompt"] as? String == "p1")
        #expect(obj["timestamp"] as? String == "2025-01-02T03:04:05.000Z")
        #expect(r.stdout.contains(#""metadata":{"a":-0.0}"#))
        let missing = try runStrata(["get", store, String(repeating: "0", count: 32)])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("no example with id"))
    }

    @Test func statsReportsRequiredFields() throws {
        let store = temporaryStorePath()
        try runStrata(["ingest", store, fixturePath("etl_module4.jsonl"), "--map", "domain=metadata.health_domain",
                       "--map", "timestamp=metadata.processing_timestamp", "--map", "quality_score=metadata.quality_score"])
        let r = try runStrata(["stats", store, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let s = try #require(r.jsonLines.last)
        #expect(s["records"] as? Int == 2)
        let parts = try #require(s["partitions"] as? [[String: Any]])
        #expect(parts.count == 2)
        #expect(parts.allSatisfy { $0["domain"] != nil && $0["month"] != nil && $0["records"] != nil && $0["bytes"] != nil })
        #expect((s["by_domain"] as? [String: Int])?["cardio_hypertension"] == 1)
        #expect((s["by_month"] as? [String: Int])?["2025-11"] == 1)
        let range = try #require(s["date_range"] as? [String: Any])
        #expect(range["earliest"] as? String == "2025-10-02T08:05:11.000Z")
        #expect(abs((s["average_quality_score"] as? Double ?? 0) - 0.89) < 1e-9)
        #expect((s["bytes_on_disk"] as? Int ?? 0) > 0)
    }

    @Test func secondWriterProcessGetsLockedExitCode() throws {
        let store = temporaryStorePath()
        let holder = try Store.open(at: store)
        defer { try? holder.close() }
        let r = try runStrata(["ingest", store], stdin: Data(#"{"prompt":"a","response":"b","domain":"d","timestamp":0}"#.utf8))
        #expect(r.status == 75)
        #expect(r.stderr.contains("store is locked by pid \(getpid())"))
    }
}
