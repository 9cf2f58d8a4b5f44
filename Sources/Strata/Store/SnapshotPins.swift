/// The files of one consistent snapshot, opened up front and held (SPEC.md §7.2).
///
/// Under the shared snapshot lock (`STORE/SNAPSHOT`), the manifest is read and
/// every file it names that the snapshot will read — segments, dictionaries,
/// the index snapshot — is opened. The lock is then released: a writer deletes
/// replaced files only under the exclusive lock, so every file the manifest
/// named was still there, and POSIX keeps an open file readable after it is
/// unlinked. Everything the snapshot reads later goes through `PinnedFileSystem`,
/// which serves those paths from the held descriptors, so a compaction that swaps
/// the manifest and deletes the old segments mid-read changes nothing for it.
// @unchecked: `pins` is touched only under `lock`; each held descriptor is read with positioned reads (no shared offset).
final class PinnedFileSystem: ForwardingFileSystem, @unchecked Sendable {
    let base: any FileSystem
    private var pins: [String: ReadableFile] = [:]
    private let lock = Lock()

    init(base: FileSystem) { self.base = base }

    /// Opens `path` now and serves it from this descriptor from then on.
    /// Returns false when the file does not exist.
    @discardableResult
    func pin(_ path: String) throws -> Bool {
        do {
            let f = try base.openReadable(path)
            lock.withLock { pins[path] = f }
            return true
        } catch let e as StrataError where e.code == .notFound {
            return false
        }
    }

    func isPinned(_ path: String) -> Bool { lock.withLock { pins[path] != nil } }

    /// Closes every held descriptor (the snapshot is done).
    func unpinAll() {
        let all = lock.withLock { () -> [ReadableFile] in
            defer { pins = [:] }
            return Array(pins.values)
        }
        for f in all { f.close() }
    }

    private func pinned(_ path: String) -> ReadableFile? { lock.withLock { pins[path] } }

    func openReadable(_ path: String) throws -> ReadableFile {
        if let f = pinned(path) { return SharedReadable(f) }
        return try base.openReadable(path)
    }

    func readFile(_ path: String) throws -> [UInt8] {
        guard let f = pinned(path) else { return try base.readFile(path) }
        var buf: [UInt8] = []
        let size = try f.currentSize()
        guard size < Int64(Int32.max) else { throw StrataError(.corruption, "file too large to read whole", path: path) }
        try f.read(at: 0, count: Int(size), into: &buf)
        return buf
    }

    func fileExists(_ path: String) -> Bool { pinned(path) != nil || base.fileExists(path) }
    func fileSize(_ path: String) throws -> Int64 { try pinned(path)?.currentSize() ?? base.fileSize(path) }
}

/// A view of a pinned descriptor whose `close` leaves the descriptor open
/// (the snapshot owns it).
private final class SharedReadable: ReadableFile {
    let inner: ReadableFile
    init(_ inner: ReadableFile) { self.inner = inner }
    var path: String { inner.path }
    func currentSize() throws -> Int64 { try inner.currentSize() }
    func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws -> Int {
        try inner.read(at: offset, count: count, into: &buffer)
    }
    func close() {}
}

/// A pinned manifest and the file system that serves the snapshot's files.
struct PinnedSnapshot {
    var manifest: Manifest
    var fs: PinnedFileSystem
    /// Listed active segments that were gone when pinned (the writer removes an
    /// empty active segment on open); they hold nothing.
    var vanishedActive: Set<UInt64> = []

    /// Pins `root`'s manifest and, of the segments it lists, those `include`
    /// accepts, plus their dictionaries and the index snapshot (SPEC.md §7.2).
    /// A listed sealed segment that is missing is corruption (it can only have
    /// been deleted by something other than Strata), never a usage error.
    static func pin(root: String, fs base: FileSystem,
                    include: (Manifest.SegmentEntry) -> Bool = { _ in true }) throws -> PinnedSnapshot {
        let pfs = PinnedFileSystem(base: base)
        let mp = root + "/" + Format.manifestFileName
        // Checked before the lock file is created, so that a reader never leaves
        // a file in a directory that is no store.
        guard base.fileExists(mp) else { throw StrataError(.notFound, "no Strata store here (MANIFEST missing)", path: root) }
        let lock = try base.lockSnapshot(root + "/" + Format.snapshotLockFileName, exclusive: false, wait: 60)
        defer { lock?.unlock() }
        // The index snapshot first: it is rewritten after the manifest, so opened
        // before it, it never covers more than the manifest lists (except just
        // after a compaction swap, which §5.4's coverage check detects).
        try pfs.pin(root + "/" + Format.indexDirectoryName + "/" + Format.indexFileName)
        guard try pfs.pin(mp) else { throw StrataError(.notFound, "no Strata store here (MANIFEST missing)", path: root) }
        let manifest: Manifest
        do {
            manifest = try Manifest.decode(try pfs.readFile(mp), path: mp)
        } catch {
            pfs.unpinAll()
            throw error
        }
        var snap = PinnedSnapshot(manifest: manifest, fs: pfs)
        do {
            let selected = manifest.segments.filter(include)
            try base.reserveDescriptors(selected.count + 8)
            var dicts = Set<UInt32>()
            for e in selected {
                let p = root + "/" + e.partition.path + "/" + Format.segmentFileName(e.sequence)
                if try !pfs.pin(p) {
                    guard e.state == .active else {
                        throw StrataError(.corruption, "segment listed in the MANIFEST as sealed is missing; committed data may be lost — restore it from a copy", path: p)
                    }
                    snap.vanishedActive.insert(e.sequence)
                }
                if e.dictionaryID != 0 { dicts.insert(e.dictionaryID) }
            }
            for id in dicts { try pfs.pin(root + "/" + Format.dictionaryDirectory + "/" + Format.dictionaryFileName(id)) }
        } catch {
            pfs.unpinAll()
            throw error
        }
        return snap
    }
}

extension FileSystem {
    /// Runs `body`, which deletes files a snapshot may still name (replaced
    /// segments, unused dictionaries, leftovers), under the exclusive snapshot
    /// lock (SPEC.md §7.2): no reader is between reading the manifest and
    /// opening its files meanwhile. Returns false without running `body` when
    /// readers held the lock for `wait` seconds; the files then stay behind as
    /// unlisted leftovers that the next writer open removes.
    @discardableResult
    func removingUnderSnapshotLock(root: String, wait: Double = 10, _ body: () throws -> Void) throws -> Bool {
        let lock: FileLock?
        do {
            lock = try lockSnapshot(root + "/" + Format.snapshotLockFileName, exclusive: true, wait: wait)
        } catch let e as StrataError where e.code == .locked {
            return false
        }
        defer { lock?.unlock() }
        try body()
        return true
    }
}
