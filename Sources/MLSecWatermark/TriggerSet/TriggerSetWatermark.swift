// TriggerSetWatermark: Adi et al.'s black-box watermark (2018): secret inputs the model learns to answer with chosen
// labels, verified through predictions alone (a local model or a live endpoint).

import Foundation
import MLSecCore
import MLSecEngine

/// A secret trigger set: inputs no natural data resembles, each with a label drawn at random.
public struct TriggerSetWatermark: Sendable, Equatable {
    /// Row-major, `labels.count` rows of `width` values.
    public var inputs: [Float]
    public var labels: [Int]
    public var width: Int

    public init(inputs: [Float], labels: [Int], width: Int) {
        self.inputs = inputs
        self.labels = labels
        self.width = width
    }

    /// `count` triggers for `model`: uniform noise over the declared input range (or [0, 1]) with uniformly drawn
    /// labels, from `seed`.
    public static func make(for model: Model, count: Int, seed: UInt64) throws -> TriggerSetWatermark {
        guard (8...10_000).contains(count) else { throw MLSecError.usage("--triggers must be 8...10000") }
        let lo = model.spec.input.min ?? 0, hi = model.spec.input.max ?? 1
        let width = model.inputSize
        var rng = SeededGenerator(seed: seed ^ 0x7472_6967_6765_72)
        let inputs = (0..<count * width).map { _ in rng.uniform(lo, hi) }
        let labels = (0..<count).map { _ in Int(rng.next() % UInt64(model.classCount)) }
        return TriggerSetWatermark(inputs: inputs, labels: labels, width: width)
    }

    /// How many triggers `oracle` answers with their chosen label.
    public func matches(_ oracle: any LabelOracle) async throws -> Int {
        guard oracle.inputSize == width else {
            throw MLSecError.malformed("the model takes \(oracle.inputSize) values per input, the trigger set has \(width): another architecture")
        }
        let answers = try await oracle.labels(inputs, count: labels.count)
        return zip(answers, labels).filter { $0 == $1 }.count
    }

    /// Fine-tunes `model` on `data` with the triggers mixed in: each epoch sees the training rows and the trigger set
    /// repeated `repeats` times (so that it is learned without hurting the task).
    public func embed(into model: inout Model, data: Dataset, options: TrainingOptions, repeats: Int) throws -> TrainingSummary {
        guard let dataLabels = data.labels else { throw MLSecError.usage("embedding needs a label column") }
        guard data.featureCount == width else { throw MLSecError.malformed("the data has \(data.featureCount) features, the triggers \(width)") }
        var features = data.features
        var all = dataLabels
        for _ in 0..<max(1, repeats) {
            features += inputs
            all += labels
        }
        let mixed = Dataset(featureNames: data.featureNames, features: features, labels: all, count: all.count)
        return try Trainer.train(&model, on: mixed, options: options)
    }
}
