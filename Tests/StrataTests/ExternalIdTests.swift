import Foundation
import Testing
@testable import Strata

/// External ids (SPEC.md §5.5): O(1) lookups by a pipeline's own id, and
/// annotations (single and bulk) that target them.
@Suite struct ExternalIdTests {
    private func capture(_ i: Int, _ trainID: String) -> Example {
        Example(content: .promptResponse(prompt: "What's the seam overlap for TPO, case \(i)?", response: "2.5 inches minimum (\(i))."),
                domain: "roofing", timestampMillis: 1_741_900_000_000 + Int64(i) * 3_600_000, qualityScore: 0.8, tags: ["tpo"], source: "chat",
                metadataJSON: #"{"skill_used": "membrane", "latency_ms": \#(100 + i), "train_id": "\#(trainID)", "seq": \#(i)}"#)
    }

    @Test func lookupFindsExamplesByExternalIdThroughTheIndexAndCatchesUpOnNewBlocks() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        for i in 0..<300 { _ = try store.append(capture(i, "train_\(i)")) }
        try store.commit()
        try store.close()
        var reader = try StoreReader(path: path)
        #expect(throws: StrataError.self) { _ = try reader.lookup(externalId: "metadata.train_id", value: "train_1") }  // not declared
        let built = try reader.refreshExternalIdIndex(path: "metadata.train_id")
        #expect(built.entries == 300 && built.blocksScanned > 0)
        #expect(try reader.lookup(externalId: "metadata.train_id", value: "train_17").map(\.original.id) == [capture(17, "train_17").id])
        #expect(try reader.lookup(externalId: "metadata.train_id", value: "train_300").isEmpty)
        // Numbers are keyed by their decimal text.
        #expect(try reader.refreshExternalIdIndex(path: "metadata.seq").blocksScanned > 0)
        #expect(try reader.lookup(externalId: "metadata.seq", value: "42").map(\.original.id) == [capture(42, "").id])
        // Up to date: a second refresh reads no block.
        #expect(try reader.refreshExternalIdIndex(path: "metadata.train_id").blocksScanned == 0)
        reader.close()
        // Examples added after the index was written are found before the next refresh.
        let w = try Store.open(at: path)
        _ = try w.append(capture(1000, "train_new"))
        try w.commit()
        try w.close()
        reader = try StoreReader(path: path)
        defer { reader.close() }
        #expect(try reader.lookup(externalId: "metadata.train_id", value: "train_new").map(\.original.id) == [capture(1000, "train_new").id])
        #expect(ExternalIdIndex.declared(store: path) == ["metadata.seq", "metadata.train_id"])
    }

    @Test func compactionCommandRefreshesTheIndexAndLookupsStillFindEveryExample() throws {
        let path = temporaryStorePath()
        #expect(try runStrata(["init", path, "--external-id", "metadata.train_id"]).status == 0)
        for batch in 0..<3 {
            let store = try Store.open(at: path)
            for i in (batch * 50)..<(batch * 50 + 50) { _ = try store.append(capture(i, "train_\(i)")) }
            try store.commit()
            try store.close()
        }
        let c = try runStrata(["compact", path])
        #expect(c.status == 0, "\(c.stderr)")
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        // The compact command already took the new segments in: nothing left to scan.
        #expect(try reader.refreshExternalIdIndex(path: "metadata.train_id").blocksScanned == 0)
        for i in [0, 77, 149] {
            #expect(try reader.lookup(externalId: "metadata.train_id", value: "train_\(i)").map(\.original.id) == [capture(i, "").id])
        }
    }

