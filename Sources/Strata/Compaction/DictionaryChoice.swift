/// Which dictionary a partition's compaction codes with (SPEC.md §6), as one
/// decision over plain facts and the measurements it asks for. The facts
/// are known before anything is read (`DictionaryChoice.Situation`); the
/// measurements read blocks and compress, so the decision asks for each one
/// only on the path that needs it (`DictionaryEvidence`), in this order:
/// the stored model's probe, the candidate's judgement, the training.
enum DictionaryChoice: Equatable {
    /// No dictionary: plain zstd.
    case none
    /// The domain's latest dictionary (the candidate), with its word model if it
    /// has one. `accept`: it was judged to pay here for the first time at this
    /// level; record it with this model ratio so later months skip the sampling.
    case reuse(accept: Double?)
    /// The candidate's zstd dictionary fits but its word model does not, and no
    /// new dictionary paid: the blocks are coded with the dictionary alone.
    case reuseWithoutModel
    /// The dictionary `DictionaryEvidence.trainNew` trained: it paid.
    case trained
    /// `DictionaryPolicy.always` and nothing else chosen: the one
    /// `DictionaryEvidence.trainForced` trained from the first blocks, unjudged.
    case forced

    /// What is known before any block is read.
    struct Situation: Equatable {
        enum Candidate: Equatable {
            /// The domain has no dictionary yet.
            case none
            /// The domain's latest dictionary, without a word model.
            case plain
            /// The domain's latest dictionary, with a word model.
            case withModel
        }
        var policy: CompactionOptions.DictionaryPolicy
        var candidate: Candidate
        /// The candidate paid at this level earlier in this process.
        var accepted: Bool
        /// A dictionary trained for this domain at this level did not pay in this process.
        var rejectedBefore: Bool
        /// The partition is large enough to sample (`DictionaryTrainer.worthSampling`).
        var worthSampling: Bool
        /// The partition has at least one block.
        var hasBlocks: Bool
    }

    /// The blocks a candidate is judged on: a full sample, or the small probe
    /// (a partition too small to sample).
    enum JudgedOn: Equatable { case probe, sample }

    /// The decision. Reads nothing itself: every measurement is `evidence`'s.
    static func choose(_ s: Situation, evidence: inout some DictionaryEvidence) throws -> DictionaryChoice {
        if s.policy == .never { return .none }
        let mayTrain = s.policy == .always || !s.rejectedBefore
        // The candidate's zstd dictionary fits but its word model does not.
        var staleModel = false
        var trainedPaid = false
        switch s.candidate {
        case .plain where s.accepted:
            return .reuse(accept: nil)
        case .withModel where s.accepted:
            // The model learned one month's vocabulary, and this month's may have moved on.
            // A small probe coded by the model alone screens it: about as compact as where it
            // was judged, it is reused; otherwise it is judged again against zstd on a full
            // sample (the probe, for a small partition).
            if try evidence.probeCodesAsWhenJudged() { return .reuse(accept: nil) }
            let fit = try evidence.judgeCandidate(on: s.worthSampling ? .sample : .probe, dictionaryKnownToFit: true)
            if fit.reusable { return .reuse(accept: nil) }
            staleModel = true
            if mayTrain && s.worthSampling { trainedPaid = try evidence.trainNew() }
        case .none, .plain, .withModel:
            guard (s.candidate != .none || mayTrain) && s.worthSampling else { break }
            if s.candidate != .none {
                let fit = try evidence.judgeCandidate(on: .sample, dictionaryKnownToFit: false)
                if fit.reusable { return .reuse(accept: fit.modelRatio) }
                staleModel = fit.dictionary && fit.wordModel == false
            }
            if mayTrain { trainedPaid = try evidence.trainNew() }
        }
        if trainedPaid { return .trained }
        if s.policy == .always && s.hasBlocks, try evidence.trainForced() { return .forced }
        // No new dictionary paid: the candidate's dictionary still fits, without its model.
        if staleModel { return .reuseWithoutModel }
        return .none
    }
}

/// The measurements `DictionaryChoice.choose` asks for; each reads and
/// compresses sampled blocks of the partition.
protocol DictionaryEvidence {
    /// The candidate's word model codes a small probe of held-out entries no
    /// worse than `DictionaryTrainer.modelScreenSlack` times where it was judged.
    mutating func probeCodesAsWhenJudged() throws -> Bool
    /// The candidate (and its word model) judged on the probe or a full sample.
    mutating func judgeCandidate(on: DictionaryChoice.JudgedOn, dictionaryKnownToFit: Bool) throws -> DictionaryTrainer.Fit
    /// Trains a new dictionary (and word model) on a full sample; true when it
    /// paid. One that did not pay marks the domain rejected at this level.
    mutating func trainNew() throws -> Bool
    /// Trains a dictionary (and word model) from the first blocks without
    /// judging it (`DictionaryPolicy.always`); false when zstd could not train one.
    mutating func trainForced() throws -> Bool
}

