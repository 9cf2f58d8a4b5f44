/// zstd dictionary files `STORE/dicts/dict-<id>.zdict` (SPEC.md §6).
///
///     0   8  magic "STRDICT1"
///     8   2  u16 format version: 3 (written with a word model), 2 (written without), 1 (still read)
///     10  2  u16 reserved, 0
///     12  4  u32 dictionaryID (the id segment headers and the manifest use; ≥ 1)
///     16  4  u32 storedLength n: bytes after the header
///     20  4  u32 v2: dictionaryLength (the dictionary's size, 1…16 MiB); v1: reserved, 0
///     24  8  u64 XXH3-64 of bytes [0, 24) followed by the n stored bytes
///     32  n  v2: one zstd frame (no dictionary) of the dictionary; v1: the dictionary itself;
///            v3: one zstd frame of `u32 zstdDictionaryLength z | z bytes dictionary | word model` (§6.1)
///
/// The dictionary is in zstd's dictionary format, as ZDICT produces it. Its
/// trained content is text, so version 2 stores it compressed (the benchmark
/// corpus's 11 dictionaries: 1.27 MB as is, 0.49 MB at level 3).
public enum DictionaryFile {
    /// A version 2 file: the dictionary compressed at zstd `level`.
    /// With a word model, a version 3 file holding both.
    public static func encode(id: UInt32, dictionary: [UInt8], wordModel: WordModel? = nil, level: Int32) throws -> [UInt8] {
        var content = dictionary
        var version = Format.dictionaryVersion
        if let wordModel {
            var w = ByteWriter(capacity: 4 + dictionary.count)
            w.u32(UInt32(dictionary.count))
            w.append(dictionary)
            w.append(wordModel.serialized())
            content = w.bytes
            version = Format.dictionaryWordModelVersion
        }
        var stored: [UInt8] = []
        try content.withUnsafeBytes { _ = try ZstdCodec.compress($0, level: level, appendingTo: &stored) }
        return frame(version: version, id: id, stored: stored, dictionaryLength: UInt32(content.count))
    }

    /// The file bytes for `stored` (the version's payload) under a checksummed header.
    static func frame(version: UInt16, id: UInt32, stored: [UInt8], dictionaryLength: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: Format.dictionaryHeaderSize + stored.count)
        w.append(Format.dictionaryMagic)
        w.u16(version)
        w.u16(0)
        w.u32(id)
        w.u32(UInt32(stored.count))
        w.u32(dictionaryLength)
        let h = XXH64Stream()
        h.update(w.bytes)
        h.update(stored)
        w.u64(h.digest)
        w.append(stored)
        return w.bytes
    }

    /// Validates a dictionary file (version 1, 2 or 3) and returns its
    /// dictionary. Never traps on bad bytes: damage is `.corruption` with the
    /// file and offset, a newer version `.unsupportedVersion`.
    public static func decode(_ bytes: [UInt8], expectedID: UInt32, path: String) throws -> ZstdDictionary {
        var fileVersion: UInt16 = 0
        let content: [UInt8] = try bytes.withUnsafeBytes { raw in
            guard raw.count >= Format.dictionaryHeaderSize, raw.prefix(8).elementsEqual(Format.dictionaryMagic) else {
                throw StrataError(.corruption, "not a Strata dictionary file (bad magic or too short)", path: path, offset: 0)
            }
            var r = ByteReader(raw, path: path)
            try r.skip(8)
            let version = try r.u16()
            fileVersion = version
            guard version >= Format.oldestReadableVersion, version <= Format.dictionaryWordModelVersion else {
                throw StrataError(.unsupportedVersion, "dictionary format version \(version) is not supported by this build", path: path, offset: 8)
            }
            _ = try r.u16()
            let id = try r.u32()
            let n = Int(try r.u32())
            let dictionaryLength = Int(try r.u32())
            let sum = try r.u64()
            guard id == expectedID else {
                throw StrataError(.corruption, "dictionary file holds id \(id), expected \(expectedID)", path: path, offset: 12)
            }
            guard n == r.remaining else {
                throw StrataError(.corruption, "dictionary length \(n) does not match the file (\(r.remaining) bytes follow the header)", path: path, offset: 16)
            }
            let h = XXH64Stream()
            h.update(UnsafeRawBufferPointer(rebasing: raw[0..<24]))
            let stored = UnsafeRawBufferPointer(rebasing: raw[Format.dictionaryHeaderSize...])
            h.update(stored)
            guard h.digest == sum else {
                throw StrataError(.corruption, "dictionary checksum mismatch", path: path, offset: 24)
            }
            if version == 1 {
                // The stored bytes are the dictionary (m = n), within the same bounds as version 2's m.
                guard n >= 1, n <= Format.maxDictionaryBytes else {
                    throw StrataError(.corruption, "dictionary of \(n) bytes (1…\(Format.maxDictionaryBytes) allowed)", path: path, offset: 16)
                }
                return Array(stored)
            }
            guard dictionaryLength >= 1, dictionaryLength <= Format.maxDictionaryBytes else {
                throw StrataError(.corruption, "dictionary declares \(dictionaryLength) bytes (1…\(Format.maxDictionaryBytes) allowed)", path: path, offset: 20)
            }
            var out: [UInt8] = []
            guard ZstdCodec.decompress(stored, rawLength: dictionaryLength, into: &out) else {
                throw StrataError(.corruption, "compressed dictionary does not decompress to its declared \(dictionaryLength) bytes",
                                  path: path, offset: Int64(Format.dictionaryHeaderSize))
            }
            return out
        }
        var dict = content
        var wordModel: WordModel?
        if fileVersion == Format.dictionaryWordModelVersion {
            // Positions inside the decompressed content are reported at the stored frame's offset.
            try content.withUnsafeBytes { raw in
                var r = ByteReader(raw, path: path, baseOffset: Int64(Format.dictionaryHeaderSize), positionsAreInFile: false)
                let z = Int(try r.u32("zstd dictionary length"))
                guard z >= 1, z <= r.remaining else {
                    throw r.corruption("zstd dictionary length \(z) does not fit the \(r.remaining) bytes that follow", at: 0)
                }
                dict = Array(try r.slice(z, "zstd dictionary"))
                wordModel = try WordModel.parse(&r)
                guard r.isAtEnd else { throw r.corruption("\(r.remaining) bytes follow the word model") }
            }
        }
        guard let d = ZstdDictionary(bytes: dict, wordModel: wordModel) else {
            throw StrataError(.corruption, "dictionary bytes are not a zstd dictionary", path: path, offset: Int64(Format.dictionaryHeaderSize))
        }
        return d
    }
}

