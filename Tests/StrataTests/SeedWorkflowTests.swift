import Foundation
import Testing
@testable import Strata

/// Each pipeline's workflow with `strata` alone: a file in that system's
/// shape (generated here, realistic field names and nesting) goes in, that
/// system's output comes out. The production capture's workflow (its own
/// ids, feedback and corrections in bulk) is ExternalIdTests.
@Suite struct SeedWorkflowTests {
    private func python(_ code: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", code] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self) + String(decoding: e, as: UTF8.self))
    }

    private func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// ETL module: Module-4 records, gzip-compressed, into monthly files named as its object keys.
    @Test func etlModuleRecordsComeOutAsDomainYearMonthObjectFiles() throws {
        let store = temporaryStorePath()
        let domains = ["metabolic_diabetes", "cardio_hypertension"]
        var input: [String] = []
        for i in 0..<30 {
            let d = domains[i % 2], month = 10 + i % 2
            input.append(#"{"instruction": "Summarize the patient's health journal entry.", "input": "Readings for user \#(i): fasting glucose \#(90 + i) mg/dL.", "output": "Glucose within range on \#(i % 7) of 7 days.", "metadata": {"record_type": "\#(i % 2 == 0 ? "BloodGlucoseRecord" : "BloodPressureRecord")", "user_id": "user\#(i)", "correlation_id": "corr-\#(i)", "processing_timestamp": "2025-\#(month)-15T08:00:00Z", "source_bucket": "health-raw", "source_key": "raw/Record/2025/\#(month)/15/user\#(i)_1731628800_abc\#(i).avro", "quality_score": 0.\#(5 + i % 5), "record_count": \#(i + 1), "processing_duration_seconds": 1.25, "clinical_insights": {"conditions": ["type2_diabetes"], "medications": ["metformin"]}, "health_domain": "\#(d)"}}"#)
        }
        let gz = store + "-module4.jsonl.gz"
        try Data(compressedWithCLI(Array((input.joined(separator: "\n") + "\n").utf8), tool: "gzip")).write(to: URL(fileURLWithPath: gz))
        #expect(try runStrata(["init", store, "--external-id", "metadata.source_key"]).status == 0)
        let ing = try runStrata(["ingest", store, gz, "--map", "domain=metadata.health_domain", "--map", "timestamp=metadata.processing_timestamp",
                                 "--map", "quality_score=metadata.quality_score", "--json"])
        #expect(ing.status == 0, "\(ing.stderr)")
        #expect(ing.jsonLines.last?["inserted"] as? Int == 30)
        let got = try runStrata(["get", store, "--by", "metadata.source_key=raw/Record/2025/11/15/user7_1731628800_abc7.avro"])
        #expect(got.status == 0 && got.stdout.contains("user 7:"), "\(got.stderr)")
        let out = store + "-training"
        let x = try runStrata(["export", store, "--out", out, "--schema", "alpaca", "--layout", "etl", "--file-name", "health_journal", "--json"])
        #expect(x.status == 0, "\(x.stderr)")
        let diabetes = out + "/metabolic_diabetes/2025/10/health_journal_2025_10.jsonl"
        let cardio = out + "/cardio_hypertension/2025/11/health_journal_2025_11.jsonl"
        #expect(try lines(diabetes).count == 15 && lines(cardio).count == 15)
        let row = try #require(try lines(diabetes).first)
        #expect(Set(row.keys) == ["instruction", "input", "output", "metadata"])
        #expect((row["metadata"] as? [String: Any])?["health_domain"] as? String == "metabolic_diabetes")
    }

    /// LoRA training files: turns in, the v4 document and the v4 JSONL header out.
    @Test func trainingFileTurnsComeOutAsV4DocumentAndJSONLWithMetaHeader() throws {
        let store = temporaryStorePath()
        let personas = ["anxious_investor", "pragmatic_planner"], arcs = ["fear_to_confidence", "confusion_to_clarity"]
        var input = [#"{"_meta": {"file_name": "batch_7", "total_pairs": 12, "version": "4.0.0"}}"#]
        for i in 0..<12 {
            input.append(#"{"id": "turn_\#(i)", "conversation_id": "c-\#(i / 3)", "turn_number": \#(1 + i % 3), "conversation_metadata": {"client_persona": "Marcus", "quality_tier": "production", "scaffolding": {"persona_key": "\#(personas[i % 2])", "emotional_arc_key": "\#(arcs[(i / 2) % 2])", "training_topic_key": "retirement_catch_up"}}, "system_prompt": "You are Elena Morales, CFP.", "conversation_history": [{"role": "user", "content": "earlier \#(i)"}], "current_user_input": "Am I behind on retirement, question \#(i)?", "emotional_context": {"detected_emotions": {"primary": "anxiety", "intensity": 0.7}}, "target_response": "Let's look at your numbers together (\#(i)).", "training_metadata": {"quality_score": 4, "created_at": "2025-03-14T10:0\#(i % 10):00Z"}}"#)
        }
        let ing = try runStrata(["ingest", store, "--map", "prompt=current_user_input", "--map", "response=target_response",
                                 "--map", "metadata=conversation_metadata", "--map", "timestamp=training_metadata.created_at",
                                 "--map", "quality_score=training_metadata.quality_score:scale=1..5", "--map", "id=",
                                 "--default-domain", "financial_planning", "--json"], stdin: Data(input.joined(separator: "\n").utf8))
        #expect(ing.status == 0, "\(ing.stderr)")
        let sum = try #require(ing.jsonLines.last)
        #expect(sum["inserted"] as? Int == 12 && sum["skipped"] as? Int == 1)
        #expect(Set(sum["unknown_field_names"] as? [String] ?? []) == ["id", "conversation_id", "turn_number", "system_prompt", "conversation_history", "emotional_context", "training_metadata"])
        // Nothing dropped: the turn's own fields are in metadata._extra, byte for byte.
        let scan = try runStrata(["scan", store, "--where", #"metadata._extra.conversation_id = "c-2" AND metadata._extra.turn_number = 3"#])
        #expect(scan.jsonLines.count == 1)
        let meta = try #require(scan.jsonLines.first?["metadata"] as? [String: Any])
        #expect(((meta["_extra"] as? [String: Any])?["emotional_context"] as? [String: Any]) != nil)
        #expect(scan.jsonLines.first?["quality_score"] as? Double == 0.75)

        let doc = store + "-doc"
        let j = try runStrata(["export", store, "--out", doc, "--format", "json", "--name", "consultant_batch_7"])
        #expect(j.status == 0, "\(j.stderr)")
        let d = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: doc + "/data.json"))) as! [String: Any]
        #expect(d.keys.contains("consultant_profile") && d.keys.contains("conversations"))
        let tfm = try #require(d["training_file_metadata"] as? [String: Any])
        #expect(tfm["version"] as? String == "4.0.0" && tfm["format_spec"] as? String == "brightrun-lora-v4")
        #expect(tfm["name"] as? String == "consultant_batch_7" && tfm["vertical"] as? String == "financial_planning")
        #expect(tfm["total_training_pairs"] as? Int == 12)
        // The turns come back grouped as the v4 document's conversations with training pairs.
        #expect(tfm["total_conversations"] as? Int == 4)
        #expect((d["examples"] as? [Any])?.isEmpty == true)
        let convs = try #require(d["conversations"] as? [[String: Any]])
        #expect(convs.count == 4)
        let c2 = try #require(convs.first { ($0["conversation_metadata"] as? [String: Any])?["conversation_id"] as? String == "c-2" })
        let cm = try #require(c2["conversation_metadata"] as? [String: Any])
        #expect(cm["total_turns"] as? Int == 3 && cm["quality_tier"] as? String == "production" && cm["created_date"] as? String == "2025-03-14")
        #expect((cm["scaffolding"] as? [String: Any])?["training_topic_key"] as? String == "retirement_catch_up")
        let tp = try #require(c2["training_pairs"] as? [[String: Any]])
        #expect(tp.map { $0["turn_number"] as? Int } == [1, 2, 3])
        #expect(tp.map { $0["id"] as? String } == ["turn_6", "turn_7", "turn_8"])
        #expect(tp[0]["system_prompt"] as? String == "You are Elena Morales, CFP.")
        #expect(tp[0]["current_user_input"] as? String == "Am I behind on retirement, question 6?")
        #expect(tp[0]["target_response"] as? String == "Let's look at your numbers together (6).")
        #expect(((tp[0]["emotional_context"] as? [String: Any])?["detected_emotions"] as? [String: Any])?["primary"] as? String == "anxiety")
        #expect((tp[0]["conversation_history"] as? [[String: Any]])?.first?["content"] as? String == "earlier 6")
        let qs = try #require(tfm["quality_summary"] as? [String: Any])
        #expect(qs["avg_quality_score"] as? Double == 0.75 && qs["human_reviewed_count"] as? Int == 0)
        let sd = try #require(tfm["scaffolding_distribution"] as? [String: [String: Int]])
        #expect(sd["personas"] == ["anxious_investor": 6, "pragmatic_planner": 6])
        #expect(sd["emotional_arcs"] == ["fear_to_confidence": 6, "confusion_to_clarity": 6])
        #expect(sd["training_topics"] == ["retirement_catch_up": 12])

        let jl = store + "-jsonl"
        let l = try runStrata(["export", store, "--out", jl, "--schema", "prompt_response", "--meta-header", "--name", "consultant_batch_7"])
        #expect(l.status == 0, "\(l.stderr)")
        let rows = try lines(jl + "/data.jsonl")
        let header = try #require(rows.first?["_meta"] as? [String: Any])
        #expect(header["file_name"] as? String == "data.jsonl" && header["version"] as? String == "4.0.0")
        #expect(header["total_pairs"] as? Int == rows.count - 1 && header["name"] as? String == "consultant_batch_7")
    }

    /// Event-log pipeline: structured events (zstd), a null check that stops the job, then Parquet with its sidecars.
    @Test func eventLogEventsComeOutAsParquetDatasetWithSchemaAndSummary() throws {
        let store = temporaryStorePath()
        var input: [String] = []
        for i in 0..<40 {
            let hh = i < 3 ? "null" : #""hh_\#(i % 9)""#
            input.append(#"{"instruction": "Suggest meals for this household event.", "input": {"event_type": "plan_requested", "user_id": "u\#(i)", "household": {"id": \#(hh), "size": \#(2 + i % 3), "preferences": ["vegetarian"], "restrictions": ["nut_free"]}}, "output": {"plan": [{"day": "mon", "meal": "lentil soup"}], "accepted": \#(i % 2 == 0)}, "domain": "meal_planning", "timestamp": "2025-03-14", "metadata": {"household": {"id": \#(hh)}, "event_id": "evt_\#(i)"}}"#)
        }
        let zst = store + "-events.jsonl.zst"
        try Data(compressedWithCLI(Array(input.joined(separator: "\n").utf8), tool: "zstd")).write(to: URL(fileURLWithPath: zst))
        let ing = try runStrata(["ingest", store, zst, "--json"])
        #expect(ing.status == 0 && ing.jsonLines.last?["inserted"] as? Int == 40, "\(ing.stderr)")
        // The nightly gate stops on the null household ids.
        let gate = try runStrata(["stats", store, "--min-rows", "10", "--rule", "metadata.household.id is not null"])
        #expect(gate.status == 65 && gate.stderr.contains("3 of 40 examples violate it"))
        let out = store + "-2025-03-14"
        let x = try runStrata(["export", store, "--out", out, "--format", "parquet", "--file-name", "training",
                               "--where", "metadata.household.id is not null", "--from", "2025-03-14", "--to", "2025-03-15"])
        #expect(x.status == 0, "\(x.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/data/training.parquet"))
        let schema = try String(contentsOfFile: out + "/schema.json", encoding: .utf8)
        #expect(schema.contains(#""name" : "messages""#) || schema.contains(#""name":"messages""#))
        let md = try String(contentsOfFile: out + "/dataset_summary.md", encoding: .utf8)
        #expect(md.contains("list<element: string not null>") && md.contains("timestamp[ms, tz=UTC]") && !md.contains("ParquetField"))
        #expect(md.contains("- Name: \((out as NSString).lastPathComponent)"))
        // Every reader reads the dataset directory; the structured input is canonical JSON text.
        let (status, text) = try python("""
        import sys, json, polars as pl, pyarrow.dataset as ds, duckdb
        d = sys.argv[1]
        a = pl.read_parquet(d); b = ds.dataset(d, format="parquet").to_table(); c = duckdb.sql(f"select count(*) from read_parquet('{d}/*.parquet')").fetchall()[0][0]
        row = json.loads(a["input"][0])
        print(a.height, b.num_rows, c, row["household"]["restrictions"], json.loads(a["metadata"][0])["_structured"])
        """, [out + "/data"])
        #expect(status == 0, "\(text)")
        #expect(text.hasPrefix("37 37 37 ['nut_free'] {'input': 'object', 'output': 'object'}"), "\(text)")
    }

    /// Fine-tuning pipeline: reads by category, date range and metadata, and asks for a stats view.
    @Test func fineTuningPipelineSelectsByCategoryDateRangeAndMetadata() throws {
        let store = temporaryStorePath()
        let categories = ["billing", "technical", "onboarding"]
        var input: [String] = []
        for i in 0..<60 {
            input.append(#"{"prompt": "Customer question \#(i)", "response": "Support answer \#(i)", "domain": "\#(categories[i % 3])", "timestamp": "2025-03-\#(String(format: "%02d", 1 + i % 28))T\#(String(format: "%02d", i % 24)):00:00Z", "quality_score": \#(Double(i % 10) / 10), "metadata": {"complexity_level": "\#(i % 4 == 0 ? "advanced" : "basic")", "language": "en", "token_count": \#(100 + i)}}"#)
        }
        #expect(try runStrata(["ingest", store], stdin: Data(input.joined(separator: "\n").utf8)).status == 0)
        let r = try runStrata(["scan", store, "--domain", "billing", "--from", "2025-03-10", "--to", "2025-03-20T12:00:00Z",
                               "--where", #"metadata.complexity_level = "advanced" AND quality_score >= 0.5 AND metadata.token_count < 200"#])
        #expect(r.status == 0, "\(r.stderr)")
        let expected = (0..<60).filter { i in
            let day = 1 + i % 28, hour = i % 24
            return i % 3 == 0 && i % 4 == 0 && Double(i % 10) / 10 >= 0.5 && (day > 10 || day == 10) && (day < 20 || (day == 20 && hour < 12))
        }
        #expect(Set(r.jsonLines.compactMap { $0["prompt"] as? String }) == Set(expected.map { "Customer question \($0)" }))
        let st = try runStrata(["stats", store, "--json", "--where", #"metadata.language = "en""#])
        let s = try #require(st.jsonLines.last)
        #expect(s["records"] as? Int == 60)
        #expect((s["by_domain"] as? [String: Int]) == ["billing": 20, "technical": 20, "onboarding": 20])
    }
}
