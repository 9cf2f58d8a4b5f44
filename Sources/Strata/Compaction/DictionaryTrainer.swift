/// Decides whether a zstd dictionary pays for a partition, and trains it
/// (SPEC.md §6). Samples are whole example entries from blocks spread evenly
/// over the partition; half of the sampled blocks train, the other half
/// measure: a dictionary is used only when it makes the held-out blocks at
/// least 3% smaller and, for a new one, the projected saving over the whole
/// partition exceeds twice its size. The latest dictionary of the same domain
/// is tried first, so months of a domain share one dictionary when it fits.
struct DictionaryTrainer {
    var capacity: Int
    var sampleBytes: Int
    var level: Int32
    var blockTarget: Int

    struct Sample {
        var trainBuffer: [UInt8] = []
        var trainSizes: [Int] = []
        var evalEntries: [[UInt8]] = []
    }

    /// Whether the partition is worth sampling at all.
    func worthSampling(blockCount: Int, totalRaw: Int64) -> Bool {
        blockCount >= 2 && totalRaw >= Int64(max(capacity * 4, 64 << 10))
    }

    /// `readBlock(k)` returns the example entries of block k of `blockCount`.
    func sample(blockCount: Int, totalRaw: Int64, readBlock: (Int) throws -> [[UInt8]]) throws -> Sample {
        var s = Sample()
        let avgBlock = max(1, Int(totalRaw) / blockCount)
        // At most a quarter of a small partition: sampling is a fixed cost per compaction.
        let budget = min(sampleBytes, max(Int(totalRaw / 4), 256 << 10))
        let wanted = max(2, min(blockCount, budget / avgBlock))
        for k in 0..<wanted {
            let entries = try readBlock(k * blockCount / wanted)
            if k % 2 == 0 {
                for e in entries { s.trainBuffer.append(contentsOf: e); s.trainSizes.append(e.count) }
            } else {
                s.evalEntries.append(contentsOf: entries)
            }
        }
        return s
    }

    /// Held-out bytes compressed without and with `dictionary`, plus their raw size.
    func evaluate(_ dictionary: ZstdDictionary, on sample: Sample) throws -> (plain: Int, withDict: Int, raw: Int) {
        var plain = 0, withDict = 0, raw = 0
        var block: [UInt8] = []
        var out: [UInt8] = []
        func flush() throws {
            guard !block.isEmpty else { return }
            try block.withUnsafeBytes { b in
                out.removeAll(keepingCapacity: true)
                plain += try ZstdCodec.compress(b, level: level, appendingTo: &out)
                out.removeAll(keepingCapacity: true)
                withDict += try ZstdCodec.compress(b, level: level, dictionary: dictionary, appendingTo: &out)
            }
            raw += block.count
            block.removeAll(keepingCapacity: true)
        }
        for e in sample.evalEntries {
            if !block.isEmpty && block.count + e.count > blockTarget { try flush() }
            block.append(contentsOf: e)
        }
        try flush()
        return (plain, withDict, raw)
    }

    /// True when an existing dictionary is worth using for this partition.
    func fits(_ dictionary: ZstdDictionary, sample: Sample) throws -> Bool {
        guard !sample.evalEntries.isEmpty else { return false }
        let e = try evaluate(dictionary, on: sample)
        return Double(e.withDict) <= 0.97 * Double(e.plain)
    }

    /// A new dictionary when it pays, else nil.
    func train(_ sample: Sample, totalRaw: Int64) throws -> [UInt8]? {
        guard sample.trainSizes.count >= 16, !sample.evalEntries.isEmpty,
              let dict = ZstdCodec.trainDictionaryFast(buffer: sample.trainBuffer, sizes: sample.trainSizes, capacity: capacity, level: level),
              let zd = ZstdDictionary(bytes: dict) else { return nil }
        let e = try evaluate(zd, on: sample)
        let estimatedCompressed = Double(totalRaw) * Double(e.plain) / Double(max(1, e.raw))
        let saving = estimatedCompressed * Double(e.plain - e.withDict) / Double(max(1, e.plain))
        let pays = Double(e.withDict) <= 0.97 * Double(e.plain) && saving > 2 * Double(dict.count)
        return pays ? dict : nil
    }
}
