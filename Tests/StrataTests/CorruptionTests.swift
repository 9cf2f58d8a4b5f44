import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// Damage real store files (flip, zero, truncate bytes at many positions in
/// every kind of file) and check that opening, `get` and scans never crash and
/// never return wrong data: each answer is the right example or a
/// `StrataError` that names the damaged file and an offset.
@Suite struct CorruptionTests {
    /// A small store on disk: sealed segments, one segment left active by a
    /// writer that never closed, and the manifest.
    struct Fixture {
        let cleanPath: String        // closed store: every segment sealed
        let crashedPath: String      // copy taken before close: active segments
        let examples: [ExampleID: Example]

        static let shared: Fixture = try! Fixture()

        init() throws {
            let path = temporaryStorePath("corruptionFixture")
            var o = StoreOptions()
            o.segmentTargetBytes = 3 << 10
            o.blockTargetBytes = 1 << 10
            o.commitPolicy = .manual
            let ex = makeExamples(240, seed: 42, domains: ["alpha", "beta"], months: 1)
            let store = try Store.open(at: path, options: o)
            try store.append(contentsOf: ex)
            try store.commit()
            crashedPath = path + "-crashed"
            try FileManager.default.copyItem(atPath: path, toPath: crashedPath)
            try store.close()
            cleanPath = path
            examples = Dictionary(uniqueKeysWithValues: ex.map { ($0.id, $0) })
        }

        /// Relative paths of the files of `root` by kind.
        static func files(_ root: String) -> [String] {
            let all = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
            return all.filter { !$0.hasSuffix("LOCK") && !FileManager.default.isDirectory(root + "/" + $0) }.sorted()
        }
    }

    enum Damage: CustomStringConvertible {
        case flip(Int), zero(Int), truncate(Int)
        var description: String {
            switch self {
            case let .flip(p): "flip bit at \(p)"
            case let .zero(p): "zero byte at \(p)"
            case let .truncate(p): "truncate to \(p)"
            }
        }
    }

    /// Positions covering every structure of a file of `size` bytes.
    static func positions(size: Int, seed: UInt64) -> [Int] {
        var ps: Set<Int> = [0, 7, 8, 10, 12, 16, 20, 24, 31, 32, 33, 40, 41, 44, 48, 52, 56, 60, size / 3, size / 2, (2 * size) / 3]
        for back in [1, 8, 9, 16, 24, 32, 33, 40, 41, 48, 60, 80] { ps.insert(size - back) }
        var rng = SeededRNG(seed: seed)
        for _ in 0..<4 { ps.insert(Int.random(in: 0..<size, using: &rng)) }
        return ps.filter { $0 >= 0 && $0 < size }.sorted()
    }

