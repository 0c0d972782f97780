// Watermark keys: the binomial tails against SciPy, embedding and reading bits, the key file and hostile keys.

import Foundation
import MLSecCore
import MLSecEngine
import MLSecWatermark
import Testing

@Suite struct WatermarkTests {
    static func model(_ architecture: String = "mlp:64-32-10", seed: UInt64 = 1, epochs: Int = 3) throws -> Model {
        let spec = try Architecture.spec(from: architecture)
        var model = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: seed))
        _ = try Trainer.train(&model, on: Digits.dataset(.train), options: TrainingOptions(epochs: epochs, seed: seed))
        return model
    }

    @Test func binomialTailsMatchSciPy() {
        // scipy.stats.binom.cdf(k, n, p) and binom.sf(k - 1, n, p)
        #expect(abs(BinomialTest.cdf(3, n: 64, p: 0.4139) - 2.2221936126909062e-11) < 1e-20)
        #expect(abs(BinomialTest.cdf(0, n: 64, p: 0.4) - 6.334028666297312e-15) < 1e-24)
        #expect(abs(BinomialTest.upperTail(31, n: 100, p: 0.1213) - 4.972808752398742e-07) < 1e-15)
        #expect(abs(BinomialTest.upperTail(10, n: 10, p: 0.5) - 0.0009765625) < 1e-15)
        #expect(BinomialTest.cdf(64, n: 64, p: 0.3) == 1 && BinomialTest.upperTail(0, n: 5, p: 0.3) == 1)
    }

    @Test func weightWatermarkEmbedsReadsAndCalibrates() async throws {
        var model = try Self.model()
        let data = Digits.dataset(.train).subset(Array(0..<600))
        let settings = EmbeddingSettings(kind: .weights(bits: 64, layer: nil, strength: 0.01), seed: 7, epochs: 3,
                                         calibrationModels: 2, calibrationEpochs: 2)
        let key = try await WatermarkEmbedding.embed(into: &model, data: data, settings: settings, createdAt: "2026-12-07T00:00:00Z")
        let verdict = try await key.verify(model)
        #expect(verdict.watermarked && verdict.rate == 0 && verdict.pValue < 1e-6)
        // Another model of the same architecture is not claimed.
        let other = try Self.model(seed: 99)
        #expect(try await key.verify(other).watermarked == false)
        // The key file round-trips.
        let text = JSONWriter.string(key.json)
        #expect(try WatermarkKey(bytes: Array(text.utf8), context: "k") == key)
        // A model of another architecture is refused with a clear error.
        let small = try Self.model("mlp:64-16-10", seed: 3, epochs: 1)
        await #expect(throws: MLSecError.self) { _ = try await key.verify(small) }
    }

    @Test func triggerSetLearnsAndIsJudgedByPredictions() async throws {
        var model = try Self.model()
        let data = Digits.dataset(.train).subset(Array(0..<400))
        let settings = EmbeddingSettings(kind: .triggers(count: 40, repeats: 4), seed: 3, epochs: 40, calibrationModels: 2, calibrationEpochs: 2)
        let key = try await WatermarkEmbedding.embed(into: &model, data: data, settings: settings, createdAt: "2026-12-07T00:00:00Z")
        #expect(try await key.verify(ModelOracle(model: model)).watermarked)
        #expect(try WatermarkKey(bytes: Array(JSONWriter.string(key.json).utf8), context: "k") == key)
    }

    @Test func hostileKeysAreRefused() {
        let base = #"{"format":"mlsec-watermark-key","version":1,"chance_rate":0.4,"calibration_rates":[0.5],"false_claim_probability":1e-6,"threshold_count":3,"model":"m","model_digest":"sha256:00","created_at":"t","#
        let bad = [
            "{", "[]", #"{"format":"mlsec-watermark-key","version":7}"#,
            base + #""method":"weights","layer":"fc1.weight","shape":[128,64],"projection_seed":"1","bits":"01x1"}"#,
            base + #""method":"weights","layer":"fc1.weight","shape":[99999999,99999999],"projection_seed":"1","bits":"0101"}"#,
            base + #""method":"weights","layer":"fc1.weight","shape":[128,64],"projection_seed":"-1","bits":"0101"}"#,
            base + #""method":"triggers","width":2,"labels":[0,1,2,3,4,5,6,7],"inputs":[1,2,3]}"#,
            base + #""method":"other"}"#,
            #"{"format":"mlsec-watermark-key","version":1,"method":"weights","layer":"fc1.weight","shape":[4],"projection_seed":"1","bits":"0101","chance_rate":0.4,"calibration_rates":[0.5],"false_claim_probability":1e-6,"threshold_count":99,"model":"m","model_digest":"d","created_at":"t"}"#,
        ]
        for text in bad {
            #expect(throws: MLSecError.self) { try WatermarkKey(bytes: Array(text.utf8), context: "k") }
        }
    }

    @Test func removalAttacksChangeTheModelAsNamed() throws {
        let model = try Self.model()
        let data = Digits.dataset(.train).subset(Array(0..<300))
        let pruned = try RemovalAttack.prune(fraction: 0.5).apply(to: model, data: data)
        let zeros = pruned.parameters.enumerated().filter { pruned.spec.layers.count > 0 && $0.element.shape.count == 2 }
            .reduce(0) { $0 + $1.element.data.filter { $0 == 0 }.count }
        #expect(zeros >= (64 * 32 + 32 * 10) / 2)
        let noisy = try RemovalAttack.noise(relative: 0.1).apply(to: model, data: data, seed: 1)
        #expect(noisy.parameters != model.parameters)
        let distilled = try RemovalAttack.distill(epochs: 2).apply(to: model, data: data)
        #expect(distilled.parameterDigest != model.parameterDigest)
        #expect(RemovalAttack.standard(includeDistillation: true).count == 7)
    }
}
