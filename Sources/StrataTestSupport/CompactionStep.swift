import Foundation
import Strata

/// The numbered points of a compaction (SPEC.md §7.1), each named by the
/// file-system operation that marks it, so a `FaultFileSystem` can crash or
/// fail a compaction there without any hook in the compactor. Counting starts
/// when the rule is armed (after the store is open), and the first partition
/// compacted reaches each point first.
public enum CompactionStep: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// The dictionary (if any) is written and durable; no segment written yet:
    /// before the first new segment file is created.
    case dictionaryWritten = 1
    /// The first block of the first new segment is written (new segment
    /// incomplete): after its second write (the header, then the block).
    case firstBlockWritten = 2
    /// Every new segment is sealed and fsynced and its directory fsynced:
    /// before MANIFEST.tmp is created.
    case segmentsDurable = 3
    /// MANIFEST.tmp (the swap) is durable but not yet renamed: before the rename.
    case manifestTemporaryWritten = 4
    /// The new manifest is in place and the in-memory state swapped: before
    /// the first old segment file is removed.
    case manifestSwapped = 5
    /// The first old segment file has been deleted: after its removal.
    case firstOldSegmentDeleted = 6
    /// Every old segment file of the partition is deleted: after the last removal.
    case oldFilesDeleted = 7

    public var description: String {
        ["", "dictionaryWritten", "firstBlockWritten", "segmentsDurable", "manifestTemporaryWritten",
         "manifestSwapped", "firstOldSegmentDeleted", "oldFilesDeleted"][rawValue]
    }

    /// The fault that does `action` at this step of the next compaction of the
    /// store at `store`. Segment files existing now are the "old" ones; call it
    /// after the store is open (and after any close that seals segments), right
    /// before compacting. With `.fail`, steps 6 and 7 report the error after the
    /// removal was done (compaction throws with the store already as after).
    public func rule(store: String, on fs: FileSystem, action: FaultFileSystem.Action) -> FaultFileSystem.Rule {
        let old = Set(Self.segmentFiles(store: store, on: fs))
        let label = "compaction step \(rawValue) (\(self))"
        let isNewSegment: @Sendable (String) -> Bool = { $0.hasSuffix(".strata") && !old.contains($0) }
        let isOldSegment: @Sendable (String) -> Bool = { old.contains($0) }
        let manifestTemporary = store + "/MANIFEST.tmp"
        switch self {
        case .dictionaryWritten:
            return .init(.create, timing: .before, action: action, label: label, matches: isNewSegment)
        case .firstBlockWritten:
            return .init(.write, nth: 2, timing: .after, action: action, label: label, matches: isNewSegment)
        case .segmentsDurable:
            return .init(.create, timing: .before, action: action, label: label) { $0 == manifestTemporary }
        case .manifestTemporaryWritten:
            return .init(.rename, timing: .before, action: action, label: label) { $0 == manifestTemporary }
        case .manifestSwapped:
            return .init(.remove, timing: .before, action: action, label: label, matches: isOldSegment)
        case .firstOldSegmentDeleted:
            return .init(.remove, timing: .after, action: action, label: label, matches: isOldSegment)
        case .oldFilesDeleted:
            // Matched after the removal: the last old segment of its directory is gone.
            return .init(.remove, timing: .after, action: action, label: label) { path in
                guard old.contains(path) else { return false }
                let dir = String(path[..<path.lastIndex(of: "/")!])
                return !old.contains { $0.hasPrefix(dir + "/") && fs.fileExists($0) }
            }
        }
    }

    /// Every segment file of the store (`domain=*/month=*/*.strata`).
    public static func segmentFiles(store: String, on fs: FileSystem) -> [String] {
        var out: [String] = []
        for d in (try? fs.listDirectory(store)) ?? [] where d.hasPrefix("domain=") {
            for m in (try? fs.listDirectory(store + "/" + d)) ?? [] where m.hasPrefix("month=") {
                let dir = store + "/" + d + "/" + m
                for f in (try? fs.listDirectory(dir)) ?? [] where f.hasSuffix(".strata") { out.append(dir + "/" + f) }
            }
        }
        return out.sorted()
    }
}
