// FingerprintSurrogates: the copies of a model that fingerprint creation makes with the removal attacks, one set for
// the optimisation ensemble and another, made with other seeds and settings, for calibrating the threshold.

import MLSecCore
import MLSecEngine

/// Surrogate copies of a source model.
struct FingerprintSurrogates {
    /// A copy, and whether it was distilled (a copy of the behaviour without the weights).
    struct Copy {
        var name: String
        var model: Model
        var distilled: Bool
    }

    /// Copies the conferrable inputs are optimised for.
    var optimisation: [Copy]
    /// Copies that take no part in the optimisation: their match rates calibrate the threshold.
    var calibration: [Copy]

    /// Makes both sets from `source` and the data rows (the model's own labels stand in for missing labels).
    static func make(source: Model, data: Dataset, range: Fingerprinting.Range,
                     options: ConferrableFingerprint.Options) throws -> FingerprintSurrogates {
        var labelled = data
        if labelled.labels == nil {
            labelled.labels = try ModelOracle(model: source).labelsNow(data.features, count: data.count)
        }
        let seed = options.seed
        func fineTune(_ rate: Float, shuffle: UInt64) throws -> Copy {
            // A thief's half of the data: the first half of a seeded shuffle.
            let attack = RemovalAttack.fineTune(fraction: 0.5, epochs: options.fineTuneEpochs, learningRate: rate)
            let model = try attack.apply(to: source, data: shuffled(labelled, seed: shuffle), seed: shuffle)
            return Copy(name: attack.name, model: model, distilled: false)
        }
        func other(_ attack: RemovalAttack, _ salt: UInt64) throws -> Copy {
            Copy(name: attack.name, model: try attack.apply(to: source, data: labelled, seed: seed &+ salt), distilled: false)
        }
        func distill(_ salt: UInt64) throws -> Copy {
            let queries = try querySet(source: source, data: data, range: range, options: options, seed: seed &+ salt)
            let attack = RemovalAttack.distill(epochs: options.distillEpochs)
            let model = try attack.apply(to: source, data: queries, seed: seed &+ salt)
            return Copy(name: "distill \(options.distillEpochs) epochs (\(queries.count) noisy queries, seed \(seed &+ salt))",
                        model: model, distilled: true)
        }
        var optimisation = [
            try fineTune(0.001, shuffle: seed &+ 11), try fineTune(0.01, shuffle: seed &+ 12),
            try other(.prune(fraction: 0.5), 13),
        ]
        var calibration = [
            try fineTune(0.001, shuffle: seed &+ 21), try fineTune(0.01, shuffle: seed &+ 22),
            try other(.prune(fraction: 0.3), 23), try other(.prune(fraction: 0.7), 24), try other(.noise(relative: 0.1), 25),
        ]
        if options.distilledCopies > 0 {
            for i in 0..<UInt64(options.distilledCopies) { optimisation.append(try distill(100 &+ i)) }
            calibration.append(try distill(200))
            calibration.append(try distill(201))
        }
        return FingerprintSurrogates(optimisation: optimisation, calibration: calibration)
    }

    /// The rows in a seeded order.
    static func shuffled(_ data: Dataset, seed: UInt64) -> Dataset {
        var order = Array(0..<data.count)
        var rng = SeededGenerator(seed: seed ^ 0x5348_5546)
        rng.shuffle(&order)
        return data.subset(order)
    }

    /// What a thief who can only query the model would ask it: `distillRows` data rows and `noiseCopies` noisy
    /// versions of each (Gaussian, clipped to the input range), unlabelled (the distillation labels them).
    static func querySet(source: Model, data: Dataset, range: Fingerprinting.Range, options: ConferrableFingerprint.Options,
                         seed: UInt64) throws -> Dataset {
        let picked = shuffled(data, seed: seed).subset(Array(0..<min(options.distillRows, data.count)))
        let width = data.featureCount
        var features = picked.features
        features.reserveCapacity(picked.count * width * (1 + options.noiseCopies))
        var rng = SeededGenerator(seed: seed ^ 0x4E4F_4953)
        let sigma = options.noiseSigma * range.width
        for _ in 0..<options.noiseCopies {
            for value in picked.features {
                features.append(min(max(value + sigma * Fingerprinting.gaussian(&rng), range.lower), range.upper))
            }
        }
        let count = picked.count * (1 + options.noiseCopies)
        return Dataset(featureNames: data.featureNames, features: features, labels: nil, count: count)
    }
}