/// `DictionaryEvidence` measured on a partition's blocks: what a compaction
/// asks `DictionaryChoice.choose` with. Samples are read once and shared by
/// the measurements that use them.
struct DictionaryMeasurements: DictionaryEvidence {
    let store: Store
    let trainer: DictionaryTrainer
    let domain: String
    let level: Int32
    /// Capacity of a forced dictionary (the trainer's is sized by the domain).
    let dictionaryCapacity: Int
    let wordModels: Bool
    let candidate: (id: UInt32, dictionary: ZstdDictionary)?
    let blockCount: Int
    let totalRaw: Int64
    /// Raw bytes a new dictionary's saving is projected over (the domain's, when larger).
    let trainingRaw: Int64
    /// The example entries of block k.
    let readBlock: (Int) throws -> [[UInt8]]

    private var probe: DictionaryTrainer.Sample?
    private var sample: DictionaryTrainer.Sample?
    /// What `trainNew` or `trainForced` trained (modelRatio: where a paying model was judged).
    private(set) var trained: (dictionary: [UInt8], wordModel: WordModel?, modelRatio: Double)?

    init(store: Store, trainer: DictionaryTrainer, domain: String, level: Int32, dictionaryCapacity: Int, wordModels: Bool,
         candidate: (id: UInt32, dictionary: ZstdDictionary)?, blockCount: Int, totalRaw: Int64, trainingRaw: Int64,
         readBlock: @escaping (Int) throws -> [[UInt8]]) {
        self.store = store
        self.trainer = trainer
        self.domain = domain
        self.level = level
        self.dictionaryCapacity = dictionaryCapacity
        self.wordModels = wordModels
        self.candidate = candidate
        self.blockCount = blockCount
        self.totalRaw = totalRaw
        self.trainingRaw = trainingRaw
        self.readBlock = readBlock
    }

    /// The key under which a domain's failed training is remembered at a level.
    static func rejectedKey(_ domain: String, _ level: Int32) -> String { "\(domain)@\(level)" }

    private mutating func probeSample() throws -> DictionaryTrainer.Sample {
        if let probe { return probe }
        let p = try trainer.probe(blockCount: blockCount, totalRaw: totalRaw, readBlock: readBlock)
        probe = p
        return p
    }

    private mutating func fullSample() throws -> DictionaryTrainer.Sample {
        if let sample { return sample }
        let s = try trainer.sample(blockCount: blockCount, totalRaw: totalRaw, readBlock: readBlock)
        sample = s
        return s
    }

    mutating func probeCodesAsWhenJudged() throws -> Bool {
        guard let (id, d) = candidate, let model = d.wordModel else { return false }
        let judgedRatio = store.acceptedModelRatio(id, level: level) ?? 0
        return try trainer.modelRatio(model, on: probeSample()) <= DictionaryTrainer.modelScreenSlack * judgedRatio
    }

    mutating func judgeCandidate(on what: DictionaryChoice.JudgedOn, dictionaryKnownToFit: Bool) throws -> DictionaryTrainer.Fit {
        guard let (_, d) = candidate else { return DictionaryTrainer.Fit(dictionary: false, wordModel: nil) }
        let s = what == .sample ? try fullSample() : try probeSample()
        return try trainer.judge(d, on: s, dictionaryKnownToFit: dictionaryKnownToFit)
    }

    mutating func trainNew() throws -> Bool {
        var s = try fullSample()
        try trainer.addWordTraining(to: &s, blockCount: blockCount, totalRaw: totalRaw, readBlock: readBlock)
        sample = s
        guard let t = try trainer.train(s, totalRaw: trainingRaw) else {
            store.rejectDictionary(Self.rejectedKey(domain, level))
            return false
        }
        trained = t
        return true
    }

    mutating func trainForced() throws -> Bool {
        var buf: [UInt8] = [], sizes: [Int] = []
        for k in 0..<min(blockCount, 64) {
            for e in try readBlock(k) { buf += e; sizes.append(e.count) }
        }
        guard let bytes = ZstdCodec.trainDictionaryFast(buffer: buf, sizes: sizes, capacity: dictionaryCapacity, level: level) else { return false }
        // Forced: the word model too, unjudged (tests and users who want every path).
        var model: WordModel?
        if wordModels, let zd = ZstdDictionary(bytes: bytes) {
            model = try trainer.wordModel(DictionaryTrainer.Sample(trainBuffer: buf, trainSizes: sizes), dictionary: zd, force: true)
        }
        trained = (bytes, model, 0)
        return true
    }
}
