/// Every on-disk constant of format v1, in one place. SPEC.md is the truth;
/// each constant names the SPEC.md section that defines it.
public enum Format {
    /// SPEC.md §1 "Versioning": the format version written by this build.
    public static let version: UInt16 = 1
    /// The oldest format version this build can read.
    public static let oldestReadableVersion: UInt16 = 1
    /// SPEC.md §2.1: the MANIFEST's version. 2 adds the committed length of
    /// active segments (readers accept 1 and 2; writers write 2, so a build that
    /// knows only 1, and would keep stale committed lengths, refuses the store).
    public static let manifestVersion: UInt16 = 2
    /// SPEC.md §3.0: segments are written in version 2 (footers carry `counts`,
    /// SPEC.md §3.3); version 1 segments are still read.
    public static let segmentVersion: UInt16 = 2
    /// SPEC.md §3.0, §3.6: segments holding columnar blocks (frame type 5,
    /// written by compaction) are version 3, so a build that does not know
    /// the codec refuses them by their header instead of meeting type 5 frames.
    public static let columnarSegmentVersion: UInt16 = 3
    /// The newest segment version this build reads.
    public static let newestReadableSegmentVersion: UInt16 = 3

    // SPEC.md §3 "Segment files": 8-byte magic at offset 0 of every segment.
    public static let segmentMagic: [UInt8] = Array("STRSEG01".utf8)
    /// SPEC.md §3: fixed segment header size.
    public static let segmentHeaderSize = 32
    /// SPEC.md §3.3: sealed-segment trailer magic (last 8 bytes of a sealed segment).
    public static let segmentTrailerMagic: [UInt8] = Array("STRSEAL1".utf8)
    /// SPEC.md §3.3: trailer size.
    public static let segmentTrailerSize = 40

    // SPEC.md §3.1 "Frames".
    public static let frameHeaderSize = 24
    /// Largest payload a frame may declare (64 MiB); anything larger is corruption.
    public static let maxFramePayload = 64 << 20

    // SPEC.md §2 "Manifest".
    public static let manifestMagic: [UInt8] = Array("STRMANI1".utf8)
    public static let manifestFileName = "MANIFEST"
    public static let lockFileName = "LOCK"
    /// SPEC.md §2.3 and §7.2: the snapshot lock (shared while a reader pins a
    /// snapshot, exclusive while a writer deletes files a snapshot may name).
    public static let snapshotLockFileName = "SNAPSHOT.lock"

    // SPEC.md §5 "Dedup index".
    public static let indexMagic: [UInt8] = Array("STRIDX01".utf8)
    /// SPEC.md §5.2: the index snapshot lives at `index/ids.idx` under the store.
    public static let indexDirectoryName = "index"
    public static let indexFileName = "ids.idx"
    /// SPEC.md §5.2: fixed header size of the index file.
    public static let indexHeaderSize = 64
    /// SPEC.md §5.2: bytes per table slot (fingerprint u64 + packed location u64).
    public static let indexSlotSize = 16
    /// SPEC.md §5.2: the index file's version. 2 adds a checksum per page of
    /// slots, so a reader can check just the pages a lookup touches; version 1
    /// files (one checksum over the whole body) are still read.
    public static let indexVersion: UInt16 = 2
    /// SPEC.md §5.2: slots per checksummed page of a version 2 index file (4 KiB).
    public static let indexPageSlots = 256
    /// SPEC.md §5.6: the derived segment summaries (`index/stats.sum`).
    public static let summaryMagic: [UInt8] = Array("STRSUMS1".utf8)
    public static let summaryFileName = "stats.sum"
    public static let summaryVersion: UInt16 = 1

    // SPEC.md §5.5 "External-id index": `index/extid-<PATH>.idx`.
    public static let externalIdMagic: [UInt8] = Array("STREXT01".utf8)
    public static let externalIdVersion: UInt16 = 1
    public static let externalIdFilePrefix = "extid-"
    public static let externalIdFileSuffix = ".idx"

    // SPEC.md §6 "Dictionaries".
    public static let dictionaryMagic: [UInt8] = Array("STRDICT1".utf8)
    /// SPEC.md §6: dictionary file header size.
    public static let dictionaryHeaderSize = 32
    /// SPEC.md §6: dictionary files are written in version 2 (the dictionary
    /// stored as one zstd frame, ~2.6× smaller on the benchmark corpus); version 1 files (the
    /// dictionary as is) are still read. A build that reads only version 1
    /// refuses version 2 files (`unsupported-version`).
    public static let dictionaryVersion: UInt16 = 2
    /// SPEC.md §6: a dictionary that carries a word model (§6.1) is written
    /// in version 3; a build that reads only versions 1–2 refuses it.
    public static let dictionaryWordModelVersion: UInt16 = 3
    /// SPEC.md §6: the largest dictionary a version 2 file may declare (bounds what a reader allocates).
    public static let maxDictionaryBytes = 16 << 20
    /// SPEC.md §6: the directory holding dictionaries, and a dictionary's file name.
    public static let dictionaryDirectory = "dicts"
    public static func dictionaryFileName(_ id: UInt32) -> String { "dict-\(id).zdict" }

    /// SPEC.md §2 "Directory layout": segment file name pattern.
    public static func segmentFileName(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return "seg-" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits + ".strata"
    }
}

/// SPEC.md §3.1: frame types.
public enum FrameType: UInt8, Sendable {
    /// A block of entries compressed with LZ4 (block format, no frame).
    case lz4Block = 1
    /// A block of entries compressed with zstd (one zstd frame).
    case zstdBlock = 2
    /// A block compressed with zstd using the dictionary named in the frame header.
    case zstdDictBlock = 3
    /// A block of entries stored uncompressed.
    case rawBlock = 4
    /// A record-aware columnar block (SPEC.md §3.6): per-field streams, each
    /// zstd-compressed (optionally with the segment's dictionary). Only in
    /// segments of version 3 and later.
    case columnarBlock = 5
    /// The sealed-segment footer (index of blocks and ids).
    case footer = 16
}

/// SPEC.md §4: entry kinds inside a block.
public enum EntryKind: UInt8, Sendable {
    case example = 1
    case annotation = 2
    /// A duplicate offer of an existing example (provenance only, SPEC.md §4.3).
    case duplicateSeen = 3
    /// The annotations compaction folded into the example entry just before it (SPEC.md §4.5).
    case foldedAnnotations = 4
}
