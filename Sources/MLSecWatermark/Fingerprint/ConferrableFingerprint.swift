// ConferrableFingerprint: a black-box fingerprint of a model (Lukas et al. 2021, "Deep Neural Network Fingerprinting
// by Conferrable Adversarial Examples"): inputs whose labels the model's copies keep and independent models do not,
// with a match-rate threshold calibrated on held-out copies and references.

import MLSecCore
import MLSecEngine

/// A fingerprint of one model: `count` inputs with the model's labels on them and the match rate above which a
/// suspect is called a copy.
///
/// Creation makes surrogate copies of the model with the removal attacks (fine-tuning at two learning rates,
/// magnitude pruning, hard-label distillation on noise-augmented queries), optimises perturbations of data rows so
/// that the model and its copies give the same, changed label while the reference models (independently trained)
/// give another, keeps the most conferrable, and sets the threshold midway between the match rates of the
/// weight-derived copies and the references that took no part in the optimisation. Distilled copies match above
/// independent models on average but not reliably above that threshold (see docs/watermark.md).
public struct ConferrableFingerprint: Sendable, Equatable {
    /// Name of the fingerprinted model (its model.json name; the V2 model name when matched over HTTP).
    public var modelName: String
    /// Name of the model's input tensor (what a V2 request names).
    public var inputName: String
    /// `parameterDigest` of the fingerprinted model.
    public var modelDigest: String
    /// Feature shape of one input (no batch dimension).
    public var inputShape: [Int]
    /// Classes the model predicts.
    public var classCount: Int
    /// The fingerprint inputs, row-major, `count * inputSize` values.
    public var inputs: [Float]
    /// The fingerprinted model's label of each input.
    public var labels: [Int]
    /// A suspect whose match rate is at least this is called a copy.
    public var threshold: Double
    /// How the threshold was set.
    public var calibration: Calibration

    /// Values per input.
    public var inputSize: Int { inputShape.reduce(1, *) }
    /// Number of fingerprint inputs.
    public var count: Int { labels.count }

    public init(modelName: String, inputName: String, modelDigest: String, inputShape: [Int], classCount: Int,
                inputs: [Float], labels: [Int], threshold: Double, calibration: Calibration) {
        self.modelName = modelName
        self.inputName = inputName
        self.modelDigest = modelDigest
        self.inputShape = inputShape
        self.classCount = classCount
        self.inputs = inputs
        self.labels = labels
        self.threshold = threshold
        self.calibration = calibration
    }

    /// One model's match rate during calibration.
    public struct Rate: Sendable, Equatable {
        public var name: String
        public var matchRate: Double
        /// A distilled copy (shares no weights with the model); such copies are recorded but do not set the threshold.
        public var distilled: Bool
        public init(name: String, matchRate: Double, distilled: Bool = false) {
            self.name = name
            self.matchRate = matchRate
            self.distilled = distilled
        }
    }

    /// The evidence behind the threshold.
    public struct Calibration: Sendable, Equatable {
        /// Match rates of copies made at creation that took no part in the optimisation.
        public var copies: [Rate]
        /// Match rates of the references that took no part in the optimisation (all references when fewer than
        /// four were given: then `referencesHeldOut` is false and these rates are optimistic).
        public var references: [Rate]
        public var referencesHeldOut: Bool
        /// Perturbation budget (L-inf), as a fraction of the input range.
        public var epsilon: Double
        /// Candidates optimised, of which the `count` most conferrable were kept.
        public var candidates: Int
        /// Mean conferrability score of the kept inputs on the optimisation ensemble.
        public var meanConferrability: Double
        /// Random seed of the creation.
        public var seed: UInt64

        public init(copies: [Rate], references: [Rate], referencesHeldOut: Bool, epsilon: Double, candidates: Int,
                    meanConferrability: Double, seed: UInt64) {
            self.copies = copies
            self.references = references
            self.referencesHeldOut = referencesHeldOut
            self.epsilon = epsilon
            self.candidates = candidates
            self.meanConferrability = meanConferrability
            self.seed = seed
        }

