import Foundation
import Testing
@testable import Strata

@Suite struct ExportForeignFileTests {
    @Test func exportIntoADirectoryWithFilesItDidNotWriteRefusesUnlessForced() throws {
        let store = temporaryStorePath()
        let line = #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-03-14"}"#
        #expect(try runStrata(["ingest", store], stdin: Data(line.utf8)).status == 0)
        let out = store + "-out"
        try FileManager.default.createDirectory(atPath: out + "/notes", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: out + "/notes/readme.txt", contents: Data("mine".utf8))
        FileManager.default.createFile(atPath: out + "/data.jsonl", contents: Data("not strata's\n".utf8))
        let r = try runStrata(["export", store, "--out", out])
        #expect(r.status == 64)
        #expect(r.stderr.contains("'data.jsonl'"), "\(r.stderr)")
        #expect(try String(contentsOfFile: out + "/data.jsonl", encoding: .utf8) == "not strata's\n")  // untouched
        let f = try runStrata(["export", store, "--out", out, "--force"])
        #expect(f.status == 0, "\(f.stderr)")
        #expect(try String(contentsOfFile: out + "/data.jsonl", encoding: .utf8).contains(#""prompt":"p""#))
        #expect(FileManager.default.fileExists(atPath: out + "/notes/readme.txt"))
        // Its own files do not count: a repeat (and a changed spec) needs no --force; the foreign file still does.
        try FileManager.default.removeItem(atPath: out + "/notes")
        #expect(try runStrata(["export", store, "--out", out]).status == 0)
        #expect(try runStrata(["export", store, "--out", out, "--min-quality", "0"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: out + "/.strata_export.publishing"))  // removed after the manifest
        // A run killed after publishing a file but before its manifest: the file is listed
        // in the hidden publishing record, so the next run needs no --force.
        FileManager.default.createFile(atPath: out + "/train.jsonl", contents: Data("{}\n".utf8))
        FileManager.default.createFile(atPath: out + "/.strata_export.publishing", contents: Data("train.jsonl\nvalidation.jsonl".utf8))
        let resumed = try runStrata(["export", store, "--out", out, "--split", "train=0.5,validation=0.5"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }
}
