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
        /// Blocks read for training and held out, in order.
        var sampledBlocks: [Int] = []
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
        for k in 0..<wanted {
            let b = k * blockCount / wanted
            s.sampledBlocks.append(b)
            let entries = try readBlock(b)
            if k % 2 == 0 {
                for e in entries { s.trainBuffer.append(contentsOf: e); s.trainSizes.append(e.count) }
            } else {
                s.evalEntries.append(contentsOf: entries)
            }
        }
        return s
    }

    /// Entries read to screen an accepted dictionary's word model on a later
    /// partition (`modelRatio`).
    static let modelProbeBytes = 64 << 10

    /// How much worse than where it was judged (coded bytes per text byte) a
    /// stored model may code a probe before it is judged against zstd again.
    /// Months of a stable vocabulary vary by a few percent; one that moved
    /// on escapes its new words byte by byte.
    static let modelScreenSlack = 1.10

    /// Held-out entries only, about `modelProbeBytes` of them from blocks
    /// spread over the partition, whatever its size: what a stored word
    /// model is screened on (`modelRatio`), and judged on when the partition
    /// is too small to sample.
    func probe(blockCount: Int, totalRaw: Int64, readBlock: (Int) throws -> [[UInt8]]) throws -> Sample {
        var s = Sample()
        guard blockCount > 0 else { return s }
        let avgBlock = max(1, Int(totalRaw) / blockCount)
        let wanted = max(1, min(blockCount, Self.modelProbeBytes / avgBlock))
        var bytes = 0
        for k in 0..<wanted where bytes < Self.modelProbeBytes {
            for e in try readBlock(k * blockCount / wanted + blockCount / (2 * wanted)) {
                s.evalEntries.append(e)
                bytes += e.count
            }
        }
        return s
    }

    /// Reads the word model's extra training text into `s` (SPEC.md §6.1):
    /// the blocks `sample` left, spread evenly, until the model has
    /// `wordTrainingBytes`. Only a new dictionary needs it, so only training
    /// reads it; judging a stored model does not.
    func addWordTraining(to s: inout Sample, blockCount: Int, totalRaw: Int64, readBlock: (Int) throws -> [[UInt8]]) throws {
        guard wordModels, s.extraWordTraining.isEmpty, s.trainBuffer.count < Self.wordTrainingBytes else { return }
        let avgBlock = max(1, Int(totalRaw) / blockCount)
        let used = Set(s.sampledBlocks)
        let rest = (0..<blockCount).filter { !used.contains($0) }
        let want = min(rest.count, (Self.wordTrainingBytes - s.trainBuffer.count) / avgBlock + 1)
        for k in 0..<want {
            for e in try readBlock(rest[k * rest.count / want]) { s.extraWordTraining.append(contentsOf: e) }
        }
    }

    /// The sample's held-out entries joined into blocks of about `blockTarget`
    /// bytes, as compaction would write them (an entry is never split).
    private func forEachHeldOutBlock(of sample: Sample, _ body: ([UInt8]) throws -> Void) throws {
        var block: [UInt8] = []
        for e in sample.evalEntries {
            if !block.isEmpty && block.count + e.count > blockTarget {
                try body(block)
                block.removeAll(keepingCapacity: true)
            }
            block.append(contentsOf: e)
        }
        if !block.isEmpty { try body(block) }
    }

    /// Held-out bytes compressed without and with `dictionary`, plus their raw size.
    func evaluate(_ dictionary: ZstdDictionary, on sample: Sample) throws -> (plain: Int, withDict: Int, raw: Int) {
        var plain = 0, withDict = 0, raw = 0
        var out: [UInt8] = []
        try forEachHeldOutBlock(of: sample) { block in
            try block.withUnsafeBytes { b in
                out.removeAll(keepingCapacity: true)
                plain += try ZstdCodec.compress(b, level: level, appendingTo: &out)
                out.removeAll(keepingCapacity: true)
                withDict += try ZstdCodec.compress(b, level: level, dictionary: dictionary, appendingTo: &out)
            }
            raw += block.count
        }
        return (plain, withDict, raw)
    }

    /// How an existing dictionary fits this partition's held-out blocks.
    struct Fit {
        /// zstd with the dictionary makes them ≥ 3% smaller than without.
        var dictionary: Bool
        /// The dictionary's word model codes their text ≥ 3% smaller than
        /// zstd with the dictionary; nil when it carries no model.
        var wordModel: Bool?
        /// The model's coded bytes per text byte there (0 without a model).
        var modelRatio = 0.0
        /// Both hold: the dictionary, with its model, is worth reusing.
        var reusable: Bool { dictionary && wordModel != false }
    }

    /// Judges `dictionary` and its word model on the sample's held-out
    /// blocks. A model is trained on one partition's vocabulary and reused by
    /// the domain's later months, whose vocabulary may have moved on; unknown
    /// words are escaped byte by byte, so a stale model can code text larger
    /// than zstd does. The model is judged by the same 3% rule that kept it.
    /// With `dictionaryKnownToFit` only the model is measured.
    func judge(_ dictionary: ZstdDictionary, on sample: Sample, dictionaryKnownToFit: Bool = false) throws -> Fit {
        // Nothing to judge on: only a dictionary already judged stays.
        guard !sample.evalEntries.isEmpty else {
            return Fit(dictionary: dictionaryKnownToFit, wordModel: dictionary.wordModel.map { _ in dictionaryKnownToFit })
        }
        var fit = Fit(dictionary: dictionaryKnownToFit)
        if !dictionaryKnownToFit {
            let e = try evaluate(dictionary, on: sample)
            fit.dictionary = Double(e.withDict) <= 0.97 * Double(e.plain)
        }
        if let model = dictionary.wordModel {
            let (zstdBytes, modelBytes, textBytes) = try textSizes(of: sample, dictionary: dictionary, model: model)
            fit.wordModel = Double(modelBytes) <= 0.97 * Double(zstdBytes)
            fit.modelRatio = Double(modelBytes) / Double(max(1, textBytes))
        }
        return fit
    }

    /// True when an existing dictionary (with its word model, if it carries one) is worth using for this partition.
    func fits(_ dictionary: ZstdDictionary, sample: Sample) throws -> Bool {
        try judge(dictionary, on: sample).reusable
    }

    /// A new dictionary, and with it a word model when one measured smaller
    /// (see `wordModel`), or nil when neither pays. The dictionary pays when
    /// it makes the held-out blocks ≥ 3% smaller and the projected saving
    /// over the domain exceeds twice its size; a word model that pays
    /// carries the dictionary with it (its file holds both, SPEC.md §6).
    func train(_ sample: Sample, totalRaw: Int64) throws -> (dictionary: [UInt8], wordModel: WordModel?, modelRatio: Double)? {
        guard sample.trainSizes.count >= 16, !sample.evalEntries.isEmpty,
              let dict = ZstdCodec.trainDictionaryFast(buffer: sample.trainBuffer, sizes: sample.trainSizes, capacity: capacity, level: level),
              let zd = ZstdDictionary(bytes: dict) else { return nil }
        let e = try evaluate(zd, on: sample)
        let estimatedCompressed = Double(totalRaw) * Double(e.plain) / Double(max(1, e.raw))
        let saving = estimatedCompressed * Double(e.plain - e.withDict) / Double(max(1, e.plain))
        let pays = Double(e.withDict) <= 0.97 * Double(e.plain) && saving > 2 * Double(dict.count)
        let model = wordModels ? try judgedWordModel(sample, dictionary: zd) : nil
        return pays || model != nil ? (dict, model?.model, model?.ratio ?? 0) : nil
    }

    /// A word model (SPEC.md §6.1) trained on the sample's text, when it
    /// codes the held-out blocks' `texts` streams at least 3% smaller than
    /// zstd with `dictionary` at this level does (or always, with `force`).
    func wordModel(_ sample: Sample, dictionary: ZstdDictionary, force: Bool = false) throws -> WordModel? {
        if force { return try trainedModel(sample) }
        return try judgedWordModel(sample, dictionary: dictionary)?.model
    }

    /// `wordModel`, with the model's coded bytes per text byte on the held-out blocks.
    func judgedWordModel(_ sample: Sample, dictionary: ZstdDictionary) throws -> (model: WordModel, ratio: Double)? {
        guard let model = try trainedModel(sample) else { return nil }
        let (zstdBytes, modelBytes, textBytes) = try textSizes(of: sample, dictionary: dictionary, model: model)
        guard zstdBytes > 0 && Double(modelBytes) <= 0.97 * Double(zstdBytes) else { return nil }
        return (model, Double(modelBytes) / Double(max(1, textBytes)))
    }

    private func trainedModel(_ sample: Sample) throws -> WordModel? {
        let workspace = ColumnarBlock.EncoderWorkspace.current
        var trainer = WordModel.Trainer()
        for buffer in [sample.trainBuffer, sample.extraWordTraining] where !buffer.isEmpty {
            let texts = try buffer.withUnsafeBytes { try workspace.texts(of: $0) }
            texts.withUnsafeBytes { trainer.add(stream: $0) }
        }
        return trainer.model()
    }

    /// The word model's coded bytes per text byte on the sample's held-out
    /// entries, without zstd: a cheap screen that a stored model still codes
    /// a later month about as well as where it was judged.
    func modelRatio(_ model: WordModel, on sample: Sample) throws -> Double {
        let workspace = ColumnarBlock.EncoderWorkspace.current
        var block: [UInt8] = []
        for e in sample.evalEntries { block.append(contentsOf: e) }
        let texts = try block.withUnsafeBytes { try workspace.texts(of: $0) }
        var out: [UInt8] = []
        let coded = texts.withUnsafeBytes { model.encode($0, into: &out) ?? $0.count }
        return Double(coded) / Double(max(1, texts.count))
    }

    /// The held-out blocks' `texts` streams compressed by zstd with
    /// `dictionary` at this level, coded by `model` (a text it cannot code
    /// counts at its raw size, as the block encoder stores it then), and raw.
    func textSizes(of sample: Sample, dictionary: ZstdDictionary, model: WordModel) throws -> (zstd: Int, model: Int, raw: Int) {
        let workspace = ColumnarBlock.EncoderWorkspace.current
        var zstdBytes = 0, modelBytes = 0, rawBytes = 0
        var out: [UInt8] = []
        try forEachHeldOutBlock(of: sample) { block in
            let texts = try block.withUnsafeBytes { try workspace.texts(of: $0) }
            try texts.withUnsafeBytes { t in
                out.removeAll(keepingCapacity: true)
                zstdBytes += try ZstdCodec.compress(t, level: level, dictionary: dictionary, appendingTo: &out)
                modelBytes += model.encode(t, into: &out) ?? t.count
                rawBytes += t.count
            }
        }
        return (zstdBytes, modelBytes, rawBytes)
    }
}
