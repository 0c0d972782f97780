// Architecture: builds model specs from short descriptions (mlp:64-128-10, logreg:64-10) and initialises weights.

import Foundation
import MLSecCore

/// Model architectures that `mlsec train` can create.
public enum Architecture {
    /// Parses `mlp:IN-H1-...-OUT` (dense layers with ReLU between) or `logreg:IN-OUT` (one dense layer).
    /// The architecture forms, for messages and help.
    public static let forms = "the forms are mlp:IN-H-...-OUT (e.g. mlp:64-128-10), logreg:IN-OUT (e.g. logreg:64-10) "
        + "or the path of a model.json file"

    public static func spec(from text: String, name: String? = nil) throws -> ModelSpec {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let shown = text.prefix(64)
        guard parts.count == 2 else {
            throw MLSecError.usage("architecture \"\(shown)\" is neither a known form nor an existing model.json file; \(forms)")
        }
        guard ["mlp", "logreg"].contains(parts[0]) else {
            throw MLSecError.usage("architecture \"\(shown)\": the form \"\(parts[0].prefix(32))\" is not known; \(forms)")
        }
        let sizes = parts[1].split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard sizes.count >= 2, sizes.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 1 << 16 }) else {
            throw MLSecError.usage("architecture \"\(shown)\": sizes must be integers between 1 and 65536, at least two; \(forms)")
        }
        let dims = sizes.compactMap { $0 }
        if parts[0] == "logreg", dims.count != 2 {
            throw MLSecError.usage("logreg takes exactly two sizes, IN-OUT")
        }
        var layers: [LayerSpec] = []
        for i in 1..<dims.count {
            layers.append(LayerSpec(.dense(weight: "fc\(i).weight", bias: "fc\(i).bias"), outputs: dims[i]))
            if i < dims.count - 1 { layers.append(LayerSpec(.relu)) }
        }
        return ModelSpec(name: name ?? text.replacingOccurrences(of: ":", with: "-"),
                         input: TensorSpec(name: "input", shape: [-1, dims[0]], min: 0, max: 1),
                         output: TensorSpec(name: "logits", shape: [-1, dims[dims.count - 1]]), layers: layers)
    }

    /// New weights for `spec` with PyTorch's default initialisation (uniform ±1/√fan_in for weights and
    /// biases), reproducible from `seed`.
    public static func initialWeights(for spec: ModelSpec, seed: UInt64) throws -> [String: Tensor] {
        var rng = SeededGenerator(seed: seed)
        var weights: [String: Tensor] = [:]
        var shape = spec.input.featureShape
        for (i, layerSpec) in spec.layers.enumerated() {
            switch layerSpec.layer {
            case .dense(let w, let b):
                guard shape.count == 1 else {
                    throw MLSecError.malformed("layer \(i): dense needs a flat input, got \(shape); add a flatten layer")
                }
                guard let outputs = layerSpec.outputs else {
                    throw MLSecError.malformed("layer \(i): \"out_features\" is needed to create new weights")
                }
                let bound = 1 / Float(shape[0]).squareRoot()
                weights[w] = Tensor(uncheckedShape: [outputs, shape[0]],
                                    data: (0..<outputs * shape[0]).map { _ in rng.uniform(-bound, bound) })
                if let b { weights[b] = Tensor(uncheckedShape: [outputs], data: (0..<outputs).map { _ in rng.uniform(-bound, bound) }) }
            case .conv2d(let w, let b, _, _):
                guard shape.count == 3 else { throw MLSecError.malformed("layer \(i): conv2d needs a [C, H, W] input") }
                guard let outputs = layerSpec.outputs, let k = layerSpec.kernelSize else {
                    throw MLSecError.malformed("layer \(i): \"out_channels\" and \"kernel_size\" are needed to create new weights")
                }
                let fanIn = shape[0] * k * k
                let bound = 1 / Float(fanIn).squareRoot()
                weights[w] = Tensor(uncheckedShape: [outputs, shape[0], k, k],
                                    data: (0..<outputs * fanIn).map { _ in rng.uniform(-bound, bound) })
                if let b { weights[b] = Tensor(uncheckedShape: [outputs], data: (0..<outputs).map { _ in rng.uniform(-bound, bound) }) }
            default: break
            }
            shape = try layerSpec.layer.outputShape(for: shape, parameters: weights, index: i)
        }
        return weights
    }
}