        /// `true` when every held-out weight-derived copy scored above every reference.
        public var separated: Bool {
            guard let low = copies.filter({ !$0.distilled }).map(\.matchRate).min(), let high = references.map(\.matchRate).max()
            else { return false }
            return low > high
        }
    }

    /// Settings of `create`.
    public struct Options: Sendable {
        /// Fingerprint inputs kept.
        public var count = 100
        /// Data rows perturbed into candidates (at most the data's row count).
        public var candidates = 1000
        /// L-inf budget of the perturbations, as a fraction of the input range.
        public var epsilon: Float = 0.25
        /// Sign-gradient steps of the optimisation.
        public var steps = 50
        /// Logit margin the optimisation asks for (a Carlini-Wagner style hinge).
        public var margin: Float = 2
        /// Epochs of the fine-tuned surrogate copies.
        public var fineTuneEpochs = 10
        /// Epochs of the distilled surrogate copies.
        public var distillEpochs = 100
        /// Distilled surrogates in the optimisation ensemble (two more are made for calibration when > 0).
        public var distilledCopies = 3
        /// Data rows a distilled surrogate queries the model on; each is also queried with `noiseCopies` noisy versions.
        public var distillRows = 400
        public var noiseCopies = 4
        /// Standard deviation of that noise, as a fraction of the input range.
        public var noiseSigma: Float = 0.2
        public var seed: UInt64 = 0

        public init() {}

        func validate() throws {
            guard (1...Fingerprinting.maxInputs).contains(count) else { throw MLSecError.usage("--count must be 1...\(Fingerprinting.maxInputs)") }
            guard candidates >= count else { throw MLSecError.usage("the candidates (\(candidates)) must be at least --count (\(count))") }
            guard epsilon > 0, epsilon <= 1, margin >= 0, margin.isFinite, (1...10_000).contains(steps) else {
                throw MLSecError.usage("epsilon must be in (0, 1], the margin >= 0 and steps 1...10000")
            }
            guard fineTuneEpochs >= 1, distillEpochs >= 1, distilledCopies >= 0, distillRows >= 1, noiseCopies >= 0,
                  noiseSigma >= 0, noiseSigma.isFinite else {
                throw MLSecError.usage("surrogate epochs and distillation rows must be at least 1, copies and noise >= 0")
            }
        }
    }

