/// The writer's side of `index/stats.sum` (SPEC.md §5.6): one summary per
/// sealed segment, carried over while the segment lives, computed once when
/// it is sealed (from its footer's counts; by reading its blocks for format
/// version 1 segments), written with the index snapshot when the set changed
/// or the file is missing. Derived data: losing it costs readers footer reads.
extension Store {
    /// `sealedNow`: summaries of segments this writer just sealed, taken from
    /// memory (`ActiveSegment.sealedDigest`) instead of reopening each file.
    func writeSummariesLocked(sealedNow: [UInt64: SegmentDigest] = [:]) throws {
        let file = SegmentDigest.filePath(path)
        var next: [UInt64: SegmentDigest] = [:]
        var changed = false
        for e in manifest.segments where e.state == .sealed {
            if let d = digests[e.sequence], d.partition == e.partition { next[e.sequence] = d; continue }
            if let d = sealedNow[e.sequence], d.partition == e.partition {
                next[e.sequence] = d
                changed = true
                continue
            }
            if let f = catalog.files[e.sequence], f.isSealed {
                next[e.sequence] = try SegmentDigest(file: f, fs: fs)
            } else {
                // Sealed since the catalog opened it (roll, close): read its new footer.
                let f = try SegmentFile(fs: fs, path: catalog.segmentPath(e.partition, e.sequence), sequence: e.sequence,
                                        partition: e.partition, expectSealed: true)
                defer { f.close() }
                next[e.sequence] = try SegmentDigest(file: f, fs: fs)
            }
            changed = true
        }
        if next.count != digests.count { changed = true }
        digests = next
        guard changed || (!next.isEmpty && !fs.fileExists(file)) else { return }
        let dir = path + "/" + Format.indexDirectoryName
        if !fs.isDirectory(dir) {
            try fs.createDirectory(dir, mode: options.directoryMode)
            try fs.syncDirectory(path)
        }
        let bytes = SummaryFile.encode(Array(next.values))
        try fs.replaceAtomically(file, mode: options.fileMode) { try $0.write(bytes) }
    }
}
