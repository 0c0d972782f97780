// PerExampleGradients: the dense-layer norm identity and factored weighted sums against materialised per-example
// gradients, and the fallback for models the identity does not cover.

import MLSecCore
import MLSecEngine
import Testing

@Suite struct PerExampleGradientTests {
    func mlp(_ architecture: String, seed: UInt64) throws -> Model {
        let spec = try Architecture.spec(from: architecture)
        return try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: seed))
    }

    /// Factored and materialised results agree: squared norms, weighted sums, and each example's gradient.
    func expectSame(_ model: Model, n: Int, seed: UInt64) throws {
        let x = try model.inputTensor(rows: GradientTests.input(n, size: model.inputSize, seed: seed), count: n)
        var rng = SeededGenerator(seed: seed)
        let classes = model.outputSize
        let labels = (0..<n).map { _ in Int(rng.next() % UInt64(classes)) }
        let fast = try model.perExampleGradients(x, labels: labels)
        let slow = try model.perExampleGradients(x, labels: labels, factored: false)
        #expect(fast.isFactored && !slow.isFactored)
        #expect(fast.loss == slow.loss && fast.predictions == slow.predictions)
        for i in 0..<n {
            #expect(abs(fast.squaredNorms[i] - slow.squaredNorms[i]) <= 1e-5 * slow.squaredNorms[i] + 1e-12, "example \(i)")
            // The norm is the norm of the example's own gradient.
            let own = fast.example(i).joined().reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(abs(own - slow.squaredNorms[i]) <= 1e-5 * own + 1e-12)
            for (a, b) in zip(fast.example(i), slow.example(i)) {
                for (u, v) in zip(a, b) { #expect(abs(u - v) <= 1e-6 + 1e-5 * abs(v)) }
            }
        }
        let weights = (0..<n).map { _ in rng.uniform(-1, 2) }
        for (a, b) in zip(fast.weightedSum(weights), slow.weightedSum(weights)) {
            for (u, v) in zip(a, b) { #expect(abs(u - v) <= 1e-5 + 1e-4 * abs(v)) }
        }
        // Weights of 1 give the sum of the per-example gradients: n times the batch gradient.
        let batch = try model.gradients(x, labels: labels).parameterGradients
        for (a, b) in zip(fast.weightedSum([Float](repeating: 1, count: n)), batch) {
            for (u, v) in zip(a, b) { #expect(abs(u / Float(n) - v) <= 1e-5 + 1e-4 * abs(v)) }
        }
    }

    @Test func denseModelsUseTheNormIdentity() throws {
        try expectSame(try mlp("mlp:12-9-4", seed: 1), n: 7, seed: 3)
        try expectSame(try mlp("mlp:8-6-5-3", seed: 2), n: 1, seed: 4)
        try expectSame(try mlp("logreg:10-3", seed: 5), n: 5, seed: 6)
    }

    @Test func convolutionsAndSharedWeightsFallBack() throws {
        let cnn = try GradientTests.cnn(seed: 6)
        let x = try cnn.inputTensor(rows: GradientTests.input(3, size: 72, seed: 2), count: 3)
        let g = try cnn.perExampleGradients(x, labels: [0, 2, 1])
        #expect(!g.isFactored)
        let reference = try cnn.gradients(x, labels: [0, 2, 1], perExample: true).parameterGradients
        for i in 0..<3 {
            var squared = 0.0
            for (p, buffer) in reference.enumerated() {
                let size = cnn.parameters[p].count
                for v in buffer[i * size..<(i + 1) * size] { squared += Double(v) * Double(v) }
            }
            #expect(abs(g.squaredNorms[i] - squared) <= 1e-9 * squared)
        }
        // One weight read by two dense layers: its per-example gradient is a sum of two outer products.
        let spec = ModelSpec(
            name: "shared", input: TensorSpec(name: "x", shape: [-1, 4]), output: TensorSpec(name: "y", shape: [-1, 4]),
            layers: [LayerSpec(.dense(weight: "w", bias: nil), outputs: 4), LayerSpec(.tanh),
                     LayerSpec(.dense(weight: "w", bias: "b"), outputs: 4)])
        let shared = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: 3))
        let xs = try shared.inputTensor(rows: GradientTests.input(2, size: 4, seed: 5), count: 2)
        #expect(!(try shared.perExampleGradients(xs, labels: [1, 3]).isFactored))
    }
}