extension SegmentCatalog {
    var dictionaryDirectory: String { root + "/" + Format.dictionaryDirectory }

    func dictionaryPath(_ id: UInt32) -> String { dictionaryDirectory + "/" + Format.dictionaryFileName(id) }

    /// Loads every dictionary the manifest's segments reference (before segments are added).
    func loadDictionaries(for manifest: Manifest) throws {
        for id in Set(manifest.segments.map(\.dictionaryID)) where id != 0 && dictionaries[id] == nil {
            let p = dictionaryPath(id)
            guard fs.fileExists(p) else {
                throw StrataError(.corruption, "dictionary \(id) referenced by the manifest is missing; segments compressed with it cannot be read", path: p)
            }
            dictionaries[id] = try DictionaryFile.decode(try fs.readFile(p), expectedID: id, path: p)
        }
    }
}

extension Store {
    /// Recovery for dictionaries (SPEC.md §7): drops temporaries and
    /// dictionaries no listed segment references (an interrupted compaction),
    /// then loads the referenced ones.
    func recoverDictionaries() throws {
        let dir = catalog.dictionaryDirectory
        if fs.isDirectory(dir) {
          try fs.removingUnderSnapshotLock(root: path) {
            let used = Set(manifest.segments.map(\.dictionaryID))
            for name in try fs.listDirectory(dir) {
                let unused = DictionaryFile.id(fromFileName: name).map { !used.contains($0) } ?? false
                let own = fs.isOwnLeftover(dir + "/" + name, magic: name.hasSuffix(".tmp") ? nil : Format.dictionaryMagic)
                if (name.hasPrefix("dict-") && name.hasSuffix(".tmp") || unused) && own {
                    try fs.remove(dir + "/" + name)
                    recoveryEvents.append(RecoveryEvent(kind: name.hasSuffix(".tmp") ? .removedTemporary : .removedOrphan, path: dir + "/" + name))
                }
            }
          }
        }
        try catalog.loadDictionaries(for: manifest)
    }
}

extension DictionaryFile {
    static func id(fromFileName name: String) -> UInt32? {
        guard name.hasPrefix("dict-"), name.hasSuffix(".zdict") else { return nil }
        return UInt32(name.dropFirst(5).dropLast(6))
    }
}
