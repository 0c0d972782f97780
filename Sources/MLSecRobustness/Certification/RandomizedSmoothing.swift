// RandomizedSmoothing: Cohen, Rosenfeld and Kolter's smoothed classifier (2019): predictions under Gaussian noise,
// certified L2 radii from a Clopper-Pearson bound, abstaining when unsure; noise from a seeded generator.

import Foundation
import MLSecCore
import MLSecEngine

/// The smoothed classifier g(x) = argmax_c P(f(x + N(0, σ²I)) = c) of a base model f.
public struct RandomizedSmoothing: Sendable, Equatable {
    public var sigma: Float
    /// n₀: noisy samples that select the top class.
    public var selectionSamples: Int
    /// n: noisy samples that estimate its probability.
    public var samples: Int
    /// The certificate holds with probability at least 1 − alpha.
    public var alpha: Double
    public var seed: UInt64
    /// Noisy copies per forward pass.
    public var batchSize: Int

    public init(sigma: Float, samples: Int, selectionSamples: Int = 100, alpha: Double = 0.001, seed: UInt64 = 0,
                batchSize: Int = 1000) throws {
        guard sigma.isFinite, sigma > 0 else { throw MLSecError.usage("sigma must be a finite number > 0") }
        guard (1...10_000_000).contains(samples), (1...10_000_000).contains(selectionSamples) else {
            throw MLSecError.usage("the sample counts must be 1...10000000")
        }
        guard alpha > 0, alpha < 0.5 else { throw MLSecError.usage("alpha must be in (0, 0.5)") }
        guard (1...1_000_000).contains(batchSize) else { throw MLSecError.usage("the batch size must be 1...1000000") }
        self.sigma = sigma
        self.selectionSamples = selectionSamples
        self.samples = samples
        self.alpha = alpha
        self.seed = seed
        self.batchSize = batchSize
    }

    /// A certificate: the predicted class and the L2 radius within which the smoothed prediction cannot change,
    /// or an abstention (prediction nil, radius 0).
    public struct Certificate: Sendable, Equatable {
        public var prediction: Int?
        public var radius: Double
        /// The lower confidence bound on the top class's probability.
        public var probabilityLowerBound: Double
    }

    /// CERTIFY for each row: the top class from n₀ samples, its probability bounded below from n fresh samples,
    /// abstain when the bound is under 1/2, else radius σ · Φ⁻¹(p_A).
    public func certify(_ model: Model, rows: [Float], count: Int) throws -> [Certificate] {
        let width = model.inputSize
        guard rows.count == count * width else { throw MLSecError.malformed("expected \(count) rows of \(width) values") }
        let smoothing = self
        let flat = try ParallelRows.map(count: count, block: 1, outputWidth: 3) { block in
            let r = block.lowerBound
            var rng = SeededGenerator.forExample(r, seed: smoothing.seed)
            let row = Array(rows[r * width..<(r + 1) * width])
            let selection = try smoothing.counts(model, row: row, samples: smoothing.selectionSamples, rng: &rng)
            let top = selection.indices.max { selection[$0] < selection[$1] } ?? 0
            let estimate = try smoothing.counts(model, row: row, samples: smoothing.samples, rng: &rng)
            let bound = SpecialFunctions.clopperPearsonLower(successes: estimate[top], trials: smoothing.samples, alpha: smoothing.alpha)
            guard bound >= 0.5 else { return [-1, 0, Float(bound)] }
            return [Float(top), Float(Double(smoothing.sigma) * SpecialFunctions.inverseNdtr(min(bound, 1 - 1e-16))), Float(bound)]
        }
        return (0..<count).map { r in
            let p = flat[r * 3]
            return Certificate(prediction: p < 0 ? nil : Int(p), radius: Double(flat[r * 3 + 1]), probabilityLowerBound: Double(flat[r * 3 + 2]))
        }
    }

    /// PREDICT for each row: the top class when a two-sided binomial test says it beats the runner-up at level
    /// alpha, else abstain (nil).
    public func predict(_ model: Model, rows: [Float], count: Int) throws -> [Int?] {
        let width = model.inputSize
        guard rows.count == count * width else { throw MLSecError.malformed("expected \(count) rows of \(width) values") }
        let smoothing = self
        let flat = try ParallelRows.map(count: count, block: 1, outputWidth: 1) { block in
            let r = block.lowerBound
            var rng = SeededGenerator.forExample(r, seed: smoothing.seed)
            let counts = try smoothing.counts(model, row: Array(rows[r * width..<(r + 1) * width]), samples: smoothing.samples, rng: &rng)
            let order = counts.indices.sorted { counts[$0] > counts[$1] }
            let nA = counts[order[0]], nB = order.count > 1 ? counts[order[1]] : 0
            // P(X >= nA) for X ~ Binomial(nA + nB, 1/2), doubled: I_{1/2}(nA, nB + 1).
            let pValue = nA == 0 ? 1 : min(1, 2 * SpecialFunctions.regularizedIncompleteBeta(0.5, Double(nA), Double(nB + 1)))
            return [pValue <= smoothing.alpha ? Float(order[0]) : -1]
        }
        return flat.map { $0 < 0 ? nil : Int($0) }
    }

    /// Class counts of the base model over `samples` noisy copies of `row`.
    func counts(_ model: Model, row: [Float], samples: Int, rng: inout SeededGenerator) throws -> [Int] {
        let width = row.count
        var counts = [Int](repeating: 0, count: model.classCount)
        var remaining = samples
        var noise = [Float](repeating: 0, count: min(batchSize, samples) * width)
        while remaining > 0 {
            let n = min(batchSize, remaining)
            if noise.count != n * width { noise = [Float](repeating: 0, count: n * width) }
            rng.fillGaussian(&noise, sigma: sigma)
            for r in 0..<n { for i in 0..<width { noise[r * width + i] += row[i] } }
            for c in try model.logits(try model.inputTensor(rows: noise, count: n)).argmaxRows() { counts[c] += 1 }
            remaining -= n
        }
        return counts
    }

    /// Certified accuracy at each radius: the fraction of rows certified with the right class and a radius of at
    /// least r.
    public static func certifiedAccuracy(_ certificates: [Certificate], labels: [Int], radii: [Double]) -> [Double] {
        guard !certificates.isEmpty else { return radii.map { _ in 0 } }
        return radii.map { r in
            Double(zip(certificates, labels).filter { c, l in c.prediction == l && c.radius >= r }.count) / Double(certificates.count)
        }
    }

    /// The radii a certification reports: 0 to 2 by 0.25 (σ sets how far certificates reach: at most σ · Φ⁻¹(1 − α)).
    public static let reportedRadii: [Double] = stride(from: 0.0, through: 2.0, by: 0.25).map { $0 }
}
