/// Decides whether a zstd dictionary pays for a partition, and trains it
/// (SPEC.md §6). Samples are whole example entries from blocks spread evenly
/// over the partition; half of the sampled blocks train the dictionary, the
/// other half measure it: the dictionary is used only when it makes those
/// blocks at least 3% smaller and the estimated saving over the whole
/// partition exceeds twice the dictionary's size.
struct DictionaryTrainer {
    var capacity: Int
    var sampleBytes: Int
    var level: Int32
    var blockTarget: Int

    struct Outcome {
        var dictionary: [UInt8]?
        /// Evaluation blocks compressed without / with the dictionary.
        var plainBytes: Int
        var dictBytes: Int
    }

    /// `blocks` yields the raw entries of a block; `blockCount` blocks exist; `totalRaw` bytes in all.
    func train(blockCount: Int, totalRaw: Int64, readBlock: (Int) throws -> [[UInt8]]) throws -> Outcome {
        guard blockCount >= 2, totalRaw >= Int64(max(capacity * 4, 64 << 10)) else { return Outcome(dictionary: nil, plainBytes: 0, dictBytes: 0) }
        let avgBlock = max(1, Int(totalRaw) / blockCount)
        let wanted = max(2, min(blockCount, sampleBytes / avgBlock))
        var trainBuf: [UInt8] = []
        var trainSizes: [Int] = []
        var evalEntries: [[UInt8]] = []
        for k in 0..<wanted {
            let bi = k * blockCount / wanted
            let entries = try readBlock(bi)
            if k % 2 == 0 {
                for e in entries { trainBuf.append(contentsOf: e); trainSizes.append(e.count) }
            } else {
                evalEntries.append(contentsOf: entries)
            }
        }
        guard trainSizes.count >= 16, !evalEntries.isEmpty,
              let dict = ZstdCodec.trainDictionaryFast(buffer: trainBuf, sizes: trainSizes, capacity: capacity, level: level),
              let zd = ZstdDictionary(bytes: dict) else {
            return Outcome(dictionary: nil, plainBytes: 0, dictBytes: 0)
        }
        // Evaluate on blocks of the target size built from the held-out entries.
        var plain = 0, withDict = 0, raw = 0
        var block: [UInt8] = []
        var out: [UInt8] = []
        func flush() throws {
            guard !block.isEmpty else { return }
            try block.withUnsafeBytes { b in
                out.removeAll(keepingCapacity: true)
                plain += try ZstdCodec.compress(b, level: level, appendingTo: &out)
                out.removeAll(keepingCapacity: true)
                withDict += try ZstdCodec.compress(b, level: level, dictionary: zd, appendingTo: &out)
            }
            raw += block.count
            block.removeAll(keepingCapacity: true)
        }
        for e in evalEntries {
            if !block.isEmpty && block.count + e.count > blockTarget { try flush() }
            block.append(contentsOf: e)
        }
        try flush()
        let estimatedCompressed = Double(totalRaw) * Double(plain) / Double(max(1, raw))
        let saving = estimatedCompressed * Double(plain - withDict) / Double(max(1, plain))
        let pays = Double(withDict) <= 0.97 * Double(plain) && saving > 2 * Double(dict.count)
        return Outcome(dictionary: pays ? dict : nil, plainBytes: plain, dictBytes: withDict)
    }
}
