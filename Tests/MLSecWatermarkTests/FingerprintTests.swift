// FingerprintTests: the weight-space fingerprint ignores hidden-unit order, the unit matching is optimal, fingerprint
// files round-trip and hostile ones are refused with clear errors, and a small conferrable fingerprint matches its
// model's copies but not an independent model.

import Foundation
import MLSecCore
import MLSecEngine
import MLSecWatermark
import Testing

enum FingerprintFixture {
    static let train = Digits.dataset(.train)

    /// A digits MLP of `architecture` trained for `epochs` from `seed`.
    static func model(seed: UInt64, epochs: Int = 20, architecture: String = "mlp:64-128-10") throws -> Model {
        let spec = try Architecture.spec(from: architecture)
        var model = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: seed))
        _ = try Trainer.train(&model, on: train, options: TrainingOptions(epochs: epochs, seed: seed))
        return model
    }

    static let source: Model = {
        guard let model = try? model(seed: 0) else { fatalError("fixture model") }
        return model
    }()

    /// Quick creation settings for tests.
    /// Quicker creation settings for tests (shorter distillation, fewer inputs).
    static var quickOptions: ConferrableFingerprint.Options {
        var options = ConferrableFingerprint.Options()
        options.count = 30
        options.distillEpochs = 30
        return options
    }

    /// A fingerprint value made by hand (no optimisation): 3 inputs of shape [4].
    static let handMade = ConferrableFingerprint(
        modelName: "m", inputName: "input", modelDigest: "sha256:" + String(repeating: "ab", count: 32), inputShape: [4], classCount: 3,
        inputs: [0, 0.25, 0.5, 1, 0.125, 0.375, 0.625, 0.875, 1, 0, 1, 0], labels: [2, 0, 1], threshold: 0.4,
        calibration: .init(copies: [.init(name: "prune 50%", matchRate: 0.9)], references: [.init(name: "ref", matchRate: 0.1)],
                           referencesHeldOut: true, epsilon: 0.25, candidates: 10, meanConferrability: 0.7, seed: 3))

    static func text(_ fingerprint: ConferrableFingerprint) -> String { String(decoding: fingerprint.fileBytes, as: UTF8.self) }

    static func parse(_ text: String) throws -> ConferrableFingerprint {
        try ConferrableFingerprint(bytes: Array(text.utf8), context: "FP.json")
    }

    static func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return ""
        } catch let error as MLSecError {
            return error.message
        } catch {
            return "\(error)"
        }
    }
}

@Suite struct WeightFingerprintTests {
    @Test func permutedHiddenUnitsComputeTheSameAndCompareAsIdentical() throws {
        let model = FingerprintFixture.source
        let permuted = try WeightFingerprint.permutingHiddenUnits(of: model, seed: 7)
        #expect(permuted.parameterDigest != model.parameterDigest)
        let rows = FingerprintFixture.train.subset(Array(0..<50)).features
        let a = try model.logits(try model.inputTensor(rows: rows, count: 50)).data
        let b = try permuted.logits(try permuted.inputTensor(rows: rows, count: 50)).data
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-4 })
        let same = try WeightFingerprint.compare(model, permuted)
        #expect(same.similarity > 0.9999)
        #expect(same.layers.count == 2)
        // Permuting both sides, with different seeds, changes nothing either.
        let both = try WeightFingerprint.compare(try WeightFingerprint.permutingHiddenUnits(of: model, seed: 1), permuted)
        #expect(both.similarity > 0.9999)
    }

    @Test func independentModelsScoreLowAndFineTunedPrunedCopiesHigh() throws {
        let model = FingerprintFixture.source
        let independent = try [1, 2, 3].map { try WeightFingerprint.compare(model, try FingerprintFixture.model(seed: $0)).similarity }
        let fineTuned = try RemovalAttack.fineTune(fraction: 0.5, epochs: 5, learningRate: 0.01).apply(to: model, data: FingerprintFixture.train)
        let pruned = try RemovalAttack.prune(fraction: 0.5).apply(to: model, data: FingerprintFixture.train)
        let copies = try [fineTuned, pruned].map {
            try WeightFingerprint.compare(model, try WeightFingerprint.permutingHiddenUnits(of: $0, seed: 5)).similarity
        }
        print("weight fingerprint: independent \(independent), fine-tuned and pruned copies (permuted) \(copies)")
        let threshold = WeightFingerprint.threshold(referenceSimilarities: independent)
        #expect(independent.allSatisfy { $0 < WeightFingerprint.defaultThreshold })
        #expect(copies.allSatisfy { $0 > threshold && $0 > WeightFingerprint.defaultThreshold })
    }

    @Test func differentArchitecturesAreRefused() throws {
        let small = try FingerprintFixture.model(seed: 1, epochs: 1, architecture: "mlp:64-32-10")
        let message = FingerprintFixture.message { _ = try WeightFingerprint.compare(FingerprintFixture.source, small) }
        #expect(message.contains("different architectures"))
    }

    @Test func unitMatchingIsOptimal() throws {
        var rng = SeededGenerator(seed: 9)
        for n in [1, 2, 3, 5, 6] {
            let score = (0..<n * n).map { _ in Double(rng.uniform(-1, 1)) }
            var best = -Double.infinity
            var permutation = Array(0..<n)
            func search(_ k: Int) {
                if k == n {
                    best = max(best, (0..<n).reduce(0) { $0 + score[$1 * n + permutation[$1]] })
                    return
                }
                for i in k..<n {
                    permutation.swapAt(k, i)
                    search(k + 1)
                    permutation.swapAt(k, i)
                }
            }
            search(0)
            let assignment = UnitAssignment.maximise(score, n: n)
            #expect(Set(assignment) == Set(0..<n))
            let found = (0..<n).reduce(0) { $0 + score[$1 * n + assignment[$1]] }
            #expect(abs(found - best) < 1e-9, "n = \(n)")
        }
    }
}
