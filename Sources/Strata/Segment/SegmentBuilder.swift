/// What writing a segment accumulates, shared by the append path
/// (`ActiveSegment`), compaction (`CompactSegmentWriter`) and recovery
/// (sealing a segment a crashed writer left active): the open block, the
/// written blocks, the footer's refs and the segment's counts. Pure: it
/// produces the bytes to write (frames, the sealing tail); its owner writes them.
struct SegmentBuilder {
    let sequence: UInt64
    let codec: BlockCodec
    let blockTarget: Int

    private(set) var block: ByteWriter
    private(set) var blockEntries = 0
    /// (isExample, id, entry index) of the open block's entries the footer lists.
    private var blockRefs: [(isExample: Bool, id: ExampleID, entry: Int)] = []
    private(set) var blocks: [(offset: Int64, entryCount: Int)] = []
    private var exampleRefs: [EntryRef] = []
    /// Shared by a writer's open segments: bounds the example refs they keep
    /// in memory for their footers (32 B each). Nil: unbounded (recovery, compaction).
    var refBudget: FooterRefBudget?
    /// Set once this builder gave its example refs up to the budget: the
    /// owner reads them back from the written blocks at sealing
    /// (`footer(examples:)`), and `exampleID` answers nil.
    private(set) var refsDropped = false
    private var annotationRefs: [EntryRef] = []
    private(set) var rawBytes: Int64 = 0
    private(set) var counts = SegmentCounts()
    private var frame: [UInt8] = []
    private var scratch: [UInt8] = []
    private var view = EntryView()

    init(sequence: UInt64, codec: BlockCodec, blockTarget: Int, blockCapacity: Int = 80 << 10) {
        self.sequence = sequence
        self.codec = codec
        self.blockTarget = blockTarget
        block = ByteWriter(capacity: blockCapacity)
    }

    /// The block, frame and compression buffers, handed from one builder to
    /// the next: compaction writes a segment per partition, and fresh
    /// buffers each time were faulted in anew.
    struct Buffers {
        var block: [UInt8] = []
        var frame: [UInt8] = []
        var scratch: [UInt8] = []
    }

    /// Takes `buffers` (left empty): moved, not shared, so they are not copied on the first write.
    init(sequence: UInt64, codec: BlockCodec, blockTarget: Int, reusing buffers: inout Buffers) {
        self.init(sequence: sequence, codec: codec, blockTarget: blockTarget, blockCapacity: 0)
        swap(&block.bytes, &buffers.block)
        swap(&frame, &buffers.frame)
        swap(&scratch, &buffers.scratch)
        block.bytes.removeAll(keepingCapacity: true)
    }

    /// Gives the buffers up for another builder (this one is done).
    mutating func takeBuffers() -> Buffers {
        var b = Buffers()
        swap(&b.block, &block.bytes)
        swap(&b.frame, &frame)
        swap(&b.scratch, &scratch)
        return b
    }

    /// True when `bytes` more would overflow a non-empty open block.
    func needsNewBlock(for bytes: Int) -> Bool { blockEntries > 0 && block.count + bytes > blockTarget }

    var isEmpty: Bool { blocks.isEmpty && blockEntries == 0 }

    /// Where the next entry will live.
    var nextLocation: Location { Location(segment: sequence, blockIndex: UInt32(blocks.count), entryIndex: UInt32(blockEntries)) }

    /// Adds one complete entry (length, kind, body) to the open block and
    /// counts it. REQUIRES: the owner closed the block first if `needsNewBlock`.
    mutating func add(entry bytes: UnsafeRawBufferPointer) throws -> Location {
        let loc = nextLocation
        var it = EntryIterator(bytes, path: nil, blockOffset: 0)
        guard let (kind, body, _) = try it.next(), try it.next() == nil else {
            throw StrataError(.invalidInput, "not exactly one entry")
        }
        try note(kind: kind, body: body, entry: blockEntries)
        block.append(bytes)
        blockEntries += 1
        return loc
    }

    /// `add(entry:)` for an example entry whose id and counted facts the
    /// caller already has (the ingest parse stage took them from the draft it
    /// encoded the entry from): the entry is not decoded again.
    /// REQUIRES: `bytes` is exactly one example entry, with this id and these facts.
    mutating func add(exampleEntry bytes: UnsafeRawBufferPointer, id: ExampleID, facts: ExampleFacts, tags: ArraySlice<String>) -> Location {
        let loc = nextLocation
        counts.add(facts: facts, tags: tags)
        blockRefs.append((true, id, blockEntries))
        block.append(bytes)
        blockEntries += 1
        return loc
    }

    /// Records an entry's footer ref and counts.
    private mutating func note(kind: UInt8, body: ByteReader, entry: Int) throws {
        switch EntryKind(rawValue: kind) {
        case .example:
            var r = body
            try view.decode(&r)
            counts.add(example: view)
            blockRefs.append((true, view.id, entry))
        case .annotation:
            var r = body
            blockRefs.append((false, try AnnotationCodec.peekTarget(&r), entry))
            try counts.add(kind: kind, body: body)
        case .duplicateSeen, .foldedAnnotations:
            try counts.add(kind: kind, body: body)
        case nil:
            throw body.corruption("unknown entry kind \(kind)")
        }
    }

