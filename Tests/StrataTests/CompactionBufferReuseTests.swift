import Foundation
import Testing
@testable import Strata

/// Compaction reuses its buffers from block to block and from partition to
/// partition (`ColumnarBlock.EncoderWorkspace`, `CompactionBuffers`,
/// `SegmentBuilder.Buffers`): nothing a previous block or partition left in
/// them may reach the next one's bytes.
@Suite struct CompactionBufferReuseTests {
    /// Row-format entries (SPEC.md §4) of `examples`, as a block holds them.
    static func entries(_ examples: [Example]) -> [UInt8] {
        var w = ByteWriter()
        for e in examples { RecordCodec.appendExampleEntry(ExampleDraft(e), id: e.id, to: &w) }
        return w.bytes
    }

    static func encode(_ entries: [UInt8], with workspace: ColumnarBlock.EncoderWorkspace) throws -> [UInt8] {
        var out: [UInt8] = []
        try entries.withUnsafeBytes { try workspace.encode($0, level: 3, dictionary: nil, appendingTo: &out) }
        return out
    }

    @Test func encoderReusedAfterALargerBlockWritesTheSameBytesAsAFreshOne() throws {
        // Block A fills every stream (qualities, sources, tags, roles, long texts); block B uses fewer.
        let a = ColumnarBlockTests.everyShapeExamples()
        let b = [
            Example(content: .instruction(instruction: "Sum up", input: "", output: "Short."), domain: "reuse",
                    timestampMillis: 1_735_689_600_000, metadataJSON: #"{"k":1}"#),
            Example(content: .promptResponse(prompt: String(repeating: "prompt words ", count: 50), response: "r"),
                    domain: "reuse", timestampMillis: 1_735_689_600_500, metadataJSON: "{}"),
        ]
        let blockA = Self.entries(a), blockB = Self.entries(b)
        let fresh = try Self.encode(blockB, with: ColumnarBlock.EncoderWorkspace())
        let reused = ColumnarBlock.EncoderWorkspace()
        _ = try Self.encode(blockA, with: reused)
        let afterA = try Self.encode(blockB, with: reused)
        #expect(afterA == fresh)
        // And it decodes to exactly block B.
        var out: [UInt8] = []
        try afterA.withUnsafeBytes {
            try ColumnarBlock.decode($0, rawLength: blockB.count, entryCount: b.count, dictionary: nil, into: &out, path: nil, offset: 0)
        }
        #expect(out == blockB)
        // A failed block (an entry whose id is not its content's hash) leaves nothing behind either.
        var bad = blockB
        bad[3] ^= 0xff  // a byte of the first entry's id
        #expect(throws: StrataError.self) { try Self.encode(bad, with: reused) }
        #expect(try Self.encode(blockB, with: reused) == fresh)
    }

    @Test func segmentBuilderReusingBuffersWritesTheSameBytesAndTakesThem() throws {
        let block = Self.entries(ColumnarBlockTests.everyShapeExamples())
        func build(_ builder: inout SegmentBuilder) throws -> [UInt8] {
            var out: [UInt8] = []
            try block.withUnsafeBytes { raw in
                var r = EntryIterator(raw, path: nil, blockOffset: 0)
                var start = 0
                while let (_, _, body) = try r.next() {
                    let end = body.baseAddress! - raw.baseAddress! + body.count
                    if builder.needsNewBlock(for: end - start), let f = try builder.closeBlock(at: Int64(32 + out.count)) { out += f }
                    _ = try builder.add(entry: UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                    start = end
                }
            }
            if let f = try builder.closeBlock(at: Int64(32 + out.count)) { out += f }
            out += builder.sealingTail(footerOffset: Int64(32 + out.count))
            return out
        }
        let codec = BlockCodec.columnar(level: 3, dictionary: nil)
        var fresh = SegmentBuilder(sequence: 7, codec: codec, blockTarget: 16 << 10)
        let expected = try build(&fresh)
        // Buffers left full by another segment.
        var first = SegmentBuilder(sequence: 6, codec: codec, blockTarget: 16 << 10)
        _ = try build(&first)
        var buffers = first.takeBuffers()
        #expect(buffers.block.capacity > 0)
        var second = SegmentBuilder(sequence: 7, codec: codec, blockTarget: 16 << 10, reusing: &buffers)
        #expect(buffers.block.isEmpty && buffers.block.capacity == 0 && buffers.frame.capacity == 0)
        #expect(try build(&second) == expected)
    }

    /// Many partitions compacted one after the other by one store (so one
    /// thread's buffers go from a large partition to small ones and back):
    /// every read is as before, and verify finds nothing.
    @Test(arguments: [CompactionOptions.DictionaryPolicy.never, .always])
    func partitionsCompactedInTurnReadBackAsBefore(_ dictionary: CompactionOptions.DictionaryPolicy) throws {
        let path = temporaryStorePath("bufferReuse")
        var o = StoreOptions()
        o.blockTargetBytes = 4 << 10
        var s = try Store.open(at: path, options: o)
        let big = ColumnarBlockTests.everyShapeExamples()
        try s.append(contentsOf: big)
        let jan: Int64 = 1_735_689_600_000
        for (i, domain) in ["small-a", "small-b", "small-c"].enumerated() {
            var batch: [Example] = []
            for k in 0..<30 {
                let content = Content.promptResponse(prompt: "\(domain) question \(k)", response: "answer \(k * 7 + i)")
                let quality: Double? = k % 2 == 0 ? 0.5 : nil
                let tags: [String] = k % 3 == 0 ? ["t\(k)"] : []
                batch.append(Example(content: content, domain: domain, timestampMillis: jan + Int64(k), qualityScore: quality, tags: tags,
                                     metadataJSON: "{\"n\":\(k)}"))
            }
            try s.append(contentsOf: batch)
        }
        var late: [Example] = []
        for k in 0..<20 {
            let messages = [Message(role: .user, content: "late \(k)"), Message(role: .assistant, content: String(repeating: "x", count: k * 100 + 1))]
            late.append(Example(content: .chat(messages), domain: "cols", timestampMillis: jan + 86_400_000 * 40 + Int64(k), metadataJSON: "{}"))
        }
        try s.append(contentsOf: late)
        try s.close()
        let before = try ColumnarBlockTests.observable(path)

        s = try Store.open(at: path)
        var c = CompactionOptions()
        c.dictionary = dictionary
        c.blockTargetBytes = 16 << 10
        let partitions = s.partitions
        #expect(partitions.count >= 5)
        for p in partitions { try s.compact(partition: p, options: c) }
        try s.close()

        let after = try ColumnarBlockTests.observable(path)
        #expect(after.scan == before.scan)
        #expect(after.gets == before.gets)
        #expect(after.export == before.export)
        let report = StoreVerifier(path: path).run()
        #expect(report.problems.isEmpty, "\(report.problems)")
    }
}
