import Foundation
import Testing
@testable import Strata

/// Parses `line` with a fresh parser; returns the draft or throws.
private func parse(_ line: [UInt8], _ mapping: IngestMapping = IngestMapping()) throws -> (ExampleDraft, IngestLineParser) {
    var parser = try IngestLineParser(mapping: mapping)
    var draft = ExampleDraft()
    try line.withUnsafeBytes { try parser.parse($0, into: &draft) }
    return (draft, parser)
}

private func parse(_ line: String, _ mapping: IngestMapping = IngestMapping()) throws -> ExampleDraft {
    try parse(Array(line.utf8), mapping).0
}

/// The error a line is rejected with (fails the test if it is accepted).
private func rejection(_ line: [UInt8], _ mapping: IngestMapping = IngestMapping(),
                       sourceLocation: SourceLocation = #_sourceLocation) -> StrataError? {
    do {
        _ = try parse(line, mapping)
        Issue.record("accepted: \(String(decoding: line, as: UTF8.self).prefix(200))", sourceLocation: sourceLocation)
        return nil
    } catch let e as StrataError {
        #expect(e.code == .invalidInput, "\(e)", sourceLocation: sourceLocation)
        return e
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

private func rejection(_ line: String, _ mapping: IngestMapping = IngestMapping(),
                       sourceLocation: SourceLocation = #_sourceLocation) -> StrataError? {
    rejection(Array(line.utf8), mapping, sourceLocation: sourceLocation)
}

/// A valid prompt/response line with `extra` members appended.
private func pr(_ extra: String = "") -> String {
    #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-02T03:04:05Z""# + (extra.isEmpty ? "" : "," + extra) + "}"
}

private func pr(bytes extra: [UInt8]) -> [UInt8] {
    Array(#"{"prompt":"p","response":"r","domain":"d","timestamp":0,"#.utf8) + extra + [0x7D]
}

private func millis(_ y: Int, _ m: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0, _ s: Int = 0, _ ms: Int = 0) -> Int64 {
    Int64(daysFromCivil(y, m, d)) * 86_400_000 + Int64(h * 3_600_000 + mi * 60_000 + s * 1000 + ms)
}

let etlModuleMetadata = #"""
{"record_type": "BloodGlucoseRecord", "user_id": "user123", "correlation_id": "abc-def-123", "processing_timestamp": "2025-11-15T10:30:00Z", "source_bucket": "health-data", "source_key": "raw/BloodGlucoseRecord/2025/11/15/user123_1731628800_abc123.avro", "quality_score": 0.95, "record_count": 450, "processing_duration_seconds": 2.3, "clinical_insights": {"control_status": "fair", "hypoglycemic_events": 3, "hyperglycemic_events": 45}, "health_domain": "metabolic_diabetes"}
"""#

let etlModuleLine = #"{"instruction": "Analyze this blood glucose data and provide clinical insights.", "input": "Blood glucose readings: 95 mg/dL (fasting).", "output": "Glucose control is moderate\nwith variability.", "metadata": "# + etlModuleMetadata + "}"

@Suite struct IngestParserTests {
    // MARK: mapping and fields

    @Test func etlModuleLineMapsHealthDomainAndTimestamp() throws {
        let m = try IngestMapping(["domain=metadata.health_domain", "timestamp=metadata.processing_timestamp",
                                   "quality_score = metadata.quality_score"])
        let d = try parse(etlModuleLine, m)
        #expect(d.shape == .instruction)
        #expect(d.string(d.first) == "Analyze this blood glucose data and provide clinical insights.")
        #expect(d.string(d.second) == "Blood glucose readings: 95 mg/dL (fasting).")
        #expect(d.string(d.third) == "Glucose control is moderate\nwith variability.")
        #expect(d.domainString == "metabolic_diabetes")
        #expect(d.timestampMillis == millis(2025, 11, 15, 10, 30))
        #expect(d.qualityScore == 0.95)
        #expect(d.string(d.metadata) == etlModuleMetadata)
    }

    @Test func etlModuleLineWithoutMappingIsRejectedNamingDomain() throws {
        let e = rejection(etlModuleLine)
        #expect(e?.field == "domain")
        var m = IngestMapping()
        m.defaultDomain = "health"
        let e2 = rejection(etlModuleLine, m)
        #expect(e2?.field == "timestamp")
        m.defaultTimestampMillis = 1_700_000_000_000
        let d = try parse(etlModuleLine, m)
        #expect(d.domainString == "health")
        #expect(d.timestampMillis == 1_700_000_000_000)
    }

    @Test func productionCaptureLineParsesAsPromptResponse() throws {
        let line = #"{"id": "x1", "timestamp": "2025-03-04T05:06:07.891234", "source": "chat", "prompt": "What's the seam overlap for TPO?", "response": "2.5 inches minimum per most manufacturers. Carlisle requires 2.5\", Firestone 3\".", "metadata": {"prompt_tokens": 7}, "quality": {"auto_score": 0.8}, "tags": ["tpo", "membrane"], "project_context": "general", "include_in_training": true}"#
        var m = IngestMapping()
        m.defaultDomain = "roofing"
        m.naiveTimestampsAreUTC = true
        // "id" here is the capture tool's own id, not ours: by default it is rejected...
        let e = rejection(line, m)
        #expect(e?.field == "id")
        #expect(e?.message.contains("--map id=") == true)
        // ...and `id=` stops reading it.
        try m.apply("id=")
        let (d, parser) = try parse(Array(line.utf8), m)
        #expect(d.shape == .promptResponse)
        #expect(d.string(d.second).hasSuffix(#"Firestone 3"."#))
        #expect(d.source.map { d.string($0) } == "chat")
        #expect(d.tags.map { d.string($0) } == ["tpo", "membrane"])
        #expect(d.timestampMillis == millis(2025, 3, 4, 5, 6, 7, 891))
        // The capture tool's own keys are kept, as written, in metadata._extra.
        #expect(d.string(d.metadata) == #"{"prompt_tokens": 7,"_extra":{"id": "x1","quality": {"auto_score": 0.8},"project_context": "general","include_in_training": true}}"#)
        #expect(parser.unknownKeyCount == 4)  // id, quality, project_context, include_in_training
    }

    @Test func metadataIsKeptByteForByte() throws {
        let meta = #"{ "big": 12345678901234567890, "huge":1.5e300 ,"negzero": -0.0, "esc": "caf\u00e9 \ud83d\ude00 \"q\" \\ \/", "raw": "é😀", "nested": [ {"a": [[]]}, null, true, false, 0, -1E-7 ] , "dup": 1, "dup": 2 }"#
        let d = try parse(pr(#""metadata": "# + meta))
        #expect(d.string(d.metadata) == meta)
        let none = try parse(pr())
        #expect(none.metadata == .empty)  // "{}" by the draft's convention
        let null = try parse(pr(#""metadata": null"#))
        #expect(null.metadata == .empty)
        #expect(rejection(pr(#""metadata": [1]"#))?.field == "metadata")
        #expect(rejection(pr(#""metadata": "{}""#))?.field == "metadata")
    }

    @Test func nestedMappedPathIsFoundInsideMetadataAndMetadataStaysWhole() throws {
        let m = try IngestMapping(["domain=metadata.tags.area", "source=metadata.origin"])
        let line = #"{"prompt":"p","response":"r","timestamp":0,"metadata":{"x":{"area":"no"},"tags":{"area":"cardio","z":[1,{"area":"no"}]},"origin":"etl"}}"#
        let d = try parse(line, m)
        #expect(d.domainString == "cardio")
        #expect(d.source.map { d.string($0) } == "etl")
        #expect(d.string(d.metadata) == #"{"x":{"area":"no"},"tags":{"area":"cardio","z":[1,{"area":"no"}]},"origin":"etl"}"#)
        // The top-level "domain" is no longer read once domain is mapped elsewhere.
        #expect(rejection(#"{"prompt":"p","response":"r","timestamp":0,"domain":"x"}"#, m)?.field == "metadata.tags.area")
    }

    @Test func mappingSpecsAreValidated() throws {
        #expect(throws: StrataError.self) { try IngestMapping(["colour=metadata.c"]) }
        #expect(throws: StrataError.self) { try IngestMapping(["domain"]) }
        #expect(throws: StrataError.self) { try IngestMapping(["domain=metadata..x"]) }
        #expect(throws: StrataError.self) { try IngestMapping(["domain=.x"]) }
        #expect(try IngestMapping(["domain="]).paths[IngestMapping.Target.domain.rawValue].isEmpty)
        // Two targets from one path, and a path below a string-valued target.
        #expect(throws: StrataError.self) { try IngestLineParser(mapping: IngestMapping(["domain=a", "source=a"])) }
        #expect(throws: StrataError.self) { try IngestLineParser(mapping: IngestMapping(["domain=a", "source=a.b"])) }
        var bad = IngestMapping()
        bad.defaultDomain = "../etc"
        #expect(throws: StrataError.self) { try IngestLineParser(mapping: bad) }
        do {
            _ = try IngestMapping(["colour=x"])
        } catch let e as StrataError {
            #expect(e.message.contains("quality_score"))  // lists the valid targets
        }
    }

    @Test func escapedKeysMatchFieldNames() throws {
        let d = try parse(#"{"pr\u006fmpt":"p","response":"r","domain":"d","timestamp":0}"#)
        #expect(d.string(d.first) == "p")
    }

    @Test func stringsAreUnescapedIntoStorage() throws {
        let d = try parse(#"{"prompt":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00","response":"é€😀","domain":"d","timestamp":0}"#)
        #expect(d.string(d.first) == "a\"b\\c/d\u{8}\u{c}\n\r\tAé€😀")
        #expect(d.string(d.second) == "é€😀")
    }

    // MARK: shapes

    @Test func shapesAreDetectedFromContentFields() throws {
        let base = #""domain":"d","timestamp":0"#
        #expect(try parse(#"{"instruction":"i","output":"o",\#(base)}"#).shape == .instruction)
        let ins = try parse(#"{"instruction":"i","input":"","output":"o",\#(base)}"#)
        #expect(ins.second.count == 0)  // empty input is allowed
        #expect(try parse(#"{"instruction":"i","input":null,"output":"o",\#(base)}"#).second.count == 0)
        #expect(try parse(#"{"prompt":"p","response":"r",\#(base)}"#).shape == .promptResponse)
        let chat = try parse(#"{"messages":[{"role":"system","content":"s"},{"content":"u","role":"user","name":"x"},{"role":"assistant","content":"a"},{"role":"tool","content":"t"}],\#(base)}"#)
        #expect(chat.shape == .chat)
        #expect(chat.messages.map(\.role) == [.system, .user, .assistant, .tool])
        #expect(chat.messages.map { chat.string($0.content) } == ["s", "u", "a", "t"])
        #expect(try parse(#"{"shape":"prompt_response","prompt":"p","response":"r",\#(base)}"#).shape == .promptResponse)
    }

    @Test func invalidContentIsRejectedWithItsField() {
        let base = #""domain":"d","timestamp":0"#
        let table: [(String, String)] = [
            (#"{\#(base)}"#, "shape"),
            (#"{"instruction":"i",\#(base)}"#, "output"),
            (#"{"output":"o",\#(base)}"#, "instruction"),
            (#"{"input":"x",\#(base)}"#, "instruction"),
            (#"{"instruction":"","output":"o",\#(base)}"#, "instruction"),
            (#"{"instruction":" \n ","output":"o",\#(base)}"#, "instruction"),
            (#"{"prompt":"p",\#(base)}"#, "response"),
            (#"{"prompt":"p","response":"",\#(base)}"#, "response"),
            (#"{"prompt":1,"response":"r",\#(base)}"#, "prompt"),
            (#"{"prompt":null,"response":"r",\#(base)}"#, "prompt"),
            (#"{"prompt":"p","response":"r","output":"o",\#(base)}"#, "shape"),
            (#"{"prompt":"p","response":"r","messages":[],\#(base)}"#, "shape"),
            (#"{"shape":"chat","prompt":"p","response":"r",\#(base)}"#, "shape"),
            (#"{"shape":"dialogue","prompt":"p","response":"r",\#(base)}"#, "shape"),
            (#"{"messages":[],\#(base)}"#, "messages"),
            (#"{"messages":{},\#(base)}"#, "messages"),
            (#"{"messages":["hi"],\#(base)}"#, "messages"),
            (#"{"messages":[{"role":"human","content":"c"}],\#(base)}"#, "messages[0].role"),
            (#"{"messages":[{"role":"user","content":"c"},{"role":"user"}],\#(base)}"#, "messages[1].content"),
            (#"{"messages":[{"content":"c"}],\#(base)}"#, "messages[0].role"),
            (#"{"messages":[{"role":"user","content":""}],\#(base)}"#, "messages[0].content"),
            (#"{"messages":[{"role":"user","content":null}],\#(base)}"#, "messages[0].content"),
            (#"{"messages":[{"role":"user","role":"user","content":"c"}],\#(base)}"#, "messages[0].role"),
            (#"{"prompt":"p","response":"r","tags":["a",1],\#(base)}"#, "tags"),
            (#"{"prompt":"p","response":"r","tags":[""],\#(base)}"#, "tags"),
            (#"{"prompt":"p","response":"r","tags":{},\#(base)}"#, "tags"),
            (#"{"prompt":"p","response":"r","source":5,\#(base)}"#, "source"),
            (#"{"prompt":"p","response":"r","id":"abc",\#(base)}"#, "id"),
            (#"{"prompt":"p","response":"r","domain":"d"}"#, "timestamp"),
        ]
        for (line, field) in table {
            #expect(rejection(line)?.field == field, "\(line)")
        }
    }

    @Test func tagsSourceAndIdAreRead() throws {
        let (d, p) = try parse(Array(pr(#""tags":"solo","source":null,"id":"00112233445566778899AABBCCDDEEFF""#).utf8))
        #expect(d.tags.map { d.string($0) } == ["solo"])
        #expect(d.source == nil)
        #expect(p.id == ExampleID(hex: "00112233445566778899aabbccddeeff"))
        #expect(p.idSpan.map { d.string($0) } == "00112233445566778899AABBCCDDEEFF")
        let (d2, p2) = try parse(Array(pr(#""tags":["x","y"],"source":"capture""#).utf8))
        #expect(d2.tags.map { d2.string($0) } == ["x", "y"])
        #expect(d2.source.map { d2.string($0) } == "capture")
        #expect(p2.id == nil)
    }

    @Test func duplicateKnownKeyIsRejected() {
        #expect(rejection(#"{"prompt":"p","prompt":"q","response":"r","domain":"d","timestamp":0}"#)?.field == "prompt")
        #expect(rejection(pr(#""metadata":{},"metadata":{}"#))?.field == "metadata")
        #expect(rejection(pr(#""tags":[],"tags":[]"#))?.field == "tags")
        #expect(rejection(#"{"prompt":"p","pr\u006fmpt":"q","response":"r","domain":"d","timestamp":0}"#)?.field == "prompt")
        let m = try! IngestMapping(["domain=metadata.area"])
        #expect(rejection(#"{"prompt":"p","response":"r","timestamp":0,"metadata":{"area":"a","area":"b"}}"#, m)?.field == "metadata.area")
        // A repeated unknown key cannot be kept unambiguously in metadata._extra;
        // when unknown keys are dropped it may repeat (it is not read).
        #expect(rejection(pr(#""extra":1,"extra":2"#))?.field == "extra")
        var drop = IngestMapping()
        drop.unknownKeys = .drop
        #expect((try? parse(pr(#""extra":1,"extra":2"#), drop)) != nil)
    }

    @Test func unknownTopLevelKeysAreIgnoredOrRejectedByPolicy() throws {
        var m = IngestMapping()
        #expect((try? parse(pr(#""extra":{"deep":[1,2]}"#), m)) != nil)
        m.unknownKeys = .reject
        #expect(rejection(pr(#""extra":1"#), m)?.field == "extra")
        #expect((try? parse(pr(#""metadata":{"extra":1}"#), m)) != nil)
    }

    @Test func qualityScore1e400IsRejected() throws {
        #expect(rejection(pr(#""quality_score":1e400"#))?.field == "quality_score")
        for bad in ["1.0000001", "-0.1", "\"0.5\"", "true", "-1e400", "2"] {
            #expect(rejection(pr(#""quality_score":"# + bad))?.field == "quality_score", "\(bad)")
        }
        let table: [(String, Double?)] = [("0", 0), ("1", 1), ("1.0", 1), ("0.95", 0.95), ("9.5e-1", 0.95), ("null", nil),
                                          ("0.30000000000000004", 0.30000000000000004), ("1e-320", 1e-320)]
        for (text, want) in table {
            #expect(try parse(pr(#""quality_score":"# + text)).qualityScore == want, "\(text)")
        }
        #expect(try parse(pr()).qualityScore == nil)
    }

    @Test func pathLikeDomainsAreRejected() throws {
        let bad = ["../x", "a/b", ".", "..", "", "A", "Health", "-a", "_a", "a b", "café", "a.b", "a\\b",
                   String(repeating: "a", count: 65), "a\u{0}"]
        for dom in bad {
            var lit: [UInt8] = []
            JSONWriter.appendString(dom, to: &lit)
            let line = #"{"prompt":"p","response":"r","timestamp":0,"domain":"# + String(decoding: lit, as: UTF8.self) + "}"
            #expect(rejection(line)?.field == "domain", "\(dom)")
        }
        for good in ["metabolic_diabetes", "a", "0", "x-y_z9", String(repeating: "z", count: 64)] {
            let d = try parse(#"{"prompt":"p","response":"r","timestamp":0,"domain":""# + good + #""}"#)
            #expect(d.domainString == good)
        }
        #expect(rejection(#"{"prompt":"p","response":"r","timestamp":0,"domain":7}"#)?.field == "domain")
    }

    // MARK: timestamps

    @Test func epochSecondsAndMillisAreAccepted() throws {
        let table: [(String, Int64)] = [
            ("1700000000", 1_700_000_000_000),
            ("1700000000123", 1_700_000_000_123),
            ("1700000000.5", 1_700_000_000_500),
            ("0", 0),
            ("99999999999", 99_999_999_999_000),  // just under 1e11: seconds
            ("100000000000", 100_000_000_000),  // 1e11: milliseconds
            ("1.7e9", 1_700_000_000_000),
        ]
        for (text, want) in table {
            #expect(try parse(#"{"prompt":"p","response":"r","domain":"d","timestamp":"# + text + "}").timestampMillis == want, "\(text)")
        }
        for bad in ["-1", "-1700000000000", "1e20", "253402300800000"] {
            #expect(rejection(#"{"prompt":"p","response":"r","domain":"d","timestamp":"# + bad + "}")?.field == "timestamp", "\(bad)")
        }
    }

    @Test func isoTimestampsAreParsedStrictly() throws {
        let ok: [(String, Int64)] = [
            ("2025-11-15T10:30:00Z", millis(2025, 11, 15, 10, 30)),
            ("2025-11-15 10:30:00Z", millis(2025, 11, 15, 10, 30)),
            ("2025-11-15t10:30:00z", millis(2025, 11, 15, 10, 30)),
            ("2025-11-15T10:30:00.1Z", millis(2025, 11, 15, 10, 30, 0, 100)),
            ("2025-11-15T10:30:00.123456789Z", millis(2025, 11, 15, 10, 30, 0, 123)),
            ("2025-11-15T10:30:00+02:00", millis(2025, 11, 15, 8, 30)),
            ("2025-11-15T00:30:00-01:30", millis(2025, 11, 15, 2, 0)),
            ("2024-02-29T23:59:59Z", millis(2024, 2, 29, 23, 59, 59)),
            ("1970-01-01T00:00:00Z", 0),
            ("9999-12-31T23:59:59.999Z", millis(9999, 12, 31, 23, 59, 59, 999)),
            ("2025-03-14", millis(2025, 3, 14, 0, 0)),  // a date alone: midnight UTC
        ]
        for (text, want) in ok {
            #expect(try parse(pr().replacingOccurrences(of: "2025-01-02T03:04:05Z", with: text)).timestampMillis == want, "\(text)")
        }
        let bad = ["2025-11-15T10:30:00", "2025-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-13-01T00:00:00Z",
                   "2025-00-01T00:00:00Z", "2025-11-15T24:00:00Z", "2025-11-15T10:60:00Z", "2025-11-15T10:30:60Z",
                   "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00", "0000-01-01T00:00:00Z", "2025-11-5", "2025-02-30",
                   "2025-11-15T10:30Z", "2025-11-15T10:30:00.Z", "2025-11-15T10:30:00+0200", "2025-11-15T10:30:00+24:00",
                   "2025-11-15T10:30:00Zjunk", "2025/11/15T10:30:00Z", "", "yesterday", "+2025-11-15T10:30:00Z"]
        for text in bad {
            #expect(rejection(pr().replacingOccurrences(of: "2025-01-02T03:04:05Z", with: text))?.field == "timestamp", "\(text)")
        }
        #expect(rejection(pr().replacingOccurrences(of: #""2025-01-02T03:04:05Z""#, with: "true"))?.field == "timestamp")
    }

    @Test func naiveTimestampsNeedTheFlag() throws {
        let line = pr().replacingOccurrences(of: "2025-01-02T03:04:05Z", with: "2025-01-02T03:04:05")
        let e = rejection(line)
        #expect(e?.message.contains("--naive-timestamps-utc") == true)
        var m = IngestMapping()
        m.naiveTimestampsAreUTC = true
        #expect(try parse(line, m).timestampMillis == millis(2025, 1, 2, 3, 4, 5))
    }

    // MARK: strict JSON

    @Test func loneSurrogateEscapeIsRejected() throws {
        for s in [#"\ud800"#, #"\udc00"#, #"\ud800\u0041"#, #"\ud800x"#, #"\udbff\udbff"#, #"\ud800\"#, #"\uDFFF\uD800"#] {
            #expect(rejection(pr(#""prompt2":"# + "\"" + s + "\""))  != nil, "\(s) in an ignored key")
            #expect(rejection(pr(#""metadata":{"k":""# + s + #""}"#)) != nil, "\(s) in metadata")
            #expect(rejection(#"{"prompt":""# + s + #"","response":"r","domain":"d","timestamp":0}"#)?.field == "prompt", "\(s)")
        }
        let d = try parse(#"{"prompt":"\uD83D\uDE00","response":"r","domain":"d","timestamp":0}"#)
        #expect(d.withBytes(d.first) { Array($0) } == [0xF0, 0x9F, 0x98, 0x80])
    }

    @Test func invalidUTF8IsRejected() throws {
        let bad: [[UInt8]] = [
            [0xC0, 0x80], [0xC1, 0xBF],  // overlong 2-byte
            [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],  // overlong 3-byte
            [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],  // overlong 4-byte
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],  // encoded surrogates
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],  // above U+10FFFF
            [0x80], [0xBF], [0xFE], [0xFF],  // stray bytes
            [0xE2, 0x82], [0xC3], [0xF0, 0x9F, 0x98],  // truncated
            [0xC3, 0x41], [0xE2, 0x28, 0xA1],  // bad continuation
        ]
        for seq in bad {
            let inContent = Array(#"{"prompt":"ab"#.utf8) + seq + Array(#"cd","response":"r","domain":"d","timestamp":0}"#.utf8)
            #expect(rejection(inContent)?.field == "prompt", "\(seq)")
            // Also at the end of a long clean run (exercises the 8-byte fast path) and in metadata.
            let inMeta = pr(bytes: Array(#""metadata":{"k":"0123456789abcdef"#.utf8) + seq + Array(#""}"#.utf8))
            #expect(rejection(inMeta) != nil, "\(seq)")
            #expect(rejection(pr(bytes: seq)) != nil, "\(seq) outside strings")
        }
        let good: [[UInt8]] = [[0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],
                               [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF]]
        for seq in good {
            let line = Array(#"{"prompt":"0123456789"#.utf8) + seq + Array(#"","response":"r","domain":"d","timestamp":0}"#.utf8)
            let (d, _) = try parse(line)
            #expect(d.withBytes(d.first) { Array($0) } == Array("0123456789".utf8) + seq)
        }
    }

    @Test func rawControlCharacterIsRejected() {
        for c: UInt8 in [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F] {
            let line = Array(#"{"prompt":"abcdefghijkl"#.utf8) + [c] + Array(#"","response":"r","domain":"d","timestamp":0}"#.utf8)
            #expect(rejection(line)?.message.contains("control character") == true, "\(c)")
            #expect(rejection(pr(bytes: Array(#""metadata":{"k":"x"#.utf8) + [c] + Array(#""}"#.utf8))) != nil, "\(c)")
        }
    }

    @Test func deepNestingIsRejectedWithoutCrash() throws {
        // 10,000 levels inside metadata, inside an ignored key, and as arrays in tags.
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(rejection(pr(#""metadata":{"x":"# + deep + "}"))?.message.contains("nesting") == true)
        #expect(rejection(pr(#""other":"# + deep))?.message.contains("nesting") == true)
        let objs = String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect(rejection(pr(#""metadata":"# + objs))?.message.contains("nesting") == true)
        // Unclosed: must not crash either.
        #expect(rejection(pr(#""metadata":{"x":"# + String(repeating: "[", count: 100_000))) != nil)
        // The limit is exact: the line's object is depth 1, metadata depth 2.
        func nested(_ levels: Int) -> String {
            pr(#""metadata":{"x":"# + String(repeating: "[", count: levels) + String(repeating: "]", count: levels) + "}")
        }
        #expect((try? parse(nested(IngestLineParser.maxDepth - 2))) != nil)
        #expect(rejection(nested(IngestLineParser.maxDepth - 1)) != nil)
    }

    @Test func hostileInputsAreRejected() {
        let ok = #""prompt":"p","response":"r","domain":"d","timestamp":0"#
        let table: [String] = [
            "", " ", "\n", "[]", "null", "\"s\"", "1", "{", "}", "{}",
            "{\(ok)", "{\(ok)}}", "{\(ok)} x", "{\(ok)}{}", "{\(ok)},", "{\(ok),}", "{,\(ok)}", "{\(ok),,\"a\":1}",
            "{\(ok),\"a\"}", "{\(ok),\"a\" 1}", "{\(ok),\"a\":}", "{\(ok),a:1}", "{\(ok),'a':1}", "{\(ok),\"a\":'x'}",
            "{\(ok),\"a\":NaN}", "{\(ok),\"a\":Infinity}", "{\(ok),\"a\":-Infinity}", "{\(ok),\"a\":01}", "{\(ok),\"a\":-01}",
            "{\(ok),\"a\":1.}", "{\(ok),\"a\":.5}", "{\(ok),\"a\":-}", "{\(ok),\"a\":+1}", "{\(ok),\"a\":1e}", "{\(ok),\"a\":1e+}",
            "{\(ok),\"a\":0x10}", "{\(ok),\"a\":tru}", "{\(ok),\"a\":True}", "{\(ok),\"a\":nul}", "{\(ok),\"a\":undefined}",
            "{\(ok),\"a\":\"\\x\"}", "{\(ok),\"a\":\"\\u12\"}", "{\(ok),\"a\":\"\\u12G4\"}", "{\(ok),\"a\":\"\\\"}",
            "{\(ok),\"a\":\"unterminated}", "{\(ok),\"a\":[1,]}", "{\(ok),\"a\":[,1]}", "{\(ok),\"a\":[1 2]}", "{\(ok),\"a\":[}",
            "{\(ok),\"a\":{]}", "{\(ok),\"a\":{\"b\"}}", "{\(ok)} // comment", "{\(ok),/*c*/\"a\":1}", "\u{FEFF}{\(ok)}",
            "{\(ok),\"a\":1\u{0B}}", "{\(ok),\"a\":1\u{A0}}", "{\(ok),\"metadata\":{\"a\":1,}}", "{\(ok),\"metadata\":{\"a\"::1}}",
        ]
        for line in table {
            _ = rejection(line)
        }
        // Sanity: the base is valid, including with whitespace around and inside.
        #expect((try? parse(" \t{ \(ok) , \"a\" : [ 1 , { } , [ ] ] }\r\n")) != nil)
    }

    @Test func parserIsReusableAcrossLines() throws {
        var parser = try IngestLineParser()
        var draft = ExampleDraft()
        let lines = [pr(#""tags":["a","b"],"metadata":{"m":1},"source":"s","quality_score":0.5"#), pr(),
                     #"{"messages":[{"role":"user","content":"hi"}],"domain":"c","timestamp":0}"#]
        var results: [(Int, Int, Bool, Double?)] = []
        for l in lines + lines {
            try Array(l.utf8).withUnsafeBytes { try parser.parse($0, into: &draft) }
            results.append((draft.tags.count, draft.messages.count, draft.source == nil, draft.qualityScore))
        }
        #expect(results.map(\.0) == [2, 0, 0, 2, 0, 0])
        #expect(results.map(\.1) == [0, 0, 1, 0, 0, 1])
        #expect(results.map(\.2) == [false, true, true, false, true, true])
        #expect(results.map(\.3) == [0.5, nil, nil, 0.5, nil, nil])
        #expect(draft.shape == .chat)
        // A rejected line in between leaves the parser usable.
        #expect(throws: StrataError.self) { try Array("{".utf8).withUnsafeBytes { try parser.parse($0, into: &draft) } }
        try Array(pr().utf8).withUnsafeBytes { try parser.parse($0, into: &draft) }
        #expect(draft.shape == .promptResponse)
    }
}
