import Foundation
import Testing
@testable import Strata

/// Operator-facing safety of the CLI, with real processes: private export and
/// report files, cleanup after a killed export, the pseudonym key never
/// silently replaced, invalid options refused, a lock message that names its holder.
@Suite(.serialized) struct OperationalSafetyTests {
    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int ?? -1) & 0o777
    }

    static func store(_ name: String, lines: Int = 30) throws -> String {
        let path = temporaryStorePath(name)
        let file = try RealProcessCrashTests.Input.shared.slice(0, lines)
        #expect(try runStrata(["ingest", path, file]).status == 0)
        return path
    }

    @Test func exportFilesAndDirectoriesArePrivateByDefaultAndModeSharesThem() throws {
        let store = try Self.store("modeStore")
        let out = temporaryStorePath("modeOut")
        #expect(try runStrata(["export", store, "--out", out, "--partitioned"]).status == 0)
        let all = (FileManager.default.enumerator(atPath: out)?.allObjects as? [String]) ?? []
        #expect(!all.isEmpty)
        #expect(Self.mode(out) == 0o700)
        for rel in all {
            let p = out + "/" + rel
            let m = Self.mode(p)
            if FileManager.default.isDirectory(p) { #expect(m == 0o700, "\(rel): \(String(m, radix: 8))") }
            else { #expect(m == 0o600, "\(rel): \(String(m, radix: 8))") }
        }
        let shared = temporaryStorePath("modeShared")
        #expect(try runStrata(["export", store, "--out", shared, "--mode", "644"]).status == 0)
        #expect(Self.mode(shared + "/data.jsonl") == 0o644 & ~Int(Self.umaskValue()))
        #expect(Self.mode(shared) == 0o755 & ~Int(Self.umaskValue()))
        #expect(try runStrata(["export", store, "--out", shared + "2", "--mode", "777"]).status == 64)

        // Ingest reports are private too, even over a pre-existing world-readable file.
        let rejects = temporaryStorePath("rejects") + ".jsonl"
        FileManager.default.createFile(atPath: rejects, contents: nil, attributes: [.posixPermissions: 0o666])
        let bad = Data("{\"prompt\":1}\n".utf8)
        _ = try runStrata(["ingest", temporaryStorePath("rejStore"), "--rejects", rejects], stdin: bad)
        #expect(Self.mode(rejects) == 0o600)
        #expect(((try? String(contentsOfFile: rejects, encoding: .utf8)) ?? "").contains("line"))
    }

    static func umaskValue() -> mode_t {
        let m = umask(0o022)
        umask(m)
        return m
    }

    @Test func temporariesOfAKilledExportAreRemovedByTheNextExport() throws {
        let store = try Self.store("tmpStore")
        let out = temporaryStorePath("tmpOut")
        #expect(try runStrata(["export", store, "--out", out, "--partitioned"]).status == 0)
        // What a SIGKILLed run leaves: hidden temporaries under their final directories.
        let partDir = try FileManager.default.contentsOfDirectory(atPath: out).first { $0.hasPrefix("domain=") }!
        let month = try FileManager.default.contentsOfDirectory(atPath: out + "/" + partDir).first!
        let leftovers = [out + "/._strata_export.json.tmp-4000001", out + "/" + partDir + "/" + month + "/.part-00000.jsonl.tmp-4000002"]
        for l in leftovers { try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: l)) }
        let keep = out + "/.my-notes.tmp-x"  // not Strata's pattern (pid must be digits)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: keep))
        // The store is unchanged: the export is up to date and still cleans.
        let r = try runStrata(["export", store, "--out", out, "--partitioned", "--json"])
        #expect(r.status == 0)
        #expect(r.jsonLines.first?["up_to_date"] as? Bool == true)
        for l in leftovers { #expect(!FileManager.default.fileExists(atPath: l), "\(l) left behind") }
        #expect(FileManager.default.fileExists(atPath: keep))
    }

    @Test func aMissingPseudonymKeyIsRefusedNeverSilentlyRecreated() throws {
        let store = temporaryStorePath("keyStore")
        let line = #"{"prompt":"p","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z","metadata":{"user_id":"u-1"}}"# + "\n"
        #expect(try runStrata(["ingest", store, "--hash-field", "metadata.user_id"], stdin: Data(line.utf8)).status == 0)
        #expect(try runStrata(["verify", store, "--quiet"]).status == 0)
        let key = store + "/keys/field-hash.key"
        try FileManager.default.removeItem(atPath: key)
        let again = #"{"prompt":"p2","response":"r","domain":"d","timestamp":"2025-01-01T00:00:00Z","metadata":{"user_id":"u-1"}}"# + "\n"
        let r = try runStrata(["ingest", store, "--hash-field", "metadata.user_id"], stdin: Data(again.utf8))
        #expect(r.status == 65, "\(r.stderr)")
        #expect(r.stderr.contains("field-hash.key"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: key), "a new key was created")
        let v = try runStrata(["verify", store, "--quiet"])
        #expect(v.status == 65)
        #expect(v.stdout.contains("field-hash.key"), "\(v.stdout)")
    }

    @Test func invalidDomainAndSegmentSizeAreUsageErrors() throws {
        let store = try Self.store("usageStore")
        let s = try runStrata(["scan", store, "--domain", "../x"])
        #expect(s.status == 64, "\(s.stderr)")
        let c = try runStrata(["compact", store, "--segment-mib", "0"])
        #expect(c.status == 64, "\(c.stderr)")
    }

    @Test func lockMessageNamesTheHolderEvenBeforeItRecordsItsPid() throws {
        let store = try Self.store("lockStore")
        // Hold the lock the way a writer does in the instant before it writes its pid.
        let lock = store + "/LOCK"
        try Data().write(to: URL(fileURLWithPath: lock))
        let fd = open(lock, O_RDWR)
        #expect(flock(fd, LOCK_EX) == 0)
        defer { close(fd) }
        let r = try runStrata(["ingest", store], stdin: Data())
        #expect(r.status == 75)
        #expect(!r.stderr.contains("pid ?"), "\(r.stderr)")
        #expect(r.stderr.contains("has not recorded its pid"), "\(r.stderr)")
    }
}

