import ArgumentParser
import Foundation
import Strata

/// `strata index …`: the persistent dedup index (SPEC.md §5).
struct IndexCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Maintain and query the dedup index.",
        discussion: """
        Examples:
          strata index rebuild ./store
          strata index provenance ./store 3f2a9c0d5e6b7a8190a1b2c3d4e5f601
        """,
        subcommands: [IndexRebuildCommand.self, IndexProvenanceCommand.self]
    )
}

struct IndexRebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild the dedup index from the segments and write it atomically.",
        discussion: """
        Takes the writer lock. Needed only when `strata verify` reports the index damaged \
        or out of step (opening a store also rebuilds a damaged index).

        Examples:
          strata index rebuild ./store
          strata index rebuild ./store --json
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "No progress output.") var quiet = false

    func run() throws {
        try runCommand {
            var options = StoreOptions()
            options.createIfMissing = false
            let s = try Store.open(at: store, options: options)
            let events = s.recoveryEvents
            let started = Date()
            let progress = Progress(label: "index rebuild", total: Int64(s.segmentCount), quiet: quiet || json)
            let report = try s.rebuildIndex { done, _ in progress.update(done: Int64(done), unit: "segments") }
            progress.finish(done: Int64(s.segmentCount), unit: "segments", extra: "\(report.entries) entries")
            let seconds = Date().timeIntervalSince(started)
            try s.close()
            if json {
                print(jsonLine(["store": store, "entries": report.entries, "memory_bytes": report.memoryBytes,
                                "bytes_per_entry": report.entries > 0 ? Double(report.memoryBytes) / Double(report.entries) : 0,
                                "seconds": seconds, "recovery": events.map(\.description)]))
            } else {
                for e in events { print("recovery: \(e)") }
                print(String(format: "rebuilt index of %@: %d entries, %@ RAM, %.2f s", store, report.entries,
                             formatAmount(Double(report.memoryBytes), "B"), seconds))
            }
        }
    }
}

struct IndexProvenanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provenance",
        abstract: "How often an example was offered, when, and from which domains (reads the whole store).",
        discussion: "Example: strata index provenance ./store 3f2a9c0d5e6b7a8190a1b2c3d4e5f601"
    )

    @Argument(help: "Store directory.") var store: String
    @Argument(help: "Example id: 32 hex digits.") var id: String

    func run() throws {
        try runCommand {
            guard let exampleID = ExampleID(hex: id) else {
                throw StrataError(.usage, "'\(id)' is not an example id (expected 32 hex digits)", field: "ID")
            }
            let reader = try StoreReader(path: store)
            defer { reader.close() }
            guard let p = try reader.provenance(of: exampleID) else {
                throw StrataError(.notFound, "no example with id \(exampleID) in this store", path: store)
            }
            print(jsonLine(["id": p.id.hex, "offers": p.offers, "first_seen": formatTimestampMillis(p.firstSeenMillis),
                            "last_seen": formatTimestampMillis(p.lastSeenMillis),
                            "last_offered_at": p.lastOfferedAtMillis.map(formatTimestampMillis) as Any? ?? NSNull(),
                            "duplicates_by_domain": p.duplicatesByDomain]))
        }
    }
}
