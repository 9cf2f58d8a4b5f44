/// Examples already parsed, validated, hashed and encoded (by the ingest
/// pipeline's first stage), appended by the store in one locked pass.
public final class EncodedBatch {
    public struct Item {
        public var id: ExampleID
        public var partition: PartitionKey
        public var timestamp: Int64
        /// Range of the complete entry (SPEC.md §4) in `bytes`.
        public var start: Int
        public var count: Int
        /// Input line, for duplicate reports.
        public var line: Int
        /// The keyed id's key (SPEC.md §4.1) the entry carries, which is the
        /// example's dedup key in a `content+fields` store; nil otherwise.
        var idKey: ExampleID?
    }

    public var bytes: [UInt8] = []
    public var items: [Item] = []
    /// Input bytes this batch covers (for commit cadence and progress).
    public var inputBytes: Int64 = 0

    public init() {
        bytes.reserveCapacity(8 << 20)
    }

    public func reset() {
        bytes.removeAll(keepingCapacity: true)
        items.removeAll(keepingCapacity: true)
        inputBytes = 0
    }

    /// Encodes a validated draft into the batch. `id` (and `idKey`, for keyed
    /// ids, SPEC.md §4.1) must be what the store assigns the draft.
    public func add(_ d: ExampleDraft, id: ExampleID, idKey: ExampleID? = nil, partition: PartitionKey, line: Int) {
        let start = bytes.count
        var w = ByteWriter()
        swap(&w.bytes, &bytes)
        RecordCodec.appendExampleEntry(d, id: id, idKey: idKey, to: &w)
        swap(&w.bytes, &bytes)
        items.append(Item(id: id, partition: partition, timestamp: d.timestampMillis, start: start, count: bytes.count - start, line: line,
                          idKey: idKey))
    }
}

extension Store {
    /// Appends a batch of encoded examples; `outcome` is called per item in order.
    /// Does not apply the commit policy (the caller commits).
    public func append(batch: EncodedBatch, outcome: (EncodedBatch.Item, AppendOutcome) -> Void) throws {
        try lock.withLock {
            guard !closed else { throw StrataError(.usage, "store is closed", path: path) }
            try guardWrite {
                try batch.bytes.withUnsafeBytes { all in
                    for item in batch.items {
                        let entry = UnsafeRawBufferPointer(rebasing: all[item.start..<(item.start + item.count)])
                        outcome(item, try appendEntryLocked(entry, id: item.id, idKey: item.idKey, partition: item.partition,
                                                            timestamp: item.timestamp))
                    }
                }
            }
        }
    }

    /// The one place an example entry enters the store: dedup, then append.
    /// REQUIRES: the lock is held and the caller runs inside `guardWrite`;
    /// `idKey`, when given, is the key `ExampleIdentity.assign` gave the entry.
    func appendEntryLocked(_ entry: UnsafeRawBufferPointer, id: ExampleID, idKey: ExampleID? = nil, partition: PartitionKey,
                           timestamp: Int64) throws -> AppendOutcome {
        if let stored = try dedupCheckLocked(entry: entry, id: id, idKey: idKey, partition: partition, timestamp: timestamp) {
            return .duplicate(stored)
        }
        let seg = try activeSegment(for: partition)
        let loc = try seg.append(entry: entry)
        try dedupInsertedLocked(id: id, at: loc)
        try noteWrites(seg)
        return .inserted(id)
    }
}
