// WeightWatermark: Uchida et al.'s white-box watermark (2017): a secret bit string embedded in one layer's weights
// by a training regularizer, read back as the signs of a secret Gaussian projection of those weights.

import Foundation
import MLSecCore
import MLSecEngine

/// The secret part of a weight watermark: which layer, the projection (from a seed) and the bits.
public struct WeightWatermark: Sendable, Equatable {
    /// The parameter the bits live in (a dense or convolution weight), and its shape.
    public var layer: String
    public var shape: [Int]
    /// Seed of the T × M Gaussian projection matrix (M = the layer's value count).
    public var projectionSeed: UInt64
    public var bits: [Bool]

    public init(layer: String, shape: [Int], projectionSeed: UInt64, bits: [Bool]) {
        self.layer = layer
        self.shape = shape
        self.projectionSeed = projectionSeed
        self.bits = bits
    }

    /// A watermark of `count` bits for `model`'s `layer` (default: its largest weight), bits and projection drawn
    /// from `seed`.
    public static func make(for model: Model, layer: String?, count: Int, seed: UInt64) throws -> WeightWatermark {
        guard (1...4096).contains(count) else { throw MLSecError.usage("--bits must be 1...4096") }
        let weights = model.weights
        let candidates = model.parameterNames.filter { (weights[$0]?.shape.count ?? 0) >= 2 }
        let chosen: String
        if let layer {
            guard candidates.contains(layer) else {
                throw MLSecError.usage("--layer \(layer) is not a weight matrix of the model; choose one of \(candidates.joined(separator: ", "))")
            }
            chosen = layer
        } else {
            guard let largest = candidates.max(by: { (weights[$0]?.count ?? 0) < (weights[$1]?.count ?? 0) }) else {
                throw MLSecError.usage("the model has no weight matrix to hold a watermark")
            }
            chosen = largest
        }
        let shape = weights[chosen]?.shape ?? []
        guard count <= (weights[chosen]?.count ?? 0) else {
            throw MLSecError.usage("\(chosen) holds \(weights[chosen]?.count ?? 0) values: at most that many bits")
        }
        var rng = SeededGenerator(seed: seed)
        let bits = (0..<count).map { _ in rng.next() & 1 == 1 }
        return WeightWatermark(layer: chosen, shape: shape, projectionSeed: rng.next(), bits: bits)
    }

    /// The projection matrix, row-major T × M, standard normal entries.
    func projection() -> [Float] {
        let m = shape.reduce(1, *)
        var rng = SeededGenerator(seed: projectionSeed)
        var x = [Float](repeating: 0, count: bits.count * m)
        var i = 0
        while i < x.count {
            let u1 = max(Double(rng.next() >> 11) * 0x1p-53, 1e-300), u2 = Double(rng.next() >> 11) * 0x1p-53
            let r = (-2 * log(u1)).squareRoot()
            x[i] = Float(r * cos(2 * Double.pi * u2))
            if i + 1 < x.count { x[i + 1] = Float(r * sin(2 * Double.pi * u2)) }
            i += 2
        }
        return x
    }

    /// The projections X·w of `model`'s layer (refusing a model whose layer is missing or shaped differently).
    func projections(of model: Model, projection x: [Float]) throws -> [Float] {
        guard let w = model.weights[layer] else {
            throw MLSecError.malformed("the model has no parameter \"\(layer)\": this watermark key is for another architecture")
        }
        guard w.shape == shape else {
            throw MLSecError.malformed("\(layer) has shape \(w.shape), the key was made for \(shape): this key is for another architecture")
        }
        let m = w.count
        return (0..<bits.count).map { t in
            var s: Float = 0
            for j in 0..<m { s += x[t * m + j] * w.data[j] }
            return s
        }
    }

    /// The bits read from `model` (projection > 0) and the fraction that differ from the key's.
    public func bitErrorRate(of model: Model) throws -> Double {
        let read = try projections(of: model, projection: projection()).map { $0 > 0 }
        return Double(zip(read, bits).filter { $0 != $1 }.count) / Double(bits.count)
    }

    /// The margin each normalised projection is pushed past, in units of ‖w‖ (a projection of unwatermarked
    /// weights is N(0, 1) in these units).
    public static let margin: Float = 1

    /// Fine-tunes `model` on `data` with the watermark regularizer added to the loss: λ · Σ_t max(0, m − y_t · z_t),
    /// where z_t = X_t·w / ‖w‖ and y_t = ±1 is bit t. Uchida et al. use a binary cross-entropy, which stops pushing
    /// once the signs are right, leaving projections within reach of pruning noise; a hinge on the normalised
    /// projection keeps every bit a margin away from flipping (50% pruning moves z by about 0.15 here).
    public func embed(into model: inout Model, data: Dataset, options: TrainingOptions, strength: Float) throws -> TrainingSummary {
        guard strength > 0, strength.isFinite else { throw MLSecError.usage("the regularizer strength must be positive") }
        guard let index = model.parameterNames.firstIndex(of: layer) else {
            throw MLSecError.malformed("the model has no parameter \"\(layer)\"")
        }
        let x = projection()
        let m = shape.reduce(1, *)
        let key = self
        return try Trainer.train(&model, on: data, options: options, regularize: { current, gradients in
            let s = try key.projections(of: current, projection: x)
            let w = current.parameters[index].data
            let norm = max(w.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            for t in 0..<key.bits.count {
                let y: Float = key.bits[t] ? 1 : -1
                let z = s[t] / norm
                guard Self.margin - y * z > 0 else { continue }
                // d(−y z)/dw = −y (X_t / ‖w‖ − s_t w / ‖w‖³)
                let a = -y * strength / norm, b = y * strength * s[t] / (norm * norm * norm)
                for j in 0..<m { gradients[index][j] += a * x[t * m + j] + b * w[j] }
            }
        })
    }
}
