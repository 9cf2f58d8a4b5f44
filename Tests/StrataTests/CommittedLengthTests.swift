import Foundation
import Testing
@testable import Strata

/// The manifest records each active segment's committed length (SPEC.md §7):
/// damage to committed bytes of a segment left active by a crash is reported
/// (file and offset) by the writer's open, by read-only readers and by
/// `verify` — never truncated away as a torn tail, never a silent loss.
@Suite(.serialized) struct CommittedLengthTests {
    /// A store whose writer was SIGKILLed after acknowledged commits: real
    /// `strata ingest` (commit every 40 lines), killed after its 5th commit.
    static let crashed: (path: String, acknowledged: [Example]) = {
        let input = RealProcessCrashTests.Input.shared
        let path = temporaryStorePath("committedTemplate")
        let file = try! input.slice(0, 400)
        let acked = try! RealProcessCrashTests.ingestAndKill(store: path, file: file, lines: 400, commitEvery: 40, commits: 5, delayMicros: 0)
        return (path, Array(input.lines[0..<acked]))
    }()

    /// Active segments (relative paths) of a store and their committed lengths.
    static func activeSegments(_ root: String) throws -> [(path: String, committed: Int64)] {
        let m = try Manifest.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/MANIFEST"))), path: root)
        return m.segments.filter { $0.state == .active }.compactMap { e in
            e.committed.map { (e.partition.path + "/" + Format.segmentFileName(e.sequence), $0) }
        }
    }

