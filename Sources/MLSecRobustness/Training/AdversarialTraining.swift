// AdversarialTraining: Madry et al.'s defense: train on PGD examples made against the model as it learns.

import MLSecCore
import MLSecEngine

/// Settings of adversarial training.
public struct AdversarialTrainingOptions: Sendable, Equatable {
    /// The PGD attack of the inner loop (its budget is the robustness the training aims for).
    public var attack: GradientAttack
    /// Fraction of each batch replaced by its adversarial copies (1: every example, Madry et al.; 0.5: half,
    /// Goodfellow et al.'s mix of clean and adversarial loss).
    public var ratio: Double

    public init(attack: GradientAttack, ratio: Double = 1) throws {
        guard ratio > 0, ratio <= 1 else { throw MLSecError.usage("the adversarial ratio must be in (0, 1]") }
        self.attack = attack
        self.ratio = ratio
    }
}

/// Trains models on adversarial examples.
public enum AdversarialTraining {
    /// Trains `model` on `data` as ``Trainer/train(_:on:options:adjustBatch:onEpoch:)`` does, replacing the
    /// first `ratio` of each (shuffled) batch by PGD examples against the current weights.
    public static func train(_ model: inout Model, on data: Dataset, options: TrainingOptions, adversarial: AdversarialTrainingOptions,
                             onEpoch: ((Int, Float, Double) -> Void)? = nil) throws -> TrainingSummary {
        let range = try InputRange(spec: model.spec)
        let width = model.inputSize
        var step = 0
        return try Trainer.train(&model, on: data, options: options, adjustBatch: { current, rows, labels in
            let attacked = Int((Double(labels.count) * adversarial.ratio).rounded(.up))
            guard attacked > 0 else { return }
            var attack = adversarial.attack
            attack.seed = adversarial.attack.seed &+ UInt64(step)  // fresh random starts every step, reproducibly
            step += 1
            let adversarialRows = try attack.perturbBlock(current, original: Array(rows[0..<attacked * width]),
                                                          labels: Array(labels[0..<attacked]), firstRow: 0, range: range)
            rows.replaceSubrange(0..<attacked * width, with: adversarialRows)
        }, onEpoch: onEpoch)
    }
}