    /// Fingerprints `model` with data rows `data` (labels optional: the model's own labels stand in) and
    /// independently trained `references` (same input and class count; four or more let calibration hold some out).
    /// - Parameter progress: told each stage as it starts.
    public static func create(model: Model, data: Dataset, references: [(name: String, model: Model)],
                              options: Options = Options(), progress: ((String) -> Void)? = nil) throws -> ConferrableFingerprint {
        try options.validate()
        guard data.featureCount == model.inputSize else {
            throw MLSecError.malformed("the data has \(data.featureCount) features, the model takes \(model.inputSize)")
        }
        guard data.count >= options.count else {
            throw MLSecError.usage("the data has \(data.count) rows; give at least --count (\(options.count)) rows")
        }
        guard !references.isEmpty else {
            throw MLSecError.usage("give at least one independently trained reference model (four or more to hold some out for calibration)")
        }
        for (name, reference) in references {
            guard reference.inputSize == model.inputSize, reference.classCount == model.classCount else {
                throw MLSecError.malformed("reference model \(name) takes \(reference.inputSize) inputs and predicts \(reference.classCount) "
                    + "classes; the model takes \(model.inputSize) and predicts \(model.classCount): train references for the same task")
            }
        }
        let range = try Fingerprinting.inputRange(model: model, data: data)
        progress?("making surrogate copies (fine-tuning, pruning, distillation)")
        let surrogates = try FingerprintSurrogates.make(source: model, data: data, range: range, options: options)
        // References: with four or more, every fourth is held out of the optimisation for an honest calibration.
        let heldOut = references.count >= 4
        let optimisationReferences = heldOut ? references.enumerated().filter { $0.offset % 4 != 3 }.map(\.element) : references
        let calibrationReferences = heldOut ? references.enumerated().filter { $0.offset % 4 == 3 }.map(\.element) : references
        progress?("optimising \(min(options.candidates, data.count)) candidates against \(surrogates.optimisation.count) copies "
            + "and \(optimisationReferences.count) references")
        let search = try ConferrableSearch(source: model, copies: surrogates.optimisation,
                                           references: optimisationReferences.map(\.model), range: range, options: options)
        let found = try search.run(data: data)
        let order = found.scores.indices.sorted { (found.scores[$0], $1) > (found.scores[$1], $0) }
        let kept = Array(order.prefix(options.count))
        let width = model.inputSize
        var inputs: [Float] = []
        inputs.reserveCapacity(kept.count * width)
        for i in kept { inputs += found.inputs[i * width..<(i + 1) * width] }
        let labels = kept.map { found.labels[$0] }
        progress?("calibrating the threshold on \(surrogates.calibration.count) held-out copies and \(calibrationReferences.count) references")
        func rate(_ other: Model) throws -> Double {
            Fingerprinting.matchRate(try ModelOracle(model: other).labelsNow(inputs, count: labels.count), labels)
        }
        let copyRates = try surrogates.calibration.map { Rate(name: $0.name, matchRate: try rate($0.model), distilled: $0.distilled) }
        let referenceRates = try calibrationReferences.map { Rate(name: $0.name, matchRate: try rate($0.model)) }
        let calibration = Calibration(
            copies: copyRates, references: referenceRates, referencesHeldOut: heldOut, epsilon: Double(options.epsilon),
            candidates: found.scores.count, meanConferrability: kept.reduce(0) { $0 + found.scores[$1] } / Double(max(kept.count, 1)),
            seed: options.seed)
        return ConferrableFingerprint(
            modelName: model.spec.name, inputName: model.spec.input.name, modelDigest: model.parameterDigest,
            inputShape: model.spec.input.featureShape, classCount: model.classCount, inputs: inputs, labels: labels,
            // Distilled copies score only somewhat above independent models: letting them pull the threshold down would
            // make false claims against independent models; the threshold rests on the weight-derived copies.
            threshold: Fingerprinting.midpoint(copies: copyRates.filter { !$0.distilled }.map(\.matchRate),
                                               references: referenceRates.map(\.matchRate)),
            calibration: calibration)
    }

    /// The outcome of matching a suspect.
    public struct Match: Sendable, Equatable {
        /// Inputs on which the suspect gave the fingerprinted model's label.
        public var matches: Int
        public var n: Int
        public var threshold: Double
        public var matchRate: Double { n > 0 ? Double(matches) / Double(n) : 0 }
        /// `true` when the match rate reaches the threshold: the suspect behaves as a copy.
        public var isCopy: Bool { matchRate >= threshold }
        /// "copy" or "independent".
        public var verdict: String { isCopy ? "copy" : "independent" }
    }

    /// Asks `oracle` (a local model or a live endpoint) for its labels of the fingerprint inputs.
    public func match(oracle: some LabelOracle) async throws -> Match {
        guard oracle.inputSize == inputSize else {
            throw MLSecError.malformed("the suspect takes \(oracle.inputSize) input values, the fingerprint's inputs have \(inputSize) "
                + "(shape \(inputShape)): it fingerprints a model of another input shape")
        }
        let answers = try await oracle.labels(inputs, count: count)
        guard answers.count == count else {
            throw MLSecError.malformed("the suspect answered \(answers.count) labels for \(count) inputs")
        }
        return Match(matches: zip(answers, labels).filter { $0 == $1 }.count, n: count, threshold: threshold)
    }
}
