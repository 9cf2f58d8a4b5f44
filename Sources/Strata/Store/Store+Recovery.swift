/// Opening after a crash (SPEC.md §7): drop temporaries and orphans, walk
/// active segments, truncate torn tails, seal what an unclean shutdown left
/// active, and load (or rebuild) the id index.
///
/// Opening is lazy (SPEC.md §7.3): a sealed segment is only checked to exist
/// (by the directory listing the orphan sweep makes anyway) and registered in
/// the catalog; its header and footer are read, and its annotation refs
/// collected, when its partition is first touched — by a read, an annotation,
/// a scan, or an index catch-up. A damaged sealed segment is therefore
/// reported when touched, not at open.
extension Store {
    func recover() throws {
        // A file is live only at its listed (partition, sequence): an orphan's
        // sequence can be reused in another partition after a crash (orphan
        // removals are not fsynced, so the orphan may come back), and matching
        // on the sequence alone would keep that orphan forever.
        let listed = Set(manifest.segments.map { "\($0.partition.path)/\($0.sequence)" })
        // 1. Temporaries and orphans, under the exclusive snapshot lock (SPEC.md
        // §7.2): a reader may have read a manifest naming an orphan (a compaction
        // swapped the manifest and was killed before deleting its inputs).
        var present: Set<String> = []
        let swept = try fs.removingUnderSnapshotLock(root: path) { present = try removeLeftovers(listed: listed) }
        // A reader held the snapshot lock too long: leftovers stay for the next
        // open, but the listing of present segments is still needed.
        if !swept { present = try removeLeftovers(listed: listed, removing: false) }
        try recoverDictionaries()
        try recoverListedSegments(present: present)
    }

    /// Removes what an interrupted run of this store left: temporaries it
    /// writes (`MANIFEST.tmp`, `seg-*.tmp`) and unlisted segment files — only
    /// regular files owned by this user, segments only if they carry the
    /// segment magic (or are empty). Anything else is left alone: the store
    /// never deletes a file it did not create. A partition directory that is
    /// a symbolic link is refused (SPEC.md §2): writing or deleting through it
    /// would reach outside the store.
    /// Returns the "partition/sequence" of every listed segment file present
    /// (the existence check of sealed segments, which open does not read).
    /// With `removing` false it only lists.
    private func removeLeftovers(listed: Set<String>, removing: Bool = true) throws -> Set<String> {
        var present: Set<String> = []
        let manifestTmp = Format.manifestFileName + ".tmp"
        if removing, fs.fileExists(path + "/" + manifestTmp) || fs.isSymbolicLink(path + "/" + manifestTmp),
           fs.isOwnLeftover(path + "/" + manifestTmp, magic: nil) {
            try fs.remove(path + "/" + manifestTmp)
            recoveryEvents.append(RecoveryEvent(kind: .removedTemporary, path: path + "/" + manifestTmp))
        }
        for domainDir in try fs.listDirectory(path) where domainDir.hasPrefix("domain=") {
            try Store.refuseSymbolicLink(fs, path + "/" + domainDir)
            guard fs.isDirectory(path + "/" + domainDir) else { continue }
            for monthDir in try fs.listDirectory(path + "/" + domainDir) where monthDir.hasPrefix("month=") {
                let dir = path + "/" + domainDir + "/" + monthDir
                try Store.refuseSymbolicLink(fs, dir)
                guard fs.isDirectory(dir) else { continue }
                for name in try fs.listDirectory(dir) {
                    let full = dir + "/" + name
                    if name.hasPrefix("seg-") && name.hasSuffix(".tmp") {
                        guard removing, fs.isOwnLeftover(full, magic: nil) else { continue }
                        try fs.remove(full)
                        recoveryEvents.append(RecoveryEvent(kind: .removedTemporary, path: full))
                    } else if let seq = Store.segmentSequence(fromFileName: name), name == Format.segmentFileName(seq) {
                        let key = "\(domainDir)/\(monthDir)/\(seq)"
                        guard !listed.contains(key) else { present.insert(key); continue }
                        guard removing, fs.isOwnLeftover(full, magic: Format.segmentMagic) else { continue }
                        try fs.remove(full)
                        recoveryEvents.append(RecoveryEvent(kind: .removedOrphan, path: full))
                    }
                }
            }
        }
        return present
    }