/// `--skip-damaged`: a damaged block or segment costs only its own examples.
@Suite(.serialized) struct SkipDamagedTests {
    @Test func scanAndExportSkipDamagedReadEverythingElseAndReportWhatWasSkipped() throws {
        let input = RealProcessCrashTests.Input.shared
        let store = temporaryStorePath("salvage")
        try FileManager.default.copyItem(atPath: CompactionKillTests.template, toPath: store)
        let reader = try StoreReader(path: store)
        let segs = reader.manifest.segments
        reader.close()
        // Damage a block in one segment and the footer of another.
        let blockSeg = store + "/" + segs[0].partition.path + "/" + Format.segmentFileName(segs[0].sequence)
        let footerSeg = store + "/" + segs[4].partition.path + "/" + Format.segmentFileName(segs[4].sequence)
        for (p, back) in [(blockSeg, -1), (footerSeg, 45)] {
            var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
            let i = back < 0 ? 32 + 24 + 3 : b.count - back
            b[i] ^= 0x40
            try Data(b).write(to: URL(fileURLWithPath: p))
        }
        let plain = try runStrata(["scan", store])
        #expect(plain.status == 65)
        let r = try runStrata(["scan", store, "--skip-damaged"])
        #expect(r.status == 65)
        let ids = r.stdout.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String }
        #expect(ids.count > input.lines.count / 2 && ids.count < input.lines.count, "\(ids.count) salvaged")
        #expect(Set(ids).isSubset(of: Set(input.lines.map(\.id.hex))))
        #expect(r.stderr.contains(Format.segmentFileName(segs[0].sequence)) && r.stderr.contains(Format.segmentFileName(segs[4].sequence)), "\(r.stderr)")
        let out = temporaryStorePath("salvageOut")
        let e = try runStrata(["export", store, "--out", out, "--skip-damaged", "--json"])
        #expect(e.status == 65)
        #expect(e.jsonLines.first?["rows"] as? Int == ids.count, "\(e.stdout)")
        #expect(((e.jsonLines.first?["damaged_skipped"] as? [Any]) ?? []).count == 2)
        // Repaired (the template's files put back): the salvage export is not "up to date".
        for s in [segs[0], segs[4]] {
            let rel = "/" + s.partition.path + "/" + Format.segmentFileName(s.sequence)
            try FileManager.default.removeItem(atPath: store + rel)
            try FileManager.default.copyItem(atPath: CompactionKillTests.template + rel, toPath: store + rel)
        }
        let again = try runStrata(["export", store, "--out", out, "--json"])
        #expect(again.status == 0)
        #expect(again.jsonLines.first?["rows"] as? Int == input.lines.count)
    }
}
