import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// Faults injected by `FaultFileSystem` (StrataTestSupport) into the real
/// file system: ingest input errors, and I/O errors at the durability steps of
/// a compaction that the per-step tests do not name.
@Suite struct FaultInjectionTests {
    /// JSONL of `n` distinct prompt/response records (~260 bytes each) and the examples they become.
    static func writeInput(_ n: Int, to path: String) throws -> [ExampleID: Example] {
        var text = ""
        var byID: [ExampleID: Example] = [:]
        for i in 0..<n {
            let prompt = "Question \(i) " + String(repeating: "about the input seam ", count: 6)
            let response = "Answer \(i) " + String(repeating: "ok ", count: 20)
            let ts = Int64(1_735_689_600_000) + Int64(i)
            let e = Example(content: .promptResponse(prompt: prompt, response: response), domain: "faults", timestampMillis: ts)
            byID[e.id] = e
            text += #"{"prompt":"\#(prompt)","response":"\#(response)","domain":"faults","timestamp":\#(ts)}"# + "\n"
        }
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return byID
    }

    /// Ingest reads its input through the store's file system: a read error
    /// there stops the ingest with an I/O error naming the input file, and
    /// every record acknowledged by a commit before it is stored intact.
    @Test func anInputReadErrorStopsIngestNamingTheFileAndKeepsWhatWasCommitted() throws {
        let path = temporaryStorePath()
        let input = path + "-input.jsonl"
        let expected = try Self.writeInput(12_000, to: input)  // ~3 MiB: read in 1 MiB chunks
        let fs = FaultFileSystem(rules: [.init(.readInput, nth: 3, action: .fail(.io), label: "third input read") { $0 == input }])
        let acknowledged = try Self.ingest(into: path, on: fs) { _, ingester in
            let error = #expect(throws: StrataError.self) { try ingester.ingest(path: input) }
            #expect(error?.code == .io)
            #expect(error?.path == input, "\(String(describing: error))")
            #expect(fs.fired == ["third input read: readInput \(input)"])
        }
        #expect(acknowledged > 0, "no commit before the failed read: the test proves nothing")
        try Self.expectCommittedPart(of: expected, at: path, acknowledged: acknowledged)
    }

    /// Opens a store at `path` on `fs` and runs `body` with an ingester that
    /// commits every 500 records; returns the most records a commit
    /// acknowledged. The store is closed after `body` (a fault may have
    /// poisoned it, so closing may fail).
    static func ingest(into path: String, on fs: FaultFileSystem, commitPolicy: StoreOptions.CommitPolicy = .everyBatch,
                       _ body: (Store, Ingester) throws -> Void) throws -> Int {
        var o = StoreOptions()
        o.fileSystem = fs
        o.commitPolicy = commitPolicy
        var acknowledged = 0
        let store = try Store.open(at: path, options: o)
        let ingester = try Ingester(store: store, mapping: IngestMapping())
        ingester.commitEveryRecords = 500
        ingester.onCommit = { acknowledged = max(acknowledged, $0.read) }
        try body(store, ingester)
        try? store.close()
        return acknowledged
    }

    /// The store at `path` holds what commits acknowledged and not all of
    /// `expected`, each example exactly as its input line gave it.
    static func expectCommittedPart(of expected: [ExampleID: Example], at path: String, acknowledged: Int) throws {
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        let n = try reader.count
        #expect(n >= acknowledged)
        #expect(n < expected.count)
        try reader.scan { e in
            #expect(expected[e.id] == e, "an example differs from its input line")
            return true
        }
    }

    /// The same fault in a real process (StrataFault ingest): exit 1, the
    /// message names the input, the store opens with what was committed.
    @Test func aRealIngestProcessWithAFailingInputReportsTheFile() throws {
        let path = temporaryStorePath()
        let input = path + "-input.jsonl"
        let expected = try Self.writeInput(12_000, to: input)
        let r = try runStrata(["ingest", path, input, "--fail-input-read", "3", "--commit-every", "500"], binary: faultBinary)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains(input) && r.stderr.contains("injected fault"), "\(r.stderr)")
        let acknowledged = r.jsonLines.compactMap { $0["read"] as? Int }.max() ?? 0
        #expect(acknowledged > 0)
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        let n = try reader.count
        #expect(n >= acknowledged && n < expected.count)
    }

    /// A failed directory fsync right after the compaction's manifest rename:
    /// the compaction throws, and nothing is lost — the store reopens as before
    /// or as after, with every example present once and identical.
    @Test func aFailedDirectorySyncAfterTheManifestRenameLosesNothing() throws {
        let path = temporaryStorePath()
        _ = try makeCompactableStore(path, examples: 1000)
        let fs = FaultFileSystem()
        var so = StoreOptions()
        so.fileSystem = fs
        var before: [ExampleID: FoldedExample] = [:]
        do {
            let store = try Store.open(at: path, options: so)
            before = try foldedView(store)
            var o = CompactionOptions()
            o.dictionary = .never
            let renamed = Flag()
            fs.arm([
                // Observes (never fires): notes the manifest rename of the swap.
                .init(.rename, timing: .after, action: .pause(milliseconds: 0)) { p in
                    if p == path + "/MANIFEST.tmp" { renamed.value = true }
                    return false
                },
                .init(.syncDirectory, action: .fail(.io), label: "store directory fsync after the swap") { p in
                    p == path && renamed.value
                },
            ])
            #expect(throws: StrataError.self) { try store.compact(partition: store.partitions[0], options: o) }
            #expect(fs.fired.count == 1, "\(fs.fired)")
            try? store.close()
        }
        let store = try Store.open(at: path)
        defer { try? store.close() }
        #expect(try foldedView(store) == before)
        #expect(store.count == before.count)
    }
}

/// A flag shared with a fault rule's matcher (which may run on any thread).
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var v = false
    var value: Bool {
        get { lock.withLock { v } }
        set { lock.withLock { v = newValue } }
    }
}
