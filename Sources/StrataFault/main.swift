// StrataFault: the test-only runner crash tests kill (in no product).
//
// Runs the library's compaction, maintenance or ingest in a real process on a
// `FaultFileSystem` over the real file system, so a test can end the process
// at a named point (`_exit(137)`, nothing flushed or cleaned up) or slow it
// down to SIGKILL it between steps, then reopen the store with the product.
//
//   StrataFault compact STORE [--crash-at STEP] [--dictionary always|never|auto] [--segment-mib N] [--block-kib N]
//   StrataFault maintain STORE [--compact] [--export SPEC]... [--crash-at STEP] [--pause-ms N] [--dictionary always|never|auto]
//   StrataFault ingest STORE FILE [--fail-input-read N] [--commit-every N]
//
// STEP is a `CompactionStep` number (1...7, SPEC.md §7.1). --pause-ms sleeps
// after every MANIFEST rename (each compaction's swap). --fail-input-read N
// fails the N-th read of the input with an I/O error. Prints one JSON line
// {"status": "done", ...} on success; exit 137 at a crash point, 1 on an error.
import Foundation
import Strata
import StrataTestSupport

var args = Array(CommandLine.arguments.dropFirst())
func fail(_ message: String, _ status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("StrataFault: \(message)\n".utf8))
    exit(status)
}
@MainActor func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name) else { return nil }
    guard i + 1 < args.count else { fail("\(name) needs a value") }
    let v = args[i + 1]
    args.removeSubrange(i...(i + 1))
    return v
}
@MainActor func options(_ name: String) -> [String] {
    var out: [String] = []
    while let v = option(name) { out.append(v) }
    return out
}
@MainActor func flag(_ name: String) -> Bool {
    guard let i = args.firstIndex(of: name) else { return false }
    args.remove(at: i)
    return true
}
@MainActor func number(_ name: String) -> Int? {
    guard let v = option(name) else { return nil }
    guard let n = Int(v) else { fail("\(name) wants a number, got \(v)") }
    return n
}

guard args.count >= 2 else { fail("usage: StrataFault compact|maintain|ingest STORE ...") }
let command = args.removeFirst()
let storePath = args.removeFirst()
let fs = FaultFileSystem()

var compaction = CompactionOptions()
switch option("--dictionary") {
case nil, "auto": break
case "always": compaction.dictionary = .always
case "never": compaction.dictionary = .never
case let v?: fail("--dictionary must be always, never or auto, got \(v)")
}
if let mib = number("--segment-mib") { compaction.segmentTargetBytes = Int64(mib) << 20 }
if let kib = number("--block-kib") { compaction.blockTargetBytes = kib << 10 }
let crashAt = number("--crash-at").map { n -> CompactionStep in
    guard let s = CompactionStep(rawValue: n) else { fail("--crash-at must be 1...7") }
    return s
}
let pauseMillis = number("--pause-ms")
let compactAll = flag("--compact")
let exportSpecs = options("--export")
let failInputRead = number("--fail-input-read")
let commitEvery = number("--commit-every")
let input: String? = command == "ingest" && !args.isEmpty ? args.removeFirst() : nil
if !args.isEmpty { fail("unused arguments: \(args)") }

/// The rules for a compaction of the store as it is now on disk.
func compactionRules() -> [FaultFileSystem.Rule] {
    var rules: [FaultFileSystem.Rule] = []
    if let crashAt { rules.append(crashAt.rule(store: storePath, on: fs, action: .exit(137))) }
    if let pauseMillis {
        let manifest = storePath + "/MANIFEST.tmp"
        rules.append(.init(.rename, nth: 0, timing: .after, action: .pause(milliseconds: pauseMillis), label: "pause") { $0 == manifest })
    }
    return rules
}

func json(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

do {
    switch command {
    case "compact":
        var o = StoreOptions()
        o.createIfMissing = false
        o.fileSystem = fs
        let store = try Store.open(at: storePath, options: o)
        fs.arm(compactionRules())
        var compacted = 0
        for p in store.partitions where try !store.compact(partition: p, options: compaction).skipped { compacted += 1 }
        try store.close()
        print(json(["status": "done", "compacted": compacted]))
    case "maintain":
        let job = MaintenanceJob(storePath: storePath)
        job.compact = compactAll
        job.compaction = compaction
        job.exports = try exportSpecs.map { try MaintenanceExport.load(specFile: $0) }
        job.fileSystem = fs
        // Armed before the first partition's compaction, after the job's own
        // close and reopen (which seal segments and may replace the manifest).
        var armed = false
        job.onStep = { step in
            if !armed && step.hasPrefix("partition ") { armed = true; fs.arm(compactionRules()) }
        }
        let s = try job.run()
        print(json(["status": "done", "compacted": s.compacted, "partitions": s.partitions.count]))
    case "ingest":
        guard let input else { fail("ingest needs an input file") }
        if let n = failInputRead {
            fs.arm([.init(.readInput, nth: n, action: .fail(.io), label: "input read \(n)") { $0 == input }])
        }
        var o = StoreOptions()
        o.fileSystem = fs
        let store = try Store.open(at: storePath, options: o)
        let ingester = try Ingester(store: store, mapping: IngestMapping())
        if let n = commitEvery { ingester.commitEveryRecords = n }
        ingester.onCommit = { s in print(json(["event": "commit", "read": s.read])) }
        do { try ingester.ingest(path: input) } catch { try? store.close(); throw error }
        try store.close()
        print(json(["status": "done", "read": ingester.summary.read, "inserted": ingester.summary.inserted]))
    default:
        fail("unknown command \(command)")
    }
} catch {
    fail("\(error)", 1)
}
