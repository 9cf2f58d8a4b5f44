import ArgumentParser
import Foundation
import Strata

/// `strata inspect`: partitions and segments from the manifest, headers and footers.
struct InspectCommand: StrataSubcommand {
    static let allocationProfile = AllocationProfile.standard
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Partitions and segments: state, codec, dictionary, examples, raw vs stored bytes, blocks, time range.",
        discussion: """
        Reads the MANIFEST, segment headers and footers only (fast); active segments, \
        which have no footer yet, are walked. TARGET narrows the view to one partition \
        (domain=D/month=YYYY-MM or D/YYYY-MM) or one segment file.

        Examples:
          strata inspect ./store
          strata inspect ./store domain=alpha/month=2025-03
          strata inspect ./store domain=alpha/month=2025-03/seg-0000000004.strata --json
        """
    )

    @Argument(help: "Store directory.") var store: String
    @Argument(help: "A partition (domain=D/month=YYYY-MM) or a segment file.") var target: String?
    @Flag(help: "One JSON object instead of a table.") var json = false

    /// Resolves TARGET to a partition filter and/or a segment sequence.
    func resolve() throws -> (PartitionKey?, UInt64?) {
        guard var t = target else { return (nil, nil) }
        let root = store.hasSuffix("/") ? String(store.dropLast()) : store
        if t.hasPrefix(root + "/") { t = String(t.dropFirst(root.count + 1)) }
        if t.hasSuffix("/") { t = String(t.dropLast()) }
        let parts = t.split(separator: "/").map(String.init)
        if let last = parts.last, last.hasSuffix(".strata") {
            guard last.hasPrefix("seg-"), let seq = UInt64(last.dropFirst(4).dropLast(7)) else {
                throw StrataError(.usage, "'\(last)' is not a segment file name (seg-<10 digits>.strata)", field: "TARGET")
            }
            return (parts.count >= 3 ? PartitionKey(path: parts.suffix(3).prefix(2).joined(separator: "/")) : nil, seq)
        }
        if let key = PartitionKey(path: t) { return (key, nil) }
        if parts.count == 2, let m = Month(parts[1]), PartitionKey.isValidDomain(parts[0]) {
            return (PartitionKey(domain: parts[0], month: m), nil)
        }
        throw StrataError(.usage, "'\(t)' is neither a partition (domain=D/month=YYYY-MM) nor a segment file", field: "TARGET")
    }

    func run() throws {
        try runCommand {
            let (partition, seq) = try resolve()
            let info = try StoreInspector.inspect(path: store, include: { partition == nil || $0 == partition }, segment: seq)
            if target != nil, info.segments.isEmpty {
                throw StrataError(.notFound, "no segment of this store matches '\(target!)'; run `strata inspect \(store)` to list them", path: store)
            }
            if json {
                print(jsonLine(Self.json(info, store: store)))
                return
            }
            Self.printTable(info, store: store, segmentsOnly: target != nil)
        }
    }

    static func ts(_ v: Int64?) -> Any { v.map(formatTimestampMillis) as Any? ?? NSNull() }

    static func json(_ s: SegmentSummary) -> [String: Any] {
        ["sequence": s.sequence, "partition": s.partition.path, "path": s.path, "state": s.state, "codec": s.codec,
         "level": s.level as Any? ?? NSNull(), "dictionary": s.dictionaryID == 0 ? NSNull() : s.dictionaryID as Any,
         "stored_bytes": s.storedBytes, "raw_bytes": s.rawBytes, "ratio": s.ratio as Any? ?? NSNull(), "blocks": s.blocks,
         "entries": s.entries, "examples": s.examples, "annotations": s.annotations, "duplicates_seen": s.duplicatesSeen as Any? ?? NSNull(),
         "other_entries": s.otherEntries, "earliest": ts(s.minTimestamp), "latest": ts(s.maxTimestamp), "torn_bytes": s.tornBytes]
    }

    static func json(_ info: StoreInspection, store: String) -> [String: Any] {
        let segs = info.segments
        let stored = segs.reduce(Int64(0)) { $0 + $1.storedBytes }, raw = segs.reduce(Int64(0)) { $0 + $1.rawBytes }
        return [
            "store": store, "store_id": info.storeID, "created": info.created, "generation": info.generation, "dedup_key": info.dedupKey,
            "examples": segs.reduce(0) { $0 + $1.examples }, "annotations": segs.reduce(0) { $0 + $1.annotations },
            "duplicates_seen": segs.reduce(0) { $0 + ($1.duplicatesSeen ?? 0) }, "blocks": segs.reduce(0) { $0 + $1.blocks },
            "stored_bytes": stored, "raw_bytes": raw, "ratio": stored > 0 && raw > 0 ? Double(raw) / Double(stored) : NSNull(),
            "earliest": ts(segs.compactMap(\.minTimestamp).min()), "latest": ts(segs.compactMap(\.maxTimestamp).max()),
            "segments_by_state": Dictionary(grouping: segs, by: \.state).mapValues(\.count),
            "dictionaries": info.dictionaryFiles,
            "partitions": info.partitions.map { p -> [String: Any] in
                ["partition": p.key.path, "domain": p.key.domain, "month": p.key.month.description, "segments": p.segments.count,
                 "active": p.count(state: "active"), "sealed": p.count(state: "sealed"), "compacted": p.count(state: "compacted"),
                 "examples": p.examples, "annotations": p.annotations, "duplicates_seen": p.duplicatesSeen, "blocks": p.blocks,
                 "stored_bytes": p.storedBytes, "raw_bytes": p.rawBytes, "ratio": p.ratio as Any? ?? NSNull(),
                 "earliest": ts(p.minTimestamp), "latest": ts(p.maxTimestamp)]
            },
            "segments": segs.map(json),
        ]
    }

    static func ratio(_ r: Double?) -> String { r.map { String(format: "%.2fx", $0) } ?? "-" }
    static func day(_ v: Int64?) -> String { v.map { String(formatTimestampMillis($0).prefix(10)) } ?? "-" }

    static func printTable(_ info: StoreInspection, store: String, segmentsOnly: Bool) {
        let segs = info.segments
        if !segmentsOnly {
            let stored = segs.reduce(Int64(0)) { $0 + $1.storedBytes }, raw = segs.reduce(Int64(0)) { $0 + $1.rawBytes }
            print("store       \(store) (id \(info.storeID), generation \(info.generation), dedup key \(info.dedupKey))")
            print("examples    \(segs.reduce(0) { $0 + $1.examples })   annotations \(segs.reduce(0) { $0 + $1.annotations })   duplicates seen \(segs.reduce(0) { $0 + ($1.duplicatesSeen ?? 0) })")
            print("segments    " + Dictionary(grouping: segs, by: \.state).map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
                  + "   blocks \(segs.reduce(0) { $0 + $1.blocks })")
            print("bytes       \(formatAmount(Double(raw), "B")) raw, \(formatAmount(Double(stored), "B")) stored, ratio \(ratio(stored > 0 && raw > 0 ? Double(raw) / Double(stored) : nil))")
            if !info.dictionaryFiles.isEmpty { print("dicts       " + info.dictionaryFiles.joined(separator: ", ")) }
            print("")
            print("PARTITION".padding(toLength: 40, withPad: " ", startingAt: 0) + "SEGS".leftPad(5) + "A/S/C".leftPad(8) + "EXAMPLES".leftPad(10)
                  + "DUPS".leftPad(7) + "ANNOT".leftPad(7) + "RAW".leftPad(10) + "STORED".leftPad(10) + "RATIO".leftPad(7) + "  FROM        TO")
            for p in info.partitions {
                print(p.key.path.padding(toLength: 40, withPad: " ", startingAt: 0) + String(p.segments.count).leftPad(5)
                      + "\(p.count(state: "active"))/\(p.count(state: "sealed"))/\(p.count(state: "compacted"))".leftPad(8)
                      + String(p.examples).leftPad(10) + String(p.duplicatesSeen).leftPad(7) + String(p.annotations).leftPad(7)
                      + formatAmount(Double(p.rawBytes), "B").leftPad(10) + formatAmount(Double(p.storedBytes), "B").leftPad(10)
                      + ratio(p.ratio).leftPad(7) + "  " + day(p.minTimestamp) + "  " + day(p.maxTimestamp))
            }
            return
        }
        print("SEGMENT".padding(toLength: 60, withPad: " ", startingAt: 0) + "STATE".padding(toLength: 10, withPad: " ", startingAt: 0)
              + "CODEC".padding(toLength: 10, withPad: " ", startingAt: 0) + "DICT".leftPad(5) + "BLOCKS".leftPad(7) + "EXAMPLES".leftPad(9)
              + "DUPS".leftPad(6) + "ANNOT".leftPad(6) + "RAW".leftPad(10) + "STORED".leftPad(10) + "RATIO".leftPad(7) + "  FROM        TO")
        for s in segs {
            print(s.path.padding(toLength: 60, withPad: " ", startingAt: 0) + s.state.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + (s.codec + (s.level.map { "-\($0)" } ?? "")).padding(toLength: 10, withPad: " ", startingAt: 0)
                  + (s.dictionaryID == 0 ? "-" : String(s.dictionaryID)).leftPad(5) + String(s.blocks).leftPad(7) + String(s.examples).leftPad(9)
                  + (s.duplicatesSeen.map(String.init) ?? "-").leftPad(6) + String(s.annotations).leftPad(6) + formatAmount(Double(s.rawBytes), "B").leftPad(10)
                  + formatAmount(Double(s.storedBytes), "B").leftPad(10) + ratio(s.ratio).leftPad(7) + "  " + day(s.minTimestamp) + "  " + day(s.maxTimestamp)
                  + (s.tornBytes > 0 ? "  (torn tail \(s.tornBytes) B)" : ""))
        }
    }
}
