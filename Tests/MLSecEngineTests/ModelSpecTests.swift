// Tests of model.json parsing, shape checking and model directories.

import Foundation
import MLSecCore
import MLSecEngine
import Testing

@Suite struct ModelSpecTests {
    let good = #"""
        {"format": "mlsec.model/1", "name": "digits-mlp",
         "input":  {"name": "input",  "datatype": "FP32", "shape": [-1, 64], "min": 0, "max": 1},
         "output": {"name": "logits", "datatype": "FP32", "shape": [-1, 10]},
         "layers": [{"type": "dense", "weight": "fc1.weight", "bias": "fc1.bias"}, {"type": "relu"},
                    {"type": "dense", "weight": "fc2.weight", "bias": "fc2.bias"}]}
        """#

    @Test func parsesTheDocumentedExample() throws {
        let spec = try ModelSpec(json: Array(good.utf8))
        #expect(spec.name == "digits-mlp")
        #expect(spec.input.featureShape == [64])
        #expect(spec.input.max == 1)
        #expect(spec.layers.count == 3)
        let again = try ModelSpec(json: JSONWriter.bytes(spec.json))
        #expect(again == spec)
    }

    @Test(arguments: [
        (#""format": "mlsec.model/1""#, #""format": "other/1""#),
        (#"{"type": "relu"}"#, #"{"type": "lambda"}"#),
        (#""shape": [-1, 64]"#, #""shape": [-1, -64]"#),
        (#""shape": [-1, 10]"#, #""shape": [-1]"#),
        (#""min": 0, "max": 1"#, #""min": 2, "max": 1"#),
        (#""weight": "fc1.weight", "bias""#, #""weight": 7, "bias""#),
    ])
    func rejectsBadSpecs(_ find: String, _ replace: String) {
        let text = good.replacingOccurrences(of: find, with: replace)
        #expect(throws: MLSecError.self) { try ModelSpec(json: Array(text.utf8)) }
    }

    @Test func shapeMismatchesAreClearErrors() throws {
        let spec = try ModelSpec(json: Array(good.utf8))
        var weights = try Architecture.initialWeights(for: Architecture.spec(from: "mlp:64-128-10"), seed: 1)
        #expect(throws: Never.self) { try Model(spec: spec, weights: weights) }
        weights["fc2.weight"] = Tensor(zeros: [10, 127])
        let error = #expect(throws: MLSecError.self) { try Model(spec: spec, weights: weights) }
        #expect(error?.message.contains("fc2.weight expects 127 inputs") == true)
        weights["fc2.weight"] = nil
        let missing = #expect(throws: MLSecError.self) { try Model(spec: spec, weights: weights) }
        #expect(missing?.message.contains("fc2.weight") == true)
    }

    @Test func saveAndLoadRoundTrip() throws {
        let dir = NSTemporaryDirectory() + "mlsec-model-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try GradientTests.cnn(seed: 21)
        try ModelStore.save(model, to: dir)
        let loaded = try ModelStore.load(directory: dir)
        #expect(loaded.parameterNames == model.parameterNames)
        #expect(loaded.parameters == model.parameters)
        let x = try model.inputTensor(rows: GradientTests.input(2, size: 72, seed: 1), count: 2)
        #expect(try loaded.forward(x) == model.forward(x))
    }

    @Test func pruneZeroesTheSmallestWeights() throws {
        var model = try GradientTests.cnn(seed: 22)
        let weightCount = ["c1.w", "c2.w", "d1.w", "d2.w"].compactMap { model.weights[$0]?.count }.reduce(0, +)
        let zeroed = try model.prune(fraction: 0.5)
        #expect(zeroed == weightCount / 2)
        #expect(model.weights["c1.b"]?.data.contains(0) == false)
    }

    @Test func rejectsNonFiniteWeightsAndBadInputs() throws {
        let spec = try Architecture.spec(from: "logreg:4-2")
        var weights = try Architecture.initialWeights(for: spec, seed: 1)
        let model = try Model(spec: spec, weights: weights)
        #expect(throws: MLSecError.self) { try model.inputTensor(rows: [1, 2, 3], count: 1) }
        #expect(throws: MLSecError.self) { try model.gradients(model.inputTensor(rows: [0, 0, 0, 0], count: 1), labels: [5]) }
        weights["fc1.weight"]?.data[0] = .nan
        #expect(throws: MLSecError.self) { try Model(spec: spec, weights: weights) }
    }

    @Test func hugeDeclaredShapesAreRefusedBeforeAllocating() throws {
        let spec = ModelSpec(name: "huge", input: TensorSpec(name: "input", shape: [-1, 1, 1 << 20, 1 << 20]),
                             output: TensorSpec(name: "o", shape: [-1, 2]),
                             layers: [LayerSpec(.flatten), LayerSpec(.dense(weight: "w", bias: nil), outputs: 2)])
        let error = #expect(throws: MLSecError.self) {
            try Model(spec: spec, weights: ["w": Tensor(zeros: [2, 4])])
        }
        #expect(error?.code == .limitExceeded)
    }
}