    /// Applies `damage` to a fresh copy of `source` and returns the copy's path.
    func damagedCopy(of source: String, file: String, _ damage: Damage) throws -> String {
        let dst = temporaryStorePath("damaged")
        try FileManager.default.copyItem(atPath: source, toPath: dst)
        let p = dst + "/" + file
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
        switch damage {
        case let .flip(i): bytes[i] ^= UInt8(1 << (i % 8))
        case let .zero(i): bytes[i] = bytes[i] == 0 ? 0xFF : 0
        case let .truncate(i): bytes.removeSubrange(i...)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return dst
    }

    /// The error must be a Strata corruption (or version) error naming a file and an offset.
    func checkError(_ error: Error, _ context: String) {
        guard let e = error as? StrataError else {
            Issue.record("\(context): non-Strata error \(error)")
            return
        }
        #expect([.corruption, .unsupportedVersion].contains(e.code), "\(context): \(e)")
        #expect(e.path != nil, "\(context): error names no file: \(e)")
        #expect(e.offset != nil, "\(context): error names no offset: \(e)")
    }

    /// Opens (writer, with recovery) and reads everything; returns how the store fared.
    func exercise(_ path: String, _ context: String) -> (opened: Bool, lost: Int) {
        let fx = Fixture.shared
        let store: Store
        do {
            store = try Store.open(at: path)
        } catch {
            checkError(error, context + " (open)")
            return (false, 0)
        }
        defer { try? store.close() }
        let tornReported = store.recoveryEvents.contains { $0.kind == .truncatedTornTail || $0.kind == .removedEmptySegment }
        var lost = 0
        for (id, e) in fx.examples {
            do {
                if let got = try store.get(id) {
                    #expect(got == e, "\(context): get returned wrong data for \(id)")
                } else {
                    lost += 1
                    #expect(tornReported, "\(context): \(id) silently missing (no recovery event reported)")
                }
            } catch {
                checkError(error, context + " (get)")
            }
        }
        do {
            try store.scan { e in
                #expect(fx.examples[e.id] == e, "\(context): scan returned wrong data")
                return true
            }
        } catch {
            checkError(error, context + " (scan)")
        }
        return (true, lost)
    }

    /// Same, with the read-only snapshot reader (no recovery, no truncation).
    func exerciseReader(_ path: String, _ context: String) {
        let fx = Fixture.shared
        do {
            let r = try StoreReader(path: path)
            defer { r.close() }
            for (id, e) in fx.examples {
                do {
                    if let got = try r.get(id) { #expect(got == e, "\(context): reader get returned wrong data") }
                } catch { checkError(error, context + " (reader get)") }
            }
            try r.scan { e in
                #expect(fx.examples[e.id] == e, "\(context): reader scan returned wrong data")
                return true
            }
        } catch {
            checkError(error, context + " (reader)")
        }
    }

    func runTable(root: String, fileFilter: (String) -> Bool, seed: UInt64, positions: ((Int) -> [Int])? = nil) throws -> Int {
        var cases = 0
        let files = Fixture.files(root).filter(fileFilter)
        #expect(!files.isEmpty)
        for (fi, file) in files.enumerated() {
            let size = try FileManager.default.attributesOfItem(atPath: root + "/" + file)[.size] as! Int
            for p in positions?(size) ?? Self.positions(size: size, seed: seed &+ UInt64(fi)) {
                for d in [Damage.flip(p), .zero(p), .truncate(p)] {
                    let copy = try damagedCopy(of: root, file: file, d)
                    let context = "\(file): \(d)"
                    exerciseReader(copy, context)
                    _ = exercise(copy, context)
                    try? FileManager.default.removeItem(atPath: copy)
                    cases += 1
                }
            }
        }
        return cases
    }

    @Test func damagedManifestIsReportedNeverMisread() throws {
        let n = try runTable(root: Fixture.shared.cleanPath, fileFilter: { $0 == "MANIFEST" }, seed: 1)
        #expect(n > 50)
    }

    @Test func damagedIndexIsRebuiltOrReportedNeverMisread() throws {
        let files = Fixture.files(Fixture.shared.cleanPath).filter { $0.hasPrefix("index/") }
        #expect(!files.isEmpty, "the fixture store should have written its dedup index")
        // Every header field, the first coverage/slot bytes, the middle and the
        // trailing checksum (each case rebuilds the index, so fewer positions).
        let n = try runTable(root: Fixture.shared.cleanPath, fileFilter: { $0.hasPrefix("index/") }, seed: 4) { size in
            [0, 8, 10, 16, 24, 32, 40, 48, 56, 64, size / 2, size - 8].filter { $0 < size }
        }
        #expect(n >= 30)
    }

    @Test func damagedSealedSegmentsAreReportedNeverMisread() throws {
        // The first and the last sealed segment of one partition: header, block frames, footer, trailer.
        let segs = Fixture.files(Fixture.shared.cleanPath).filter { $0.hasSuffix(".strata") && $0.contains("alpha") }
        #expect(segs.count >= 2, "fixture should roll segments")
        let pick = Set([segs.first!, segs.last!])
        let n = try runTable(root: Fixture.shared.cleanPath, fileFilter: { pick.contains($0) }, seed: 2)
        #expect(n > 100)
    }

    @Test func damagedActiveSegmentsAreReportedOrTruncatedAsTornTail() throws {
        let root = Fixture.shared.crashedPath
        // Active segments: listed active in the crashed copy's manifest, i.e. no trailer.
        let active = Fixture.files(root).filter { f in
            guard f.hasSuffix(".strata"), let b = FileManager.default.contents(atPath: root + "/" + f) else { return false }
            return !b.suffix(8).elementsEqual(Array("STRSEAL1".utf8))
        }
        #expect(!active.isEmpty, "the crashed copy must hold an active segment")
        let n = try runTable(root: root, fileFilter: { $0 == active.first! }, seed: 3)
        #expect(n > 50)
    }

    @Test func tornTailOfActiveSegmentIsTruncatedAndReported() throws {
        let fx = Fixture.shared
        let dst = temporaryStorePath()
        try FileManager.default.copyItem(atPath: fx.crashedPath, toPath: dst)
        let active = Fixture.files(dst).filter { f in
            guard f.hasSuffix(".strata"), let b = FileManager.default.contents(atPath: dst + "/" + f) else { return false }
            return !b.suffix(8).elementsEqual(Array("STRSEAL1".utf8))
        }.first!
        let p = dst + "/" + active
        let original = try Data(contentsOf: URL(fileURLWithPath: p))
        // Half of a real frame (this file's first block) appended: what a write torn by a crash leaves.
        let frame = original[32..<min(original.count, 32 + 300)]
        let torn = frame.prefix(frame.count / 2)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: p))
        h.seekToEndOfFile(); h.write(Data(torn)); try h.close()

        let store = try Store.open(at: dst)
        defer { try? store.close() }
        let ev = store.recoveryEvents.first { $0.kind == .truncatedTornTail }
        #expect(ev?.path == p)
        #expect(ev?.offset == Int64(original.count))
        #expect(ev?.bytes == Int64(torn.count))
        for (id, e) in fx.examples { #expect(try store.get(id) == e) }
    }

    @Test func damageInTheMiddleOfAnActiveSegmentIsAnErrorNotATruncation() throws {
        let fx = Fixture.shared
        let dst = temporaryStorePath()
        try FileManager.default.copyItem(atPath: fx.crashedPath, toPath: dst)
        let segs = Fixture.files(dst).filter { f in
            guard f.hasSuffix(".strata"), let b = FileManager.default.contents(atPath: dst + "/" + f) else { return false }
            return !b.suffix(8).elementsEqual(Array("STRSEAL1".utf8)) && b.count > 600
        }
        guard let seg = segs.first else { Issue.record("no multi-frame active segment in the fixture"); return }
        let p = dst + "/" + seg
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))
        bytes[40] ^= 0xFF  // inside the first frame, with more frames after it
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        do {
            _ = try Store.open(at: dst)
            Issue.record("open accepted a segment damaged in the middle")
        } catch let e as StrataError {
            #expect(e.code == .corruption && e.path == p && e.offset == 32, "\(e)")
        }
        // Nothing was truncated.
        #expect(try Data(contentsOf: URL(fileURLWithPath: p)).count == bytes.count)
    }
}

extension FileManager {
    func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }
}
