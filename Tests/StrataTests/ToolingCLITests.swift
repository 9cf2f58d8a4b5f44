import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// `strata inspect / verify / dump / scan / maintain / help`, run as real processes.
@Suite(.serialized) struct ToolingCLITests {
    /// A sealed store of `n` examples over 2 domains × 3 months, small blocks so segments hold several.
    static func makeStore(_ path: String, n: Int = 600, domains: [String] = ["alpha", "beta"]) throws -> [Example] {
        var options = StoreOptions()
        options.blockTargetBytes = 4 << 10
        let s = try Store.open(at: path, options: options)
        let ex = makeExamples(n, domains: domains)
        _ = try s.append(contentsOf: ex)
        try s.close()
        return ex
    }

    static func segments(_ path: String) -> [String] {
        let e = FileManager.default.enumerator(atPath: path)!
        return (e.allObjects as! [String]).filter { $0.hasSuffix(".strata") }.sorted()
    }

    static func flipByte(_ file: String, at offset: Int) throws {
        var d = try Data(contentsOf: URL(fileURLWithPath: file))
        d[offset] ^= 0x5a
        try d.write(to: URL(fileURLWithPath: file))
    }

    static func problems(_ r: CLIResult) -> [[String: Any]] { (r.jsonLines.first?["problems"] as? [[String: Any]]) ?? [] }

