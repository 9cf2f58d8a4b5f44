import Foundation

/// The store manifest (SPEC.md §2.1): a checksummed JSON body.
public struct Manifest: Sendable {
    public struct SegmentEntry: Sendable, Equatable {
        public enum State: String, Sendable { case active, sealed }
        public var sequence: UInt64
        public var partition: PartitionKey
        public var state: State
        public var codec: String
        public var dictionaryID: UInt32
        /// Active segments only (SPEC.md §2.1, §7): the file length the last
        /// commit made durable. Bytes below it are committed; nil in manifests
        /// of format version 1, which did not record it.
        public var committed: Int64?

        public init(sequence: UInt64, partition: PartitionKey, state: State, codec: String = "lz4", dictionaryID: UInt32 = 0,
                    committed: Int64? = nil) {
            self.sequence = sequence
            self.partition = partition
            self.state = state
            self.codec = codec
            self.dictionaryID = dictionaryID
            self.committed = committed
        }
    }

    public var storeID: String
    public var created: String
    public var generation: UInt64
    public var nextSegment: UInt64
    public var dedup: DedupSpec
    public var segments: [SegmentEntry]
    /// Members this build does not know, preserved on rewrite (SPEC.md §1).
    public var extra: [String: Member]

    /// The `dedup` member as written (SPEC.md §5.3). Its names are checked when
    /// a store opens (`DedupKey(manifest:path:)`), so a manifest naming a key
    /// this build does not know still decodes: inspect shows it, open refuses it.
    public struct DedupSpec: Sendable, Equatable {
        public var key: String
        public var fields: [String]
        public var normalize: String

        public init(key: String = "content", fields: [String] = [], normalize: String = "none") {
            self.key = key
            self.fields = fields
            self.normalize = normalize
        }
    }

    /// A member this build does not interpret: its JSON text, serialized as the
    /// manifest writes members (sorted keys), copied through on rewrite.
    public struct Member: Sendable, Equatable {
        public let json: [UInt8]

