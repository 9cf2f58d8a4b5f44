import Foundation

/// Annotations (SPEC.md §4.3, §4.6): appended into the target example's
/// partition, never written in place; every read folds them in.
extension Store {
    /// Records a later fact about the example `id`. Durable per the commit
    /// policy, like an append. Throws `.notFound` naming the id when no such
    /// example exists, and `.invalidInput` for a correction that does not fit
    /// the example's shape (a chat without an assistant message).
    public func annotate(_ id: ExampleID, _ annotation: Annotation) throws {
        try lock.withLock {
            try annotateLocked(id, annotation)
            try afterBatchLocked()
        }
    }

    func annotateLocked(_ id: ExampleID, _ annotation: Annotation) throws {
        guard !closed else { throw StrataError(.usage, "store is closed", path: path) }
        guard let loc = try indexLookup(id), let original = try readFoldedLocked(id, at: loc)?.original,
              let partition = catalog.files[loc.segment]?.partition else {
            throw StrataError(.notFound, "no example with id \(id) in this store", field: "id")
        }
        var a = annotation
        switch a.kind {
        case let .correction(text, field):
            let f = field ?? .natural(for: original.shape)
            guard FoldedExample.corrected(original.content, text: text, field: f) != nil else {
                throw StrataError(.invalidInput, "a correction of the \(f.name) does not apply to this \(original.shape.name) example",
                                  field: "correction")
            }
            guard !text.isEmpty else { throw StrataError(.invalidInput, "correction text is empty", field: "correction") }
            a.kind = .correction(text: text, field: f)
        case let .feedback(_, _, comment):
            if let comment, comment.isEmpty { throw StrataError(.invalidInput, "comment is empty", field: "comment") }
        case .exclude, .include:
            break
        }
        try guardWrite {
            let seg = try activeSegment(for: partition)
            entryBuffer.bytes.removeAll(keepingCapacity: true)
            AnnotationCodec.appendEntry(a, target: id, to: &entryBuffer)
            let aloc = try entryBuffer.bytes.withUnsafeBytes {
                try seg.append(entry: $0)
            }
            catalog.noteAnnotation(id, at: aloc)
            try noteWrites(seg)
        }
    }

    /// The example with its annotations folded in, with its history and feedback counts.
    public func getFolded(_ id: ExampleID) throws -> FoldedExample? {
        try lock.withLock {
            guard let loc = try indexLookup(id) else { return nil }
            return try readFoldedLocked(id, at: loc)
        }
    }

    /// The example exactly as ingested, before any correction.
    public func getRaw(_ id: ExampleID) throws -> Example? { try getFolded(id)?.original }

    /// Every annotation of the example, oldest first. Throws `.notFound` for an unknown id.
    public func history(_ id: ExampleID) throws -> [Annotation] {
        guard let f = try getFolded(id) else { throw StrataError(.notFound, "no example with id \(id) in this store", field: "id") }
        return f.annotations
    }

    /// Like `scan`, but hands out the folded examples with history and feedback.
    public func scanFolded(_ filter: ScanFilter = .all, _ body: (FoldedExample) throws -> Bool) throws {
        try lock.withLock {
            try guardWrite {
                for seg in active.values { try seg.closeBlock(); try noteWrites(seg) }
            }
            try openPartitionsLocked(filter)
            try FoldingScanner.scan(catalog: catalog, filter: filter, annotations: catalog.annotations, buffers: &readBuffers, body)
        }
    }

    /// Opens the partitions a scan with `filter` reads (lazy opening: their
    /// footers and annotation refs are read now, once).
    func openPartitionsLocked(_ filter: ScanFilter) throws {
        for p in catalog.sortedPartitions where filter.includes(p) { try catalog.open(partition: p) }
    }

    /// Reads a folded example, first writing out any open block it or its annotations live in.
    func readFoldedLocked(_ id: ExampleID, at loc: Location) throws -> FoldedExample? {
        // Its partition's footers hold its annotation refs (they live in the target's partition).
        try catalog.open(segment: loc.segment)
        var segments: Set<UInt64> = [loc.segment]
        for l in catalog.annotations[id] ?? [] { segments.insert(l.segment) }
        for seg in active.values where segments.contains(seg.sequence) && seg.blockEntries > 0 {
            try guardWrite { try seg.closeBlock(); try noteWrites(seg) }
        }
        return try catalog.readFolded(at: loc, expecting: id, annotations: catalog.annotations, buffers: &readBuffers)
    }

    // MARK: Index access used by annotations and compaction (one place to adapt to the persistent index).

    func indexLookup(_ id: ExampleID) throws -> Location? { try dedup.locate(id: id, catalog: catalog) }

    /// After a compaction swap (catalog already swapped, nothing pending):
    /// moved ids now live at their new locations, `removed` ids are gone.
    /// Relocated in place when the dedup key is the id and nothing was purged
    /// (no footer is re-read); otherwise rebuilt from the live segments. The
    /// snapshot is then rewritten so the index file matches the new segment set.
    func indexApplyCompaction(moves: [(id: ExampleID, from: Location, to: Location)], removed: [ExampleID]) throws {
        try guardWrite {
            try dedup.materialize()  // moves rewrite slots of the whole table
            if !(removed.isEmpty && dedup.relocate(moves)) {
                try dedup.rebuild(segments: manifest.segments.map(\.sequence), catalog: catalog)
            }
            // The snapshot is not rewritten per partition (it was most of the time of
            // compacting many small partitions): it is written at close or by the
            // next commit's snapshot policy. Until then the file on disk names
            // segments that no longer exist, which open detects and answers by a
            // rebuild from the segments (SPEC.md §5.4).
            dedup.changedSinceSnapshot = max(1, dedup.changedSinceSnapshot)
        }
    }
}

extension StoreReader {
    public func getFolded(_ id: ExampleID) throws -> FoldedExample? {
        try lock.withLock {
            guard let loc = try locate(id) else { return nil }
            return try catalog.readFolded(at: loc, expecting: id, annotations: catalog.annotations, buffers: &buffers, decoded: loadedIndex())
        }
    }

    public func getRaw(_ id: ExampleID) throws -> Example? { try getFolded(id)?.original }

    public func history(_ id: ExampleID) throws -> [Annotation] {
        guard let f = try getFolded(id) else { throw StrataError(.notFound, "no example with id \(id) in this store", field: "id") }
        return f.annotations
    }

    public func scanFolded(_ filter: ScanFilter = .all, _ body: (FoldedExample) throws -> Bool) throws {
        try lock.withLock {
            try openPartitions(filter)
            try FoldingScanner.scan(catalog: catalog, filter: filter, annotations: catalog.annotations, buffers: &buffers, body)
        }
    }
}