    @Test func damagedIndexSlotIsReportedWithFileAndOffset() throws {
        let path = temporaryStorePath()
        let store = try Store.open(at: path)
        _ = try store.append(capture(1, "train_1"))
        try store.commit()
        try store.close()
        let reader = try StoreReader(path: path)
        defer { reader.close() }
        try reader.refreshExternalIdIndex(path: "metadata.train_id")
        let file = ExternalIdIndex.filePath(store: path, path: "metadata.train_id")
        var bytes = try #require(FileManager.default.contents(atPath: file))
        // Flip a byte of every occupied slot (the table is the file's tail of 32-byte slots).
        let slots = 16, start = bytes.count - slots * 32
        for k in 0..<slots where bytes[(start + k * 32)..<(start + k * 32 + 32)].contains(where: { $0 != 0 }) { bytes[start + k * 32 + 9] ^= 0xFF }
        try bytes.write(to: URL(fileURLWithPath: file))
        #expect { _ = try reader.lookup(externalId: "metadata.train_id", value: "train_1") } throws: { e in
            let s = e as? StrataError
            return s?.code == .corruption && s?.path == file && s?.offset != nil
        }
    }

    @Test func productionCaptureWorkflowGetsAndAnnotatesByItsOwnIds() throws {
        let store = temporaryStorePath()
        // The capture's own "id" is kept in metadata._extra (with --map id=); declare that as the external id.
        let r0 = try runStrata(["init", store, "--external-id", "metadata._extra.id"])
        #expect(r0.status == 0, "\(r0.stderr)")
        var lines: [String] = []
        for i in 0..<40 {
            lines.append(#"{"id": "train_20250314_0930\#(String(format: "%02d", i))_ab\#(i)", "timestamp": "2025-03-14T09:30:\#(String(format: "%02d", i))", "source": "chat", "prompt": "Seam overlap for TPO \#(i)?", "response": "2.5 inches (\#(i)).", "metadata": {"skill_used": "membrane", "latency_ms": \#(120 + i)}, "quality": {"user_feedback": null, "auto_score": 0.8}, "tags": ["tpo"], "project_context": "general"}"#)
        }
        let r1 = try runStrata(["ingest", store, "--map", "id=", "--default-domain", "roofing", "--naive-timestamps-utc", "--json"],
                               stdin: Data(lines.joined(separator: "\n").utf8))
        #expect(r1.status == 0, "\(r1.stderr)")
        let got = try runStrata(["get", store, "--by", "metadata._extra.id=train_20250314_093007_ab7"])
        #expect(got.status == 0, "\(got.stderr)")
        #expect(got.stdout.contains("Seam overlap for TPO 7?"))
        let none = try runStrata(["get", store, "--by", "metadata._extra.id=train_missing"])
        #expect(none.status == 64 && none.stderr.contains("no example"))
        // One event by --by.
        let a = try runStrata(["annotate", store, "--by", "metadata._extra.id=train_20250314_093007_ab7", "--feedback", "negative", "--comment", "wrong unit"])
        #expect(a.status == 0, "\(a.stderr)")
        // Bulk: one process, one commit; bad lines reported and skipped.
        var events: [String] = []
        for i in 0..<40 where i != 7 {
            events.append(#"{"by": {"metadata._extra.id": "train_20250314_0930\#(String(format: "%02d", i))_ab\#(i)"}, "feedback": "positive", "rating": 5}"#)
        }
        let anyID = CanonicalContent.id(of: .promptResponse(prompt: "Seam overlap for TPO 3?", response: "2.5 inches (3)."))
        events.append(#"{"id": "\#(anyID.hex)", "correction": "3 inches (3).", "reason": "spec"}"#)
        events.append(#"{"id": "\#(anyID.hex)", "exclude": true, "include": true}"#)  // two kinds
        events.append(#"{"by": {"metadata._extra.id": "train_nope"}, "feedback": "positive"}"#)  // unknown target
        events.append(#"{"id": "\#(anyID.hex)", "feedback": "great"}"#)  // bad value
        events.append("not json")
        let file = store + "-events.jsonl"
        try events.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let rejects = store + "-rejects.jsonl"
        let b = try runStrata(["annotate", store, "--from", file, "--rejects", rejects, "--json"])
        #expect(b.status == 0, "\(b.stderr)")
        let sum = try #require(b.jsonLines.last)
        #expect(sum["applied"] as? Int == 40)
        #expect(sum["rejected"] as? Int == 4)
        let rej = try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n")
        #expect(rej.count == 4)
        #expect(rej.contains { $0.contains(#""line":41"#) && $0.contains("exactly one of") })
        #expect(rej.contains { $0.contains(#""line":42"#) && $0.contains("train_nope") })
        // The folded view shows the feedback and the correction.
        let g3 = try runStrata(["get", store, anyID.hex])
        #expect(g3.stdout.contains("3 inches (3)."))
        let reader = try StoreReader(path: store)
        defer { reader.close() }
        var positive = 0, negative = 0, total = 0
        try reader.scanFolded(.all) { f in
            total += 1
            positive += f.positiveFeedback
            negative += f.negativeFeedback
            return true
        }
        #expect(total == 40 && positive == 39 && negative == 1)
    }
}
