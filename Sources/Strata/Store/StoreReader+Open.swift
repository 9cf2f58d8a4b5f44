extension StoreReader {
    /// Opens a snapshot, retrying when a segment or dictionary the manifest
    /// listed disappeared before it could be opened: a compaction swapped the
    /// manifest and deleted the old files in between (SPEC.md §7.1). Any other
    /// error, or the same one `attempts` times in a row, is thrown.
    public static func open(at path: String, fileSystem: FileSystem = PosixFileSystem.shared, attempts: Int = 5,
                            partitions inScope: ((PartitionKey) -> Bool)? = nil) throws -> StoreReader {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try StoreReader(path: path, fileSystem: fileSystem, partitions: inScope)
            } catch let e as StrataError where attempt < attempts && (e.code == .notFound || e.code == .corruption) {
                // Only a file that vanished is worth a retry.
                if let p = e.path, p != path, !fileSystem.fileExists(p) { continue }
                throw e
            }
        }
    }
}
