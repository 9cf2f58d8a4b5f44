import Foundation
import CXXHash

/// The only file that imports CXXHash. XXH3-64 checksums frames; XXH3-128 names examples.
public enum XXH {
    /// XXH3-64 (seed 0) of `bytes`.
    @inline(__always) public static func hash64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    public static func hash64<C: ContiguousBytes>(_ bytes: C) -> UInt64 {
        bytes.withUnsafeBytes { hash64($0) }
    }

    /// XXH3-128 (seed 0) of `bytes`.
    @inline(__always) public static func hash128(_ bytes: UnsafeRawBufferPointer) -> ExampleID {
        let h = XXH3_128bits(bytes.baseAddress, bytes.count)
        return ExampleID(high: h.high64, low: h.low64)
    }

    public static func hash128<C: ContiguousBytes>(_ bytes: C) -> ExampleID {
        bytes.withUnsafeBytes { hash128($0) }
    }

    /// Keyed XXH3-64 with a secret-derived seed, for hashing identifier fields.
    public static func keyedHash64(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        XXH3_64bits_withSeed(bytes.baseAddress, bytes.count, seed)
    }

    /// Keyed XXH3-128 with seed.
    public static func keyedHash128(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> ExampleID {
        let h = XXH3_128bits_withSeed(bytes.baseAddress, bytes.count, seed)
        return ExampleID(high: h.high64, low: h.low64)
    }
}

/// Streaming XXH3-64, for checksumming files written piece by piece.
public final class XXH64Stream {
    private let state: OpaquePointer

    public init() {
        // XXH3_createState only fails on allocation failure.
        state = XXH3_createState()!
        XXH3_64bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        XXH3_64bits_update(state, bytes.baseAddress, bytes.count)
    }

    public func update<C: ContiguousBytes>(_ bytes: C) { bytes.withUnsafeBytes { update($0) } }

    public var digest: UInt64 { XXH3_64bits_digest(state) }
}
