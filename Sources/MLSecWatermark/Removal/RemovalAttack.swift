// RemovalAttack: what a model thief does to erase a watermark or disguise a copy: fine-tuning, magnitude pruning,
// weight noise and distillation into a fresh model; the standard set `mlsec watermark robustness` runs.

import Foundation
import MLSecCore
import MLSecEngine

/// One transformation of a stolen model.
public enum RemovalAttack: Sendable, Equatable {
    /// Fine-tunes with Adam at `learningRate` for `epochs` on the first `fraction` of the data (a thief's own data).
    case fineTune(fraction: Double, epochs: Int, learningRate: Float)
    /// Zeroes the `fraction` of weights with the smallest magnitude (biases kept).
    case prune(fraction: Double)
    /// Adds Gaussian noise to every weight tensor, of standard deviation `relative` times the tensor's own.
    case noise(relative: Float)
    /// Trains a fresh model of the same architecture on the stolen model's labels of the data (hard-label
    /// distillation): a copy of the behaviour without any of the weights.
    case distill(epochs: Int)

    /// A short name for tables, e.g. "fine-tune 50% 10 epochs lr 0.001".
    public var name: String {
        switch self {
        case .fineTune(let fraction, let epochs, let rate):
            return "fine-tune \(Int((fraction * 100).rounded()))% \(epochs) epochs lr \(rate)"
        case .prune(let fraction): return "prune \(Int((fraction * 100).rounded()))%"
        case .noise(let relative): return "weight noise \(relative)σ"
        case .distill(let epochs): return "distill \(epochs) epochs"
        }
    }

    /// The standard attacks: fine-tuning half the data for 10 epochs at two learning rates, pruning 20/50/80%,
    /// weight noise at 0.1σ; distillation (`includeDistillation`) for fingerprints, which claim behaviour.
    public static func standard(includeDistillation: Bool) -> [RemovalAttack] {
        var attacks: [RemovalAttack] = [
            .fineTune(fraction: 0.5, epochs: 10, learningRate: 0.001), .fineTune(fraction: 0.5, epochs: 10, learningRate: 0.01),
            .prune(fraction: 0.2), .prune(fraction: 0.5), .prune(fraction: 0.8), .noise(relative: 0.1),
        ]
        if includeDistillation { attacks.append(.distill(epochs: 100)) }
        return attacks
    }

    /// The attacked copy of `model`; `data` is the thief's data (labels needed for fine-tuning).
    public func apply(to model: Model, data: Dataset, seed: UInt64 = 0) throws -> Model {
        var copy = model
        switch self {
        case .fineTune(let fraction, let epochs, let rate):
            guard fraction > 0, fraction <= 1, epochs >= 1 else { throw MLSecError.usage("fine-tuning needs a fraction in (0, 1] and epochs >= 1") }
            let part = data.subset(Array(0..<max(1, Int(Double(data.count) * fraction))))
            _ = try Trainer.train(&copy, on: part, options: TrainingOptions(epochs: epochs, learningRate: rate, seed: seed))
        case .prune(let fraction):
            _ = try copy.prune(fraction: fraction)
        case .noise(let relative):
            var rng = SeededGenerator(seed: seed ^ 0x6E6F_6973_65)
            for i in copy.parameters.indices {
                let values = copy.parameters[i].data
                let mean = values.reduce(0, +) / Float(max(values.count, 1))
                let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(max(values.count, 1))).squareRoot()
                for j in values.indices {
                    let u1 = max(Double(rng.next() >> 11) * 0x1p-53, 1e-300), u2 = Double(rng.next() >> 11) * 0x1p-53
                    let gaussian = Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
                    copy.parameters[i].data[j] += relative * std * gaussian
                }
            }
        case .distill(let epochs):
            guard epochs >= 1 else { throw MLSecError.usage("distillation needs epochs >= 1") }
            let labels = try ModelOracle(model: model).labelsNow(data.features, count: data.count)
            let taught = Dataset(featureNames: data.featureNames, features: data.features, labels: labels, count: data.count)
            var fresh = try Model(spec: model.spec, weights: try Architecture.initialWeights(for: model.spec, seed: seed &+ 0xD157))
            _ = try Trainer.train(&fresh, on: taught, options: TrainingOptions(epochs: epochs, seed: seed))
            copy = fresh
        }
        return copy
    }
}
