import Foundation
import Testing
@testable import Strata

/// Issue: `strata scan` wrote CR/LF from metadata whitespace as-is, so one
/// record could span lines. Every JSONL the CLI prints keeps one record per
/// line: CR/LF outside strings become spaces, U+2028/U+2029 are escaped.
@Suite struct CLIOutputLineTests {
    @Test func scanGetAndAnnotatePrintOneLinePerRecord() throws {
        let path = temporaryStorePath()
        let s = try Store.open(at: path)
        let meta = "{\r\n  \"note\": \"a\u{2028}b\u{2029}c\",\n  \"k\": [1,\r2]\n}"
        let e = Example(content: .promptResponse(prompt: "line\u{2028}sep", response: "r\r\nx"), domain: "d",
                        timestampMillis: 0, tags: ["t\u{2029}"], source: "s\u{2028}", metadataJSON: meta)
        guard case let .inserted(id) = try s.append(e) else { Issue.record("not inserted"); return }
        try s.close()
        let outputs = [try runStrata(["scan", path]), try runStrata(["get", path, id.hex]),
                       try runStrata(["annotate", path, id.hex, "--feedback", "positive", "--json"])]
        for r in outputs {
            #expect(r.status == 0, "\(r.stderr)")
            let text = r.stdout
            #expect(!text.dropLast().contains("\n") && !text.contains("\r"), "\(text.debugDescription)")
            #expect(!text.contains("\u{2028}") && !text.contains("\u{2029}"))
            // Python's splitlines() also splits at U+2028/U+2029: still one line.
            #expect(text.split(whereSeparator: { $0.isNewline }).count == 1)
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(obj["prompt"] as? String == "line\u{2028}sep")
            #expect(obj["source"] as? String == "s\u{2028}")
            let m = try #require(obj["metadata"] as? [String: Any])
            #expect(m["note"] as? String == "a\u{2028}b\u{2029}c")
        }
    }

    @Test func makeLineSafeKeepsTheJSONValue() throws {
        let text = "{\"a\":\r\n\"x\u{2028}y\"}"
        var b = Array(text.utf8)
        JSONWriter.makeLineSafe(&b)
        #expect(String(decoding: b, as: UTF8.self) == "{\"a\":  \"x\\u2028y\"}")
        let before = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        let after = try JSONSerialization.jsonObject(with: Data(b)) as? [String: String]
        #expect(before == after)
    }
}

/// Issue: `--rating -3` was rejected as an unknown option while `--rating=-3` worked.
@Suite struct NegativeRatingTests {
    @Test func ratingAcceptsANegativeNumberAsTheNextArgument() throws {
        let path = temporaryStorePath()
        let s = try Store.open(at: path)
        guard case let .inserted(id) = try s.append(Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 0)) else { return }
        try s.close()
        let r = try runStrata(["annotate", path, id.hex, "--feedback", "negative", "--rating", "-3"])
        #expect(r.status == 0, "\(r.stderr)")
        let r2 = try runStrata(["annotate", path, id.hex, "--feedback", "positive", "--rating=-7"])
        #expect(r2.status == 0, "\(r2.stderr)")
        let h = try runStrata(["get", path, id.hex, "--history"])
        let ratings = h.jsonLines.compactMap { $0["rating"] as? Int }
        #expect(ratings == [-3, -7])
        #expect(try runStrata(["annotate", path, id.hex, "--feedback", "negative", "--rating", "x"]).status == 64)
    }
}
