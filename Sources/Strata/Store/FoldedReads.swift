/// Reading examples with their annotations folded in (SPEC.md §4.6).
///
/// Annotations are found without scanning segments: sealed footers list
/// their `annotationRef`s, the writer records the ones it appends, and a
/// compacted example carries its folded annotations in the kind-4 entry
/// directly after it. `AnnotationMap` holds target id → locations of the
/// kind-2 entries not yet folded, in append order.
struct AnnotationMap {
    private(set) var locations: [ExampleID: [Location]] = [:]

    var isEmpty: Bool { locations.isEmpty }
    var count: Int { locations.values.reduce(0) { $0 + $1.count } }

    subscript(id: ExampleID) -> [Location]? { locations[id] }

    mutating func add(_ id: ExampleID, _ loc: Location) {
        var list = locations[id] ?? []
        list.append(loc)
        if list.count > 1, !(list[list.count - 2] < loc) { list.sort() }
        locations[id] = list
    }

    /// Adds a sealed segment's footer refs.
    mutating func add(footer: SegmentFooter, segment: UInt64) {
        for r in footer.annotations {
            add(r.id, Location(segment: segment, blockIndex: UInt32(r.blockIndex), entryIndex: UInt32(r.entryIndex)))
        }
    }

    /// Forgets every location in `segments` (they were compacted away).
    mutating func remove(segments: Set<UInt64>) {
        for (id, list) in locations where list.contains(where: { segments.contains($0.segment) }) {
            let kept = list.filter { !segments.contains($0.segment) }
            locations[id] = kept.isEmpty ? nil : kept
        }
    }
}

extension Location: Comparable {
    /// Append order within a partition: segment, block, entry.
    public static func < (a: Location, b: Location) -> Bool {
        (a.segment, a.blockIndex, a.entryIndex) < (b.segment, b.blockIndex, b.entryIndex)
    }
}

extension SegmentCatalog {
    /// Reads the example at `loc` and the folded annotations (kind 4) stored right after it, if any.
    /// `decoded` is the index whose lookup found `loc`: the block its confirmation
    /// decoded is read from its cache, not decoded again (a columnar block, SPEC.md
    /// §3.6, is rebuilt once per `get`).
    func readExampleAndFolded(at loc: Location, expecting id: ExampleID, buffers: inout ReadBuffers,
                              decoded: DedupIndex? = nil) throws -> (Example, [Annotation])? {
        try open(segment: loc.segment)
        guard let file = files[loc.segment], let offsets = blockOffsets[loc.segment], Int(loc.blockIndex) < offsets.count else {
            return nil
        }
        let offset = offsets[Int(loc.blockIndex)]
        var found: Example?
        var folded: [Annotation] = []
        func visit(_ entry: BlockEntry) throws -> Bool {
            if found != nil {
                // The folded annotations of a compacted example follow it (SPEC.md §4.5).
                guard entry.kind == EntryKind.foldedAnnotations.rawValue else { return false }
                var r = entry.body
                let (target, anns) = try AnnotationCodec.decodeFolded(&r)
                if target == id { folded = anns }
                return false
            }
            if entry.index == Int(loc.entryIndex) {
                guard entry.kind == EntryKind.example.rawValue else {
                    throw StrataError(.corruption, "index points at a kind-\(entry.kind) entry, not an example", path: file.path, offset: offset)
                }
                var r = entry.body
                let e = try RecordCodec.decodeExampleBody(&r)
                guard e.id == id else {
                    throw StrataError(.corruption, "index entry for \(id) points at example \(e.id)", path: file.path, offset: offset)
                }
                found = e
            }
            return true
        }
        if let bytes = decoded?.cachedBlock(segment: loc.segment, block: Int(loc.blockIndex)) {
            // Its entry count was checked against the frame when it was cached.
            try bytes.withUnsafeBytes { _ = try BlockCursor.forEach($0, path: file.path, blockOffset: offset, declaredCount: nil, visit) }
        } else {
            try file.forEachEntry(inBlockAt: offset, buffers: &buffers, visit)
        }
        if let e = found { return (e, folded) }
        throw StrataError(.corruption, "block has fewer than \(loc.entryIndex + 1) entries", path: file.path, offset: offset)
    }

