import ArgumentParser
import Foundation
import Strata

struct CompactCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.blockBuffers
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Merge a partition's sealed segments into zstd segments with annotations folded in.",
        discussion: """
        Takes the writer lock for the whole run (exit 75 if another writer has it). Without --partition every \
        partition is compacted, one after the other; run one process per partition to fan out. A crash at any \
        point leaves the store as before or as after. Example: strata compact ./store --partition domain=roofing/month=2025-01 --json
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Option(help: "Only this partition: domain=D/month=YYYY-MM.") var partition: String?
    @Option(help: "zstd level (1-22).") var level: Int32 = CompactionOptions().level
    @Flag(help: "Drop examples whose folded state is excluded (default: keep them, the store stays an audit trail).")
    var purgeExcluded = false
    @Flag(help: "Never train a dictionary.") var noDictionary = false
    @Flag(help: "Never train a word model for free text (by default one is kept with a new dictionary when it codes held-out text ≥ 3% smaller than zstd).")
    var noWordModel = false
    @Option(help: "Target size of new segments in MiB (default: the store's segment size).") var segmentMib: Int?
    @Option(help: "Raw KiB of records per columnar block (get-by-id rebuilds one block).") var blockKib: Int = CompactionOptions().blockTargetBytes >> 10
    @Flag(help: "One JSON object per partition, then a totals object as the last line.") var json = false

    func run() throws {
        try runCommand {
            var options = CompactionOptions()
            guard (1...22).contains(level) else { throw StrataError(.usage, "--level must be in 1...22, got \(level)", field: "--level") }
            options.level = level
            options.purgeExcluded = purgeExcluded
            if noDictionary { options.dictionary = .never }
            if noWordModel { options.wordModels = false }
            if let segmentMib {
                guard (1...65536).contains(segmentMib) else { throw StrataError(.usage, "--segment-mib must be in 1...65536", field: "--segment-mib") }
                options.segmentTargetBytes = Int64(segmentMib) << 20
            }
            guard (4...16384).contains(blockKib) else { throw StrataError(.usage, "--block-kib must be in 4...16384", field: "--block-kib") }
            options.blockTargetBytes = blockKib << 10
            var storeOptions = StoreOptions()
            storeOptions.createIfMissing = false
            let s = try Store.open(at: store, options: storeOptions)
            defer { try? s.close() }
            let partitions: [PartitionKey]
            if let partition {
                guard let key = PartitionKey(path: partition) else {
                    throw StrataError(.usage, "'\(partition)' is not a partition (expected domain=D/month=YYYY-MM)", field: "--partition")
                }
                guard s.partitions.contains(key) else { throw StrataError(.notFound, "no partition \(key) in this store", path: store) }
                partitions = [key]
            } else {
                partitions = s.compactionOrder(s.partitions)
            }
            let started = Date()
            var before: Int64 = 0, after: Int64 = 0, examples = 0, purged = 0, compacted = 0
            for p in partitions {
                let r = try s.compact(partition: p, options: options)
                before += r.bytesBefore
                after += r.bytesAfter
                examples += r.examples
                purged += r.purged
                if !r.skipped { compacted += 1 }
                if json {
                    print(jsonLine([
                        "partition": p.path, "skipped": r.skipped, "bytes_before": r.bytesBefore, "bytes_after": r.bytesAfter,
                        "examples": r.examples, "annotations_folded": r.annotationsFolded, "purged": r.purged,
                        "segments_before": r.inputSegments.count, "segments_after": r.outputSegments.count,
                        "dictionary": r.dictionaryID.map { ["id": $0, "bytes": r.dictionaryBytes] as [String: Any] } as Any? ?? NSNull(),
                        "level": Int(r.level), "seconds": r.seconds,
                    ]))
                } else if r.skipped {
                    print("\(p.path): nothing to compact (\(formatAmount(Double(r.bytesBefore), "B")))")
                } else {
                    let ratio = r.bytesAfter > 0 ? Double(r.bytesBefore) / Double(r.bytesAfter) : 0
                    var line = "\(p.path): \(formatAmount(Double(r.bytesBefore), "B")) → \(formatAmount(Double(r.bytesAfter), "B"))"
                    line += String(format: " (%.2f×), %d examples, %d → %d segments", ratio, r.examples, r.inputSegments.count, r.outputSegments.count)
                    if let d = r.dictionaryID { line += ", dictionary \(d) (\(formatAmount(Double(r.dictionaryBytes), "B")))" }
                    if r.purged > 0 { line += ", \(r.purged) excluded purged" }
                    line += String(format: ", %.2fs", r.seconds)
                    print(line)
                }
            }
            // Compaction wrote new segments: external-id indexes take them in (SPEC.md §5.5).
            try ExternalIdIndex.refreshAll(store: store)
            let seconds = Date().timeIntervalSince(started)
            if json {
                print(jsonLine(["partitions": partitions.count, "compacted": compacted, "bytes_before": before, "bytes_after": after,
                                "examples": examples, "purged": purged, "seconds": seconds]))
            } else {
                print(String(format: "total: %@ → %@ in %.2fs", formatAmount(Double(before), "B"), formatAmount(Double(after), "B"), seconds))
            }
        }
    }
}
