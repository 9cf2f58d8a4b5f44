import Testing
@testable import Strata

/// `DictionaryChoice.choose` as a table: each row is a situation, the
/// answers its measurements give, the choice, and the measurements asked for
/// in order (a measurement reads and compresses blocks, so asking for one a
/// path does not need is a cost, and a wrong order changes what is sampled).
@Suite struct DictionaryChoiceTests {
    /// Canned measurements; records which were asked for.
    struct Canned: DictionaryEvidence {
        var probePasses = false
        var fit = DictionaryTrainer.Fit(dictionary: false, wordModel: nil)
        var trainPays = false
        var forcedTrains = true
        var asked: [String] = []

        mutating func probeCodesAsWhenJudged() throws -> Bool { asked.append("probe"); return probePasses }
        mutating func judgeCandidate(on: DictionaryChoice.JudgedOn, dictionaryKnownToFit: Bool) throws -> DictionaryTrainer.Fit {
            asked.append("judge(\(on)\(dictionaryKnownToFit ? ", known" : ""))")
            return fit
        }
        mutating func trainNew() throws -> Bool { asked.append("train"); return trainPays }
        mutating func trainForced() throws -> Bool { asked.append("forced"); return forcedTrains }
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var policy: CompactionOptions.DictionaryPolicy = .auto
        var candidate: DictionaryChoice.Situation.Candidate = .none
        var accepted = false
        var rejectedBefore = false
        var worthSampling = true
        var hasBlocks = true
        var probePasses = false
        /// (dictionary fits, word model fits or nil without one, model ratio)
        var fit: (Bool, Bool?, Double) = (false, nil, 0)
        var trainPays = false
        var forcedTrains = true
        var expected: DictionaryChoice
        var asked: [String]
        var testDescription: String { name }
    }

    static let good = (true, Bool?.some(true), 0.25)
    static let staleModel = (true, Bool?.some(false), 0.6)
    static let plainFits = (true, Bool?.none, 0.0)
    static let nothingFits = (false, Bool?.none, 0.0)

