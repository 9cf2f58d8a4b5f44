import Foundation
import Testing
@testable import Strata

/// The tests' own process runner: a full suite once died of SIGPIPE when a
/// child exited before reading the stdin a test wrote to it.
@Suite struct CLIRunnerTests {
    @Test func aChildThatExitsWithoutReadingItsStdinDoesNotStopTheTests() throws {
        // 8 MiB is far beyond a pipe's buffer: the writes must meet the closed read end.
        let r = try runStrata(["--version"], stdin: Data(repeating: 0x7B, count: 8 << 20))
        #expect(r.reason == .exit && r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.isEmpty)
    }

    @Test func aChildGetsAllOfALargeStdinWhileItsOutputIsRead() throws {
        // zstd writes output while it still reads input; with stdin written
        // before stdout was read, both sides could wait on full pipes.
        var rng = SplitMix(seed: 7)
        let bytes = (0..<(4 << 20)).map { _ in UInt8(truncatingIfNeeded: rng.next() & 0x3F) }
        let packed = try compressedWithCLI(bytes, tool: "zstd")
        var back: [UInt8] = []
        let ok = packed.withUnsafeBytes { ZstdCodec.decompress($0, rawLength: bytes.count, into: &back) }
        #expect(ok && back == bytes)
    }
}
