// DPSGDBenchmark: `mlsec bench dpsgd`, where DP-SGD's time goes on the digits MLP (in process): the whole run with
// the dense-layer norm identity and with materialised per-example gradients, non-private SGD on the same batches,
// and the cost of one noise coordinate from each Gaussian sampler.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecPrivacy

struct DPSGDBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpsgd",
        abstract: "DP-SGD on the digits MLP: examples per second (norm identity vs materialised), noise cost per coordinate.",
        discussion: """
            Benchmarks/privacy/bench_dpsgd.py measures accuracy and end-to-end speed; this splits the time.

            Example:
              mlsec bench dpsgd --epochs 30 --repeats 3
            """)

    @Option(help: "Epochs per run (q = 0.0435: 23 steps an epoch).") var epochs: Int = 30
    @Option(help: "Repetitions (median reported).") var repeats: Int = 3
    @Option(name: .customLong("noise-samples"), help: "Draws per noise sampler timing.") var noiseSamples: Int = 2_000_000

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        return Double((ContinuousClock.now - start) / .microseconds(1)) / 1e6
    }

    /// Nanoseconds per standard normal draw from `noise`.
    static func perDraw<G: RandomNumberGenerator>(_ noise: inout GaussianNoise<G>, count: Int) -> Double {
        var values = [Float](repeating: 0, count: 9610)
        let rounds = max(1, count / values.count)
        let s = seconds { for _ in 0..<rounds { noise.addNoise(standardDeviation: 1, to: &values) } }
        return s * 1e9 / Double(rounds * values.count)
    }

    func run() async throws {
        guard (1...1000).contains(epochs), (1...100).contains(repeats), (10_000...100_000_000).contains(noiseSamples) else {
            throw MLSecError.usage("epochs 1...1000, repeats 1...100, noise samples 10000...100000000")
        }
        let data = Digits.dataset(.train)
        let spec = try Architecture.spec(from: "mlp:64-128-10")
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        var identity: [Double] = [], materialised: [Double] = [], plain: [Double] = []
        var steps = 0
        for r in 0..<repeats {
            for factored in [true, false] {
                var model = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: UInt64(r)))
                var options = DPSGDOptions(epochs: epochs, sampleRate: 0.0435, clipNorm: 1, targetEpsilon: 3, delta: 1e-5)
                options.factoredGradients = factored
                let summary = try DPSGD.train(&model, on: data, options: options)
                steps = summary.steps
                if factored { identity.append(summary.seconds) } else { materialised.append(summary.seconds) }
            }
            var model = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: UInt64(r)))
            let summary = try Trainer.train(&model, on: data, options: TrainingOptions(
                epochs: epochs, batchSize: 64, optimizer: .sgd, learningRate: 0.2, seed: UInt64(r), momentum: 0.9))
            plain.append(summary.seconds)
        }
        let examples = Double(epochs * data.count)
        var secure = GaussianNoise()
        var system = GaussianNoise(generator: SystemRandomNumberGenerator())
        var seeded = GaussianNoise(generator: SeededGenerator(seed: 1))
        let secureNs = Self.perDraw(&secure, count: noiseSamples)
        let systemNs = Self.perDraw(&system, count: max(10_000, noiseSamples / 20))
        let seededNs = Self.perDraw(&seeded, count: noiseSamples)
        // The exact discrete Gaussian (CKS 2020) at σ = 1.907 (ε = 3) on the grid 2^-10, as the lattice mechanism
        // would draw it: σ² in grid units, rounded up to a rational.
        var exact = ExactSampler(generator: SecureRandomGenerator())
        let variance = try PositiveRational(atLeast: pow(1.907 * 1024, 2), bits: 16)
        let exactCount = 20_000
        let exactSeconds = try Self.seconds { for _ in 0..<exactCount { _ = try exact.discreteGaussian(variance: variance) } }
        let exactNs = exactSeconds * 1e9 / Double(exactCount)
        let coordinates = Double(steps * 9610)
        func fixed(_ v: Double, _ digits: Int = 1) -> JSONValue { .number(String(format: "%.\(digits)f", v)) }
        printJSON(.object([
            ("epochs", .int(epochs)), ("steps", .int(steps)), ("examples", .int(Int(examples))),
            ("dp_identity_seconds", fixed(median(identity), 3)),
            ("dp_identity_examples_per_second", fixed(examples / median(identity), 0)),
            ("dp_materialised_seconds", fixed(median(materialised), 3)),
            ("dp_materialised_examples_per_second", fixed(examples / median(materialised), 0)),
            ("non_private_seconds", fixed(median(plain), 3)),
            ("non_private_examples_per_second", fixed(examples / median(plain), 0)),
            ("noise_ns_per_coordinate", .object([
                ("secure_boringssl_polar", fixed(secureNs)), ("system_getrandom_polar", fixed(systemNs)),
                ("seeded_splitmix_polar_not_secure", fixed(seededNs)), ("exact_discrete_gaussian_grid_2^-10", fixed(exactNs)),
            ])),
            ("noise_seconds_per_run", .object([
                ("secure_boringssl_polar", fixed(secureNs * coordinates / 1e9, 3)),
                ("system_getrandom_polar", fixed(systemNs * coordinates / 1e9, 3)),
                ("exact_discrete_gaussian_grid_2^-10", fixed(exactNs * coordinates / 1e9, 1)),
            ])),
        ]))
    }
}