    /// Throws `.permission` if `dir` (a store directory) is a symbolic link.
    static func refuseSymbolicLink(_ fs: FileSystem, _ dir: String) throws {
        if fs.isSymbolicLink(dir) {
            throw StrataError(.permission, "partition directory is a symbolic link; refusing to write or delete through it (replace it with a real directory)", path: dir)
        }
    }

    private func recoverListedSegments(present: Set<String>) throws {
        // 2. Listed segments.
        var changed = false
        var keep: [Manifest.SegmentEntry] = []
        for entry in manifest.segments {
            let p = catalog.segmentPath(entry.partition, entry.sequence)
            guard present.contains("\(entry.partition.path)/\(entry.sequence)") else {
                throw StrataError(.corruption, "segment listed in the manifest is missing; committed data may be lost — restore it from backup", path: p)
            }
            if entry.state == .sealed {
                // Read when its partition is first touched (lazy opening).
                catalog.registerSealed(entry)
                keep.append(entry)
                continue
            }
            var file = try SegmentFile(fs: fs, path: p, sequence: entry.sequence, partition: entry.partition, expectSealed: entry.state == .sealed)
            // A file that looks sealed although the manifest lists it active was
            // sealed by a close the crash interrupted: its footer is trusted only
            // after a walk (a reordering disk may have kept the footer and lost
            // an uncommitted frame before it).
            if !file.isSealed || (entry.state == .active && entry.committed != nil) {
                let walk = try file.walk(committed: entry.committed)
                if walk.tornBytes > 0 {
                    try fs.truncate(p, to: walk.validEnd)
                    recoveryEvents.append(RecoveryEvent(kind: .truncatedTornTail, path: p, offset: walk.validEnd, bytes: walk.tornBytes))
                }
                if walk.blocks.isEmpty && !walk.sealed {
                    file.close()
                    try fs.remove(p)
                    recoveryEvents.append(RecoveryEvent(kind: .removedEmptySegment, path: p))
                    changed = true
                    continue
                }
                if !walk.sealed {
                    try sealRecovered(file: file, walk: walk)
                    recoveryEvents.append(RecoveryEvent(kind: .sealedAfterCrash, path: p))
                }
                file.close()
                file = try SegmentFile(fs: fs, path: p, sequence: entry.sequence, partition: entry.partition, expectSealed: true)
                var e = entry
                e.state = .sealed
                keep.append(e)
                changed = true
            } else {
                var e = entry
                e.state = .sealed  // sealed, but the manifest update was lost
                changed = true
                keep.append(e)
            }
            catalog.addSealed(file)
        }
        if changed {
            manifest.segments = keep
            try writeManifest()
        }
        // Summaries first: they give the index load each sealed segment's block
        // count without reading its footer.
        digests = SegmentDigest.load(fs: fs, storePath: path, manifest: manifest)
        try loadDedupIndexLocked()
        try writeSummariesLocked()
    }

    /// Writes a footer for an active segment whose writer died, from a full walk.
    private func sealRecovered(file: SegmentFile, walk: SegmentFile.WalkResult) throws {
        var builder = SegmentBuilder(sequence: file.sequence, codec: .lz4, blockTarget: options.blockTargetBytes)
        var buffers = ReadBuffers()
        for b in walk.blocks {
            let h = try file.readBlock(at: b.offset, into: &buffers.block, scratch: &buffers.scratch)
            try buffers.block.withUnsafeBytes { raw in
                guard raw.count == h.rawLength else {
                    throw StrataError(.corruption, "block decompressed to \(raw.count) bytes, declared \(h.rawLength)", path: file.path, offset: b.offset)
                }
                try builder.adoptWrittenBlock(at: b.offset, entries: raw, path: file.path)
            }
            guard builder.blocks.last?.entryCount == h.entryCount else {
                throw StrataError(.corruption, "block declares \(h.entryCount) entries but holds \(builder.blocks.last?.entryCount ?? 0)", path: file.path, offset: b.offset)
            }
        }
        let seg = try ActiveSegment(fs: fs, reopening: file.path, partition: file.partition, fileMode: options.fileMode, recovered: builder)
        try seg.seal()
        try seg.close()
    }

    static func segmentSequence(fromFileName name: String) -> UInt64? {
        guard name.hasPrefix("seg-"), name.hasSuffix(".strata") else { return nil }
        return UInt64(name.dropFirst(4).dropLast(7))
    }
}
