/// A reusable, allocation-free form of one example on its way into the store.
///
/// The ingest parser fills it straight from JSON bytes (string fields are
/// unescaped into `storage` and referred to by `Span`s), the store hashes and
/// encodes it from there; nothing is allocated per field once the buffers
/// have grown. Call `reset()` before reusing it.
public struct ExampleDraft {
    public struct Span: Sendable, Equatable {
        public var start: Int
        public var count: Int
        public init(start: Int, count: Int) {
            self.start = start
            self.count = count
        }
        public static let empty = Span(start: 0, count: 0)
    }

    /// Bytes of every string field, back to back.
    public var storage: [UInt8] = []
    public var shape: Shape = .instruction
    /// instruction / prompt
    public var first: Span = .empty
    /// input / response
    public var second: Span = .empty
    /// output (instruction shape only)
    public var third: Span = .empty
    public var messages: [(role: Role, content: Span)] = []
    public var domain: Span = .empty
    public var source: Span? = nil
    public var tags: [Span] = []
    /// Exact JSON text of the metadata object; empty span means "{}".
    public var metadata: Span = .empty
    public var timestampMillis: Int64 = 0
    public var qualityScore: Double? = nil

    public init() {}

    public mutating func reset() {
        storage.removeAll(keepingCapacity: true)
        shape = .instruction
        first = .empty
        second = .empty
        third = .empty
        messages.removeAll(keepingCapacity: true)
        domain = .empty
        source = nil
        tags.removeAll(keepingCapacity: true)
        metadata = .empty
        timestampMillis = 0
        qualityScore = nil
    }

    /// Copies `bytes` into storage and returns their span.
    @inline(__always) public mutating func store<C: Collection>(_ bytes: C) -> Span where C.Element == UInt8 {
        let start = storage.count
        storage.append(contentsOf: bytes)
        return Span(start: start, count: storage.count - start)
    }

    public mutating func store(_ s: String) -> Span {
        var s = s
        return s.withUTF8 { store($0) }
    }

    /// Fills the draft from a library-level `Example`.
    public init(_ e: Example) {
        self.init()
        shape = e.shape
        switch e.content {
        case let .instruction(i, input, o):
            first = store(i); second = store(input); third = store(o)
        case let .promptResponse(p, r):
            first = store(p); second = store(r)
        case let .chat(ms):
            for m in ms { messages.append((m.role, store(m.content))) }
        }
        domain = store(e.domain)
        source = e.source.map { store($0) }
        for t in e.tags { tags.append(store(t)) }
        metadata = store(e.metadataJSON)
        timestampMillis = e.timestampMillis
        qualityScore = e.qualityScore
    }

    @inline(__always) public func withBytes<R>(_ span: Span, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[span.start..<(span.start + span.count)]))
        }
    }

    public func string(_ span: Span) -> String {
        withBytes(span) { String(decoding: $0, as: UTF8.self) }
    }

    public var domainString: String { string(domain) }
}
