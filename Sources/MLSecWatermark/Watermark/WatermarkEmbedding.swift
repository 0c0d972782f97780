// WatermarkEmbedding: embeds a watermark and calibrates its key in one step: fine-tune with the watermark, measure
// the chance rate on independently trained models, set the claim threshold, and check the embedding took.

import Foundation
import MLSecCore
import MLSecEngine

/// How to embed.
public struct EmbeddingSettings: Sendable {
    public enum Kind: Sendable, Equatable {
        /// Uchida: `bits` in `layer` (nil: the largest weight matrix), regularizer strength λ.
        case weights(bits: Int, layer: String?, strength: Float)
        /// Adi: `triggers` noise inputs with random labels, mixed into each epoch `repeats` times.
        case triggers(count: Int, repeats: Int)
    }

    public var kind: Kind
    public var seed: UInt64
    /// Fine-tuning with the watermark (Adam).
    public var epochs: Int
    public var learningRate: Float
    /// Independent models to calibrate the chance rate on: given, or trained here (`calibrationModels` of them,
    /// same architecture and data, `calibrationEpochs` each).
    public var referenceModels: [Model]
    public var calibrationModels: Int
    public var calibrationEpochs: Int
    public var falseClaimProbability: Double

    public init(kind: Kind, seed: UInt64, epochs: Int = 10, learningRate: Float = 0.001, referenceModels: [Model] = [],
                calibrationModels: Int = 4, calibrationEpochs: Int = 30, falseClaimProbability: Double = 1e-6) {
        self.kind = kind
        self.seed = seed
        self.epochs = epochs
        self.learningRate = learningRate
        self.referenceModels = referenceModels
        self.calibrationModels = calibrationModels
        self.calibrationEpochs = calibrationEpochs
        self.falseClaimProbability = falseClaimProbability
    }
}

public enum WatermarkEmbedding {
    /// Embeds into `model` (fine-tuned on `data`) and returns the key; the model must then verify as watermarked.
    public static func embed(into model: inout Model, data: Dataset, settings: EmbeddingSettings,
                             createdAt: String) async throws -> WatermarkKey {
        guard (1...10_000).contains(settings.epochs), settings.learningRate > 0, settings.learningRate.isFinite else {
            throw MLSecError.usage("embedding needs 1...10000 epochs and a positive learning rate")
        }
        guard settings.falseClaimProbability > 0, settings.falseClaimProbability < 0.5 else {
            throw MLSecError.usage("the false-claim probability must be in (0, 0.5)")
        }
        let options = TrainingOptions(epochs: settings.epochs, learningRate: settings.learningRate, seed: settings.seed)
        let method: WatermarkKey.Method
        switch settings.kind {
        case .weights(let bits, let layer, let strength):
            let watermark = try WeightWatermark.make(for: model, layer: layer, count: bits, seed: settings.seed)
            _ = try watermark.embed(into: &model, data: data, options: options, strength: strength)
            method = .weights(watermark)
        case .triggers(let count, let repeats):
            let triggers = try TriggerSetWatermark.make(for: model, count: count, seed: settings.seed)
            _ = try triggers.embed(into: &model, data: data, options: options, repeats: repeats)
            method = .triggers(triggers)
        }
        var key = WatermarkKey(method: method, chanceRate: 0, calibrationRates: [], falseClaimProbability: settings.falseClaimProbability,
                               thresholdCount: 0, model: model.spec.name, modelDigest: model.parameterDigest, createdAt: createdAt)
        // The chance rate, on models that never saw the watermark.
        var references = settings.referenceModels
        if references.isEmpty {
            guard (2...64).contains(settings.calibrationModels) else { throw MLSecError.usage("calibration needs 2...64 independent models") }
            for i in 0..<settings.calibrationModels {
                let seed = settings.seed &+ 0x1000 &+ UInt64(i)
                var fresh = try Model(spec: model.spec, weights: try Architecture.initialWeights(for: model.spec, seed: seed))
                _ = try Trainer.train(&fresh, on: data, options: TrainingOptions(epochs: settings.calibrationEpochs, seed: seed))
                references.append(fresh)
            }
        }
        var events = 0
        for reference in references {
            let count: Int
            switch method {
            case .weights(let w): count = Int((try w.bitErrorRate(of: reference) * Double(w.bits.count)).rounded())
            case .triggers(let t): count = try await t.matches(ModelOracle(model: reference))
            }
            events += count
            key.calibrationRates.append(Double(count) / Double(key.size))
        }
        try key.calibrate(events: events, trials: references.count * key.size)
        let check = try await key.verify(model)
        guard check.watermarked else {
            throw MLSecError(.verificationFailed, "the watermark did not take (\(String(format: "%.3f", check.rate)) against a threshold of "
                + "\(String(format: "%.3f", check.threshold))): raise --epochs or --strength")
        }
        return key
    }
}
