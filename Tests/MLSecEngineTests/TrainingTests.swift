// Tests of training on the bundled digits data.

import MLSecCore
import MLSecEngine
import Testing

@Suite struct TrainingTests {
    @Test("the training shuffle is the project's own Fisher-Yates over SplitMix64 (values computed independently in Python)")
    func seededShuffle() {
        var rng = SeededGenerator(seed: 7)
        var order = Array(0..<10)
        rng.shuffle(&order)
        #expect(order == [8, 1, 5, 9, 0, 4, 3, 2, 6, 7])
        #expect(Digits.permutation(count: 10, seed: 7) == order)
    }

    @Test func digitsSplitIsFixed() {
        #expect(Digits.dataset(.train).count == 1437)
        #expect(Digits.dataset(.test).count == 360)
        #expect(Digits.dataset(.all).labels?.prefix(5) == [0, 1, 2, 3, 4])
        let all = Digits.dataset(.all)
        #expect(all.features.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    /// The goal holds on average over seeds, not for one lucky seed (single seeds range 0.967-0.975).
    @Test func mlpReachesTheAccuracyGoalOnDigits() throws {
        let spec = try Architecture.spec(from: "mlp:64-128-10")
        var accuracies: [Double] = []
        for seed: UInt64 in 0..<5 {
            var model = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: seed))
            let summary = try Trainer.train(&model, on: Digits.dataset(.train), options: TrainingOptions(epochs: 100, seed: seed))
            accuracies.append(try Trainer.evaluate(model, on: Digits.dataset(.test)).accuracy)
            #expect(summary.trainingAccuracy > 0.99)
        }
        let mean = accuracies.reduce(0, +) / Double(accuracies.count)
        #expect(mean >= 0.97, "test accuracies \(accuracies)")
        #expect(accuracies.allSatisfy { $0 >= 0.96 }, "test accuracies \(accuracies)")
    }
}