    /// Frame start offsets below `end` of the segment at `path`.
    static func frameStarts(_ path: String, end: Int64) throws -> [Int] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var out: [Int] = []
        var o = Format.segmentHeaderSize
        while o + Format.frameHeaderSize <= Int(end) {
            out.append(o)
            let stored = Int(bytes[o + 12]) | Int(bytes[o + 13]) << 8 | Int(bytes[o + 14]) << 16 | Int(bytes[o + 15]) << 24
            o += Format.frameHeaderSize + stored
        }
        return out
    }

    func isReported(_ error: Error) -> Bool {
        guard let e = error as? StrataError else { return false }
        return e.code == .corruption && e.path != nil && e.offset != nil
    }

    @Test func damageToCommittedBytesOfAnActiveSegmentIsReportedNeverDropped() throws {
        let (template, acked) = Self.crashed
        #expect(acked.count >= 200, "the kill came before 5 commits: \(acked.count) acknowledged")
        let actives = try Self.activeSegments(template)
        #expect(!actives.isEmpty, "the killed ingest must leave active segments with committed lengths")
        var trials = 0, detectedByOpen = 0, detectedByReader = 0, detectedByVerify = 0, detectedByCLI = 0
        var silent: [String] = []
        for (file, committed) in actives {
            let starts = try Self.frameStarts(template + "/" + file, end: committed)
            let last = starts.last!
            // Every frame's checksum, type and length; the last frame's payload and final byte; truncations.
            var damages: [CorruptionTests.Damage] = [.truncate(last), .truncate(Int(committed) - 1), .truncate(Int(committed) / 2),
                                                     .flip(Int(committed) - 1), .zero(last + 30), .flip(8), .flip(last + 12)]
            for s in starts { damages.append(.flip(s)); damages.append(.zero(s + 8)) }
            for d in damages {
                let copy = try CorruptionTests().damagedCopy(of: template, file: file, d)
                defer { try? FileManager.default.removeItem(atPath: copy) }
                let context = "\(file) (committed \(committed)): \(d)"
                trials += 1
                // Read-only reader: an error naming file and offset, or every acknowledged example.
                do {
                    let r = try StoreReader(path: copy)
                    var seen = Set<ExampleID>()
                    do { try r.scan { seen.insert($0.id); return true } } catch { if isReported(error) { detectedByReader += 1 } }
                    r.close()
                    let lost = acked.filter { !seen.contains($0.id) }.count
                    if lost > 0 && !seen.isEmpty { silent.append("\(context): reader lost \(lost) acknowledged examples silently") }
                } catch {
                    if isReported(error) { detectedByReader += 1 } else { silent.append("\(context): reader error without file/offset: \(error)") }
                }
                // verify reports damage.
                let report = StoreVerifier(path: copy).run()
                if !report.intact { detectedByVerify += 1 } else { silent.append("\(context): verify says intact") }
                // Real processes: scan exits 65 naming the file, or prints every acknowledged example.
                if trials % 3 == 0 {
                    let r = try runStrata(["scan", copy])
                    let ids = Set(r.stdout.split(separator: "\n").compactMap { line in
                        (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String
                    })
                    if r.status == 65 && r.stderr.contains(Format.segmentFileName(0).prefix(4)) { detectedByCLI += 1 }
                    else if !acked.allSatisfy({ ids.contains($0.id.hex) }) { silent.append("\(context): strata scan exit \(r.status) lost acknowledged rows") }
                }
                // Writer open: refuses with file and offset, or keeps every acknowledged example.
                do {
                    let s = try Store.open(at: copy)
                    let lost = acked.filter { (try? s.get($0.id)) == nil }.count
                    if lost > 0 { silent.append("\(context): writer open dropped \(lost) acknowledged examples; events \(s.recoveryEvents)") }
                    try? s.close()
                } catch {
                    if isReported(error) { detectedByOpen += 1 } else { silent.append("\(context): open error without file/offset: \(error)") }
                }
            }
        }
        print("active-segment damage trials: \(trials); detected by writer open \(detectedByOpen), reader \(detectedByReader), verify \(detectedByVerify), strata scan \(detectedByCLI) of \((trials) / 3)")
        #expect(trials >= 40)
        #expect(silent.isEmpty, "\(silent.count) silent losses: \(silent.prefix(5))")
        #expect(detectedByVerify == trials)
        #expect(detectedByOpen == trials)
    }

    /// Bytes past the committed length are an uncommitted tail: damage there,
    /// even with a valid frame after it (the disk persisted a later write and
    /// lost an earlier one), is truncated away on open, never a refusal.
    @Test func damagePastTheCommittedLengthIsATornTailEvenWithAValidFrameAfterIt() throws {
        let store = temporaryStorePath("pastCommitted")
        var o = StoreOptions()
        o.commitPolicy = .manual
        o.blockTargetBytes = 1 << 10
        let ex = makeExamples(60, seed: 5, domains: ["alpha"], months: 1)
        let s = try Store.open(at: store, options: o)
        try s.append(contentsOf: Array(ex[0..<30]))
        try s.commit()
        let m = try Manifest.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: store + "/MANIFEST"))), path: store)
        let entry = m.segments.first { $0.state == .active }!
        let committed = entry.committed!
        try s.append(contentsOf: Array(ex[30..<60]))
        try s.scan { _ in true }  // closes the open block: uncommitted frames reach the file
        let copy = store + "-crash"
        try FileManager.default.copyItem(atPath: store, toPath: copy)
        try s.close()
        let seg = copy + "/" + entry.partition.path + "/" + Format.segmentFileName(entry.sequence)
        let starts = try Self.frameStarts(seg, end: Int64(try FileManager.default.attributesOfItem(atPath: seg)[.size] as! Int))
        let after = starts.filter { $0 >= Int(committed) }
        #expect(after.count >= 2, "need two uncommitted frames, found \(after.count)")
        // A hole in the first uncommitted frame; the frames after it stay valid.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: seg)))
        for i in (after[0] + 24)..<min(after[0] + 64, after[1]) { bytes[i] = 0 }
        try Data(bytes).write(to: URL(fileURLWithPath: seg))
        let reopened = try Store.open(at: copy)
        #expect(reopened.recoveryEvents.contains { $0.kind == .truncatedTornTail && $0.offset == Int64(after[0]) })
        for e in ex[0..<30] { #expect(try reopened.get(e.id) == e) }
        try reopened.close()
    }

    /// Manifests written before committed lengths existed (version 1) still open.
    @Test func versionOneManifestWithoutCommittedLengthsStillOpens() throws {
        let store = temporaryStorePath("v1manifest")
        var o = StoreOptions()
        o.commitPolicy = .manual
        let ex = makeExamples(20, seed: 9)
        let s = try Store.open(at: store, options: o)
        try s.append(contentsOf: ex)
        try s.commit()
        let copy = store + "-v1"
        try FileManager.default.copyItem(atPath: store, toPath: copy)
        try s.close()
        var m = try Manifest.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: copy + "/MANIFEST"))), path: copy)
        #expect(m.segments.contains { $0.committed != nil })
        for i in m.segments.indices { m.segments[i].committed = nil }
        var bytes = try m.encode()
        bytes[8] = 1  // version 1
        try Data(bytes).write(to: URL(fileURLWithPath: copy + "/MANIFEST"))
        let r = try StoreReader(path: copy)
        #expect(try r.count == ex.count)
        r.close()
        let w = try Store.open(at: copy)
        for e in ex { #expect(try w.get(e.id) == e) }
        try w.close()
    }
}
