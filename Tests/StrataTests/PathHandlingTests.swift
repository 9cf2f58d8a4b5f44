import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// Issue: a one-character store path crashed (`strata ingest q data.jsonl` →
/// SIGILL in Foundation's `deletingLastPathComponent`). Path arithmetic is now
/// `PathName`, which cannot trap; every odd path either works or fails with a
/// clear error and an exit code, never a signal.
@Suite struct PathHandlingTests {
    @Test func parentAndLastComponentOfOddPaths() {
        let cases: [(String, String, String)] = [
            ("q", ".", "q"), ("", ".", ""), ("/", "/", "/"), ("//", "/", "/"), ("/a", "/", "a"), ("a/b", "a", "b"),
            ("a/b/", "a", "b"), ("a//b//", "a", "b"), ("./q", ".", "q"), (".", ".", "."), ("..", ".", ".."),
            ("../x", "..", "x"), ("日本/ß✓", "日本", "ß✓"), ("/x/y/z", "/x/y", "z"), ("a b/c d", "a b", "c d"),
        ]
        for (p, parent, last) in cases {
            #expect(PathName.parent(of: p) == parent, "parent of \(p.debugDescription)")
            #expect(PathName.lastComponent(of: p) == last, "last component of \(p.debugDescription)")
        }
        // Random byte soup never traps and parent() is never empty.
        var g = SeededRNG(seed: 11)
        let alphabet = Array("/a.é ∂\u{2028}".unicodeScalars)
        for _ in 0..<2000 {
            let n = Int(g.next() % 12)
            let p = String(String.UnicodeScalarView((0..<n).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] }))
            #expect(!PathName.parent(of: p).isEmpty)
            _ = PathName.lastComponent(of: p)
        }
    }

    static let oddRelativePaths = ["q", "q/", "./q", "q//", "ß✓日本", "a b", "nested/deeper/store", "nested/deeper/store/",
                                   "x\u{2028}y", String(repeating: "l", count: 200), String(repeating: "n/", count: 60) + "s"]

    @Test func cliHandlesOddStorePathsWithoutCrashing() throws {
        let cwd = temporaryStorePath()
        try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true)
        let line = Data(#"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z"}"#.utf8 + [0x0A])
        let tooLong = String(repeating: "z", count: 300)  // longer than NAME_MAX: a clean error
        for p in Self.oddRelativePaths + [tooLong, cwd + "/abs/" + "ü", "/proc/strata-cannot-create-here"] {
            let ing = try runStrataIn(cwd, ["ingest", p, "--json"], stdin: line)
            #expect(ing.reason == .exit, "ingest \(p.debugDescription) died by signal \(ing.status)")
            let ok = p != tooLong && !p.hasPrefix("/proc")
            #expect((ing.status == 0) == ok, "ingest \(p.debugDescription): \(ing.stderr)")
            for cmd in [["stats", p], ["scan", p], ["verify", p], ["inspect", p], ["compact", p], ["index", "rebuild", p],
                        ["export", p, "--out", p + "-export"]] {
                let r = try runStrataIn(cwd, cmd)
                #expect(r.reason == .exit, "\(cmd) died by signal \(r.status)")
                if ok { #expect(r.status == 0, "\(cmd): \(r.stderr)") } else { #expect(r.status != 0) }
            }
        }
        // The current directory itself as a store.
        let here = cwd + "/dot"
        try FileManager.default.createDirectory(atPath: here, withIntermediateDirectories: true)
        for p in [".", "./", "../dot"] {
            let r = try runStrataIn(here, ["ingest", p, "--json"], stdin: line)
            #expect(r.reason == .exit && r.status == 0, "ingest \(p): \(r.stderr)")
            #expect(try runStrataIn(here, ["verify", p]).status == 0)
        }
    }

    /// Random store paths (relative, with dots, spaces, unicode, repeated and
    /// trailing slashes) through the CLI: each works or fails with an exit
    /// code, never a signal. Seeded; the seed is in every message.
    @Test func cliSurvivesRandomStorePaths() throws {
        let cwd = temporaryStorePath()
        try FileManager.default.createDirectory(atPath: cwd, withIntermediateDirectories: true)
        let line = Data(#"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z"}"#.utf8 + [0x0A])
        let pieces = ["a", "é", "日本", " ", ".", "..", "x.y", "-", "_", "\u{2028}", "ß", "%", "~"]
        var g = SeededRNG(seed: 2026)
        for n in 0..<24 {
            var p = ""
            for _ in 0..<(1 + Int(g.next() % 4)) {
                p += pieces[Int(g.next() % UInt64(pieces.count))] + pieces[Int(g.next() % UInt64(pieces.count))]
                p += ["/", "//", ""][Int(g.next() % 3)]
            }
            if p.hasPrefix("-") { p = "./" + p }  // not an option
            for args in [["ingest", p], ["verify", p], ["stats", p]] {
                let r = try runStrataIn(cwd, args, stdin: line)
                #expect(r.reason == .exit, "path #\(n) \(p.debugDescription) (seed 2026): \(args[0]) died by signal \(r.status)")
                #expect([0, 1, 64, 65, 74, 75].contains(r.status), "\(args[0]) \(p.debugDescription): exit \(r.status) \(r.stderr)")
            }
        }
    }

    @Test func libraryOpensOddPaths() throws {
        let base = temporaryStorePath()
        for p in Self.oddRelativePaths {
            let s = try Store.open(at: base + "/" + p)
            try s.append(Example(content: .promptResponse(prompt: "p", response: "r"), domain: "d", timestampMillis: 0))
            try s.close()
            let r = try StoreReader(path: base + "/" + p)
            #expect(try r.count == 1)
            r.close()
        }
        #expect(throws: StrataError.self) { try Store.open(at: base + "/" + String(repeating: "z", count: 300)) }
    }
}


/// Runs `strata` with `cwd` as its working directory (relative store paths).
func runStrataIn(_ cwd: String, _ args: [String], stdin: Data? = nil) throws -> CLIResult {
    try runStrata(args, stdin: stdin, directory: cwd)
}