    @Test func verifyPassesOnAFreshStore() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path)
        let r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let o = try #require(r.jsonLines.first)
        #expect(o["intact"] as? Bool == true)
        #expect(o["examples"] as? Int == 600)
        #expect(o["index_entries"] as? Int == 600)
        #expect((o["blocks"] as? Int ?? 0) > 6)
        let q = try runStrata(["verify", path, "--quick"])
        #expect(q.status == 0, "\(q.stdout)")
    }

    @Test func verifyReportsAFlippedBlockByteWithFileAndOffsetAndExits65() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path)
        let seg = Self.segments(path)[0]
        // Second block: find its offset from dump, damage a payload byte.
        let d = try runStrata(["dump", path, seg, "--json"])
        let frames = d.jsonLines.filter { $0["what"] as? String == "frame" }
        let second = try #require(frames.dropFirst().first?["offset"] as? Int)
        try Self.flipByte(path + "/" + seg, at: second + 30)
        let r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 65)
        let p = Self.problems(r)
        #expect(p.contains { ($0["file"] as? String)?.hasSuffix(seg) == true && $0["offset"] as? Int == second && ($0["message"] as? String)?.contains("checksum") == true }, "\(p)")
        // The blocks after the damaged one are still checked (the footer tells where they are).
        #expect((r.jsonLines.first?["blocks"] as? Int ?? 0) > 1)
        let text = try runStrata(["verify", path])
        #expect(text.status == 65)
        #expect(text.stdout.contains("\(seg) at offset \(second)"))
        #expect(!text.stderr.contains("Fatal error"))
    }

    @Test func verifyReportsATruncatedFooter() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path)
        let seg = path + "/" + Self.segments(path)[1]
        let size = try FileManager.default.attributesOfItem(atPath: seg)[.size] as! Int
        try FileHandle(forWritingTo: URL(fileURLWithPath: seg)).truncate(atOffset: UInt64(size - 30))
        for args in [["verify", path, "--json"], ["verify", path, "--quick", "--json"]] {
            let r = try runStrata(args)
            #expect(r.status == 65, "\(args)")
            #expect(Self.problems(r).contains { ($0["file"] as? String) == seg }, "\(r.stdout)")
        }
    }

    @Test func verifyReportsADamagedManifest() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path)
        try Self.flipByte(path + "/MANIFEST", at: 40)
        let r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 65)
        #expect(Self.problems(r).contains { ($0["file"] as? String)?.hasSuffix("MANIFEST") == true && $0["offset"] as? Int == 24 }, "\(r.stdout)")
    }

    @Test func verifyReportsAMissingIndexAsRebuildNeededAndADamagedIndexAsCorruption() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path)
        let idx = path + "/index/ids.idx"
        let original = try Data(contentsOf: URL(fileURLWithPath: idx))
        try FileManager.default.removeItem(atPath: idx)
        var r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 0)
        #expect(Self.problems(r).contains { $0["severity"] as? String == "warning" && ($0["message"] as? String)?.contains("index rebuild") == true }, "\(r.stdout)")
        try original.write(to: URL(fileURLWithPath: idx))
        try Self.flipByte(idx, at: 100)
        r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 65)
        #expect(Self.problems(r).contains { ($0["file"] as? String) == idx }, "\(r.stdout)")
    }

    @Test func verifyReportsAnIndexThatDisagreesWithTheSegments() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path)
        let stale = try Data(contentsOf: URL(fileURLWithPath: path + "/index/ids.idx"))
        // Compaction rewrites every segment: the old index now points at segments that are gone.
        #expect(try runStrata(["maintain", path, "--compact", "--json"]).status == 0)
        try stale.write(to: URL(fileURLWithPath: path + "/index/ids.idx"))
        // Stale coverage is what the next open rebuilds: recoverable (exit 3), not damage.
        let r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 3)
        let p = Self.problems(r)
        #expect(p.contains { ($0["file"] as? String)?.hasSuffix("index/ids.idx") == true && $0["severity"] as? String == "recoverable" }, "\(r.stdout)")
        // The fix the message names works.
        #expect(try runStrata(["index", "rebuild", path, "--quiet"]).status == 0)
        #expect(try runStrata(["verify", path]).status == 0)
    }

    @Test func verifyReportsAnUnlistedSegment() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path)
        let seg = Self.segments(path)[0]
        let stray = path + "/" + (seg as NSString).deletingLastPathComponent + "/seg-0000009999.strata"
        try FileManager.default.copyItem(atPath: path + "/" + seg, toPath: stray)
        let r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 3)
        #expect(Self.problems(r).contains { ($0["file"] as? String) == stray && $0["severity"] as? String == "recoverable"
            && ($0["message"] as? String)?.contains("not listed") == true }, "\(r.stdout)")
        // --repair: the writer's open removes it, the second verify passes.
        let repaired = try runStrata(["verify", path, "--repair"])
        #expect(repaired.status == 0, "\(repaired.stdout)")
        #expect(!FileManager.default.fileExists(atPath: stray))
    }

    @Test func verifyTreatsATornTailOfAnActiveSegmentAsRecoverableAndMidFileDamageAsAnError() throws {
        let live = temporaryStorePath()
        var options = StoreOptions()
        options.blockTargetBytes = 4 << 10
        let s = try Store.open(at: live, options: options)
        _ = try s.append(contentsOf: makeExamples(400, domains: ["alpha"], months: 1))
        try s.commit()
        // A copy taken while the writer is open: its segment is listed active, without footer.
        let path = live + "-copy"
        try FileManager.default.copyItem(atPath: live, toPath: path)
        try s.close()
        let seg = Self.segments(path)[0]
        let inspect = try runStrata(["inspect", path, "--json"])
        #expect((inspect.jsonLines.first?["segments"] as? [[String: Any]])?.first?["state"] as? String == "active")
        #expect(try runStrata(["verify", path]).status == 0)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/" + seg))
        handle.seekToEndOfFile()
        handle.write(Data("torn-write".utf8))
        try handle.close()
        var r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 3, "\(r.stdout)")
        #expect(Self.problems(r).contains { $0["severity"] as? String == "recoverable" && ($0["message"] as? String)?.contains("torn tail") == true })
        try Self.flipByte(path + "/" + seg, at: 32 + 24 + 5)
        r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 65)
        #expect(Self.problems(r).contains { $0["severity"] as? String == "error" && $0["offset"] as? Int == 32 }, "\(r.stdout)")
    }

    @Test func verifyNeverCrashesOnRandomDamage() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path, n: 200)
        let seg = path + "/" + Self.segments(path)[0]
        let size = try FileManager.default.attributesOfItem(atPath: seg)[.size] as! Int
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<12 {
            try Self.flipByte(seg, at: Int.random(in: 0..<size, using: &rng))
            let r = try runStrata(["verify", path])
            #expect(r.status == 0 || r.status == 65, "\(r.status) \(r.stderr)")
        }
    }

    @Test func verifyChecksCompactedSegmentsAndTheirDictionaries() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path, n: 1200)
        var options = StoreOptions()
        options.createIfMissing = false
        let s = try Store.open(at: path, options: options)
        var c = CompactionOptions()
        c.dictionary = .always
        _ = try s.compactAll(options: c)
        try s.close()
        let dicts = (try? FileManager.default.contentsOfDirectory(atPath: path + "/dicts")) ?? []
        try #require(!dicts.isEmpty)
        var r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.jsonLines.first?["examples"] as? Int == 1200)
        #expect((r.jsonLines.first?["dictionaries"] as? Int ?? 0) >= 1)
        let i = try runStrata(["inspect", path, "--json"])
        let segs = i.jsonLines.first?["segments"] as? [[String: Any]] ?? []
        #expect(segs.allSatisfy { $0["state"] as? String == "compacted" })
        #expect(segs.contains { $0["dictionary"] is Int })
        // Dump decodes zstd-dict blocks through the store's dictionary.
        let seg = try #require(segs.first { $0["dictionary"] is Int }?["path"] as? String)
        let d = try runStrata(["dump", path, seg, "--json"])
        #expect(d.status == 0, "\(d.stdout)")
        #expect(d.jsonLines.contains { $0["kind"] as? String == "example" })
        let dict = path + "/dicts/" + dicts.sorted()[0]
        try FileManager.default.removeItem(atPath: dict)
        r = try runStrata(["verify", path, "--json"])
        #expect(r.status == 65)
        #expect(Self.problems(r).contains { ($0["file"] as? String) == dict }, "\(r.stdout)")
    }

    @Test func commandsOnAPathThatIsNoStoreExitWithUsage() throws {
        for args in [["verify", "/nonexistent-strata"], ["maintain", "/nonexistent-strata", "--json"], ["inspect", "/nonexistent-strata"], ["scan", "/nonexistent-strata"]] {
            let r = try runStrata(args)
            #expect(r.status == 64, "\(args)")
            #expect(r.stderr.contains("/nonexistent-strata") && r.stderr.hasPrefix("strata: error:"), "\(r.stderr)")
        }
    }

    @Test func inspectJSONDescribesPartitionsAndSegments() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path)
        let r = try runStrata(["inspect", path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(r.jsonLines.first)
        #expect(o["examples"] as? Int == 600)
        let parts = try #require(o["partitions"] as? [[String: Any]])
        #expect(parts.count == 6)
        #expect(parts.allSatisfy { $0["examples"] as? Int == 100 && ($0["ratio"] as? Double ?? 0) > 0 })
        let segs = try #require(o["segments"] as? [[String: Any]])
        #expect(segs.allSatisfy { $0["state"] as? String == "sealed" && $0["codec"] as? String == "lz4" && ($0["blocks"] as? Int ?? 0) >= 1 })
        #expect(segs.allSatisfy { ($0["raw_bytes"] as? Int ?? 0) > 0 && $0["earliest"] is String })
        // One partition, then one segment.
        let p = try runStrata(["inspect", path, "domain=alpha/month=2025-01", "--json"])
        #expect((p.jsonLines.first?["segments"] as? [[String: Any]])?.count == 1)
        let seg = Self.segments(path)[0]
        let s = try runStrata(["inspect", path, seg])
        #expect(s.status == 0)
        #expect(s.stdout.contains(seg))
        let bad = try runStrata(["inspect", path, "nonsense"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("partition"))
    }

    @Test func dumpOffsetsMatchTheFile() throws {
        let path = temporaryStorePath()
        let ex = try Self.makeStore(path)
        let seg = Self.segments(path)[0]
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path + "/" + seg))
        let r = try runStrata(["dump", path, seg, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.jsonLines
        let frames = lines.filter { $0["what"] as? String == "frame" }
        #expect(frames.count >= 2)
        for f in frames {
            let off = try #require(f["offset"] as? Int)
            let stored = bytes.subdata(in: (off + 12)..<(off + 16)).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            #expect(Int(UInt32(littleEndian: stored)) == f["stored_length"] as? Int)
            #expect(f["checksum_ok"] as? Bool == true)
        }
        let entries = lines.filter { $0["what"] as? String == "entry" }
        let ids = Set(ex.map(\.id.hex))
        #expect(entries.count == 100)
        #expect(entries.allSatisfy { $0["kind"] as? String == "example" && ids.contains($0["id"] as? String ?? "") })
        // --offset starts at a frame, --limit bounds the entries.
        let second = try #require(frames[1]["offset"] as? Int)
        let part = try runStrata(["dump", path, seg, "--offset", "\(second)", "--limit", "3", "--json"])
        #expect(part.jsonLines.first?["offset"] as? Int == second)
        #expect(part.jsonLines.filter { $0["what"] as? String == "entry" }.count == 3)
        let wrong = try runStrata(["dump", path, seg, "--offset", "\(second + 1)"])
        #expect(wrong.status == 65)
        #expect(wrong.stdout.contains("DAMAGE") && wrong.stdout.contains("frame boundary"))
    }

    @Test func scanAppliesEveryFilter() throws {
        let path = temporaryStorePath()
        let ex = try Self.makeStore(path)
        let r = try runStrata(["scan", path, "--domain", "alpha", "--from-month", "2025-02", "--min-quality", "0.3", "--tag", "t1", "--shape", "prompt_response"])
        #expect(r.status == 0, "\(r.stderr)")
        let want = ex.filter { e in
            e.domain == "alpha" && !(e.month < Month(year: 2025, month: 2)) && (e.qualityScore ?? -1) >= 0.3 && e.tags.contains("t1") && e.shape == .promptResponse
        }
        #expect(!want.isEmpty)
        #expect(Set(r.jsonLines.compactMap { $0["id"] as? String }) == Set(want.map(\.id.hex)))
        let lim = try runStrata(["scan", path, "--source", "pipe", "--limit", "7"])
        #expect(lim.jsonLines.count == 7)
        #expect(lim.jsonLines.allSatisfy { $0["source"] as? String == "pipe" })
        let bad = try runStrata(["scan", path, "--from-month", "2025-13"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("YYYY-MM"))
    }

    @Test func maintainIsIdempotentAndResumesAfterSIGKILL() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path, n: 1200, domains: ["a", "b", "c", "d"])  // 12 partitions
        let spec = path + "-spec.json"
        try #"{"out": "\#((path as NSString).lastPathComponent)-exp", "format": "jsonl", "min_quality": 0.5}"#.write(toFile: spec, atomically: true, encoding: .utf8)
        // A run slowed down by the fault-injecting file system (300 ms after each
        // manifest swap), killed with SIGKILL part way through the partitions.
        let p = try CrashProcess(["maintain", path, "--compact", "--export", spec, "--pause-ms", "300"], binary: faultBinary)
        #expect(p.kill(afterMicroseconds: 2_000_000), "the slowed-down maintenance run finished before the kill")
        let afterKill = try runStrata(["inspect", path, "--json"])
        let compactedBefore = (afterKill.jsonLines.first?["segments_by_state"] as? [String: Int])?["compacted"] ?? 0
        #expect(compactedBefore < 12)
        // Rerun finishes the rest.
        var r = try runStrata(["maintain", path, "--compact", "--export", spec, "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        var o = try #require(r.jsonLines.first)
        #expect(o["status"] as? String == "done")
        #expect(o["compacted"] as? Int == 12 - compactedBefore)
        #expect((o["exports"] as? [[String: Any]])?.first?["up_to_date"] as? Bool == false)
        #expect(try runStrata(["verify", path]).status == 0)
        // Nothing left to do: nothing changes.
        r = try runStrata(["maintain", path, "--compact", "--export", spec, "--json"])
        o = try #require(r.jsonLines.first)
        #expect(o["compacted"] as? Int == 0)
        #expect(o["compaction_skipped"] as? Int == 12)
        #expect((o["exports"] as? [[String: Any]])?.first?["up_to_date"] as? Bool == true)
        let reader = try StoreReader(path: path)
        #expect(try reader.count == 1200)
        reader.close()
    }

    /// A maintenance run killed at every step of a compaction (`_exit` at the step's
    /// file-system operation) is finished by the next run, and the one after has nothing to do.
    @Test(arguments: CompactionStep.allCases)
    func maintainResumesAfterAKillAtEveryCompactionStep(step: CompactionStep) throws {
        let path = temporaryStorePath("maintain-step\(step.rawValue)")
        _ = try Self.makeStore(path, n: 900)
        let crash = try runStrata(["maintain", path, "--compact", "--crash-at", "\(step.rawValue)", "--dictionary", "always"], binary: faultBinary)
        #expect(crash.status == 137, "\(crash.stdout) \(crash.stderr)")
        let r = try runStrata(["maintain", path, "--compact", "--dictionary", "always"], binary: faultBinary)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(r.jsonLines.first?["status"] as? String == "done")
        let v = try runStrata(["verify", path])
        #expect(v.status == 0, "\(v.stdout)")
        let again = try runStrata(["maintain", path, "--compact", "--json"])
        #expect(again.jsonLines.first?["compacted"] as? Int == 0)
        let reader = try StoreReader(path: path)
        #expect(try reader.count == 900)
        reader.close()
    }

    @Test func maintainExitCodesForLockedStoreBadSpecAndCorruption() throws {
        let path = temporaryStorePath()
        _ = try Self.makeStore(path)
        var options = StoreOptions()
        options.createIfMissing = false
        let held = try Store.open(at: path, options: options)
        var r = try runStrata(["maintain", path, "--compact", "--json"])
        #expect(r.status == 75)
        #expect(r.jsonLines.first?["status"] as? String == "locked")
        try held.close()
        let spec = path + "-bad.json"
        try #"{"out": "x", "format": "csv"}"#.write(toFile: spec, atomically: true, encoding: .utf8)
        r = try runStrata(["maintain", path, "--export", spec, "--json"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("format"))
        try Self.flipByte(path + "/MANIFEST", at: 40)
        r = try runStrata(["maintain", path, "--compact", "--json"])
        #expect(r.status == 65)
        #expect(r.jsonLines.first?["status"] as? String == "corruption")
        #expect(r.stderr.contains("MANIFEST"))
    }

    @Test func statsQualityReportHasLengthsFeedbackShareAndChecks() throws {
        let path = temporaryStorePath()
        let ex = try Self.makeStore(path)
        let pr = ex.first { $0.shape == .promptResponse }!
        let s = try Store.open(at: path, options: { var o = StoreOptions(); o.createIfMissing = false; return o }())
        try s.annotate(pr.id, .feedback(.positive))
        try s.close()
        let r = try runStrata(["stats", path, "--json", "--lengths", "--min-rows", "600"])
        #expect(r.status == 0, "\(r.stderr)")
        let q = try #require(r.jsonLines.first?["quality_report"] as? [String: Any])
        let lengths = try #require(q["lengths"] as? [String: [String: Any]])
        let prompts = ex.compactMap { e -> Int? in if case let .promptResponse(p, _) = e.content { return p.count }; return nil }.sorted()
        #expect(lengths["prompt"]?["count"] as? Int == prompts.count)
        #expect(lengths["prompt"]?["min"] as? Int == prompts.first)
        #expect(lengths["prompt"]?["max"] as? Int == prompts.last)
        #expect(lengths["prompt"]?["median"] as? Int == prompts[(prompts.count + 1) / 2 - 1])
        #expect(Set(lengths.keys) == ["instruction", "input", "output", "prompt", "response", "message"])
        let fb = try #require(q["feedback"] as? [String: Any])
        #expect(fb["with_feedback"] as? Int == 1)
        #expect(abs((fb["share"] as? Double ?? 0) - 1.0 / 600) < 1e-12)
        let checks = try #require(q["checks"] as? [[String: Any]])
        #expect(checks.allSatisfy { $0["passed"] as? Bool == true })
        // "input" may be empty; nothing required is: the checks pass, and fail on too few rows.
        let gate = try runStrata(["stats", path, "--lengths", "--min-rows", "601", "--check"])
        #expect(gate.status == 65)
        #expect(gate.stdout.contains("FAIL min_rows"))
        #expect(gate.stdout.contains("median"))
    }

    @Test(arguments: ["inspect", "verify", "dump", "scan", "maintain", "stats", "ingest", "get", "init", "compact", "annotate", "export", "index"])
    func helpShowsAnExample(command: String) throws {
        let r = try runStrata(["help", command])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Example"), "\(command): \(r.stdout)")
        #expect(r.stdout.contains("strata \(command) ") || r.stdout.contains("strata \(command)\n"))
    }
}
