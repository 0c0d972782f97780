// WeightFingerprint: a white-box comparison of two models of one architecture that does not change when the hidden
// units of either are permuted: units are matched layer by layer on their incoming weights (and bias), then scored
// by cosine similarity.

import MLSecCore
import MLSecEngine

/// Permutation-invariant weight similarity.
///
/// Renumbering the hidden units of a network (rows of one layer, and the matching input columns of the next) changes
/// every weight file digest but not what the network computes: the cheapest disguise of a stolen model. Here each
/// weighted layer's units are matched one-to-one to the suspect's (Hungarian algorithm on the cosine similarity of
/// their incoming weight vectors, with the suspect's inputs already renumbered by the previous layer's matching), and
/// the similarity is the mean over layers of the mean cosine of matched units. The output layer is not permuted.
public enum WeightFingerprint {
    /// Verdict threshold when no reference models calibrate one (see ``threshold(referenceSimilarities:)``). On the
    /// digits MLP 64-128-10, independently trained models score 0.64-0.67 and fine-tuned or pruned copies 0.93-1.
    public static let defaultThreshold = 0.8
    /// Most units in one layer.
    public static let maxUnits = 4096

    /// The result of a comparison.
    public struct Comparison: Sendable, Equatable {
        /// Mean of the per-layer similarities, in [-1, 1]; 1 for the same weights in any unit order.
        public var similarity: Double
        /// Mean cosine similarity of matched units, per weighted layer (input to output).
        public var layers: [Double]
    }

    /// A calibrated threshold: midway between the most similar independently trained reference and 1 (identical).
    public static func threshold(referenceSimilarities: [Double]) -> Double {
        guard let highest = referenceSimilarities.max() else { return defaultThreshold }
        return (max(highest, 0) + 1) / 2
    }

    /// One weighted layer: its weight rows (one per unit) with the bias appended, and its input block size (the input
    /// values that belong to one unit of the previous weighted layer).
    struct Layer {
        var name: String
        var units: Int
        /// Weight values per unit (without the bias).
        var rowLength: Int
        var weight: [Float]
        var bias: [Float]?
    }

    /// The weight and bias tensor names of a layer with units (dense, convolution); nil for the others.
    static func weightNames(_ layer: MLSecEngine.Layer) -> (String, String?)? {
        switch layer {
        case .dense(let w, let b): return (w, b)
        case .conv2d(let w, let b, _, _): return (w, b)
        default: return nil
        }
    }

    static func layers(of model: Model) throws -> [Layer] {
        let weights = model.weights
        var out: [Layer] = []
        for spec in model.spec.layers {
            guard let names = weightNames(spec.layer) else { continue }
            guard let weight = weights[names.0], let units = weight.shape.first, units >= 1 else {
                throw MLSecError.malformed("the model has no weight tensor \"\(names.0)\"")
            }
            guard units <= maxUnits else {
                throw MLSecError.limitExceeded("layer \(names.0) has \(units) units; the weight fingerprint compares at most \(maxUnits)")
            }
            out.append(Layer(name: names.0, units: units, rowLength: weight.count / units, weight: weight.data,
                             bias: names.1.flatMap { weights[$0]?.data }))
        }
        guard !out.isEmpty else { throw MLSecError.unsupported("the model has no dense or conv2d layer to compare") }
        for (i, layer) in out.enumerated().dropFirst() where layer.rowLength % out[i - 1].units != 0 {
            throw MLSecError.unsupported("layer \(layer.name) takes \(layer.rowLength) values per unit, not a whole number per unit of "
                + "\(out[i - 1].name): the weight fingerprint handles chains of dense and conv2d layers (with pooling and flatten)")
        }
        return out
    }

