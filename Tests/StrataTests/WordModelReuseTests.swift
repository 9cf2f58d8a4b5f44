import Foundation
import Testing
@testable import Strata

/// A domain's later months reuse its dictionary and word model only while
/// the model still codes their text ≥ 3% smaller than zstd with the
/// dictionary (SPEC.md §6.1): a month whose vocabulary moved on trains anew.
extension WordModelTests {
    /// One domain, `count` examples in each month, texts drawn from that month's vocabulary.
    static func fillMonths(_ path: String, _ months: [(month: Int, words: [String], count: Int)]) throws {
        var rng = Rng(seed: 91)
        let s = try Store.open(at: path)
        for (month, words, count) in months {
            var batch: [Example] = []
            for i in 0..<count {
                let text = { (rng: inout Rng) in Self.prose(&rng, words, tokens: 40 + rng.below(120)) }
                batch.append(Example(content: .promptResponse(prompt: text(&rng), response: text(&rng)), domain: "words",
                                     timestampMillis: 1_735_689_600_000 + Int64(month) * 31 * 86_400_000 + Int64(i) * 1000,
                                     metadataJSON: "{}"))
            }
            try s.append(contentsOf: batch)
        }
        try s.close()
    }

    @Test func aMonthWhoseVocabularyMovedOnDoesNotReuseTheStaleWordModel() throws {
        var r1 = Rng(seed: 1), r2 = Rng(seed: 2)
        let early = Self.vocabulary(&r1, count: 3000)
        let late = Self.vocabulary(&r2, count: 3000)
        // Month 2 is the largest, so it is compacted first and trains the domain's model on
        // `late`; then month 0 (the same vocabulary), then month 1 (another one).
        let path = temporaryStorePath("wordModelDrift")
        try Self.fillMonths(path, [(0, late, 1200), (1, early, 1200), (2, late, 3000)])
        let before = try ColumnarBlockTests.observable(path)
        let s = try Store.open(at: path)
        let reports = try s.compactAll()
        try s.close()
        let months = reports.sorted { $0.partition < $1.partition }
        try #require(months.count == 3)
        let (same, drifted, first) = (months[0], months[1], months[2])
        #expect(first.dictionaryID != nil)
        // The month with the same vocabulary reuses dictionary and model.
        #expect(same.dictionaryID == first.dictionaryID)
        // The month with another vocabulary is coded about as small as when it is compacted on its own.
        let alone = temporaryStorePath("wordModelDriftAlone")
        try Self.fillMonths(alone, [(1, early, 1200)])
        let a = try Store.open(at: alone)
        let aloneBytes = try a.compactAll().reduce(0) { $0 + $1.bytesAfter }
        try a.close()
        #expect(Double(drifted.bytesAfter) <= 1.05 * Double(aloneBytes), "\(drifted.bytesAfter) vs \(aloneBytes) compacted alone")
        let after = try ColumnarBlockTests.observable(path)
        #expect(after.scan == before.scan)
        #expect(after.gets == before.gets)
        #expect(after.export == before.export)
    }

    @Test func aMonthTooSmallToTrainKeepsTheDictionaryButNotTheStaleModelAndReadsStayExact() throws {
        var r1 = Rng(seed: 1), r2 = Rng(seed: 2)
        let early = Self.vocabulary(&r1, count: 3000)
        let late = Self.vocabulary(&r2, count: 3000)
        // Month 1 is far below what a new dictionary is sampled on (4 × its 112 KiB capacity).
        let path = temporaryStorePath("wordModelDriftSmall")
        try Self.fillMonths(path, [(0, early, 120), (1, late, 3000)])
        let before = try ColumnarBlockTests.observable(path)
        let s = try Store.open(at: path)
        let reports = try s.compactAll().sorted { $0.partition < $1.partition }
        try #require(reports.count == 2)
        let (drifted, first) = (reports[0], reports[1])
        #expect(first.dictionaryID != nil)
        #expect(drifted.dictionaryID == first.dictionaryID)
        // The same store (its dictionary catalog) still reads every block: the other month's are word-coded.
        var all: [Example] = []
        try s.scan { all.append($0); return true }
        #expect(all.count == 3120)
        for e in all.enumerated() where e.offset % 16 == 0 { #expect(try s.get(e.element.id) == e.element) }
        try s.close()
        let texts = ColumnarBlock.Stream.texts.rawValue
        #expect(try Self.streamEncodings(path, partition: drifted.partition)[texts]?.contains(3) == false)
        #expect(try Self.streamEncodings(path, partition: first.partition)[texts] == [3])
        let after = try ColumnarBlockTests.observable(path)
        #expect(after.scan == before.scan)
        #expect(after.gets == before.gets)
        #expect(after.export == before.export)
    }
}
