import Foundation
import Testing
@testable import Strata

/// `strata scan` parses its plain forms without ArgumentParser (main.swift,
/// `ScanArguments.parseFast`). Every form must behave exactly as through
/// ArgumentParser, which a bare `--` before the store forces (the fast path
/// leaves `--` to it): same exit status, same stdout, same stderr.
@Suite struct ScanFastPathCLITests {
    static func makeStore() throws -> String {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        _ = try store.append(contentsOf: makeExamples(400, domains: ["alpha", "beta", "gamma"], months: 3))
        try store.close()
        return path
    }

    static func expectSameAsArgumentParser(_ store: String, _ options: [String]) throws {
        let fast = try runStrata(["scan", store] + options)
        let parsed = try runStrata(["scan"] + options + ["--", store])
        let what = options.joined(separator: " ")
        #expect(fast.status == parsed.status, "\(what): exit \(fast.status) vs \(parsed.status)")
        #expect(fast.stdout == parsed.stdout, "\(what): stdout differs")
        #expect(fast.stderr == parsed.stderr, "\(what): stderr differs: \(fast.stderr) vs \(parsed.stderr)")
    }

    @Test func everyScanFormPrintsWhatArgumentParsingPrints() throws {
        let store = try Self.makeStore()
        let forms: [[String]] = [
            [],
            ["--domain", "alpha", "--from-month", "2025-01", "--to-month", "2025-01"],
            ["--domain=beta", "--from-month=2025-02", "--to-month=2025-03"],
            ["--domain", "alpha", "--domain", "gamma", "--limit", "7"],
            ["--limit", "0"],
            ["--limit=5", "--skip-damaged"],
            ["--min-quality", "0.5", "--tag", "t1", "--tag", "t2"],
            ["--shape", "chat", "--source", "pipe"],
            ["--where", "quality_score >= 0.3", "--where", "metadata.n < 200"],
            ["--from", "2025-01-10", "--to", "2025-02-01T12:00:00Z"],
            ["--skip-damaged", "--domain", "beta"],
        ]
        for f in forms {
            try Self.expectSameAsArgumentParser(store, f)
            #expect(try runStrata(["scan", store] + f).status == 0, "\(f)")
        }
        // The filters really select: the partition scan is a strict, non-empty part of the whole.
        let all = try runStrata(["scan", store]).stdout.split(separator: "\n").count
        let one = try runStrata(["scan", store, "--domain", "alpha", "--from-month", "2025-01", "--to-month", "2025-01"]).stdout
            .split(separator: "\n").count
        #expect(all == 400)
        #expect(one > 0 && one < all)
    }

    @Test func malformedOrUnusualFormsFailOrSucceedAsThroughArgumentParsing() throws {
        let store = try Self.makeStore()
        let forms: [[String]] = [
            ["--from-month", "2025-13"],
            ["--domain", "Bad!"],
            ["--domain="],
            ["--source="],
            ["--source", ""],
            ["--source==x"],
            ["--limit", "08"],
            ["--limit", "0x10"],
            ["--min-quality", ".5"],
            ["--limit", "-1"],
            ["--limit", "many"],
            ["--min-quality", "1.5"],
            ["--min-quality", "nan"],
            ["--shape", "essay"],
            ["--shape", "chat", "--shape", "instruction"],
            ["--to-month", "2025-01", "--to-month", "2025-02"],
            ["--where", "quality_score >="],
            ["--from", "yesterday"],
            ["--from", "2025-02-01", "--to", "2025-01-01"],
            ["--unknown", "x"],
            ["--skip-damaged=yes"],
            ["-h"],
            ["--help"],
        ]
        for f in forms { try Self.expectSameAsArgumentParser(store, f) }
        #expect(try runStrata(["scan", store, "--from-month", "2025-13"]).status == 64)
        // A missing store: the same error either way.
        try Self.expectSameAsArgumentParser(store + "-missing", ["--domain", "alpha"])
        #expect(try runStrata(["scan", store + "-missing"]).status == 64)
    }
}
