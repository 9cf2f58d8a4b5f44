import Foundation

/// A read-only view of the partitions an export selects (SPEC.md §8.6): the
/// manifest, their segments (complete frames only, as `StoreReader` sees
/// them) and a fingerprint per partition. Unlike `StoreReader` it builds no
/// id index and opens only the selected partitions' segments, so exporting
/// one partition of a large store costs only that partition.
final class ExportSnapshot {
    struct SegmentVersion {
        var sequence: UInt64
        var bytes: Int64
        var sealed: Bool
        var codec: String
        var dictionaryID: UInt32
    }

    let manifest: Manifest
    let catalog: SegmentCatalog
    /// Selected partitions, sorted.
    let partitions: [PartitionKey]
    let segments: [PartitionKey: [SegmentVersion]]
    /// Annotation entries (kind 2) not yet folded by compaction, of the selected partitions (SPEC.md §4.6).
    var annotationMap = AnnotationMap()
    let pins: PinnedFileSystem

    /// Salvage mode: segments that fail to open as corrupt (listed here).
    private(set) var skipped: [StrataError] = []

    init(path: String, fs: FileSystem, include: (PartitionKey) -> Bool, skipDamaged: Bool = false) throws {
        // The selected partitions' files are opened now and held (SPEC.md §7.2).
        let snap = try PinnedSnapshot.pin(root: path, fs: fs) { include($0.partition) }
        pins = snap.fs
        manifest = snap.manifest
        catalog = SegmentCatalog(fs: snap.fs, root: path)
        var segs: [PartitionKey: [SegmentVersion]] = [:]
        var buffers = ReadBuffers()
        do {
            try catalog.loadDictionaries(for: Self.selected(manifest, include))
        } catch {
            snap.fs.unpinAll()
            throw error
        }
        for entry in manifest.segments where include(entry.partition) && !snap.vanishedActive.contains(entry.sequence) {
            let added: SegmentFile?
            do { added = try catalog.addSnapshotSegment(entry, annotations: &annotationMap, buffers: &buffers) }
            catch let e as StrataError where e.code == .corruption && skipDamaged {
                if catalog.files[entry.sequence] != nil { catalog.remove(entry.sequence) }
                skipped.append(StrataError(.corruption, "segment skipped: \(e.message)", path: e.path, offset: e.offset))
                continue
            } catch {
                catalog.closeAll()
                snap.fs.unpinAll()
                throw error
            }
            guard let file = added else { continue }
            segs[entry.partition, default: []].append(SegmentVersion(
                sequence: entry.sequence, bytes: file.validLength, sealed: file.footer != nil,
                codec: entry.codec, dictionaryID: entry.dictionaryID))
        }
        for k in segs.keys { segs[k]!.sort { $0.sequence < $1.sequence } }
        segments = segs
        partitions = segs.keys.sorted()
    }

    /// XXH3-64 of the partition's segment list (`seq:bytes:state:codec:dict;` each, in sequence order).
    func fingerprint(_ p: PartitionKey) -> UInt64 {
        var text = p.path + "|"
        for s in segments[p] ?? [] {
            text += "\(s.sequence):\(s.bytes):\(s.sealed ? "sealed" : "active"):\(s.codec):\(s.dictionaryID);"
        }
        return XXH.hash64(Array(text.utf8))
    }

    /// The store version recorded in exports.
    func versionObject() -> [String: Any] {
        var parts: [String: Any] = [:]
        var all = ""
        for p in partitions {
            let fp = fingerprint(p)
            all += p.path + "=" + hex64(fp) + ";"
            parts[p.path] = [
                "fingerprint": hex64(fp),
                "segments": (segments[p] ?? []).map {
                    ["seq": $0.sequence, "bytes": $0.bytes, "state": $0.sealed ? "sealed" : "active"] as [String: Any]
                },
            ] as [String: Any]
        }
        return [
            "store_id": manifest.storeID,
            "generation": manifest.generation,
            "fingerprint": hex64(XXH.hash64(Array(all.utf8))),
            "partitions": parts,
        ]
    }

    /// The manifest restricted to the selected partitions (for loading only their dictionaries).
    static func selected(_ m: Manifest, _ include: (PartitionKey) -> Bool) -> Manifest {
        var m = m
        m.segments = m.segments.filter { include($0.partition) }
        return m
    }

    func close() {
        catalog.closeAll()
        pins.unpinAll()
    }
}

@inline(__always) func hex64(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}