    /// Reads the kind-2 annotation entries at `locs` (sorted); each must name `target`.
    func readAnnotations(at locs: [Location], target: ExampleID, buffers: inout ReadBuffers) throws -> [Annotation] {
        var out: [Annotation] = []
        out.reserveCapacity(locs.count)
        var i = 0
        while i < locs.count {
            let loc = locs[i]
            try open(segment: loc.segment)
            guard let file = files[loc.segment], let offsets = blockOffsets[loc.segment], Int(loc.blockIndex) < offsets.count else {
                throw StrataError(.corruption, "annotation of \(target) points at segment \(loc.segment) block \(loc.blockIndex), which is not readable")
            }
            let offset = offsets[Int(loc.blockIndex)]
            // Every location in this block, in one pass.
            var j = i
            while j < locs.count, locs[j].segment == loc.segment, locs[j].blockIndex == loc.blockIndex { j += 1 }
            let wanted = locs[i..<j].map { Int($0.entryIndex) }
            var w = 0
            try file.forEachEntry(inBlockAt: offset, buffers: &buffers) { e in
                guard w < wanted.count else { return false }
                if e.index == wanted[w] {
                    guard e.kind == EntryKind.annotation.rawValue else {
                        throw StrataError(.corruption, "annotation ref points at a kind-\(e.kind) entry", path: file.path, offset: offset)
                    }
                    var r = e.body
                    let (t, a) = try AnnotationCodec.decodeBody(&r)
                    guard t == target else {
                        throw StrataError(.corruption, "annotation ref for \(target) points at an annotation of \(t)", path: file.path, offset: offset)
                    }
                    out.append(a)
                    w += 1
                }
                return true
            }
            guard w == wanted.count else {
                throw StrataError(.corruption, "block has fewer entries than its annotation refs name", path: file.path, offset: offset)
            }
            i = j
        }
        return out
    }

    /// The folded example at `loc`, or nil when the location is not readable.
    func readFolded(at loc: Location, expecting id: ExampleID, annotations: AnnotationMap, buffers: inout ReadBuffers,
                    decoded: DedupIndex? = nil) throws -> FoldedExample? {
        guard let (e, folded) = try readExampleAndFolded(at: loc, expecting: id, buffers: &buffers, decoded: decoded) else { return nil }
        let later = try annotations[id].map { try readAnnotations(at: $0, target: id, buffers: &buffers) } ?? []
        return FoldedExample(original: e, annotations: folded + later)
    }

    /// Registers the annotation entries of an active segment (walked, not sealed).
    func collectAnnotations(segment seq: UInt64, into map: inout AnnotationMap, buffers: inout ReadBuffers) throws {
        _ = try forEachEntry(segment: seq, buffers: &buffers) { kind, body, loc in
            if kind == EntryKind.annotation.rawValue {
                var r = body
                map.add(try AnnotationCodec.peekTarget(&r), loc)
            }
            return true
        }
    }
}

enum FoldingScanner {
    /// Visits folded examples of matching partitions in (domain, month, append)
    /// order; excluded ones only when `filter.includeExcluded`.
    /// With `onDamage` (salvage), damaged blocks are reported and skipped, and
    /// so is an example whose later annotations are unreadable (its folded view
    /// — e.g. an exclusion — cannot be known, so it is not guessed).
    static func scan(catalog: SegmentCatalog, filter: ScanFilter, annotations: AnnotationMap, buffers: inout ReadBuffers,
                     onDamage: ((StrataError) -> Void)? = nil, _ body: (FoldedExample) throws -> Bool) throws {
        var side = ReadBuffers()
        var pending: (example: Example, folded: [Annotation])?
        func flush() throws -> Bool {
            guard let (e, folded) = pending else { return true }
            pending = nil
            let later: [Annotation]
            do {
                later = try annotations[e.id].map { try catalog.readAnnotations(at: $0, target: e.id, buffers: &side) } ?? []
            } catch let err as StrataError where err.code == .corruption && onDamage != nil {
                onDamage?(StrataError(.corruption, "example \(e.id) skipped: its annotations are unreadable (\(err.message))", path: err.path, offset: err.offset))
                return true
            }
            let f = FoldedExample(original: e, annotations: folded + later)
            if f.isExcluded && !filter.includeExcluded { return true }
            if let pred = filter.predicate, !pred(f.example) { return true }
            return try body(f)
        }
        for p in catalog.sortedPartitions where filter.includes(p) {
            for seq in catalog.partitions[p] ?? [] {
                var more = try catalog.forEachEntry(segment: seq, buffers: &buffers, onDamage: onDamage) { kind, entry, _ in
                    switch kind {
                    case EntryKind.example.rawValue:
                        guard try flush() else { return false }
                        pending = (try RecordCodec.decodeExampleBody(&entry), [])
                    case EntryKind.foldedAnnotations.rawValue:
                        let (target, anns) = try AnnotationCodec.decodeFolded(&entry)
                        guard pending?.example.id == target, pending?.folded.isEmpty == true else {
                            throw entry.corruption("folded annotations of \(target) do not follow their example")
                        }
                        pending?.folded = anns
                    default:
                        break
                    }
                    return true
                }
                if more { more = try flush() }
                pending = nil
                if !more { return }
            }
        }
    }
}
