import Foundation
import Testing
@testable import Strata

/// Feeds `text` to a splitter in chunks of `chunk` bytes; returns records
/// (text, line) and rejected line numbers, in order.
private func split(_ bytes: [UInt8], chunk: Int, max: Int = 64 << 20) -> (records: [(String, Int)], rejected: [Int?], mode: JSONDocumentSplitter.Mode) {
    var s = JSONDocumentSplitter(maxRecordBytes: max)
    var records: [(String, Int)] = []
    var rejected: [Int?] = []
    let emit: (JSONDocumentSplitter.Piece) -> Void = { piece in
        switch piece {
        case let .record(b, line): records.append((String(decoding: b, as: UTF8.self), line))
        case let .rejected(e): rejected.append(e.line)
        }
    }
    var k = 0
    while k < bytes.count {
        let end = min(bytes.count, k + chunk)
        bytes[k..<end].withUnsafeBytes { s.feed($0, emit) }
        k = end
    }
    s.finish(emit)
    return (records, rejected, s.mode)
}

private func split(_ text: String, chunk: Int, max: Int = 64 << 20) -> (records: [(String, Int)], rejected: [Int?], mode: JSONDocumentSplitter.Mode) {
    split(Array(text.utf8), chunk: chunk, max: max)
}

@Suite struct IngestParserSplitterTests {
    @Test func jsonlLinesAreNumberedBlankLinesSkippedAndCRLFTolerated() {
        let text = "\u{FEFF}{\"a\":1}\r\n\n   \r\n{\"b\":2}\n{\"c\":3}"  // BOM, CRLF, blank lines, no final newline
        for chunk in [1, 2, 3, 7, 1000] {
            let r = split(text, chunk: chunk)
            #expect(r.mode == .lines)
            #expect(r.records.map(\.0) == [#"{"a":1}"#, #"{"b":2}"#, #"{"c":3}"#], "chunk \(chunk)")
            #expect(r.records.map(\.1) == [1, 4, 5], "chunk \(chunk)")
            #expect(r.rejected.isEmpty)
        }
    }

    @Test func jsonArrayInputYieldsElementsWithLineNumbers() throws {
        let text = """

          [
            {"prompt": "p1", "response": "a, b ] } [ {", "domain": "d", "timestamp": 0},
            {"prompt": "p2",
             "response": "r2\\"]", "domain": "d", "timestamp": 0, "metadata": {"x": [1, {"y": []}]}}
          ,{"prompt": "p3", "response": "r3", "domain": "d", "timestamp": 0}
          ]

        """
        for chunk in [1, 2, 5, 13, 4096] {
            let r = split(text, chunk: chunk)
            #expect(r.mode == .array)
            #expect(r.records.map(\.1) == [3, 4, 6], "chunk \(chunk)")
            #expect(r.rejected.isEmpty, "chunk \(chunk)")
            var parser = try IngestLineParser()
            var draft = ExampleDraft()
            var prompts: [String] = []
            for (rec, _) in r.records {
                try Array(rec.utf8).withUnsafeBytes { try parser.parse($0, into: &draft) }
                prompts.append(draft.string(draft.first))
            }
            #expect(prompts == ["p1", "p2", "p3"])
            if let second = r.records.dropFirst().first {
                #expect(second.0.hasSuffix(#"{"y": []}]}}"#))
            }
        }
        #expect(split("[]", chunk: 1).records.isEmpty)
        #expect(split(" [ ] \n", chunk: 3).rejected.isEmpty)
    }

    @Test func malformedJsonArraysAreReported() {
        #expect(split(#"[{"a":1},]"#, chunk: 4).rejected == [1])  // trailing comma
        #expect(split(#"[{"a":1},,{"b":2}]"#, chunk: 4).rejected == [1])  // empty element
        #expect(split(#"[{"a":1},{"b":2}"#, chunk: 4).rejected == [1])  // not closed
        #expect(split("[{\"a\":1}]\n\n{\"b\":2}", chunk: 4).rejected == [3])  // data after the array
        let r = split("[{\"a\":1},\n{\"b\":\"unterminated}]", chunk: 4)
        #expect(r.records.map(\.1) == [1])
        #expect(r.rejected == [2])
    }