    /// Compresses the open block into a frame that will start at file offset
    /// `offset`, and returns its bytes (nil when the block is empty). The
    /// owner writes them; the block then counts as written.
    mutating func closeBlock(at offset: Int64) throws -> [UInt8]? {
        guard blockEntries > 0 else { return nil }
        frame.removeAll(keepingCapacity: true)
        try block.bytes.withUnsafeBytes {
            try FrameCodec.appendBlock(entries: $0, entryCount: blockEntries, codec: codec, scratch: &scratch, to: &frame)
        }
        finishBlock(at: offset)
        return frame
    }

    /// Takes the open block out for compression elsewhere (the writer
    /// compresses a batch's closed blocks on both cores): returns its raw
    /// entries and entry count (nil when empty); the block counts as written
    /// once the owner gives its offset with `placeDetachedBlock`, which it
    /// must do, in order, before anything reads `blocks` or seals.
    mutating func detachBlock() -> (entries: [UInt8], entryCount: Int)? {
        guard blockEntries > 0 else { return nil }
        let taken = (entries: block.bytes, entryCount: blockEntries)
        finishBlock(at: -1)
        return taken
    }

    /// The file offset of a block `detachBlock` took, once its frame is written.
    mutating func placeDetachedBlock(_ index: Int, at offset: Int64) {
        precondition(blocks[index].offset == -1, "block \(index) is not detached")
        blocks[index].offset = offset
    }

    /// The id of the example entry at (`blockIndex`, `entryIndex`) among the
    /// blocks closed so far, from the refs kept for the footer (no block is
    /// read); nil when that entry is not an example this builder added.
    func exampleID(blockIndex: Int, entryIndex: Int) -> ExampleID? {
        // exampleRefs are in append order: ascending (block, entry).
        var lo = 0, hi = exampleRefs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let r = exampleRefs[mid]
            if r.blockIndex < blockIndex || (r.blockIndex == blockIndex && r.entryIndex < entryIndex) { lo = mid + 1 } else { hi = mid }
        }
        guard lo < exampleRefs.count, exampleRefs[lo].blockIndex == blockIndex, exampleRefs[lo].entryIndex == entryIndex else { return nil }
        return exampleRefs[lo].id
    }

    private mutating func finishBlock(at offset: Int64) {
        let bi = blocks.count
        blocks.append((offset, blockEntries))
        var examplesAdded = 0
        for r in blockRefs {
            let ref = EntryRef(id: r.id, blockIndex: bi, entryIndex: r.entry)
            if !r.isExample { annotationRefs.append(ref) } else if !refsDropped { exampleRefs.append(ref); examplesAdded += 1 }
        }
        if let budget = refBudget, examplesAdded > 0 {
            budget.held += examplesAdded
            if budget.held > budget.limit { dropExampleRefs() }
        }
        rawBytes += Int64(block.count)
        block.bytes.removeAll(keepingCapacity: true)
        blockEntries = 0
        blockRefs.removeAll(keepingCapacity: true)
    }

    /// Adopts a block already on disk at `offset` (recovery of a segment a
    /// crashed writer left active): its entries are counted and listed as if
    /// they had been appended here.
    mutating func adoptWrittenBlock(at offset: Int64, entries: UnsafeRawBufferPointer, path: String) throws {
        precondition(blockEntries == 0, "adopting a block while another is open")
        var i = 0
        try BlockCursor.forEach(entries, path: path, blockOffset: offset, declaredCount: nil) { e in
            try note(kind: e.kind, body: e.body, entry: i)
            i += 1
            return true
        }
        blockEntries = i
        block.bytes.removeAll(keepingCapacity: true)
        finishBlock(at: offset)
        rawBytes += Int64(entries.count)
    }

    /// Gives the example refs up (the budget is exceeded): memory for them
    /// is freed now, and they are read back from the blocks at sealing.
    private mutating func dropExampleRefs() {
        refBudget?.held -= exampleRefs.count
        exampleRefs = []
        refsDropped = true
    }

    /// Returns this builder's share of the budget (the segment is sealed).
    mutating func releaseRefBudget() {
        refBudget?.held -= exampleRefs.count
        refBudget = nil
    }

    /// The footer of the blocks written so far (SPEC.md §3.3), version 2.
    /// `examples` (in any order): the example refs read back from the
    /// blocks, required when `refsDropped`.
    func footer(examples readBack: [EntryRef]? = nil) -> SegmentFooter {
        precondition(!refsDropped || readBack != nil, "example refs were dropped: read them back from the blocks")
        var f = SegmentFooter()
        f.blocks = blocks
        f.examples = (readBack ?? exampleRefs).sorted { $0.id < $1.id }
        f.exampleCount = f.examples.count
        f.annotations = annotationRefs
        f.minTimestamp = counts.minTimestamp
        f.maxTimestamp = counts.maxTimestamp
        f.rawBytes = rawBytes
        f.counts = counts
        return f
    }

    /// The bytes that seal the segment: footer frame and trailer, for a footer at `footerOffset`.
    mutating func sealingTail(footerOffset: Int64, examples readBack: [EntryRef]? = nil) -> [UInt8] {
        footer(examples: readBack).encodeSealingTail(footerOffset: footerOffset, into: &frame)
        return frame
    }
}

/// How many example refs a writer's open segments hold in memory for their
/// footers, and the most they may (SPEC.md §3.3 is unchanged: a segment
/// over the budget reads its refs back from its blocks when it seals). With
/// hundreds of partitions none of which fills a segment, the refs would
/// otherwise grow with every example ingested (32 B each).
final class FooterRefBudget {
    var held = 0
    var limit: Int
    /// 1M refs: 32 MB.
    static let defaultLimit = 1 << 20
    init(limit: Int = FooterRefBudget.defaultLimit) { self.limit = limit }
}
