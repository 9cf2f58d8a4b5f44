#if canImport(Glibc)
import Glibc
#endif

/// A cheap test before a metadata path lookup (`JSONPathLookup`), which
/// parses the object: exports ask every row for keys most stores never have
/// (`conversation_id`, `scaffolding`, `quality_tier`, `source_file`).
enum MetadataKeys {
    /// False only when no member of `metadata` (at any depth) can be named
    /// `key`: its bytes occur nowhere in the text and the text has no
    /// backslash, so no name is spelled with escapes. A lookup through
    /// `key` then finds nothing; otherwise the caller does the lookup.
    static func mayContain(_ metadata: UnsafeRawBufferPointer, _ key: [UInt8]) -> Bool {
        guard let base = metadata.baseAddress, metadata.count > 0 else { return false }
        let n = metadata.count, k = key.count
        if memchr(base, 0x5C, n) != nil { return true }
        guard k > 0, k <= n else { return k == 0 }
        return key.withUnsafeBytes { kb in
            let first = Int32(kb[0])
            var at = 0
            while at <= n - k, let hit = memchr(base + at, first, n - k - at + 1) {
                let i = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + i, kb.baseAddress!, k) == 0 { return true }
                at = i + 1
            }
            return false
        }
    }
}