    @Test func overlongLineIsRejectedAndNextLineStillParses() throws {
        let long = #"{"prompt":""# + String(repeating: "x", count: 300) + #"","response":"r","domain":"d","timestamp":0}"#
        let short = #"{"prompt":"p","response":"r","domain":"d","timestamp":0}"#
        let text = short + "\n" + long + "\n" + short + "\n" + long
        for chunk in [1, 16, 64, 100, 10_000] {
            let r = split(text, chunk: chunk, max: 100)
            #expect(r.records.map(\.1) == [1, 3], "chunk \(chunk)")
            #expect(r.rejected == [2, 4], "chunk \(chunk)")
            var parser = try IngestLineParser()
            var draft = ExampleDraft()
            for (rec, _) in r.records { try Array(rec.utf8).withUnsafeBytes { try parser.parse($0, into: &draft) } }
        }
        // A line of exactly the limit is accepted; one byte more is not.
        let exact = String(repeating: "a", count: 100)
        #expect(split(exact + "\n" + exact + "a\n", chunk: 7, max: 100).rejected == [2])
        // The same in array mode.
        let arr = "[" + short + ",\n" + long + ",\n" + short + "]"
        for chunk in [1, 16, 10_000] {
            let r = split(arr, chunk: chunk, max: 100)
            #expect(r.records.map(\.1) == [1, 3], "chunk \(chunk)")
            #expect(r.rejected == [2], "chunk \(chunk)")
        }
    }
}

@Suite struct IngestParserWriterTests {
    @Test func jsonWriterEscapingRoundTripsThroughFoundation() throws {
        var samples: [String] = [
            "", "plain", "quote \" backslash \\ slash /", "line\nbreak\r\ttab", "é€😀 mixed ascii",
            String(repeating: "clean run ", count: 20) + "\"" + String(repeating: "z", count: 13),
            "\u{2028}\u{2029}\u{7F}", String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }),
        ]
        for c in 0..<32 { samples.append("abcdefg" + String(Character(Unicode.Scalar(UInt8(c)))) + "hijklmnopq") }
        for s in samples {
            var out: [UInt8] = [0x5B]
            JSONWriter.appendString(s, to: &out)
            out.append(0x5D)
            // No raw control bytes may survive.
            #expect(!out.contains { $0 < 0x20 }, "\(s.debugDescription)")
            let back = try JSONSerialization.jsonObject(with: Data(out)) as? [String]
            #expect(back == [s], "\(s.debugDescription)")
            // And through our own parser.
            let line = Array(#"{"prompt":"p","response":"r","domain":"d","timestamp":0,"source":"#.utf8) + out.dropFirst().dropLast() + [0x7D]
            if !s.isEmpty {
                var parser = try IngestLineParser()
                var draft = ExampleDraft()
                try line.withUnsafeBytes { try parser.parse($0, into: &draft) }
                #expect(draft.source.map { draft.string($0) } == s)
            }
        }
        var out: [UInt8] = []
        JSONWriter.appendString("a\u{1}b\n", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""a\u0001b\n""#)
    }

    @Test func jsonWriterNumbersRoundTripAndNeverEmitInfOrNaN() throws {
        let doubles: [Double] = [0, -0.0, 0.1, 0.95, 1, 1e-5, 1e16, 1.5e300, 5e-324, .greatestFiniteMagnitude, -123.456, 0.30000000000000004]
        for v in doubles {
            var out: [UInt8] = [0x5B]
            JSONWriter.appendDouble(v, to: &out)
            out.append(0x5D)
            // Foundation must read it as a number (its own rounding is not exact on Linux)...
            let back = try JSONSerialization.jsonObject(with: Data(out)) as? [NSNumber]
            #expect(back?.count == 1, "\(v) -> \(String(decoding: out, as: UTF8.self))")
            // ...and the text is the shortest form that reads back bit-exactly.
            let text = String(decoding: out.dropFirst().dropLast(), as: UTF8.self)
            #expect(Double(text)?.bitPattern == v.bitPattern, "\(text)")
            #expect(!text.contains("inf") && !text.contains("nan"))
            if v >= 0 && v <= 1 {
                let line = #"{"prompt":"p","response":"r","domain":"d","timestamp":0,"quality_score":"# + text + "}"
                var parser = try IngestLineParser()
                var draft = ExampleDraft()
                try Array(line.utf8).withUnsafeBytes { try parser.parse($0, into: &draft) }
                #expect(draft.qualityScore?.bitPattern == v.bitPattern, "\(text)")
            }
        }
        for v in [Double.infinity, -.infinity, .nan] {
            var out: [UInt8] = []
            JSONWriter.appendDouble(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == "null")
        }
        for v: Int64 in [0, 7, -7, 1_700_000_000_123, .max, .min] {
            var out: [UInt8] = []
            JSONWriter.appendInt64(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(v))
        }
    }
}

