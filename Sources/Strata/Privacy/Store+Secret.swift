/// The store's secret for `--hash-field` pseudonyms (SPEC.md §9):
/// STORE/keys/field-hash.key, created on first use with mode 0600.
extension Store {
    static let secretMagic: [UInt8] = Array("STRKEY01".utf8)
    /// MANIFEST member recording that pseudonyms exist (SPEC.md §9).
    static let secretManifestKey = "field_hash_key"

    /// XXH3-64 of the key bytes, 16 hex digits: identifies the key without revealing it.
    static func secretFingerprint(_ key: [UInt8]) -> String { hex64(XXH.hash64(key)) }
    /// Returns the store's 32-byte field-hashing secret, creating it durably on first use.
    public func fieldHashSecret() throws -> [UInt8] {
        try lock.withLock {
            let dir = path + "/keys"
            let file = dir + "/field-hash.key"
            if fs.fileExists(file) {
                let bytes = try fs.readFile(file)
                let key = try Store.decodeSecret(bytes, path: file)
                if let want = manifest.extra[Store.secretManifestKey]?.string, want != Store.secretFingerprint(key) {
                    throw StrataError(.corruption, "keys/field-hash.key is not the key this store's pseudonyms were made with (MANIFEST \(Store.secretManifestKey) \(want)); restore the original from a backup", path: file, offset: 16)
                }
                return key
            }
            // A missing key is never silently replaced when pseudonyms exist: a new
            // one would change every pseudonym (SPEC.md §9).
            if manifest.extra[Store.secretManifestKey] != nil || fs.isDirectory(dir) {
                throw StrataError(.corruption, "keys/field-hash.key is missing but this store holds fields pseudonymized with it; restore it from a backup (a new key would change every pseudonym)", path: file, offset: 0)
            }
            return try guardWrite {
                var g = SystemRandomNumberGenerator()
                var key = [UInt8](repeating: 0, count: 32)
                for i in key.indices { key[i] = g.next() }
                var w = ByteWriter(capacity: 56)
                w.append(Store.secretMagic)
                w.u16(Format.version)
                w.u16(0)
                w.u32(UInt32(key.count))
                w.append(key)
                w.u64(XXH.hash64(w.bytes))
                if !fs.isDirectory(dir) {
                    try fs.createDirectory(dir, mode: options.directoryMode)
                    try fs.syncDirectory(path)
                }
                try fs.replaceAtomically(file, mode: 0o600) { try $0.write(w.bytes) }
                // Recorded (a fingerprint, not the key) so that a later loss is detected.
                manifest.extra[Store.secretManifestKey] = Manifest.Member(string: Store.secretFingerprint(key))
                manifestDirty = true
                return key
            }
        }
    }

    static func decodeSecret(_ bytes: [UInt8], path: String) throws -> [UInt8] {
        try bytes.withUnsafeBytes { raw in
            guard raw.count >= 24, raw.prefix(8).elementsEqual(secretMagic) else {
                throw StrataError(.corruption, "not a Strata key file (bad magic)", path: path, offset: 0)
            }
            var r = ByteReader(raw, path: path)
            try r.skip(8)
            let version = try r.u16()
            guard version <= Format.version else {
                throw StrataError(.unsupportedVersion, "key file version \(version) is newer than this build", path: path, offset: 8)
            }
            _ = try r.u16()
            let n = Int(try r.u32())
            guard n >= 16, n <= 1024, raw.count == 16 + n + 8 else {
                throw StrataError(.corruption, "key file length does not match its header", path: path, offset: 12)
            }
            let key = try r.slice(n)
            let sum = try r.u64()
            guard XXH.hash64(UnsafeRawBufferPointer(rebasing: raw[0..<(16 + n)])) == sum else {
                throw StrataError(.corruption, "key file checksum mismatch", path: path, offset: Int64(16 + n))
            }
            return Array(key)
        }
    }
}
