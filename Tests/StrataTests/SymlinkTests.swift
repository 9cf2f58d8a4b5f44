import Foundation
import Testing
@testable import Strata

/// Symbolic links planted in a store or an export directory are never written
/// through, and the writer never deletes a file it did not create. Real
/// `strata` processes against planted links.
@Suite(.serialized) struct SymlinkTests {
    static let line = #"{"prompt":"hi","response":"yo","domain":"demo","timestamp":"2025-11-15T10:30:00Z"}"# + "\n"

    /// A file outside the store with known content, and a check that it is unchanged.
    struct Victim {
        let path: String
        init(_ name: String) throws {
            path = temporaryStorePath(name)
            try "precious\n".write(toFile: path, atomically: false, encoding: .utf8)
        }
        var intact: Bool { (try? String(contentsOfFile: path, encoding: .utf8)) == "precious\n" }
    }

    func makeStore(_ name: String) throws -> String {
        let store = temporaryStorePath(name)
        let r = try runStrata(["ingest", store], stdin: Data(Self.line.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        return store
    }

    @Test func plantedLockSymlinksAreNeverWrittenThrough() throws {
        let store = try makeStore("symLock")
        let victim = try Victim("lockVictim")
        try FileManager.default.removeItem(atPath: store + "/LOCK")
        try FileManager.default.createSymbolicLink(atPath: store + "/LOCK", withDestinationPath: victim.path)
        let r = try runStrata(["ingest", store], stdin: Data(Self.line.utf8))
        #expect(r.status != 0, "ingest wrote through a LOCK symlink")
        #expect(r.stderr.contains("symbolic link"), "\(r.stderr)")
        #expect(victim.intact, "LOCK symlink target was modified")

        // The export lock likewise.
        try FileManager.default.removeItem(atPath: store + "/LOCK")
        let out = temporaryStorePath("symExport")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let exportVictim = try Victim("exportLockVictim")
        try FileManager.default.createSymbolicLink(atPath: out + "/.strata_export.lock", withDestinationPath: exportVictim.path)
        let e = try runStrata(["export", store, "--out", out])
        #expect(e.status != 0, "export wrote through a .strata_export.lock symlink")
        #expect(exportVictim.intact, ".strata_export.lock symlink target was modified")

        // And the snapshot lock a reader takes: the reader proceeds without writing through it.
        let snapVictim = try Victim("snapshotLockVictim")
        try? FileManager.default.removeItem(atPath: store + "/SNAPSHOT.lock")
        try FileManager.default.createSymbolicLink(atPath: store + "/SNAPSHOT.lock", withDestinationPath: snapVictim.path)
        _ = try runStrata(["scan", store])
        #expect(snapVictim.intact, "SNAPSHOT.lock symlink target was modified")
    }

    @Test func symlinkedPartitionDirectoriesAreRefusedAndTheirTargetsUntouched() throws {
        let store = try makeStore("symPartition")
        // Outside the store: a directory holding files a writer would take for leftovers.
        let outside = temporaryStorePath("outsideDir")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "not mine".write(toFile: outside + "/seg-0000000077.strata", atomically: false, encoding: .utf8)
        try "scratch".write(toFile: outside + "/seg-0000000078.tmp", atomically: false, encoding: .utf8)
        try "scratch".write(toFile: outside + "/work.tmp", atomically: false, encoding: .utf8)
        let before = try FileManager.default.contentsOfDirectory(atPath: outside).sorted()

        // An existing partition replaced by a link to it.
        let month = store + "/domain=demo/month=2025-11"
        try FileManager.default.moveItem(atPath: month, toPath: store + "-moved")
        try FileManager.default.createSymbolicLink(atPath: month, withDestinationPath: outside)
        let r = try runStrata(["ingest", store], stdin: Data(Self.line.utf8))
        #expect(r.status != 0, "writer opened a store with a symlinked partition directory")
        #expect(r.stderr.contains("symbolic link"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).sorted() == before, "files outside the store were deleted or created")

        // A new partition whose directory name was planted as a link.
        try FileManager.default.removeItem(atPath: month)
        try FileManager.default.moveItem(atPath: store + "-moved", toPath: month)
        try FileManager.default.createSymbolicLink(atPath: store + "/domain=planted", withDestinationPath: outside)
        let planted = #"{"prompt":"a","response":"b","domain":"planted","timestamp":"2025-11-15T10:30:00Z"}"# + "\n"
        let p = try runStrata(["ingest", store], stdin: Data(planted.utf8))
        #expect(p.status != 0, "ingest wrote into a symlinked domain directory")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).sorted() == before, "files outside the store were deleted or created")
    }

    @Test func theWriterNeverDeletesLeftoversItDidNotCreate() throws {
        let store = try makeStore("symLeftovers")
        let dir = store + "/domain=demo/month=2025-11"
        let victim = try Victim("leftoverVictim")
        try "user notes".write(toFile: dir + "/seg-0000009999.strata", atomically: false, encoding: .utf8)  // no segment magic
        try "user notes".write(toFile: dir + "/notes.tmp", atomically: false, encoding: .utf8)                // not a name Strata writes
        try FileManager.default.createSymbolicLink(atPath: dir + "/seg-0000009998.strata", withDestinationPath: victim.path)
        // A real leftover (an unlisted copy of a segment) is still removed.
        let seg = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("seg-00000000") }!
        try FileManager.default.copyItem(atPath: dir + "/" + seg, toPath: dir + "/seg-0000009997.strata")
        let r = try runStrata(["ingest", store], stdin: Data(Self.line.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        #expect(names.contains("seg-0000009999.strata"), "a file without segment magic was deleted")
        #expect(names.contains("notes.tmp"), "a foreign .tmp file was deleted")
        #expect(names.contains("seg-0000009998.strata"), "a symlink was deleted")
        #expect(victim.intact)
        #expect(!names.contains("seg-0000009997.strata"), "a real unlisted segment was not removed")
    }
}