/// Manual throughput measurement (not a correctness test):
///   STRATA_BENCH=1 swift test -c release --filter IngestParserBench
@Suite struct IngestParserBench {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_BENCH"] != nil))
    func parseThroughput() throws {
        let ascii = "The patient's glucose control is moderate; readings vary (CV 38%). "
        let mixed = "Контроль глюкозы умеренный;\\n血糖控制一般 \\\"CV 38%\\\". "  // non-ASCII plus \n and \" escapes
        for (target, sentence) in [(1024, ascii), (4096, ascii), (1024, mixed), (4096, mixed)] {
            var lines: [[UInt8]] = []
            for k in 0..<64 {
                let body = String(repeating: sentence, count: target / (2 * sentence.utf8.count) + 1)
                let line = #"{"instruction": "Analyze this data \#(k).", "input": "Readings: \#(body)", "output": "\#(body)\n\u00e9", "metadata": {"record_type": "BloodGlucoseRecord", "user_id": "user\#(k)", "processing_timestamp": "2025-11-15T10:30:00Z", "quality_score": 0.95, "record_count": 450, "clinical_insights": {"control_status": "fair", "hypoglycemic_events": 3}, "health_domain": "metabolic_diabetes"}}"#
                lines.append(Array(line.utf8))
            }
            let m = try IngestMapping(["domain=metadata.health_domain", "timestamp=metadata.processing_timestamp", "quality_score=metadata.quality_score"])
            var parser = try IngestLineParser(mapping: m)
            var draft = ExampleDraft()
            let avg = lines.reduce(0) { $0 + $1.count } / lines.count
            // Thread CPU time, not wall time: the machine is shared, and we want per-core throughput.
            func cpuSeconds() -> Double {
                var ts = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
                return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
            }
            var bytes = 0
            var iterations = 0
            let start = cpuSeconds()
            var secs = 0.0
            while secs < 1.5 {
                for l in lines {
                    try l.withUnsafeBytes { try parser.parse($0, into: &draft) }
                    bytes += l.count
                }
                iterations += 1
                secs = cpuSeconds() - start
            }
            print("IngestLineParser (\(sentence == ascii ? "ASCII" : "Cyrillic/CJK + escapes")): avg line \(avg) B, \(String(format: "%.0f", Double(bytes) / secs / 1e6)) MB/s (\(iterations * lines.count) lines)")
            #expect(draft.domainString == "metabolic_diabetes")
        }
    }
}

/// Thread CPU seconds (the machine is shared; we want per-core throughput).
func benchCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