    /// Compares `model` with `suspect` (same architecture: same weighted layers and shapes).
    public static func compare(_ model: Model, _ suspect: Model) throws -> Comparison {
        let a = try layers(of: model)
        let b = try layers(of: suspect)
        guard a.count == b.count, zip(a, b).allSatisfy({ $0.units == $1.units && $0.rowLength == $1.rowLength && ($0.bias == nil) == ($1.bias == nil) })
        else {
            throw MLSecError.malformed("the models have different architectures (weighted layers \(a.map { [$0.units, $0.rowLength] }) and "
                + "\(b.map { [$0.units, $0.rowLength] })): the weight fingerprint compares models of one architecture")
        }
        var previous: [Int]?  // suspect unit matched to each unit of the previous layer
        var similarities: [Double] = []
        for (k, (layerA, layerB)) in zip(a, b).enumerated() {
            let rowsA = rows(layerA, inputOrder: nil)
            let rowsB = rows(layerB, inputOrder: previous)
            let n = layerA.units
            let last = k == a.count - 1
            if last {
                similarities.append((0..<n).reduce(0) { $0 + cosine(rowsA[$1], rowsB[$1]) } / Double(n))
                break
            }
            var score = [Double](repeating: 0, count: n * n)
            for i in 0..<n {
                for j in 0..<n { score[i * n + j] = cosine(rowsA[i], rowsB[j]) }
            }
            let assignment = UnitAssignment.maximise(score, n: n)
            similarities.append((0..<n).reduce(0) { $0 + score[$1 * n + assignment[$1]] } / Double(n))
            previous = assignment
        }
        return Comparison(similarity: similarities.reduce(0, +) / Double(similarities.count), layers: similarities)
    }

    /// Each unit's incoming weights (input blocks renumbered so that block `i` is the suspect's block `inputOrder[i]`)
    /// and bias, as one vector.
    static func rows(_ layer: Layer, inputOrder: [Int]?) -> [[Double]] {
        (0..<layer.units).map { unit in
            let row = layer.weight[unit * layer.rowLength..<(unit + 1) * layer.rowLength]
            var vector: [Double] = []
            vector.reserveCapacity(layer.rowLength + 1)
            if let order = inputOrder {
                let block = layer.rowLength / order.count
                for source in order {
                    let start = row.startIndex + source * block
                    vector += row[start..<start + block].map(Double.init)
                }
            } else {
                vector = row.map(Double.init)
            }
            if let bias = layer.bias { vector.append(Double(bias[unit])) }
            return vector
        }
    }

    static func cosine(_ x: [Double], _ y: [Double]) -> Double {
        var dot = 0.0, xx = 0.0, yy = 0.0
        for i in x.indices {
            dot += x[i] * y[i]
            xx += x[i] * x[i]
            yy += y[i] * y[i]
        }
        guard xx > 0, yy > 0 else { return xx == yy ? 1 : 0 }
        return dot / (xx.squareRoot() * yy.squareRoot())
    }

    /// `model` with the units of every hidden weighted layer renumbered by a seeded random permutation (and the next
    /// layer's inputs renumbered to match): the same function under other weights, as a thief would disguise a copy.
    public static func permutingHiddenUnits(of model: Model, seed: UInt64) throws -> Model {
        let list = try layers(of: model)
        var weights = model.weights
        var rng = SeededGenerator(seed: seed)
        var previous: [Int]?
        var weightedIndex = 0
        for spec in model.spec.layers {
            guard let names = weightNames(spec.layer) else { continue }
            let layer = list[weightedIndex]
            let isLast = weightedIndex == list.count - 1
            var order = Array(0..<layer.units)  // new unit u is old unit order[u]
            if !isLast { rng.shuffle(&order) }
            let renumbered = rows(layer, inputOrder: previous)
            var data: [Float] = []
            data.reserveCapacity(layer.weight.count)
            for u in order { data += renumbered[u].prefix(layer.rowLength).map(Float.init) }
            guard let shape = weights[names.0]?.shape else { throw MLSecError.malformed("the model has no weight tensor \"\(names.0)\"") }
            weights[names.0] = try Tensor(shape: shape, data: data)
            if let b = names.1, let bias = layer.bias {
                weights[b] = try Tensor(shape: [layer.units], data: order.map { bias[$0] })
            }
            previous = order
            weightedIndex += 1
        }
        return try Model(spec: model.spec, weights: weights)
    }
}
