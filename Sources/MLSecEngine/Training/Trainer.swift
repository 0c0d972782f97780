// Trainer: mini-batch training with softmax cross-entropy, reproducible from a seed.

import Foundation
import MLSecCore

/// Training settings.
public struct TrainingOptions: Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerKind
    public var learningRate: Float
    public var seed: UInt64
    public var momentum: Float
    public var weightDecay: Float

    public init(epochs: Int, batchSize: Int = 32, optimizer: OptimizerKind = .adam, learningRate: Float? = nil,
                seed: UInt64 = 0, momentum: Float = 0, weightDecay: Float = 0) {
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate ?? (optimizer == .adam ? 0.001 : 0.1)
        self.seed = seed
    }
}

/// What a training run reports.
public struct TrainingSummary: Sendable {
    public var epochs: Int
    public var examples: Int
    /// Mean loss over the last epoch.
    public var finalLoss: Float
    /// Accuracy on the training data during the last epoch.
    public var trainingAccuracy: Double
    public var seconds: Double
    public var examplesPerSecond: Double
}

/// Trains models.
public enum Trainer {
    /// Trains `model` on `data` (which must have labels).
    /// - Parameter adjustBatch: called with the current model, each batch's rows (row-major) and labels before the
    ///   gradient step; it may replace rows (adversarial training puts attacked copies in their place).
    /// - Parameter regularize: called with the current model and each step's parameter gradients (in
    ///   `parameterNames` order) before they are applied; it may add a regularizer's gradient (watermarking).
    /// - Parameter onEpoch: called after each epoch with (epoch, mean loss, accuracy).
    public static func train(_ model: inout Model, on data: Dataset, options: TrainingOptions,
                             adjustBatch: ((Model, inout [Float], [Int]) throws -> Void)? = nil,
                             regularize: ((Model, inout [[Float]]) throws -> Void)? = nil,
                             onEpoch: ((Int, Float, Double) -> Void)? = nil) throws -> TrainingSummary {
        guard let labels = data.labels else { throw MLSecError.usage("training needs a label column") }
        guard data.featureCount == model.inputSize else {
            throw MLSecError.malformed("the data has \(data.featureCount) features, the model takes \(model.inputSize)")
        }
        guard options.epochs >= 1, options.batchSize >= 1, options.learningRate > 0, options.learningRate.isFinite else {
            throw MLSecError.usage("epochs and batch size must be at least 1 and the learning rate positive")
        }
        var optimizer = Optimizer(kind: options.optimizer, learningRate: options.learningRate, momentum: options.momentum,
                                  weightDecay: options.weightDecay)
        var rng = SeededGenerator(seed: options.seed)
        var order = Array(0..<data.count)
        let d = data.featureCount
        var finalLoss: Float = 0
        var accuracy = 0.0
        let start = ContinuousClock.now
        var batchRows = [Float]()
        var batchLabels = [Int]()
        for epoch in 1...options.epochs {
            rng.shuffle(&order)  // the project's Fisher-Yates: the same order on every toolchain
            var lossSum: Float = 0
            var correct = 0
            var offset = 0
            while offset < order.count {
                let end = min(order.count, offset + options.batchSize)
                batchRows.removeAll(keepingCapacity: true)
                batchLabels.removeAll(keepingCapacity: true)
                for i in order[offset..<end] {
                    batchRows.append(contentsOf: data.features[i * d..<(i + 1) * d])
                    batchLabels.append(labels[i])
                }
                try adjustBatch?(model, &batchRows, batchLabels)
                let x = try model.inputTensor(rows: batchRows, count: end - offset)
                let g = try model.gradients(x, labels: batchLabels)
                guard g.loss.isFinite else {
                    throw MLSecError(.verificationFailed, "training diverged (loss is not finite) in epoch \(epoch); lower the learning rate")
                }
                if let regularize {
                    var gradients = g.parameterGradients
                    try regularize(model, &gradients)
                    optimizer.apply(gradients, to: &model.parameters)
                } else {
                    optimizer.apply(g.parameterGradients, to: &model.parameters)
                }
                lossSum += g.loss * Float(end - offset)
                correct += zip(g.predictions, batchLabels).filter { $0 == $1 }.count
                offset = end
            }
            finalLoss = lossSum / Float(order.count)
            accuracy = Double(correct) / Double(order.count)
            onEpoch?(epoch, finalLoss, accuracy)
        }
        let seconds = Double((ContinuousClock.now - start) / .milliseconds(1)) / 1000
        let examples = options.epochs * data.count
        return TrainingSummary(epochs: options.epochs, examples: examples, finalLoss: finalLoss,
                               trainingAccuracy: accuracy, seconds: seconds,
                               examplesPerSecond: seconds > 0 ? Double(examples) / seconds : 0)
    }

    /// Accuracy (argmax == label) of `model` on `data`.
    public static func evaluate(_ model: Model, on data: Dataset, batchSize: Int = 256) throws -> (accuracy: Double, loss: Float) {
        guard let labels = data.labels else { throw MLSecError.usage("evaluation needs a label column") }
        let outputs = try Predictor.outputs(model, data: data, batchSize: batchSize)
        let classes = model.outputSize
        var correct = 0
        var loss: Float = 0
        for i in 0..<data.count {
            let row = Array(outputs[i * classes..<(i + 1) * classes])
            let best = row.indices.max { row[$0] < row[$1] } ?? 0
            if best == labels[i] { correct += 1 }
            if labels[i] < classes {
                if model.endsWithSoftmax {
                    loss -= log(max(row[labels[i]], 1e-12))
                } else {
                    let m = row.max() ?? 0
                    loss += log(row.reduce(0) { $0 + exp($1 - m) }) + m - row[labels[i]]
                }
            }
        }
        return (Double(correct) / Double(data.count), loss / Float(data.count))
    }
}

/// Runs models over data sets in batches.
public enum Predictor {
    /// Raw outputs of the last layer for every row, row-major.
    public static func outputs(_ model: Model, data: Dataset, batchSize: Int = 256) throws -> [Float] {
        guard data.featureCount == model.inputSize else {
            throw MLSecError.malformed("the data has \(data.featureCount) features, the model takes \(model.inputSize)")
        }
        var out: [Float] = []
        out.reserveCapacity(data.count * model.outputSize)
        var offset = 0
        let d = data.featureCount
        while offset < data.count {
            let end = min(data.count, offset + batchSize)
            let x = try model.inputTensor(rows: Array(data.features[offset * d..<end * d]), count: end - offset)
            out.append(contentsOf: try model.forward(x).data)
            offset = end
        }
        return out
    }
}