extension IngestParserBench {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_BENCH"] != nil))
    func splitterAndWriterThroughput() throws {
        let sentence = #"some text, with \"quotes\" and [brackets] "#
        let line = #"{"prompt": "\#(String(repeating: sentence, count: 30))", "response": "r", "domain": "d", "timestamp": 0}"#
        var file: [UInt8] = []
        while file.count < 32 << 20 { file += Array(line.utf8); file.append(0x0A) }
        let arrayFile = [0x5B] + Array(file.map { $0 == 0x0A ? 0x2C : $0 }.dropLast()) + [0x5D]
        for (name, bytes) in [("JSONL", file), ("array", arrayFile)] {
            var s = JSONDocumentSplitter()
            var records = 0
            let t0 = benchCPUSeconds()
            var k = 0
            while k < bytes.count {
                let end = min(bytes.count, k + (1 << 20))
                bytes[k..<end].withUnsafeBytes { s.feed($0) { if case .record = $0 { records += 1 } } }
                k = end
            }
            s.finish { _ in }
            let secs = benchCPUSeconds() - t0
            print("JSONDocumentSplitter (\(name)): \(String(format: "%.0f", Double(bytes.count) / secs / 1e6)) MB/s, \(records) records")
            #expect(records > 0)
        }
        let text = Array(String(repeating: "Plain training text with a newline\nand a \"quote\" every so often. Ünïcödé too. ", count: 40).utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 2)
        var written = 0
        let t0 = benchCPUSeconds()
        while benchCPUSeconds() - t0 < 1 {
            for _ in 0..<1000 {
                out.removeAll(keepingCapacity: true)
                text.withUnsafeBytes { JSONWriter.appendString($0, to: &out) }
                written += text.count
            }
        }
        print("JSONWriter.appendString: \(String(format: "%.0f", Double(written) / (benchCPUSeconds() - t0) / 1e6)) MB/s on \(text.count) B strings")
    }
}

@Suite struct IngestParserFuzzTests {
    /// Deterministic xorshift, so a failure reproduces.
    struct RNG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
    }

    @Test func mutatedLinesNeverCrashAndAcceptedOnesAreValidJSON() throws {
        let bases = [
            etlModuleLine,
            #"{"messages":[{"role":"user","content":"h\u00e9 \ud83d\ude00"},{"role":"assistant","content":"x\ny"}],"domain":"c","timestamp":1700000000,"tags":["a"],"quality_score":0.5,"metadata":{"n":[1,-2.5e3,true,null,{}]}}"#,
            #"{"prompt":"é€😀","response":"r","domain":"d","timestamp":"2025-01-02 03:04:05+01:00","source":null}"#,
        ]
        let m = try IngestMapping(["domain=metadata.health_domain", "timestamp=metadata.processing_timestamp"])
        var lenient = IngestMapping()
        lenient.defaultDomain = "d"
        lenient.defaultTimestampMillis = 0
        var parsers = [try IngestLineParser(mapping: m), try IngestLineParser(mapping: lenient)]
        var draft = ExampleDraft()
        let alphabet: [UInt8] = Array(#"{}[]":,\ue-+.0129ntf"#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xED, 0xF0, 0xFF, 0x20]
        var rng = RNG(state: 0x9E37_79B9_7F4A_7C15)
        var accepted = 0, rejected = 0
        for round in 0..<6000 {
            var line = Array(bases[round % bases.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<line.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: line[at] = alphabet.randomElement(using: &rng)!
                case 1: line.insert(alphabet.randomElement(using: &rng)!, at: at)
                case 2: if line.count > 2 { line.remove(at: at) }
                default: line.removeLast(Int.random(in: 0...min(5, line.count - 1), using: &rng))
                }
            }
            for k in parsers.indices {
                do {
                    try line.withUnsafeBytes { try parsers[k].parse($0, into: &draft) }
                    accepted += 1
                    let obj = try? JSONSerialization.jsonObject(with: Data(line))
                    #expect(obj is [String: Any], "accepted but not valid JSON: \(String(decoding: line, as: UTF8.self))")
                    #expect(String(validating: draft.storage, as: UTF8.self) != nil)
                } catch let e as StrataError {
                    #expect(e.code == .invalidInput)
                    rejected += 1
                }
            }
        }
        #expect(accepted > 100 && rejected > 100, "accepted \(accepted), rejected \(rejected)")
    }
}

