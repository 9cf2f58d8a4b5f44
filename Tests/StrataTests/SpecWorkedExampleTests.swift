import Foundation
import Testing
@testable import Strata

/// SPEC.md §3.4's worked example, read out of SPEC.md itself: the segment the
/// documented command writes must have every byte the table lists at the
/// listed offsets, and the listed entry bytes must decode to the documented
/// example. If the format or the spec drifts, this test breaks.
@Suite struct SpecWorkedExampleTests {
    static func specSection(_ start: String, _ end: String) throws -> String {
        let spec = try String(contentsOfFile: packageRoot + "/SPEC.md", encoding: .utf8)
        guard let a = spec.range(of: start), let b = spec.range(of: end, range: a.upperBound..<spec.endIndex) else {
            throw StrataError(.notFound, "SPEC.md has no section between \(start) and \(end)")
        }
        return String(spec[a.upperBound..<b.lowerBound])
    }

    static func codeBlocks(_ text: String) -> [[String]] {
        var blocks: [[String]] = [], current: [String]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                if let c = current { blocks.append(c); current = nil } else { current = [] }
            } else if current != nil {
                current!.append(String(line))
            }
        }
        return blocks
    }

    enum Token: Equatable { case byte(UInt8), gap, repeatGroup, separator }

    /// The byte column of a table row: hex pairs, `|` separators, `..`/`...`
    /// gaps and `(x2)`; stops at the first word of the meaning column.
    static func byteTokens(_ words: ArraySlice<Substring>) -> [Token] {
        var out: [Token] = []
        for w in words {
            if w == "|" { out.append(.separator) } else if w == ".." || w == "..." { out.append(.gap) } else if w == "(x2)" { out.append(.repeatGroup) }
            else if w.count == 2, let b = UInt8(w, radix: 16) { out.append(.byte(b)) } else { break }
        }
        return out
    }

    @Test func segmentBytesMatchSpecTable() throws {
        let section = try Self.specSection("### 3.4 Worked example", "### 3.5")
        let blocks = Self.codeBlocks(section)
        #expect(blocks.count == 3)
        // The command of the first block, run as documented.
        let cmd = try #require(blocks[0].first { $0.contains("strata ingest wex") })
        let json = try #require(cmd.split(separator: "'").dropFirst().first)
        let dir = temporaryStorePath("wex")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try runStrataIn(dir, ["ingest", "wex"], stdin: Data((json + "\n").utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let sizeText = try #require(section.range(of: #"(\d+) bytes:"#, options: .regularExpression).map { section[$0] })
        let size = Int(sizeText.split(separator: " ")[0])!
        let file = try PosixFileSystem.shared.readFile(dir + "/wex/domain=demo/month=2025-11/seg-0000000001.strata")
        #expect(file.count == size)

        // Table rows: offset, bytes; a gap's tail ends where the next row starts.
        var rows: [(offset: Int, tokens: [Token])] = []
        for line in blocks[1] where line.hasPrefix("0x") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            rows.append((Int(words[0].dropFirst(2), radix: 16)!, Self.byteTokens(words.dropFirst())))
        }
        #expect(rows.count >= 15)
        var checked = 0
        for (k, row) in rows.enumerated() {
            let end = k + 1 < rows.count ? rows[k + 1].offset : file.count
            var head: [UInt8] = [], tail: [UInt8] = [], group: [UInt8] = [], inTail = false
            for t in row.tokens {
                switch t {
                case let .byte(b): if inTail { tail.append(b) } else { head.append(b) }; group.append(b)
                case .separator: group = []
                case .gap: inTail = true
                case .repeatGroup: head += group
                }
            }
            #expect(Array(file[row.offset..<min(file.count, row.offset + head.count)]) == head, "row 0x\(String(row.offset, radix: 16))")
            if inTail { #expect(Array(file[(end - tail.count)..<end]) == tail, "tail of row 0x\(String(row.offset, radix: 16))") }
            else { #expect(row.offset + head.count == end, "row 0x\(String(row.offset, radix: 16)) covers \(head.count) bytes up to 0x\(String(end, radix: 16))") }
            checked += head.count + tail.count
        }
        #expect(checked >= 150)

        // The entry listing (third block) is complete: it must be the decompressed block and decode as documented.
        var entry: [UInt8] = []
        for line in blocks[2] {
            for t in Self.byteTokens(line.split(separator: " ")[...]) { if case let .byte(b) = t { entry.append(b) } }
        }
        #expect(entry.count == 43)
        let sf = try SegmentFile(fs: PosixFileSystem.shared, path: dir + "/wex/domain=demo/month=2025-11/seg-0000000001.strata",
                                 sequence: 1, partition: PartitionKey(domain: "demo", month: Month("2025-11")!), expectSealed: true)
        defer { sf.close() }
        var block: [UInt8] = [], scratch: [UInt8] = []
        _ = try sf.readBlock(at: 32, into: &block, scratch: &scratch)
        #expect(block == entry)
        try entry.withUnsafeBytes { raw in
            var it = EntryIterator(raw, path: nil, blockOffset: 0)
            let (kind, body, _) = try #require(try it.next())
            #expect(kind == EntryKind.example.rawValue)
            var r = body
            let e = try RecordCodec.decodeExampleBody(&r)
            #expect(e.content == .promptResponse(prompt: "hi", response: "yo"))
            #expect(e.domain == "demo" && e.timestampMillis == 1_763_202_600_000 && e.metadataJSON == "{}")
            #expect(e.id.hex == "36683d03c5217d9a6765f9a375c7c611")
        }
    }

    /// §4.1: "canonical bytes `02 02000000 6869 02000000 796f` (13 bytes) and id `…`".
    @Test func canonicalContentWorkedExampleMatchesSpec() throws {
        let section = try Self.specSection("### 4.1 Canonical content and the id", "### 4.2")
        let m = try #require(section.range(of: #"canonical bytes `([0-9a-f ]+)`"#, options: .regularExpression))
        let hex = section[m].split(separator: "`")[1].replacingOccurrences(of: " ", with: "")
        let want = stride(from: 0, to: hex.count, by: 2).map { i -> UInt8 in
            UInt8(hex[hex.index(hex.startIndex, offsetBy: i)..<hex.index(hex.startIndex, offsetBy: i + 2)], radix: 16)!
        }
        var w = ByteWriter()
        CanonicalContent.append(of: .promptResponse(prompt: "hi", response: "yo"), to: &w)
        #expect(w.bytes == want)
        let idm = try #require(section.range(of: #"id\s+`[0-9a-f]{32}`"#, options: .regularExpression))
        let id = section[idm].split(separator: "`")[1]
        #expect(CanonicalContent.id(of: .promptResponse(prompt: "hi", response: "yo")).hex == id)
    }
}
