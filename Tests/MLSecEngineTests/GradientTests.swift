// Gradients checked against central finite differences, for every layer type.

import MLSecCore
import MLSecEngine
import Testing

@Suite struct GradientTests {
    /// A small CNN using every layer type, with deterministic weights.
    static func cnn(seed: UInt64) throws -> Model {
        let spec = ModelSpec(
            name: "grad-cnn", input: TensorSpec(name: "input", shape: [-1, 2, 6, 6], min: 0, max: 1),
            output: TensorSpec(name: "probs", shape: [-1, 3]),
            layers: [
                LayerSpec(.conv2d(weight: "c1.w", bias: "c1.b", stride: 1, padding: 1), outputs: 3, kernelSize: 3),
                LayerSpec(.tanh),
                LayerSpec(.maxPool2d(kernel: 2, stride: 2)),
                LayerSpec(.conv2d(weight: "c2.w", bias: nil, stride: 2, padding: 0), outputs: 4, kernelSize: 2),
                LayerSpec(.sigmoid),
                LayerSpec(.avgPool2d(kernel: 1, stride: 1)),
                LayerSpec(.flatten),
                LayerSpec(.dense(weight: "d1.w", bias: "d1.b"), outputs: 5),
                LayerSpec(.relu),
                LayerSpec(.dense(weight: "d2.w", bias: "d2.b"), outputs: 3),
                LayerSpec(.softmax),
            ])
        return try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: seed))
    }

    static func input(_ n: Int, size: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<n * size).map { _ in rng.uniform(0, 1) }
    }

    func loss(_ model: Model, _ x: Tensor, _ labels: [Int]) throws -> Double {
        Double(try model.gradients(x, labels: labels).loss)
    }

    @Test func parameterGradientsMatchFiniteDifferences() throws {
        var model = try Self.cnn(seed: 3)
        let x = try model.inputTensor(rows: Self.input(3, size: 72, seed: 9), count: 3)
        let labels = [0, 2, 1]
        let analytic = try model.gradients(x, labels: labels).parameterGradients
        var rng = SeededGenerator(seed: 5)
        let eps: Float = 1e-2
        for p in model.parameters.indices {
            for _ in 0..<6 {
                let i = Int(rng.next() % UInt64(model.parameters[p].count))
                let saved = model.parameters[p].data[i]
                model.parameters[p].data[i] = saved + eps
                let up = try loss(model, x, labels)
                model.parameters[p].data[i] = saved - eps
                let down = try loss(model, x, labels)
                model.parameters[p].data[i] = saved
                let numeric = (up - down) / Double(2 * eps)
                let a = Double(analytic[p][i])
                #expect(abs(numeric - a) <= 2e-3 + 2e-2 * abs(numeric), "\(model.parameterNames[p])[\(i)]: \(a) vs \(numeric)")
            }
        }
    }

    @Test func inputGradientMatchesFiniteDifferences() throws {
        let model = try Self.cnn(seed: 4)
        var rows = Self.input(2, size: 72, seed: 11)
        let labels = [1, 0]
        let analytic = try model.gradients(try model.inputTensor(rows: rows, count: 2), labels: labels).inputGradient
        let eps: Float = 1e-2
        for i in stride(from: 0, to: rows.count, by: 7) {
            let saved = rows[i]
            rows[i] = saved + eps
            let up = try loss(model, try model.inputTensor(rows: rows, count: 2), labels)
            rows[i] = saved - eps
            let down = try loss(model, try model.inputTensor(rows: rows, count: 2), labels)
            rows[i] = saved
            let numeric = (up - down) / Double(2 * eps)
            #expect(abs(numeric - Double(analytic.data[i])) <= 2e-3 + 2e-2 * abs(numeric), "input[\(i)]")
        }
    }

    @Test func perExampleGradientsSumToTheBatchGradient() throws {
        for model in [try Self.cnn(seed: 6), try mlp()] {
            let n = 4
            let x = try model.inputTensor(rows: Self.input(n, size: model.inputSize, seed: 2), count: n)
            let labels = [0, 1, 2, 1]
            let batch = try model.gradients(x, labels: labels)
            let each = try model.gradients(x, labels: labels, perExample: true)
            for p in model.parameters.indices {
                let size = model.parameters[p].count
                #expect(each.parameterGradients[p].count == n * size)
                for i in 0..<size {
                    var sum: Float = 0
                    for s in 0..<n { sum += each.parameterGradients[p][s * size + i] }
                    #expect(abs(sum / Float(n) - batch.parameterGradients[p][i]) < 1e-5)
                }
                // Each block is that example's own gradient.
                let single = try model.gradients(x.rows(1..<2), labels: [labels[1]])
                for i in 0..<size { #expect(abs(each.parameterGradients[p][size + i] - single.parameterGradients[p][i]) < 1e-5) }
            }
        }
    }

    func mlp() throws -> Model {
        let spec = try Architecture.spec(from: "mlp:72-16-3")
        return try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: 8))
    }

    @Test func outputGradientOfSoftmaxModelMatchesFiniteDifferences() throws {
        let model = try Self.cnn(seed: 12)
        var rows = Self.input(1, size: 72, seed: 13)
        let weights = Tensor(zeros: [1, 3])
        var w = weights
        w.data = [0.3, -1.2, 0.7]
        let analytic = try model.inputGradient(try model.inputTensor(rows: rows, count: 1), outputGradient: w)
        func f() throws -> Double {
            let y = try model.forward(try model.inputTensor(rows: rows, count: 1))
            return zip(y.data, w.data).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        let eps: Float = 1e-2
        for i in stride(from: 0, to: rows.count, by: 5) {
            let saved = rows[i]
            rows[i] = saved + eps
            let up = try f()
            rows[i] = saved - eps
            let down = try f()
            rows[i] = saved
            let numeric = (up - down) / Double(2 * eps)
            #expect(abs(numeric - Double(analytic.data[i])) <= 1e-3 + 2e-2 * abs(numeric))
        }
    }
}
