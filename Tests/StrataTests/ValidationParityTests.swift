import Foundation
import Testing
@testable import Strata

/// Issue: the library stored `Example(metadataJSON: "{not json at all")` (so
/// `get` and the raw export emitted a line that is not JSON) and accepted a
/// whitespace-only prompt that `strata ingest` rejects. Both paths now apply
/// the same rules (ExampleValidation + JSONValidator).
@Suite struct ValidationParityTests {
    static let badMetadata = ["{not json at all", "{\"a\":1", "{\"a\":1} x", "{\"a\":}", "{\"a\" 1}", "{,}", "{\"a\":1,}",
                              "[1]", "{\"a\":[1,}", "{\"a\":01}", "{\"a\":\"\u{1}\"}", "{}}", "{\"a\":tru}"]
    static let goodMetadata = ["{}", "{\"a\":1}", "{ \"a\" : [ 1 , {\"b\":null} , \"x\\n\" ] }", "{\"n\":-1.5e3,\"t\":true}",
                               "{\n\"a\":\r\n1}"]

    private func tryAppend(_ e: Example) throws -> StrataError? {
        let s = try Store.open(at: temporaryStorePath())
        defer { try? s.close() }
        do { try s.append(e) } catch let err as StrataError { return err }
        return nil
    }

    private func cliAccepts(_ line: String) throws -> Bool {
        let r = try runStrata(["ingest", temporaryStorePath(), "--json"], stdin: Data((line + "\n").utf8))
        return r.jsonLines.last?["inserted"] as? Int == 1
    }

    @Test(arguments: badMetadata + goodMetadata)
    func libraryAndCLIAgreeOnMetadata(_ meta: String) throws {
        let e = Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 0, metadataJSON: meta)
        let libError = try tryAppend(e)
        let good = Self.goodMetadata.contains(meta)
        #expect((libError == nil) == good, "library on \(meta.debugDescription): \(String(describing: libError))")
        if let libError { #expect(libError.field == "metadata" && libError.code == .invalidInput) }
        // The CLI reads metadata from the line itself; a broken object breaks the line.
        // (A raw newline would split the JSONL line itself: library-only case.)
        guard !meta.contains("\n") else { return }
        let line = #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z","metadata":"# + meta + "}"
        #expect(try cliAccepts(line) == good, "CLI on \(meta.debugDescription)")
    }

    @Test(arguments: [" ", "\n\t \r", ""])
    func blankRequiredTextIsRejectedByLibraryAndCLI(_ blank: String) throws {
        let shapes: [(Content, String)] = [
            (.promptResponse(prompt: blank, response: "r"), #""prompt":\#(jsonQuote(blank)),"response":"r""#),
            (.promptResponse(prompt: "p", response: blank), #""prompt":"p","response":\#(jsonQuote(blank))"#),
            (.instruction(instruction: blank, input: "", output: "o"), #""instruction":\#(jsonQuote(blank)),"output":"o""#),
            (.instruction(instruction: "i", input: "", output: blank), #""instruction":"i","output":\#(jsonQuote(blank))"#),
            (.chat([Message(role: .user, content: blank)]), #""messages":[{"role":"user","content":\#(jsonQuote(blank))}]"#),
        ]
        for (content, fields) in shapes {
            let e = Example(content: content, domain: "d", timestampMillis: 0)
            #expect(try tryAppend(e)?.code == .invalidInput, "library accepted \(content)")
            let line = "{" + fields + #","domain":"d","timestamp":"2025-01-01T00:00:00Z"}"#
            #expect(try cliAccepts(line) == false, "CLI accepted \(line)")
        }
    }

    @Test func storedMetadataIsAlwaysValidJSONInGetAndRawExport() throws {
        let path = temporaryStorePath()
        let s = try Store.open(at: path)
        let e = Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 0,
                        metadataJSON: "{\"a\":\n[1, 2]}")
        guard case let .inserted(id) = try s.append(e) else { Issue.record("not inserted"); return }
        #expect(throws: StrataError.self) { try s.append(Example(content: .promptResponse(prompt: "q", response: "r"), domain: "d", timestampMillis: 0, metadataJSON: "{not json at all")) }
        try s.close()
        let g = try runStrata(["get", path, id.hex])
        #expect(g.status == 0)
        #expect(g.jsonLines.count == 1)
    }
}

private func jsonQuote(_ s: String) -> String {
    var out: [UInt8] = []
    JSONWriter.appendString(s, to: &out)
    return String(decoding: out, as: UTF8.self)
}
