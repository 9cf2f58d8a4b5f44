/// How a store is opened and written.
public struct StoreOptions: @unchecked Sendable {
    public enum CommitPolicy: Sendable, Equatable {
        /// `append` and `append(contentsOf:)` commit before returning.
        case everyBatch
        /// Commit when at least this many seconds passed since the last commit (checked on append), and on close.
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
    public enum Kind: String, Sendable { case truncatedTornTail, removedOrphan, removedTemporary, sealedAfterCrash, removedEmptySegment }
    public var kind: Kind
    public var path: String
    public var offset: Int64?
    public var bytes: Int64?

    public var description: String {
        switch kind {
        case .truncatedTornTail: "truncated torn tail of \(path) at offset \(offset ?? 0) (\(bytes ?? 0) bytes of uncommitted data dropped)"
        case .removedOrphan: "removed orphan segment \(path) (not in the manifest: uncommitted)"
        case .removedTemporary: "removed temporary file \(path)"
        case .sealedAfterCrash: "sealed segment \(path) left active by an unclean shutdown"
        case .removedEmptySegment: "removed empty segment \(path)"
        }
    }
}

/// Which examples a scan visits.
public struct ScanFilter: @unchecked Sendable {
    /// nil = all domains.
    public var domains: Set<String>?
    public var fromMonth: Month?
    public var toMonth: Month?
    /// Extra predicate on decoded examples.
    public var predicate: ((Example) -> Bool)?
    /// Also visit examples whose folded state is excluded (SPEC.md §4.6).
    public var includeExcluded = false

    public init(domains: Set<String>? = nil, fromMonth: Month? = nil, toMonth: Month? = nil, predicate: ((Example) -> Bool)? = nil,
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
