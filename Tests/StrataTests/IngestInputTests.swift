import Foundation
import Testing
@testable import Strata

/// Input handling of issue 13: unknown fields kept, structured content,
/// value transforms, timestamps, compressed input, empty/pretty-printed input.
@Suite struct IngestInputTests {
    private func parse(_ line: String, _ m: IngestMapping = IngestMapping()) throws -> (ExampleDraft, IngestLineParser) {
        var parser = try IngestLineParser(mapping: m)
        var draft = ExampleDraft()
        try Array(line.utf8).withUnsafeBytes { try parser.parse($0, into: &draft) }
        return (draft, parser)
    }

    private func rejected(_ line: String, _ m: IngestMapping = IngestMapping()) -> StrataError? {
        do { _ = try parse(line, m); return nil } catch { return error as? StrataError }
    }

    private let base = #""prompt":"p","response":"r","domain":"d","timestamp":"2025-01-02T03:04:05Z""#

    @Test func unknownTopLevelFieldsAreKeptByteForByteInMetadataExtra() throws {
        // Training-file turn shape: its bookkeeping keys sit beside the content.
        let line = "{" + base + #", "conversation_id" : "c-17", "turn_number":3,"emotional_context": {"primary": "anxious", "intensity": 0.7e0},"metadata":{"a": 1 }}"#
        let (d, parser) = try parse(line)
        #expect(parser.unknownKeyCount == 3)
        #expect(d.string(d.metadata) == #"{"a": 1 ,"_extra":{"conversation_id" : "c-17","turn_number":3,"emotional_context": {"primary": "anxious", "intensity": 0.7e0}}}"#)
        // No metadata, and empty metadata: `_extra` is the only member.
        #expect(try parse("{" + base + #","x":[1, 2]}"#).0.string(parse("{" + base + #","x":[1, 2]}"#).0.metadata) == #"{"_extra":{"x":[1, 2]}}"#)
        let empty = try parse("{" + base + #","metadata":{ },"x":null}"#).0
        #expect(empty.string(empty.metadata) == #"{ "_extra":{"x":null}}"#)
        // The result is valid JSON.
        #expect((try? JSONSerialization.jsonObject(with: Data(d.string(d.metadata).utf8))) != nil)
        // Without unknown keys the metadata is untouched.
        let plain = try parse("{" + base + #","metadata":{"a": 1 }}"#).0
        #expect(plain.string(plain.metadata) == #"{"a": 1 }"#)
    }

    @Test func unknownFieldsPolicyDropsOrRejects() throws {
        var m = IngestMapping()
        m.unknownKeys = .drop
        let (d, parser) = try parse("{" + base + #","system_prompt":"You are...","metadata":{"a":1}}"#, m)
        #expect(d.string(d.metadata) == #"{"a":1}"#)
        #expect(parser.unknownKeyCount == 1)
        m.unknownKeys = .reject
        #expect(rejected("{" + base + #","system_prompt":"You are..."}"#, m)?.field == "system_prompt")
    }

    @Test func metadataOwningAnExtraKeyIsRejectedOnlyWhenUnknownFieldsMustBeKept() throws {
        #expect(rejected("{" + base + #","metadata":{"_extra":1},"x":2}"#)?.field == "metadata._extra")
        // A re-ingested export carries `_extra` in metadata and no unknown keys: accepted as is.
        let (d, _) = try parse("{" + base + #","metadata":{"_extra":{"x":2}}}"#)
        #expect(d.string(d.metadata) == #"{"_extra":{"x":2}}"#)
    }

    @Test func structuredInputAndOutputAreStoredAsCanonicalJSONWithTheirShapeRecorded() throws {
        // Event-log pipeline shape: the input is an event object, the output a list.
        let line = #"{"instruction":"Plan meals","input":{"household": {"size": 4, "id": "hh_\u0041"}, "event":"plan_created"},"output":[ {"meal":"soup"} , 1.50 ],"domain":"meals","timestamp":"2025-03-14"}"#
        let (d, _) = try parse(line)
        #expect(d.string(d.second) == #"{"event":"plan_created","household":{"id":"hh_A","size":4}}"#)
        #expect(d.string(d.third) == #"[{"meal":"soup"},1.50]"#)
        #expect(d.string(d.metadata) == #"{"_structured":{"input":"object","output":"array"}}"#)
        // Whitespace, key order and escapes do not change the stored text (or the id).
        let other = #"{"instruction":"Plan meals","input":{"event":"plan_created","household":{"id":"hh_A","size":4}},"output":[{"meal":"soup"},1.50],"domain":"meals","timestamp":"2025-03-14"}"#
        let (d2, _) = try parse(other)
        var scratch = ByteWriter(capacity: 256)
        #expect(CanonicalContent.id(of: d, scratch: &scratch) == CanonicalContent.id(of: d2, scratch: &scratch))
        // A structured value with a repeated key is rejected naming the field.
        #expect(rejected(#"{"instruction":"i","input":{"a":1,"a":2},"output":"o","domain":"d","timestamp":0}"#)?.field == "input")
    }

    @Test func qualityScoreOnAnotherScaleIsMappedOntoTheUnitRange() throws {
        let m = try IngestMapping(["quality_score=metadata.rating:scale=1..5"])
        #expect(m.qualityScale == 1...5)
        #expect(try parse("{" + base + #","metadata":{"rating":4}}"#, m).0.qualityScore == 0.75)
        #expect(try parse("{" + base + #","metadata":{"rating":1}}"#, m).0.qualityScore == 0)
        let e = rejected("{" + base + #","metadata":{"rating":6}}"#, m)
        #expect(e?.field == "metadata.rating")
        #expect(e?.message.contains("outside the scale") == true)
        #expect(throws: StrataError.self) { try IngestMapping(["quality_score=metadata.rating:scale=5..1"]) }
        #expect(throws: StrataError.self) { try IngestMapping(["domain=metadata.area:scale=1..5"]) }
    }

    @Test func timestampIsTakenFromARegexCaptureOfAnotherField() throws {
        // ETL module shape: the object key carries the date.
        var m = try IngestMapping(["timestamp=metadata.source_key:regex=/(\\d{4})/(\\d{2})/(\\d{2})/"])
        m.defaultDomain = "metabolic_diabetes"
        let line = #"{"instruction":"Summarize","input":"","output":"Glucose stable.","metadata":{"source_key":"raw/BloodGlucoseRecord/2025/11/15/user123_1731628800_abc123.avro"}}"#
        let (d, _) = try parse(line, m)
        #expect(d.timestampMillis == Int64(daysFromCivil(2025, 11, 15)) * 86_400_000)
        let nomatch = rejected(#"{"instruction":"i","output":"o","metadata":{"source_key":"raw/x.avro"}}"#, m)
        #expect(nomatch?.field == "metadata.source_key")
        #expect(nomatch?.message.contains("does not match") == true)
        let badMonth = rejected(#"{"instruction":"i","output":"o","metadata":{"source_key":"raw/R/2025/13/01/u.avro"}}"#, m)
        #expect(badMonth?.message.contains("invalid month") == true)
        #expect(throws: StrataError.self) { try IngestMapping(["timestamp=metadata.k:regex=(\\d{4})"]) }  // one group
        #expect(throws: StrataError.self) { try IngestMapping(["timestamp=metadata.k:regex=(("]) }
    }

    @Test func defaultTimestampTextAcceptsDatesInstantsAndEpochs() throws {
        #expect(try IngestLineParser.parseTimestamp("2025-03-14") == Int64(daysFromCivil(2025, 3, 14)) * 86_400_000)
        #expect(try IngestLineParser.parseTimestamp("2025-03-14T01:00:00Z") == Int64(daysFromCivil(2025, 3, 14)) * 86_400_000 + 3_600_000)
        #expect(try IngestLineParser.parseTimestamp("1710374400") == 1_710_374_400_000)
        #expect(throws: StrataError.self) { try IngestLineParser.parseTimestamp("yesterday") }
    }

    // MARK: whole inputs

    private func ingest(_ data: [UInt8], _ m: IngestMapping = IngestMapping()) throws -> (Ingester.Summary, [Example]) {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        defer { try? store.close() }
        let ing = try Ingester(store: store, mapping: m)
        try ing.ingest(data: data)
        try ing.commit()
        var out: [Example] = []
        try store.scan(.all) { out.append($0); return true }
        return (ing.summary, out)
    }

    private func jsonl(_ n: Int) -> [UInt8] {
        Array((0..<n).map { "{" + #""prompt":"p\#($0)","response":"r","domain":"d","timestamp":"2025-01-02","conversation_id":"c\#($0)"}"# }
            .joined(separator: "\n").appending("\n").utf8)
    }

    @Test func gzipAndZstdInputAreDetectedByMagicBytesAndDecompressed() throws {
        let plain = jsonl(500)
        for tool in ["gzip", "zstd"] {
            let packed = try compressedWithCLI(plain, tool: tool)
            let (sum, examples) = try ingest(packed)
            #expect(sum.inserted == 500, "\(tool)")
            #expect(sum.rejected == 0, "\(tool)")
            #expect(sum.unknownFields == 500 && sum.recordsWithUnknownFields == 500 && sum.unknownFieldNames == ["conversation_id"])
            #expect(examples.contains { $0.metadataJSON == #"{"_extra":{"conversation_id":"c7"}}"# })
            // Concatenated members/frames read as one stream.
            let (both, _) = try ingest(packed + (try compressedWithCLI(jsonl(600), tool: tool)))
            #expect(both.inserted == 600 && both.duplicates == 500, "\(tool)")
            // A truncated stream is an error naming the format, not a pile of rejections.
            #expect { _ = try ingest(Array(packed.prefix(packed.count / 2))) } throws: { e in
                (e as? StrataError)?.message.contains("\(tool) input is truncated") == true
            }
        }
    }

    @Test func emptyInputAndPrettyPrintedObjectAreReportedOnceAsErrors() throws {
        #expect { _ = try ingest([]) } throws: { ($0 as? StrataError)?.message.contains("empty (0 bytes)") == true }
        #expect { _ = try ingest(Array(" \n\n".utf8)) } throws: { ($0 as? StrataError)?.message.contains("no records") == true }
        let pretty = "{\n  \"prompt\": \"p\",\n  \"response\": \"r\"\n}\n"
        #expect { _ = try ingest(Array(pretty.utf8)) } throws: { e in
            let s = e as? StrataError
            return s?.code == .invalidInput && s?.line == 1 && s?.message.contains("pretty-printed") == true
        }
    }
}

/// The CLI side of ingest input handling.
@Suite struct IngestCLIInputTests {
    @Test func missingInputFileIsAnIOErrorAndLeavesNoStore() throws {
        let store = temporaryStorePath()
        let r = try runStrata(["ingest", store, store + "-nonexistent.jsonl"])
        #expect(r.status == 74, "\(r.stderr)")
        #expect(r.stderr.contains("no such file"))
        #expect(!FileManager.default.fileExists(atPath: store))
    }

    @Test func emptyFileFailsAndTheNewStoreIsRemoved() throws {
        let store = temporaryStorePath()
        let input = store + "-empty.jsonl"
        FileManager.default.createFile(atPath: input, contents: Data())
        let r = try runStrata(["ingest", store, input])
        #expect(r.status == 65, "\(r.stderr)")
        #expect(r.stderr.contains("empty (0 bytes)"))
        #expect(!FileManager.default.fileExists(atPath: store))
    }

    @Test func nonEmptyDirectoryThatIsNotAStoreIsRefusedWithoutWritingALock() throws {
        let dir = temporaryStorePath()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/notes.txt", contents: Data("mine".utf8))
        let line = #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-02"}"#
        let r = try runStrata(["ingest", dir], stdin: Data(line.utf8))
        #expect(r.status != 0)
        #expect(r.stderr.contains("not a Strata store"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["notes.txt"])
    }

    @Test func repeatedSingleValueOptionIsAUsageError() throws {
        let store = temporaryStorePath()
        let r = try runStrata(["scan", store, "--source", "a", "--source", "b"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--source given more than once"))
        let q = try runStrata(["export", store, "--out", store + "-x", "--min-quality", "0.1", "--min-quality=0.5"])
        #expect(q.status == 64)
        // Repeatable options still accumulate.
        let line = #"{"prompt":"p","response":"r","area":"d","at":"2025-01-02","tags":["y"]}"#
        let ok = try runStrata(["ingest", store, "--map", "domain=area", "--map", "timestamp=at"], stdin: Data(line.utf8))
        #expect(ok.status == 0, "\(ok.stderr)")
        let scan = try runStrata(["scan", store, "--tag", "x", "--tag", "y"])
        #expect(scan.status == 0 && scan.stdout.contains(#""prompt":"p""#), "\(scan.stderr)")
    }

    @Test func defaultTimestampAndUnknownFieldsOptionsApplyAndAreCounted() throws {
        let store = temporaryStorePath()
        let lines = #"{"prompt":"p1","response":"r","domain":"d","system_prompt":"You help.","turn_number":1}"# + "\n"
            + #"{"prompt":"p2","response":"r","domain":"d"}"#
        let gz = try compressedWithCLI(Array(lines.utf8), tool: "gzip")
        let r = try runStrata(["ingest", store, "--default-timestamp", "2025-03-14", "--json"], stdin: Data(gz))
        #expect(r.status == 0, "\(r.stderr)")
        let sum = try #require(r.jsonLines.last)
        #expect(sum["inserted"] as? Int == 2)
        #expect(sum["unknown_fields"] as? Int == 2)
        #expect(sum["records_with_unknown_fields"] as? Int == 1)
        #expect(sum["unknown_field_names"] as? [String] == ["system_prompt", "turn_number"])
        #expect(FileManager.default.fileExists(atPath: store + "/domain=d/month=2025-03"))
        let rej = try runStrata(["ingest", store + "-2", "--default-timestamp", "2025-03-14", "--unknown-fields", "reject", "--json"], stdin: Data(lines.utf8))
        #expect(rej.jsonLines.last?["rejected"] as? Int == 1)
        let bad = try runStrata(["ingest", store + "-3", "--unknown-fields", "ignore"], stdin: Data(lines.utf8))
        #expect(bad.status == 64)
    }
}