        init(value: Any) throws {
            json = Array(try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]))
        }

        /// Text already in the serializer's form (sorted keys, slashes unescaped).
        init(json: [UInt8]) { self.json = json }

        public init(string: String) {
            // A String always serializes.
            self = try! Member(value: string)
        }

        /// The parsed value (Foundation's JSON types).
        public var value: Any? { try? JSONSerialization.jsonObject(with: Data(json), options: .fragmentsAllowed) }
        public var string: String? { value as? String }
    }

    static let knownKeys: Set<String> = ["store_id", "created", "generation", "next_segment", "dedup", "segments"]

    public init(storeID: String, created: String) {
        self.storeID = storeID
        self.created = created
        generation = 0
        nextSegment = 1
        dedup = DedupSpec()
        segments = []
        extra = [:]
    }

    public func encode() throws -> [UInt8] {
        // Written by hand, not through JSONSerialization: the segment list can
        // hold thousands of entries and the manifest is rewritten at every
        // compaction swap, where Foundation's boxing and sorted-key collation
        // dominated (measured). Members are emitted in sorted key order, as before.
        var body: [UInt8] = []
        body.reserveCapacity(128 + segments.count * 96)
        var members: [(String, [UInt8])] = []
        for (k, v) in extra { members.append((k, v.json)) }
        var str: [UInt8] = []
        func jsonString(_ s: String) -> [UInt8] {
            str.removeAll(keepingCapacity: true)
            JSONWriter.appendString(s, to: &str)
            return str
        }
        members.append(("created", jsonString(created)))
        members.append(("dedup", try Member(value: ["key": dedup.key, "fields": dedup.fields, "normalize": dedup.normalize] as [String: Any]).json))
        members.append(("generation", Array(String(generation).utf8)))
        members.append(("next_segment", Array(String(nextSegment).utf8)))
        var segs: [UInt8] = [UInt8(ascii: "[")]
        for (i, seg) in segments.enumerated() {
            if i > 0 { segs.append(UInt8(ascii: ",")) }
            segs.append(contentsOf: #"{"codec":"#.utf8)
            segs.append(contentsOf: jsonString(seg.codec))
            if seg.state == .active, let c = seg.committed { segs.append(contentsOf: #","committed":\#(c)"#.utf8) }
            segs.append(contentsOf: #","dict":\#(seg.dictionaryID),"partition":"#.utf8)
            segs.append(contentsOf: jsonString(seg.partition.path))
            segs.append(contentsOf: #","seq":\#(seg.sequence),"state":"#.utf8)
            segs.append(contentsOf: jsonString(seg.state.rawValue))
            segs.append(UInt8(ascii: "}"))
        }
        segs.append(UInt8(ascii: "]"))
        members.append(("segments", segs))
        members.append(("store_id", jsonString(storeID)))
        body.append(UInt8(ascii: "{"))
        for (i, (k, v)) in members.sorted(by: { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }).enumerated() {
            if i > 0 { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: jsonString(k))
            body.append(UInt8(ascii: ":"))
            body.append(contentsOf: v)
        }
        body.append(UInt8(ascii: "}"))
        return Manifest.file(body: body)
    }

    /// The manifest file around a JSON `body`: the 24-byte header (SPEC.md §2.1), then the body.
    static func file(body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: 24 + body.count)
        w.append(Format.manifestMagic)
        w.u16(Format.manifestVersion)
        w.u16(0)
        w.u32(UInt32(body.count))
        w.u64(XXH.hash64(body))
        w.append(body)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> Manifest {
        try bytes.withUnsafeBytes { raw in
            guard raw.count >= 24, raw.prefix(8).elementsEqual(Format.manifestMagic) else {
                throw StrataError(.corruption, "not a Strata manifest (bad magic or shorter than 24 bytes)", path: path, offset: 0)
            }
            var r = ByteReader(raw, path: path)
            try r.skip(8)
            let version = try r.u16()
            guard version >= Format.oldestReadableVersion, version <= Format.manifestVersion else {
                throw StrataError(.unsupportedVersion, "manifest format version \(version) is newer than this build supports (\(Format.manifestVersion)); upgrade strata", path: path, offset: 8)
            }
            _ = try r.u16()
            let n = Int(try r.u32())
            let sum = try r.u64()
            guard n == r.remaining else {
                throw StrataError(.corruption, "manifest body length \(n) does not match file (\(r.remaining) bytes follow the header)", path: path, offset: 12)
            }
            let body = try r.slice(n)
            guard XXH.hash64(body) == sum else {
                throw StrataError(.corruption, "manifest checksum mismatch", path: path, offset: 24)
            }
            return try ManifestBodyParser.decode(body, path: path)
        }
    }
}

/// A partition: `domain=<domain>/month=<YYYY-MM>` (SPEC.md §2).
public struct PartitionKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var domain: String
    public var month: Month

    public init(domain: String, month: Month) {
        self.domain = domain
        self.month = month
    }

    /// Parses "domain=D/month=YYYY-MM", validating the domain.
    public init?(path: String) {
        var path = path
        guard let key = path.withUTF8({ PartitionKey(pathBytes: $0) }) else { return nil }
        self = key
    }

    /// The same from UTF-8 bytes. Byte-wise, not by `Character`: a manifest
    /// lists one key per segment, and splitting `String`s by grapheme cost more
    /// than the rest of its decode. (Only ASCII keys are valid, so the two agree.)
    init?(pathBytes b: UnsafeBufferPointer<UInt8>) {
        let domainPrefix: StaticString = "domain=", monthPrefix: StaticString = "month="
        func hasPrefix(_ p: StaticString, at i: Int) -> Bool {
            i + p.utf8CodeUnitCount <= b.count && memcmp(b.baseAddress! + i, p.utf8Start, p.utf8CodeUnitCount) == 0
        }
        guard let slash = b.firstIndex(of: UInt8(ascii: "/")), !b[(slash + 1)...].contains(UInt8(ascii: "/")),
              hasPrefix(domainPrefix, at: 0), hasPrefix(monthPrefix, at: slash + 1) else { return nil }
        let d = b[domainPrefix.utf8CodeUnitCount..<slash]
        guard PartitionKey.isValidDomain(d),
              let m = Month(bytes: UnsafeBufferPointer(rebasing: b[(slash + 1 + monthPrefix.utf8CodeUnitCount)...])) else { return nil }
        self.init(domain: String(decoding: d, as: UTF8.self), month: m)
    }

    public var path: String { "domain=\(domain)/month=\(month)" }
    public var description: String { path }

    public static func < (a: Self, b: Self) -> Bool { (a.domain, a.month) < (b.domain, b.month) }

    /// `[a-z0-9][a-z0-9_-]{0,63}` (SPEC.md §2).
    public static func isValidDomain<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        var first = true
        for b in bytes {
            let alnum = (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39)
            if first { guard alnum else { return false }; first = false } else {
                guard alnum || b == 0x5f || b == 0x2d else { return false }
            }
        }
        return true
    }

    public static func isValidDomain(_ s: String) -> Bool { isValidDomain(Array(s.utf8)) }
}

extension Month {
    /// `Month(String)` on UTF-8 bytes, without building strings: "YYYY-MM",
    /// each number as `Int(String)` reads it (an optional sign, then digits).
    init?(bytes u: UnsafeBufferPointer<UInt8>) {
        func int(_ r: Range<Int>) -> Int? {
            var i = r.lowerBound, negative = false
            if u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") { negative = u[i] == UInt8(ascii: "-"); i += 1 }
            guard i < r.upperBound else { return nil }
            var v = 0
            while i < r.upperBound {
                let d = u[i] &- 0x30
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
                i += 1
            }
            return negative ? -v : v
        }
        guard u.count == 7, u[4] == UInt8(ascii: "-"), let y = int(0..<4), let m = int(5..<7), (1...12).contains(m) else { return nil }
        self.init(year: y, month: m)
    }
}