extension IngestParserBench {
    /// Allocation check, run under heaptrack with two counts and compare "calls to allocation functions":
    ///   STRATA_ALLOC_LINES=1000 heaptrack .build/debug/StrataPackageTests.xctest --testing-library swift-testing --filter parsesLinesForAllocationCount
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STRATA_ALLOC_LINES"] != nil))
    func parsesLinesForAllocationCount() throws {
        let count = Int(ProcessInfo.processInfo.environment["STRATA_ALLOC_LINES"] ?? "0") ?? 0
        let lines = [etlModuleLine,
                     #"{"messages":[{"role":"user","content":"h\u00e9"},{"role":"assistant","content":"x\ny","name":"a"}],"domain":"c","timestamp":1700000000,"tags":["a","b"],"quality_score":0.5,"source":"s","metadata":{"n":[1,-2.5e3,true,null,{}]}}"#,
                     #"{"prompt":"é€😀","response":"r","domain":"d","timestamp":"2025-01-02 03:04:05+01:00","source":null,"id":"00112233445566778899aabbccddeeff"}"#].map { Array($0.utf8) }
        var m = IngestMapping()
        m.defaultDomain = "x"
        m.defaultTimestampMillis = 0
        var parser = try IngestLineParser(mapping: m)
        var draft = ExampleDraft()
        for _ in 0..<count {
            for l in lines { try l.withUnsafeBytes { try parser.parse($0, into: &draft) } }
        }
        #expect(draft.shape == .promptResponse)
    }
}

extension IngestParserFuzzTests {
    @Test func splitterResultsDoNotDependOnChunkBoundaries() throws {
        var rng = RNG(state: 0xDEAD_BEEF_1234_5678)
        let pieces = [#"a"#, #"\""#, #"\\"#, "[", "]", "{", "}", ",", " ", #"\n"#, "é", "😀", #"\u005d"#]
        for round in 0..<40 {
            var expected: [String] = []
            var file = ""
            var lines: [Int] = []
            let asArray = round % 2 == 0
            if asArray { file += String(repeating: "\n", count: Int.random(in: 0...2, using: &rng)) + "[" }
            for k in 0..<Int.random(in: 1...12, using: &rng) {
                var text = ""
                for _ in 0..<Int.random(in: 0...20, using: &rng) { text += pieces.randomElement(using: &rng)! }
                let element = #"{"k":"\#(text)","n":[1,{"x":[]}]}"#
                expected.append(element)
                if asArray {
                    if k > 0 { file += "," }
                    file += String(repeating: Bool.random(using: &rng) ? "\n" : " ", count: Int.random(in: 0...2, using: &rng))
                    lines.append(file.reduce(1) { $1 == "\n" ? $0 + 1 : $0 })
                    file += element
                } else {
                    file += String(repeating: Bool.random(using: &rng) ? "\n" : "\r\n", count: Int.random(in: 0...2, using: &rng))
                    lines.append(file.reduce(1) { $1 == "\n" || $1 == "\r\n" ? $0 + 1 : $0 })
                    file += element + "\n"
                }
            }
            if asArray { file += "]\n" }
            let bytes = Array(file.utf8)
            for chunk in [1, 2, 3, 5, 8, 13, 64, bytes.count] {
                var s = JSONDocumentSplitter()
                var got: [(String, Int)] = []
                var rejected = 0
                var k = 0
                let emit: (JSONDocumentSplitter.Piece) -> Void = {
                    switch $0 {
                    case let .record(b, line): got.append((String(decoding: b, as: UTF8.self), line))
                    case .rejected: rejected += 1
                    }
                }
                while k < bytes.count {
                    let end = min(bytes.count, k + chunk)
                    bytes[k..<end].withUnsafeBytes { s.feed($0, emit) }
                    k = end
                }
                s.finish(emit)
                #expect(rejected == 0)
                #expect(got.map(\.0) == expected, "round \(round) chunk \(chunk)")
                #expect(got.map(\.1) == lines, "round \(round) chunk \(chunk)")
                #expect(s.mode == (asArray ? .array : .lines))
            }
        }
    }
}
