import ArgumentParser
import Foundation
import Strata

/// `strata verify`: reads every byte of the store and checks every checksum and invariant.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every checksum and invariant of a store (read-only, no lock).",
        discussion: """
        Reads every segment frame (checksum, decompression, every entry and its id), \
        compares footers with the blocks, checks the MANIFEST, dictionaries and the \
        dedup index against the segments. Exit 0 when intact (warnings allowed), \
        65 when anything is damaged; each problem names the file and offset.

        Examples:
          strata verify ./store
          strata verify ./store --quick    # headers, trailers, footers, manifest
          strata verify ./store --json | jq '.problems[]'
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Flag(help: "Check headers, trailers, footers and the manifest only (fast).") var quick = false
    @Flag(help: "One JSON object on stdout instead of text.") var json = false
    @Flag(help: "No progress output.") var quiet = false

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
            let v = StoreVerifier(path: store, quick: quick)
            let progress = Progress(label: "verify", total: quick ? nil : Self.bytesUnder(store), quiet: quiet || json || quick)
            v.progress = { done, _ in progress.update(done: done) }
            let r = v.run()
            progress.finish(done: r.bytesChecked)
            let seconds = Date().timeIntervalSince(started)
            if json {
                print(jsonLine([
                    "store": store, "intact": r.intact, "quick": r.quick, "errors": r.errorCount,
                    "warnings": r.problems.count - r.errorCount, "segments": r.segments, "blocks": r.blocks,
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
                if r.intact {
                    print("ok: \(what) intact" + (r.problems.isEmpty ? "" : " (\(r.problems.count) warnings)") + String(format: " in %.2f s", seconds))
                } else {
                    print("DAMAGED: \(r.errorCount) problems in \(what)")
                    let leftovers = r.problems.allSatisfy { $0.severity == .warning || $0.repairedByOpen }
                    printError(leftovers
                        ? "strata: verify found \(r.errorCount) problems, all leftovers of an interrupted write; the next writer open (e.g. `strata maintain \(store)`) removes them."
                        : "strata: verify found \(r.errorCount) problems; see the list above. Restore damaged files from a copy; `strata index rebuild` repairs the index.")
                }
            }
            if !r.intact { throw ExitCode(ExitStatus.dataError.rawValue) }
        }
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
