import Foundation

/// Streams JSONL (or a JSON array) into a store: split, parse, validate,
/// dedup, append, commit every `commitEveryBytes` of input and at the end.
/// A bad record is reported (line, field, reason) and never stops the rest.
public final class Ingester {
    public struct Summary: Sendable {
        public var read = 0
        public var inserted = 0
        public var duplicates = 0
        public var rejected = 0
        /// Header lines such as seed 001's `{"_meta": {...}}`, which are not examples.
        public var skipped = 0
        public var bytes: Int64 = 0
        public var commits = 0
    }

    public struct Rejection {
        public var source: String
        public var error: StrataError
        /// The record's text when short enough to keep (≤ 1 MiB), for a rejects file.
        public var text: [UInt8]?
    }

    public let store: Store
    public var commitEveryBytes: Int64 = 64 << 20
    /// Also commit after this many records (0 = no record limit).
    public var commitEveryRecords = 0
    /// Called for each rejected record.
    public var onReject: ((Rejection) -> Void)?
    /// Called for each duplicate: (source, line, id).
    public var onDuplicate: ((String, Int, ExampleID) -> Void)?
    /// Called after each commit with the running summary; everything counted in it is durable.
    public var onCommit: ((Summary) -> Void)?
    /// Called periodically with the bytes read so far.
    public var onProgress: ((Int64) -> Void)?
    public private(set) var summary = Summary()

    private var parser: IngestLineParser
    private var draft = ExampleDraft()
    private var uncommittedBytes: Int64 = 0
    private var uncommittedRecords = 0
    private var idScratch = ByteWriter(capacity: 4096)

    public init(store: Store, mapping: IngestMapping) throws {
        self.store = store
        parser = try IngestLineParser(mapping: mapping)
    }

    /// Ingests one input file ("-" for standard input).
    public func ingest(path: String) throws {
        let fd: Int32 = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw StrataError(.notFound, "cannot open input: \(String(cString: strerror(errno)))", path: path)
        }
        defer { if fd != 0 { close(fd) } }
        let name = path == "-" ? "<stdin>" : path
        var splitter = JSONDocumentSplitter()
        var chunk = [UInt8](repeating: 0, count: 4 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StrataError(.io, "read failed: \(String(cString: strerror(errno)))", path: name)
            }
            if n == 0 { break }
            summary.bytes += Int64(n)
            try chunk.withUnsafeBytes { raw in
                try splitter.feed(UnsafeRawBufferPointer(rebasing: raw[0..<n])) { try handle($0, source: name) }
            }
            onProgress?(summary.bytes)
        }
        try splitter.finish { try handle($0, source: name) }
    }

    /// Ingests records already in memory (one JSON object per element).
    public func ingest(records: [[UInt8]], source: String = "<memory>") throws {
        for (i, r) in records.enumerated() {
            try r.withUnsafeBytes { try handle(.record($0, line: i + 1), source: source) }
        }
    }

    private func handle(_ piece: JSONDocumentSplitter.Piece, source: String) throws {
        switch piece {
        case let .rejected(error):
            summary.read += 1
            reject(error, source: source, text: nil)
        case let .record(bytes, line):
            summary.read += 1
            if Ingester.isMetaHeader(bytes) {
                summary.skipped += 1
                return
            }
            do {
                try parser.parse(bytes, into: &draft)
                try ExampleValidation.validate(draft)
                if let claimed = parser.id {
                    let actual = CanonicalContent.id(of: draft, scratch: &idScratch)
                    guard actual == claimed else {
                        throw StrataError(.invalidInput, "id \(claimed) does not match the content's id \(actual)", field: "id")
                    }
                }
            } catch var e as StrataError where e.code == .invalidInput {
                e.line = line
                reject(e, source: source, text: bytes.count <= 1 << 20 ? Array(bytes) : nil)
                return
            }
            let outcome = try store.appendValidated(&draft)
            if outcome.isDuplicate {
                summary.duplicates += 1
                onDuplicate?(source, line, outcome.id)
            } else {
                summary.inserted += 1
            }
            uncommittedBytes += Int64(bytes.count)
            uncommittedRecords += 1
            if uncommittedBytes >= commitEveryBytes || (commitEveryRecords > 0 && uncommittedRecords >= commitEveryRecords) {
                try commit()
            }
        }
    }

    /// True for a `{"_meta": ...}` header line (seed 001's JSONL), which carries no example.
    static func isMetaHeader(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
        guard i < b.count, b[i] == UInt8(ascii: "{") else { return false }
        i += 1
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
        let key = Array(#""_meta""#.utf8)
        return b.count - i >= key.count && b[i..<(i + key.count)].elementsEqual(key)
    }

    private func reject(_ e: StrataError, source: String, text: [UInt8]?) {
        summary.rejected += 1
        var e = e
        if e.path == nil { e.path = source }
        onReject?(Rejection(source: source, error: e, text: text))
    }

    /// Makes everything ingested so far durable.
    public func commit() throws {
        try store.commit()
        uncommittedBytes = 0
        uncommittedRecords = 0
        summary.commits += 1
        onCommit?(summary)
    }
}
