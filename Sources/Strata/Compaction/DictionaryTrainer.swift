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
    /// Whether a word model may be trained (sampling reads more text for it).
    var wordModels = false

    struct Sample {
        var trainBuffer: [UInt8] = []
        var trainSizes: [Int] = []
        var evalEntries: [[UInt8]] = []
        /// More training entries for a word model (SPEC.md §6.1), from blocks
        /// that are neither training nor held out: a word model needs about
        /// 1 MB of text to learn a vocabulary, a zstd dictionary less.
        var extraWordTraining: [UInt8] = []
    }

    /// Bytes of entries a word model trains on, when the partition has them.
    static let wordTrainingBytes = 1536 << 10

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
        var used = Set<Int>()
        for k in 0..<wanted {
            let b = k * blockCount / wanted
            used.insert(b)
            let entries = try readBlock(b)
            if k % 2 == 0 {
                for e in entries { s.trainBuffer.append(contentsOf: e); s.trainSizes.append(e.count) }
            } else {
                s.evalEntries.append(contentsOf: entries)
            }
        }
        if wordModels && s.trainBuffer.count < Self.wordTrainingBytes {
            // The remaining blocks, spread evenly, until the word model has its text.
            let rest = (0..<blockCount).filter { !used.contains($0) }
            let want = min(rest.count, (Self.wordTrainingBytes - s.trainBuffer.count) / avgBlock + 1)
            for k in 0..<want {
                for e in try readBlock(rest[k * rest.count / want]) { s.extraWordTraining.append(contentsOf: e) }
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

    /// A new dictionary, and with it a word model when one measured smaller
    /// (see `wordModel`), or nil when neither pays. The dictionary pays when
    /// it makes the held-out blocks ≥ 3% smaller and the projected saving
    /// over the domain exceeds twice its size; a word model that pays
    /// carries the dictionary with it (its file holds both, SPEC.md §6).
    func train(_ sample: Sample, totalRaw: Int64) throws -> (dictionary: [UInt8], wordModel: WordModel?)? {
        guard sample.trainSizes.count >= 16, !sample.evalEntries.isEmpty,
              let dict = ZstdCodec.trainDictionaryFast(buffer: sample.trainBuffer, sizes: sample.trainSizes, capacity: capacity, level: level),
              let zd = ZstdDictionary(bytes: dict) else { return nil }
        let e = try evaluate(zd, on: sample)
        let estimatedCompressed = Double(totalRaw) * Double(e.plain) / Double(max(1, e.raw))
        let saving = estimatedCompressed * Double(e.plain - e.withDict) / Double(max(1, e.plain))
        let pays = Double(e.withDict) <= 0.97 * Double(e.plain) && saving > 2 * Double(dict.count)
        let model = wordModels ? try wordModel(sample, dictionary: zd) : nil
        return pays || model != nil ? (dict, model) : nil
    }

    /// A word model (SPEC.md §6.1) trained on the sample's text, when it
    /// codes the held-out blocks' `texts` streams at least 3% smaller than
    /// zstd with `dictionary` at this level does (or always, with `force`).
    func wordModel(_ sample: Sample, dictionary: ZstdDictionary, force: Bool = false) throws -> WordModel? {
        let workspace = ColumnarBlock.EncoderWorkspace.current
        var trainer = WordModel.Trainer()
        for buffer in [sample.trainBuffer, sample.extraWordTraining] where !buffer.isEmpty {
            let texts = try buffer.withUnsafeBytes { try workspace.texts(of: $0) }
            texts.withUnsafeBytes { trainer.add(stream: $0) }
        }
        guard let model = trainer.model() else { return nil }
        if force { return model }
        var zstdBytes = 0, modelBytes = 0
        var block: [UInt8] = []
        var out: [UInt8] = []
        func flush() throws {
            guard !block.isEmpty else { return }
            let texts = try block.withUnsafeBytes { try workspace.texts(of: $0) }
            try texts.withUnsafeBytes { t in
                out.removeAll(keepingCapacity: true)
                zstdBytes += try ZstdCodec.compress(t, level: level, dictionary: dictionary, appendingTo: &out)
                modelBytes += model.encode(t, into: &out) ?? t.count
            }
            block.removeAll(keepingCapacity: true)
        }
        for e in sample.evalEntries {
            if !block.isEmpty && block.count + e.count > blockTarget { try flush() }
            block.append(contentsOf: e)
        }
        try flush()
        return zstdBytes > 0 && Double(modelBytes) <= 0.97 * Double(zstdBytes) ? model : nil
    }
}
