/// The dedup table exposed to the benchmark package only (`@_spi(Benchmarks)`),
/// so lookups can be measured without the rest of the store.
@_spi(Benchmarks) public final class DedupTableProbe: Sendable {
    // A constant: a `var` on a class pays a dynamic exclusivity check per lookup.
    let table: IdTable
    public let count: Int

    /// A table of `count` synthetic ids (`syntheticID(0..<count)`).
    public init(count: Int) {
        self.count = count
        var t = IdTable()
        for i in 0..<UInt64(count) { t.insert(DedupTableProbe.syntheticID(i), packed: i) }
        table = t
    }

    /// Fingerprint lookup as the store does it, with a confirmation that
    /// accepts the candidate (the store would read the record instead).
    @inline(__always) public func contains(_ id: ExampleID) -> Bool {
        table.find(id) { _ in true } != nil
    }

    /// RAM held by the table per stored id.
    public var bytesPerExample: Double { Double(table.memoryBytes) / Double(max(1, count)) }

    /// Deterministic well-mixed 128-bit ids (splitmix64); another `salt` gives ids not in the table.
    public static func syntheticID(_ i: UInt64, salt: UInt64 = 0) -> ExampleID {
        @inline(__always) func mix(_ x: UInt64) -> UInt64 {
            var z = x &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        return ExampleID(high: mix(i &* 2 &+ salt), low: mix(i &* 2 &+ 1 &+ salt))
    }
}
