/// How a store is opened and written.
public struct StoreOptions: Sendable {
    public enum CommitPolicy: Sendable, Equatable {
        /// `append` and `append(contentsOf:)` commit before returning.
        case everyBatch
        /// Commit when at least this many seconds passed since the last commit: on
        /// append, by a background timer while idle, on close, and at normal
        /// process exit (Store+CommitTimer.swift).
        case interval(seconds: Double)
        /// Only explicit `commit()` (and `close()`) make data durable.
        case manual
    }

    public var fileSystem: FileSystem = PosixFileSystem.shared
    public var createIfMissing = true
    public var commitPolicy: CommitPolicy = .everyBatch
    /// Segments are sealed and a new one started when they reach this size.
    public var segmentTargetBytes: Int64 = 64 << 20
    /// Raw bytes of entries per compressed block.
    public var blockTargetBytes = 64 << 10
    /// Permission bits for new files and directories.
    public var fileMode: UInt32 = 0o600
    public var directoryMode: UInt32 = 0o700
    /// Refuse stores whose directory is world-writable or owned by another user.
    public var checkPermissions = true
    /// Dedup key for a new store (SPEC.md §5.3); nil = `.content`, or for an
    /// existing store whatever it was created with. A different key is a `.usage` error.
    public var dedupKey: DedupKey?
    /// Append a duplicate-seen entry (SPEC.md §4.4) for every duplicate offer.
    public var recordDuplicates = true
    /// Write the dedup index snapshot after a commit once this many new keys (and a quarter of the index) accumulated.
    public var indexSnapshotInterval = 65_536

    public init() {}
}

/// What happened to one appended example.
public enum AppendOutcome: Equatable, Sendable {
    case inserted(ExampleID)
    case duplicate(ExampleID)

    public var id: ExampleID {
        switch self {
        case let .inserted(id), let .duplicate(id): id
        }
    }

    public var isDuplicate: Bool {
        if case .duplicate = self { return true }
        return false
    }
}

/// Something recovery did when opening the store, for the operator to see.
public struct RecoveryEvent: Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case truncatedTornTail, removedOrphan, removedTemporary, sealedAfterCrash, removedEmptySegment, indexRebuilt, indexCaughtUp }
    public var kind: Kind
    public var path: String
    public var offset: Int64?
    public var bytes: Int64?
    public var detail: String? = nil

    public var description: String {
        switch kind {
        case .truncatedTornTail: "truncated torn tail of \(path) at offset \(offset ?? 0) (\(bytes ?? 0) bytes of uncommitted data dropped)"
        case .removedOrphan: "removed orphan segment \(path) (not in the manifest: uncommitted)"
        case .removedTemporary: "removed temporary file \(path)"
        case .sealedAfterCrash: "sealed segment \(path) left active by an unclean shutdown"
        case .removedEmptySegment: "removed empty segment \(path)"
        case .indexRebuilt: "rebuilt dedup index \(path) from the segments (\(detail ?? "")): \(bytes ?? 0) entries"
        case .indexCaughtUp: "dedup index \(path) caught up with \(bytes ?? 0) entries from segments newer than its snapshot"
        }
    }
}

/// Which examples a scan visits.
public struct ScanFilter: Sendable {
    /// nil = all domains.
    public var domains: Set<String>?
    public var fromMonth: Month?
    public var toMonth: Month?
    /// Extra predicate on decoded examples.
    public var predicate: (@Sendable (Example) -> Bool)?
    /// Also visit examples whose folded state is excluded (SPEC.md §4.6).
    public var includeExcluded = false

    public init(domains: Set<String>? = nil, fromMonth: Month? = nil, toMonth: Month? = nil, predicate: (@Sendable (Example) -> Bool)? = nil,
                includeExcluded: Bool = false) {
        self.domains = domains
        self.fromMonth = fromMonth
        self.toMonth = toMonth
        self.predicate = predicate
        self.includeExcluded = includeExcluded
    }

    public static let all = ScanFilter()

    public func includes(_ p: PartitionKey) -> Bool {
        if let domains, !domains.contains(p.domain) { return false }
        if let fromMonth, p.month < fromMonth { return false }
        if let toMonth, toMonth < p.month { return false }
        return true
    }
}
