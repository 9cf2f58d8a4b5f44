/// External-id lookups and index refresh over a read-only snapshot (SPEC.md §5.5).
extension StoreReader {
    /// Every example (folded view, excluded ones included) whose metadata
    /// value at `path` (e.g. `metadata.train_id`) has the key text `value`.
    /// Reads the index's header and the probed slots, confirms each hit on the
    /// example, and scans only the blocks the index does not cover yet.
    public func lookup(externalId path: String, value: String) throws -> [FoldedExample] {
        let keys = try ExternalIdIndex.validate(path: path)
        let filePath = ExternalIdIndex.filePath(store: self.path, path: path)
        let fs = catalog.fs
        guard fs.fileExists(filePath) else {
            throw StrataError(.usage, "'\(path)' is not declared as an external id of this store; declare it with `strata init STORE --external-id \(path)`", path: self.path, field: path)
        }
        let text = Array(value.utf8)
        let fp = ExternalIdIndex.fingerprint(text)
        let file = try fs.openReadable(filePath)
        defer { file.close() }
        let h = try ExternalIdIndex.readHeader(file, filePath: filePath)
        var ids: [ExampleID] = []
        if h.slotCount > 0 {
            let mask = Int(h.slotCount - 1)
            var k = Int(fp & UInt64(mask))
            var buffer: [UInt8] = []
            for _ in 0..<Int(h.slotCount) {
                guard let slot = try ExternalIdIndex.readSlot(file, h, k, filePath: filePath, buffer: &buffer) else { break }
                if slot.fp == fp && !ids.contains(slot.id) { ids.append(slot.id) }
                k = (k + 1) & mask
            }
        }
        var found: [FoldedExample] = []
        func valueMatches(_ metadata: String) -> Bool {
            var m = metadata
            let v = m.withUTF8 { JSONPathLookup.value(in: UnsafeRawBufferPointer($0), path: keys[...]) }
            return ExternalIdIndex.keyText(v) == text
        }
        for id in ids {
            // Confirm: a fingerprint collision or a stale slot is skipped.
            if let f = try getFolded(id), valueMatches(f.original.metadataJSON) { found.append(f) }
        }
        try forEachUncovered(h.coverage) { v in
            guard ExternalIdIndex.keyText(JSONPathLookup.value(in: v.metadata, path: keys[...])) == text else { return }
            if !ids.contains(v.id) { ids.append(v.id) } else { return }
            if let f = try getFolded(v.id) { found.append(f) }
        }
        return found
    }

    /// Visits the example entries of the blocks `coverage` does not include.
    /// Returns the number of blocks read.
    @discardableResult
    func forEachUncovered(_ coverage: [UInt64: UInt32], _ visit: (EntryView) throws -> Void) throws -> Int {
        var buffers = ReadBuffers()
        var view = EntryView()
        var blocks = 0
        // Lazy snapshot: open only segments the index may not cover (a sealed
        // segment whose summary block count the coverage reaches is skipped unread).
        for p in catalog.sortedPartitions {
            for seq in catalog.partitions[p] ?? [] {
                if let known = digests[seq]?.blocks, Int(coverage[seq] ?? 0) >= known { continue }
                try catalog.open(segment: seq)
            }
        }
        for (seq, file) in catalog.files.sorted(by: { $0.key < $1.key }) {
            guard let offsets = catalog.blockOffsets[seq] else { continue }
            let from = Int(coverage[seq] ?? 0)
            guard from < offsets.count else { continue }
            for offset in offsets[from...] {
                blocks += 1
                _ = try file.readBlock(at: offset, into: &buffers.block, scratch: &buffers.scratch)
                try buffers.block.withUnsafeBytes { raw in
                    var it = EntryIterator(raw, path: file.path, blockOffset: offset)
                    while let (kind, entry, _) = try it.next() {
                        guard kind == EntryKind.example.rawValue else { continue }
                        var r = entry
                        try view.decode(&r)
                        try visit(view)
                    }
                }
            }
        }
        return blocks
    }

    /// Brings the index of `path` up to this snapshot (creating it — which
    /// declares the external id — when missing): keeps its entries, adds the
    /// examples of the blocks it does not cover, drops the coverage of
    /// segments that no longer exist, and replaces the file atomically.
    @discardableResult
    public func refreshExternalIdIndex(path: String, fileMode: UInt32 = 0o600) throws -> (entries: Int, blocksScanned: Int) {
        let keys = try ExternalIdIndex.validate(path: path)
        let fs = catalog.fs
        let filePath = ExternalIdIndex.filePath(store: self.path, path: path)
        var entries = Set<ExampleIDPair>()
        var coverage: [UInt64: UInt32] = [:]
        if fs.fileExists(filePath) {
            let file = try fs.openReadable(filePath)
            defer { file.close() }
            let h = try ExternalIdIndex.readHeader(file, filePath: filePath)
            var buffer: [UInt8] = []
            for k in 0..<Int(h.slotCount) {
                if let s = try ExternalIdIndex.readSlot(file, h, k, filePath: filePath, buffer: &buffer) { entries.insert(ExampleIDPair(fp: s.fp, id: s.id)) }
            }
            // Segments that left the snapshot (compacted away) lose their coverage;
            // fully covered ones stay unopened and keep theirs.
            coverage = h.coverage.filter { catalog.contains(segment: $0.key) }
        }
        let scanned = try forEachUncovered(coverage) { v in
            if let t = ExternalIdIndex.keyText(JSONPathLookup.value(in: v.metadata, path: keys[...])) {
                entries.insert(ExampleIDPair(fp: ExternalIdIndex.fingerprint(t), id: v.id))
            }
        }
        for (seq, offsets) in catalog.blockOffsets where catalog.files[seq] != nil { coverage[seq] = UInt32(offsets.count) }
        var slotCount = 16
        while slotCount < entries.count * 2 { slotCount <<= 1 }
        var slots = [(fp: UInt64, id: ExampleID)](repeating: (0, ExampleID(high: 0, low: 0)), count: slotCount)
        let mask = slotCount - 1
        // Sorted insertion: the same entries always give the same file.
        for e in entries.sorted(by: { ($0.fp, $0.id.high, $0.id.low) < ($1.fp, $1.id.high, $1.id.low) }) {
            var k = Int(e.fp & UInt64(mask))
            while slots[k].fp != 0 { k = (k + 1) & mask }
            slots[k] = (e.fp, e.id)
        }
        let bytes = ExternalIdIndex.encode(path: path, coverage: coverage, slots: slots, slotCount: slotCount, entryCount: entries.count)
        let dir = self.path + "/" + Format.indexDirectoryName
        if !fs.isDirectory(dir) { try fs.createDirectory(dir, mode: 0o700) }
        try fs.replaceAtomically(filePath, mode: fileMode) { try $0.write(bytes) }
        return (entries.count, scanned)
    }
}

extension ExternalIdIndex {
    /// Refreshes every external-id index declared for the store at `path`
    /// (after ingest, compaction or maintenance: the writer's job keeps them
    /// covering the store, so lookups stay a few reads).
    public static func refreshAll(store path: String, fileSystem: FileSystem = PosixFileSystem.shared) throws {
        let declared = ExternalIdIndex.declared(store: path, fs: fileSystem)
        guard !declared.isEmpty else { return }
        let reader = try StoreReader.open(at: path, fileSystem: fileSystem)
        defer { reader.close() }
        for p in declared { try reader.refreshExternalIdIndex(path: p) }
    }
}

struct ExampleIDPair: Hashable {
    var fp: UInt64
    var id: ExampleID
}
