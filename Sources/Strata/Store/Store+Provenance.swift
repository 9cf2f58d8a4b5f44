import Foundation

/// A duplicate offer (entry kind 3, SPEC.md §4.4):
///
///     duplicateSeen := target:16 offered:16 timestampMillis:i64 seenAtMillis:i64
///                      flags:u8 str(domain) [str(source)]
///     flags := bit0 source present, other bits 0
public struct DuplicateSeen: Equatable, Sendable {
    /// Id of the stored example the offer duplicated.
    public var target: ExampleID
    /// Id of the offered example (differs from `target` when the dedup key is not the content).
    public var offered: ExampleID
    /// The offered example's own timestamp.
    public var timestampMillis: Int64
    /// Writer's wall clock when the offer was made.
    public var seenAtMillis: Int64
    public var domain: String
    public var source: String?

    static func decode(_ r: inout ByteReader) throws -> DuplicateSeen {
        let target = try ExampleID.read(from: &r)
        let offered = try ExampleID.read(from: &r)
        let ts = try r.i64("timestamp")
        let seen = try r.i64("seenAt")
        let flags = try r.u8("flags")
        guard flags & ~1 == 0 else { throw r.corruption("duplicate-seen entry has unknown flags \(flags)") }
        let domain = try r.string("domain")
        let source = flags & 1 != 0 ? try r.string("source") : nil
        guard r.isAtEnd else { throw r.corruption("duplicate-seen entry has \(r.remaining) trailing bytes") }
        return DuplicateSeen(target: target, offered: offered, timestampMillis: ts, seenAtMillis: seen, domain: domain, source: source)
    }
}

/// How often an example was offered, and when (SPEC.md §4.4).
public struct Provenance: Equatable, Sendable {
    public var id: ExampleID
    /// 1 (the stored offer) + the recorded duplicate offers.
    public var offers: Int
    /// The stored example's timestamp (its first offer).
    public var firstSeenMillis: Int64
    /// The latest timestamp among the stored example and its duplicate offers.
    public var lastSeenMillis: Int64
    /// Wall-clock time of the latest duplicate offer; nil if never offered again.
    public var lastOfferedAtMillis: Int64?
    /// Duplicate offers by the domain they were offered under.
    public var duplicatesByDomain: [String: Int]
}

/// Duplicate offers of a whole store (`strata stats`).
public struct DuplicateStatistics: Equatable, Sendable {
    public var total = 0
    public var byDomain: [String: Int] = [:]
}

extension Store {
    /// Appends a duplicate-seen entry to the offered example's partition.
    func appendDuplicateSeen(_ d: DuplicateSeen, partition: PartitionKey) throws {
        let seg = try activeSegment(for: partition)
        // Own buffer: the caller may be reading `entryBuffer` (the offered entry).
        var body = ByteWriter(capacity: 64 + d.domain.utf8.count + (d.source?.utf8.count ?? 0))
        d.target.write(to: &body)
        d.offered.write(to: &body)
        body.i64(d.timestampMillis)
        body.i64(d.seenAtMillis)
        body.u8(d.source == nil ? 0 : 1)
        body.string(d.domain)
        if let s = d.source { body.string(s) }
        var entry = ByteWriter(capacity: body.bytes.count + 8)
        entry.varint(UInt64(1 + body.bytes.count))
        entry.u8(EntryKind.duplicateSeen.rawValue)
        entry.append(body.bytes)
        _ = try entry.bytes.withUnsafeBytes {
            try seg.append(entry: $0)
        }
        try noteWrites(seg)
    }

    /// Provenance of the example with this id; nil if the store does not hold it.
    /// Reads every duplicate-seen entry of the store (a full scan of its blocks).
    public func provenance(of id: ExampleID) throws -> Provenance? {
        guard let e = try get(id) else { return nil }
        return try lock.withLock {
            try guardWrite { for seg in active.values { try seg.closeBlock(); try noteWrites(seg) } }
            return try ProvenanceScanner.provenance(of: e, catalog: catalog, buffers: &readBuffers)
        }
    }

    /// Duplicate offers per domain (a full scan of the store's blocks).
    public func duplicateStatistics() throws -> DuplicateStatistics {
        try lock.withLock {
            try guardWrite { for seg in active.values { try seg.closeBlock(); try noteWrites(seg) } }
            return try ProvenanceScanner.statistics(catalog: catalog, buffers: &readBuffers)
        }
    }
}

extension StoreReader {
    public func provenance(of id: ExampleID) throws -> Provenance? {
        guard let e = try get(id) else { return nil }
        return try lock.withLock { try ProvenanceScanner.provenance(of: e, catalog: catalog, buffers: &buffers) }
    }

    public func duplicateStatistics() throws -> DuplicateStatistics {
        try lock.withLock { try ProvenanceScanner.statistics(catalog: catalog, buffers: &buffers) }
    }
}

enum ProvenanceScanner {
    static func forEachDuplicate(catalog: SegmentCatalog, buffers: inout ReadBuffers, _ body: (DuplicateSeen) -> Void) throws {
        try catalog.openAll()
        for seq in catalog.files.keys.sorted() {
            _ = try catalog.forEachEntry(segment: seq, buffers: &buffers) { kind, entry, _ in
                if kind == EntryKind.duplicateSeen.rawValue { body(try DuplicateSeen.decode(&entry)) }
                return true
            }
        }
    }

    static func provenance(of e: Example, catalog: SegmentCatalog, buffers: inout ReadBuffers) throws -> Provenance {
        var p = Provenance(id: e.id, offers: 1, firstSeenMillis: e.timestampMillis, lastSeenMillis: e.timestampMillis,
                           lastOfferedAtMillis: nil, duplicatesByDomain: [:])
        try forEachDuplicate(catalog: catalog, buffers: &buffers) { d in
            guard d.target == e.id else { return }
            p.offers += 1
            p.lastSeenMillis = max(p.lastSeenMillis, d.timestampMillis)
            p.lastOfferedAtMillis = max(p.lastOfferedAtMillis ?? .min, d.seenAtMillis)
            p.duplicatesByDomain[d.domain, default: 0] += 1
        }
        return p
    }

    static func statistics(catalog: SegmentCatalog, buffers: inout ReadBuffers) throws -> DuplicateStatistics {
        var s = DuplicateStatistics()
        try forEachDuplicate(catalog: catalog, buffers: &buffers) { d in
            s.total += 1
            s.byDomain[d.domain, default: 0] += 1
        }
        return s
    }
}