    static let rows: [Row] = [
        // No candidate.
        Row(name: "new domain, large enough, training pays: trained",
            trainPays: true, expected: .trained, asked: ["train"]),
        Row(name: "new domain, training does not pay: none",
            expected: .none, asked: ["train"]),
        Row(name: "new domain, too small to sample: none, nothing measured",
            worthSampling: false, expected: .none, asked: []),
        Row(name: "new domain, training rejected before: none, nothing measured",
            rejectedBefore: true, expected: .none, asked: []),
        Row(name: "policy never: none, nothing measured",
            policy: .never, candidate: .withModel, accepted: true, expected: .none, asked: []),
        // Accepted candidate without a model.
        Row(name: "accepted plain candidate: reused unmeasured",
            candidate: .plain, accepted: true, expected: .reuse(accept: nil), asked: []),
        Row(name: "accepted plain candidate on a tiny partition: reused unmeasured",
            candidate: .plain, accepted: true, worthSampling: false, expected: .reuse(accept: nil), asked: []),
        // Accepted candidate with a model.
        Row(name: "accepted model passes the probe: reused, only the probe measured",
            candidate: .withModel, accepted: true, probePasses: true, expected: .reuse(accept: nil), asked: ["probe"]),
        Row(name: "accepted model fails the probe, passes the full judgement: reused",
            candidate: .withModel, accepted: true, fit: good, expected: .reuse(accept: nil),
            asked: ["probe", "judge(sample, known)"]),
        Row(name: "accepted model fails the probe, small partition: judged on the probe",
            candidate: .withModel, accepted: true, worthSampling: false, fit: good, expected: .reuse(accept: nil),
            asked: ["probe", "judge(probe, known)"]),
        Row(name: "stale model, new training pays: trained",
            candidate: .withModel, accepted: true, fit: staleModel, trainPays: true, expected: .trained,
            asked: ["probe", "judge(sample, known)", "train"]),
        Row(name: "stale model, new training does not pay: dictionary kept without the model",
            candidate: .withModel, accepted: true, fit: staleModel, expected: .reuseWithoutModel,
            asked: ["probe", "judge(sample, known)", "train"]),
        Row(name: "stale model, training rejected before: kept without the model, no training",
            candidate: .withModel, accepted: true, rejectedBefore: true, fit: staleModel, expected: .reuseWithoutModel,
            asked: ["probe", "judge(sample, known)"]),
        Row(name: "stale model, too small to train: kept without the model",
            candidate: .withModel, accepted: true, worthSampling: false, fit: staleModel, expected: .reuseWithoutModel,
            asked: ["probe", "judge(probe, known)"]),
        Row(name: "stale model, policy always, training does not pay: forced",
            policy: .always, candidate: .withModel, accepted: true, fit: staleModel, expected: .forced,
            asked: ["probe", "judge(sample, known)", "train", "forced"]),
        Row(name: "stale model, policy always, forced training fails: kept without the model",
            policy: .always, candidate: .withModel, accepted: true, fit: staleModel, forcedTrains: false,
            expected: .reuseWithoutModel, asked: ["probe", "judge(sample, known)", "train", "forced"]),
        // A candidate not yet accepted in this process (a dictionary from an earlier run).
        Row(name: "unaccepted candidate fits with its model: reused and accepted with its ratio",
            candidate: .withModel, fit: good, expected: .reuse(accept: 0.25), asked: ["judge(sample)"]),
        Row(name: "unaccepted plain candidate fits: reused and accepted",
            candidate: .plain, fit: plainFits, expected: .reuse(accept: 0), asked: ["judge(sample)"]),
        Row(name: "unaccepted candidate does not fit, training pays: trained",
            candidate: .plain, fit: nothingFits, trainPays: true, expected: .trained, asked: ["judge(sample)", "train"]),
        Row(name: "unaccepted candidate does not fit, training does not pay: none",
            candidate: .plain, fit: nothingFits, expected: .none, asked: ["judge(sample)", "train"]),
        Row(name: "unaccepted candidate's model is stale, training does not pay: kept without the model",
            candidate: .withModel, fit: staleModel, expected: .reuseWithoutModel, asked: ["judge(sample)", "train"]),
        Row(name: "unaccepted candidate does not fit, training rejected before: none",
            candidate: .plain, rejectedBefore: true, fit: nothingFits, expected: .none, asked: ["judge(sample)"]),
        Row(name: "unaccepted candidate, partition too small to sample: none, nothing measured",
            candidate: .withModel, worthSampling: false, fit: good, expected: .none, asked: []),
        // Policy always.
        Row(name: "policy always, tiny new domain: forced",
            policy: .always, worthSampling: false, expected: .forced, asked: ["forced"]),
        Row(name: "policy always trains even when rejected before, and it pays: trained",
            policy: .always, rejectedBefore: true, trainPays: true, expected: .trained, asked: ["train"]),
        Row(name: "policy always, no blocks: none",
            policy: .always, worthSampling: false, hasBlocks: false, expected: .none, asked: []),
        Row(name: "policy always, zstd cannot train: none",
            policy: .always, worthSampling: false, forcedTrains: false, expected: .none, asked: ["forced"]),
    ]

    @Test(arguments: rows)
    func choice(_ row: Row) throws {
        let s = DictionaryChoice.Situation(policy: row.policy, candidate: row.candidate, accepted: row.accepted,
                                           rejectedBefore: row.rejectedBefore, worthSampling: row.worthSampling,
                                           hasBlocks: row.hasBlocks)
        var evidence = Canned(probePasses: row.probePasses,
                              fit: DictionaryTrainer.Fit(dictionary: row.fit.0, wordModel: row.fit.1, modelRatio: row.fit.2),
                              trainPays: row.trainPays, forcedTrains: row.forcedTrains)
        let choice = try DictionaryChoice.choose(s, evidence: &evidence)
        #expect(choice == row.expected)
        #expect(evidence.asked == row.asked)
    }

    @Test func everyRowHasItsOwnName() {
        #expect(Set(Self.rows.map(\.name)).count == Self.rows.count)
    }
}
