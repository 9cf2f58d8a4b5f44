import Foundation
import Testing
@testable import Strata

/// `CompactSegmentWriter` encodes a full block on its helper thread
/// (`CompactionBlockEncoder`) while the next is built: the segments must be
/// the bytes a writer encoding every block itself writes, block boundaries,
/// offsets, locations and segment splits included.
@Suite struct CompactionBlockEncoderTests {
    /// Example entries of varied shapes and sizes, deterministic.
    static func entries(count: Int) -> [[UInt8]] {
        let ts: Int64 = 1_735_689_600_000
        return (0..<count).map { i in
            let words = (0..<(5 + i % 37)).map { "w\(($0 * 7 + i) % 101)" }.joined(separator: " ")
            let content: Content = i % 2 == 0
                ? .promptResponse(prompt: "Question \(i): \(words)?", response: String(repeating: "answer \(words). ", count: 1 + i % 5))
                : .instruction(instruction: "Do \(i)", input: words, output: "Done: \(words)")
            let e = Example(content: content, domain: "enc", timestampMillis: ts + Int64(i), qualityScore: Double(i % 10) / 10,
                            metadataJSON: #"{"n":\#(i)}"#)
            var w = ByteWriter()
            RecordCodec.appendExampleEntry(ExampleDraft(e), id: e.id, to: &w)
            return w.bytes
        }
    }

    /// Writes `entries` as compaction does (a new segment once the current one
    /// reaches `segmentTarget`); returns each segment's bytes and every location.
    static func write(_ entries: [[UInt8]], in dir: URL, encoder: CompactionBlockEncoder?, blockTarget: Int,
                      segmentTarget: Int64) throws -> (files: [[UInt8]], locations: [Location]) {
        let fs = PosixFileSystem.shared
        var buffers = SegmentBuilder.Buffers()
        var writer: CompactSegmentWriter?
        var paths: [String] = []
        var locations: [Location] = []
        let codec = BlockCodec.columnar(level: 3, dictionary: nil)
        for e in entries {
            if let w = writer, try !w.isSmaller(than: segmentTarget) {
                _ = try w.seal()
                buffers = w.takeBuffers()
                writer = nil
            }
            if writer == nil {
                let p = dir.appendingPathComponent("seg-\(paths.count)").path
                paths.append(p)
                writer = try CompactSegmentWriter(fs: fs, path: p, sequence: UInt64(paths.count), dictionaryID: 0, codec: codec,
                                                  blockTarget: blockTarget, fileMode: 0o644, buffers: &buffers, encoder: encoder)
            }
            locations.append(try e.withUnsafeBytes { try writer!.appendExample($0, folded: UnsafeRawBufferPointer(start: nil, count: 0)) })
        }
        if let w = writer { _ = try w.seal() }
        return (try paths.map { try fs.readFile($0) }, locations)
    }

    @Test(arguments: [(4 << 10, Int64(1) << 30), (2 << 10, Int64(24) << 10), (16 << 10, Int64(40) << 10)])
    func blocksEncodedBesideTheWriterAreTheBytesOfOneThread(blockTarget: Int, segmentTarget: Int64) throws {
        let dir = try ParquetTestSupport.tempDir("encoder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let entries = Self.entries(count: 1500)
        let serialDir = dir.appendingPathComponent("serial"), helperDir = dir.appendingPathComponent("helper")
        for d in [serialDir, helperDir] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let serial = try Self.write(entries, in: serialDir, encoder: nil, blockTarget: blockTarget, segmentTarget: segmentTarget)
        let encoder = CompactionBlockEncoder()
        defer { encoder.stop() }
        let helped = try Self.write(entries, in: helperDir, encoder: encoder, blockTarget: blockTarget, segmentTarget: segmentTarget)
        #expect(serial.files.count == helped.files.count)
        #expect(serial.files == helped.files)
        #expect(serial.locations == helped.locations)
        // The case is what it claims: many blocks, and a split where the target is small.
        #expect(Set(serial.locations.map(\.blockIndex)).count > 4)
        if segmentTarget < 1 << 20 { #expect(serial.files.count > 1) }
        // The first segment reads back with its blocks where the locations say.
        let f = try SegmentFile(fs: PosixFileSystem.shared, path: helperDir.appendingPathComponent("seg-0").path, sequence: 1,
                                partition: PartitionKey(path: "domain=enc/month=2025-01")!, expectSealed: true)
        defer { f.close() }
        #expect(f.footer!.blocks.count == Set(helped.locations.filter { $0.segment == 1 }.map(\.blockIndex)).count)
    }
}
