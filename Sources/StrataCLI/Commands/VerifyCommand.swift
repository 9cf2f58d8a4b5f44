import ArgumentParser
import Foundation
import Strata

/// `strata verify`: reads every byte of the store and checks every checksum and invariant.
struct VerifyCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every checksum and invariant of a store (read-only, no lock).",
        discussion: """
        Reads every segment frame (checksum, decompression, every entry and its id), \
        compares footers with the blocks, checks the MANIFEST, dictionaries and the \
        dedup index against the segments. It reads a consistent snapshot, so it can \
        run while a writer ingests or compacts (files that writer is creating are \
        noted, not checked).

        Exit codes: 0 intact (warnings allowed); 3 recoverable: no damage, but \
        leftovers of a killed ingest or compaction (unlisted segments, temporary \
        files, a torn uncommitted tail, a stale index) that the next writer open \
        repairs by itself — `--repair` does it now; 65 damaged: committed data or a \
        checksum is bad (each problem names the file and offset); 64 not a store.

        Examples:
          strata verify ./store
          strata verify ./store --quick    # headers, trailers, footers, manifest
          strata verify ./store --repair   # open as writer (recover), then verify again
          strata verify ./store --json | jq '.problems[]'
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Flag(help: "Check headers, trailers, footers and the manifest only (fast).") var quick = false
    @Flag(help: "One JSON object on stdout instead of text.") var json = false
    @Flag(help: "No progress output.") var quiet = false
    @Flag(help: "If the store needs repair, open it as the writer (recovery removes leftovers, truncates torn tails, rebuilds a stale index), then verify again.") var repair = false

    /// Bytes of every file in the store, for the progress bar's ETA.
    static func bytesUnder(_ root: String) -> Int64 {
        guard let e = FileManager.default.enumerator(atPath: root) else { return 0 }
        var total: Int64 = 0
        while let p = e.nextObject() as? String {
            if let size = e.fileAttributes?[.size] as? NSNumber, e.fileAttributes?[.type] as? FileAttributeType == .typeRegular { total += size.int64Value }
            _ = p
        }
        return total
    }

    func run() throws {
        try runCommand {
            let started = Date()
            try requireStoreDirectory(store)
            var r = verifyOnce()
            var repaired: [String] = []
            if repair && (r.needsRepair || !r.intact) {
                // Recovery is the repair (SPEC.md §7): the writer's open and close.
                var o = StoreOptions()
                o.createIfMissing = false
                let s = try Store.open(at: store, options: o)
                repaired = s.recoveryEvents.map(\.description)
                try s.close()
                if !json { for e in repaired { print("repaired: \(e)") } }
                r = verifyOnce()
            }
            let seconds = Date().timeIntervalSince(started)
            if json {
                print(jsonLine([
                    "store": store, "status": r.intact ? (r.needsRepair ? "recoverable" : "intact") : "damaged",
                    "intact": r.intact, "quick": r.quick, "errors": r.errorCount, "recoverable": r.recoverableCount,
                    "warnings": r.problems.count - r.errorCount - r.recoverableCount, "writer_running": r.writerRunning,
                    "checked": r.checked, "not_checked": r.notChecked, "repaired": repaired, "segments": r.segments, "blocks": r.blocks,
                    "examples": r.examples, "annotations": r.annotations, "duplicates_seen": r.duplicateSeen, "folded_entries": r.otherEntries,
                    "index_entries": r.indexEntries, "dictionaries": r.dictionaries, "bytes_checked": r.bytesChecked,
                    "seconds": seconds,
                    "problems": r.problems.map { p -> [String: Any] in
                        ["severity": p.severity.rawValue, "file": p.path, "offset": p.offset.map { $0 as Any } ?? NSNull(), "message": p.message,
                         "repaired_by_open": p.repairedByOpen]
                    },
                ]))
            } else {
                for p in r.problems { print(p.description) }
                let what = quick ? "headers, footers and manifest of \(r.segments) segments"
                    : "\(r.segments) segments, \(r.blocks) blocks, \(r.examples) examples, \(formatAmount(Double(r.bytesChecked), "B"))"
                if r.needsRepair {
                    print("RECOVERABLE: \(what) intact; \(r.recoverableCount) leftovers of an interrupted ingest or compaction that the next writer open repairs")
                    printError("strata: no committed data is damaged. Run `strata verify \(store) --repair` (or any writer, e.g. `strata maintain \(store)`) to clean up now.")
                } else if r.intact {
                    print("ok: \(what) intact" + (r.problems.isEmpty ? "" : " (\(r.problems.count) warnings)") + String(format: " in %.2f s", seconds))
                    if r.quick { print("not checked: \(r.notChecked)") }
                } else {
                    print("DAMAGED: \(r.errorCount) problems in \(what)")
                    printError("strata: verify found \(r.errorCount) problems; see the list above. Restore damaged files from a copy; `strata index rebuild` repairs the index."
                               + (r.recoverableCount > 0 ? " \(r.recoverableCount) further items are leftovers the next writer open repairs." : ""))
                }
            }
            if !r.intact { throw ExitCode(ExitStatus.dataError.rawValue) }
            if r.needsRepair { throw ExitCode(ExitStatus.recoverable.rawValue) }
        }
    }

    private func verifyOnce() -> VerifyReport {
        let v = StoreVerifier(path: store, quick: quick)
        let progress = Progress(label: "verify", total: quick ? nil : Self.bytesUnder(store), quiet: quiet || json || quick)
        v.progress = { done, _ in progress.update(done: done) }
        let r = v.run()
        progress.finish(done: r.bytesChecked)
        return r
    }
}

/// A path that is no store at all is a usage error (64), not damage (65): a
/// directory with segments but no MANIFEST is still verified (and reported damaged).
func requireStoreDirectory(_ store: String) throws {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: store, isDirectory: &isDir), isDir.boolValue else {
        throw StrataError(.notFound, "no such directory; give the path of a Strata store", path: store)
    }
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: store)) ?? []
    if !entries.contains("MANIFEST") && !entries.contains(where: { $0.hasPrefix("domain=") }) {
        throw StrataError(.notFound, "no Strata store here (no MANIFEST, no partition directories)", path: store)
    }
}
