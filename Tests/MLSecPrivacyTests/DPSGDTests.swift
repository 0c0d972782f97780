// DP-SGD: clipping bounds every per-example gradient by C, the noise has standard deviation σ·C (before the
// division by qN), Poisson sampling has rate q, the reported ε is the accountant's for (σ, q, steps), and training
// stops before the target would be exceeded.

import Foundation
import MLSecCore
import MLSecEngine
import MLSecPrivacy
import Testing

@Suite("DP-SGD")
struct DPSGDTests {
    func model(_ architecture: String, seed: UInt64) throws -> Model {
        let spec = try Architecture.spec(from: architecture)
        return try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: seed))
    }

    /// A small labelled batch for `model`.
    func batch(_ model: Model, n: Int, seed: UInt64, scale: Float = 1) -> (rows: [Float], labels: [Int]) {
        var rng = SplitMix64(state: seed)
        let rows = (0..<n * model.inputSize).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53) * scale }
        let labels = (0..<n).map { _ in Int(rng.next() % UInt64(model.outputSize)) }
        return (rows, labels)
    }

    @Test("clipped per-example gradients never exceed C, and their sum is the factored clipped sum",
          arguments: [1e-3, 0.05, 0.5, 1.0, 100.0])
    func clipping(clipNorm: Double) throws {
        for (architecture, factored) in [("mlp:6-8-4", true), ("mlp:6-8-5-4", false)] {
            let m = try model(architecture, seed: 7)
            let n = 16
            let (rows, labels) = batch(m, n: n, seed: 11, scale: 4)
            let x = try m.inputTensor(rows: rows, count: n)
            let g = try m.perExampleGradients(x, labels: labels, factored: factored)
            let factors = DPSGD.clipFactors(squaredNorms: g.squaredNorms, clipNorm: clipNorm)
            var clippedSum = m.parameters.map { [Double](repeating: 0, count: $0.count) }
            for i in 0..<n {
                let clipped = g.example(i).map { $0.map { Double($0 * factors[i]) } }
                let norm = clipped.joined().reduce(0.0) { $0 + $1 * $1 }.squareRoot()
                #expect(norm <= clipNorm, "example \(i): \(norm) > \(clipNorm)")
                let original = g.squaredNorms[i].squareRoot()
                if original <= clipNorm * (1 - 1e-5) {
                    #expect(factors[i] == 1)  // small gradients are left alone
                } else {
                    #expect(norm >= clipNorm * (1 - 1e-5))  // large ones land on C
                }
                for p in clipped.indices { for j in clipped[p].indices { clippedSum[p][j] += clipped[p][j] } }
            }
            // privateGradient with no noise budget spent on the check: σ tiny, scale 1.
            var noise = GaussianNoise(generator: SplitMix64(state: 1))
            let (gradient, _) = try DPSGD.privateGradient(m, rows: rows, labels: labels, clipNorm: clipNorm,
                                                          noiseMultiplier: 1e-12, expectedBatchSize: 1, noise: &noise)
            for p in gradient.indices {
                for j in gradient[p].indices {
                    #expect(abs(Double(gradient[p][j]) - clippedSum[p][j]) <= 1e-5 * clipNorm + 1e-4 * abs(clippedSum[p][j]))
                }
            }
        }
    }

    @Test("non-finite norms are dropped, zero norms kept")
    func degenerateNorms() {
        #expect(DPSGD.clipFactors(squaredNorms: [.nan, .infinity, 0, 4], clipNorm: 1) == [0, 0, 1, Float(0.5 * (1 - 0x1p-20))])
    }

    @Test("the noise is N(0, (σC)²): mean, standard deviation, shape (chi-square on 20 bins)")
    func noiseStandardDeviation() throws {
        var noise = GaussianNoise(generator: SplitMix64(state: 2024))
        let n = 400_000
        var values = [Float](repeating: 0, count: n)
        let sd = 3.7
        noise.addNoise(standardDeviation: sd, to: &values)
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n - 1)
        #expect(abs(mean) < 5 * sd / Double(n).squareRoot())
        // The standard error of the sample variance is σ²·√(2/n) (0.22 % here); 5 of them.
        #expect(abs(variance / (sd * sd) - 1) < 5 * (2.0 / Double(n)).squareRoot())
        // Equal-probability bins of N(0, sd²) (edges by bisection on erf).
        let bins = 20
        func cdf(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }
        var edges: [Double] = []
        for k in 1..<bins {
            var lo = -10.0, hi = 10.0
            for _ in 0..<80 {
                let mid = (lo + hi) / 2
                if cdf(mid) < Double(k) / Double(bins) { lo = mid } else { hi = mid }
            }
            edges.append(lo * sd)
        }
        var counts = [Int](repeating: 0, count: bins)
        for v in values {
            var b = 0
            while b < edges.count, Double(v) >= edges[b] { b += 1 }
            counts[b] += 1
        }
        let expected = Double(n) / Double(bins)
        let chi = counts.reduce(0.0) { $0 + pow(Double($1) - expected, 2) / expected }
        #expect(chi < 45.3, "chi-square \(chi) on 19 degrees of freedom (0.999 quantile 43.8)")
        // Odd and even lengths: the spare draw carries over between calls.
        var small = [Float](repeating: 0, count: 3)
        noise.addNoise(standardDeviation: 1, to: &small, scale: 2)
        #expect(small.allSatisfy { $0 != 0 && $0.isFinite })
    }

    @Test("an empty batch's private gradient is noise only, of standard deviation σC/(qN)")
    func emptyBatchNoise() throws {
        let m = try model("mlp:20-30-10", seed: 1)
        var noise = GaussianNoise(generator: SplitMix64(state: 99))
        let sigma = 1.7, clip = 0.8, expected = 25.0
        var all: [Float] = []
        for _ in 0..<40 {
            let (g, perExample) = try DPSGD.privateGradient(m, rows: [], labels: [], clipNorm: clip, noiseMultiplier: sigma,
                                                            expectedBatchSize: expected, noise: &noise)
            #expect(perExample == nil)
            all += g.joined()
        }
        let n = Double(all.count)
        let variance = all.reduce(0.0) { $0 + Double($1) * Double($1) } / n
        let target = sigma * clip / expected
        #expect(abs(variance.squareRoot() / target - 1) < 5 * (0.5 / n).squareRoot(), "\(variance.squareRoot()) vs \(target)")
    }

    @Test("Poisson sampling: batch sizes have mean qN and variance qN(1 − q); each record joins at rate q")
    func poissonRate() throws {
        let q = 0.0435, n = 1437, batches = 4000
        let sampler = try PoissonSampler(rate: q)
        var rng = SplitMix64(state: 5)
        var batch: [Int] = []
        var sizes: [Double] = []
        var joins = [Int](repeating: 0, count: n)
        for _ in 0..<batches {
            sampler.sample(count: n, using: &rng, into: &batch)
            #expect(batch == batch.sorted() && Set(batch).count == batch.count)
            sizes.append(Double(batch.count))
            for i in batch { joins[i] += 1 }
        }
        let mean = sizes.reduce(0, +) / Double(batches)
        let variance = sizes.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(batches - 1)
        let expectedVariance = Double(n) * q * (1 - q)
        #expect(abs(mean - q * Double(n)) < 5 * (expectedVariance / Double(batches)).squareRoot())
        #expect(abs(variance / expectedVariance - 1) < 0.12)
        // Per record: Binomial(batches, q); the extremes over 1437 records stay within 5 standard deviations.
        let perRecordSD = (Double(batches) * q * (1 - q)).squareRoot()
        #expect(joins.allSatisfy { abs(Double($0) - Double(batches) * q) < 5 * perRecordSD })
        // The first half and the second half of the records are sampled alike (no position bias).
        let firstHalf = joins[..<(n / 2)].reduce(0, +), secondHalf = joins[(n / 2)..<(2 * (n / 2))].reduce(0, +)
        #expect(abs(Double(firstHalf - secondHalf)) < 5 * (2 * Double(n / 2) * Double(batches) * q).squareRoot())
        let everyone = try PoissonSampler(rate: 1)
        everyone.sample(count: 5, using: &rng, into: &batch)
        #expect(batch == [0, 1, 2, 3, 4])
        #expect(throws: MLSecError.self) { try PoissonSampler(rate: 0) }
        #expect(throws: MLSecError.self) { try PoissonSampler(rate: 1.5) }
    }

    /// A digits subset for quick runs.
    func digits(_ count: Int) -> Dataset {
        let train = Digits.dataset(.train)
        return train.subset(Array(0..<count))
    }

    @Test("the trained model's ε is the accountant's for (σ, q, steps, δ); calibrated σ stays within the target")
    func epsilonMatchesTheAccountant() throws {
        var m = try model("mlp:64-16-10", seed: 3)
        let options = DPSGDOptions(epochs: 3, sampleRate: 0.05, clipNorm: 1, targetEpsilon: 2, delta: 1e-5)
        var epochs: [Int] = []
        let summary = try DPSGD.train(&m, on: digits(300), options: options, generator: SplitMix64(state: 8)) { epoch, _ in
            epochs.append(epoch)
        }
        #expect(summary.steps == 60 && summary.plannedSteps == 60 && !summary.stoppedEarly && summary.calibrated)
        #expect(epochs == [1, 2, 3])
        var accountant = try RDPAccountant()
        try accountant.compose(try PoissonSampledGaussian(noiseMultiplier: summary.noiseMultiplier, sampleRate: 0.05),
                               steps: summary.steps)
        let bound = try accountant.epsilonAndOrder(delta: 1e-5)
        #expect(summary.epsilon == bound.value && summary.order == bound.order)
        #expect(summary.epsilon <= 2 && summary.epsilon > 2 * (1 - 1e-6))
        let calibrated = try NoiseCalibration.rdp(targetEpsilon: 2, delta: 1e-5, sampleRate: 0.05, steps: 60)
        #expect(summary.noiseMultiplier == calibrated.noiseMultiplier)
        #expect(summary.examplesProcessed > 0 && m.parameters.allSatisfy { $0.data.allSatisfy(\.isFinite) })
    }

    @Test("with a given σ too small for the epochs, training stops at the last step within the target")
    func stopsBeforeExceedingTheTarget() throws {
        var m = try model("mlp:64-16-10", seed: 4)
        let sigma = 1.1, q = 0.05, delta = 1e-5, target = 3.0
        let options = DPSGDOptions(epochs: 20, sampleRate: q, clipNorm: 1, targetEpsilon: target, delta: delta,
                                   noiseMultiplier: sigma)
        let summary = try DPSGD.train(&m, on: digits(200), options: options, generator: SplitMix64(state: 9))
        #expect(summary.stoppedEarly && summary.steps < summary.plannedSteps && summary.steps > 0)
        #expect(summary.epsilon <= target && summary.noiseMultiplier == sigma && !summary.calibrated)
        func epsilon(_ steps: Int) throws -> Double {
            var accountant = try RDPAccountant()
            try accountant.compose(try PoissonSampledGaussian(noiseMultiplier: sigma, sampleRate: q), steps: steps)
            return try accountant.epsilon(delta: delta)
        }
        #expect(try epsilon(summary.steps) == summary.epsilon)
        #expect(try epsilon(summary.steps + 1) > target)
        // A σ for which even one step is over the target is refused before training.
        let hopeless = DPSGDOptions(epochs: 1, sampleRate: 0.5, clipNorm: 1, targetEpsilon: 0.01, delta: delta,
                                    noiseMultiplier: 0.5)
        #expect(throws: MLSecError.self) { try DPSGD.train(&m, on: digits(50), options: hopeless, generator: SplitMix64(state: 1)) }
    }

    @Test("bad options are refused with usage errors")
    func validation() throws {
        let good = DPSGDOptions(epochs: 1, sampleRate: 0.1, clipNorm: 1, targetEpsilon: 1, delta: 1e-5)
        try good.validate()
        var bad = [DPSGDOptions](repeating: good, count: 7)
        bad[0].sampleRate = 0
        bad[1].clipNorm = -1
        bad[2].targetEpsilon = .infinity
        bad[3].delta = 1
        bad[4].noiseMultiplier = 0
        bad[5].momentum = 1
        bad[6].sampleRate = 1e-9
        bad[6].epochs = 1000
        for options in bad {
            #expect(throws: MLSecError.self) { try options.validate() }
        }
        #expect(good.stepsPerEpoch == 10 && good.plannedSteps == 10)
        #expect(DPSGDOptions(epochs: 30, sampleRate: 0.0435, clipNorm: 1, targetEpsilon: 1, delta: 1e-5).plannedSteps == 690)
    }

    @Test("the default generator is the CSPRNG")
    func secureDefault() {
        let noise = GaussianNoise()
        #expect(type(of: noise.generator) == SecureRandomGenerator.self)
        let g = SecureRandomGenerator()
        let words = (0..<20_000).map { _ in g.next() }
        #expect(Set(words).count == words.count)  // past the 8192-word buffer, nothing repeats
        let ones = words.reduce(0) { $0 + $1.nonzeroBitCount }
        #expect(abs(Double(ones) / Double(64 * words.count) - 0.5) < 0.005)
    }

    @Test("DP-SGD learns the digits at ε = 8 (utility smoke test)")
    func learnsDigits() throws {
        var m = try model("mlp:64-128-10", seed: 0)
        let options = DPSGDOptions(epochs: 15, sampleRate: 0.0435, clipNorm: 1, targetEpsilon: 8, delta: 1e-5)
        let summary = try DPSGD.train(&m, on: Digits.dataset(.train), options: options, generator: SplitMix64(state: 3))
        #expect(summary.epsilon <= 8)
        let accuracy = try Trainer.evaluate(m, on: Digits.dataset(.test)).accuracy
        #expect(accuracy > 0.85, "test accuracy \(accuracy)")
    }
}
