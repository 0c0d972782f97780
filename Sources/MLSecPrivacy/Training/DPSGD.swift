// DPSGD: differentially private SGD (Abadi et al. 2016) on the native engine: Poisson-sampled batches, per-example
// gradients clipped to L2 norm C over all parameters jointly, Gaussian noise of standard deviation σ·C on the sum,
// the RDP accountant tracking ε step by step and stopping training before the target would be exceeded.

import Foundation
import MLSecCore
import MLSecEngine

/// Settings of a DP-SGD run.
public struct DPSGDOptions: Sendable {
    /// Passes over the data: `epochs × stepsPerEpoch` steps are planned (and σ calibrated for them).
    public var epochs: Int
    /// q: the probability that a record joins a batch (Poisson sampling).
    public var sampleRate: Double
    /// C: every example's gradient is clipped to this L2 norm (the sensitivity of the summed gradient).
    public var clipNorm: Double
    /// The ε the run may spend at `delta`; training stops before the accountant's ε would exceed it.
    public var targetEpsilon: Double
    public var delta: Double
    /// σ: noise standard deviation over C. `nil` calibrates the smallest σ whose planned steps stay within the target.
    public var noiseMultiplier: Double?
    /// The update rule applied to the private gradient (post-processing: any optimizer keeps the guarantee).
    public var optimizer: OptimizerKind
    public var learningRate: Float
    public var momentum: Float
    /// Per-example norms and sums by the dense-layer identity where the model allows it (`false`: always
    /// materialise the per-example gradients; the same result, slower; for benchmarks and tests).
    public var factoredGradients = true

    public init(epochs: Int, sampleRate: Double, clipNorm: Double, targetEpsilon: Double, delta: Double,
                noiseMultiplier: Double? = nil, optimizer: OptimizerKind = .sgd, learningRate: Float = DPSGD.defaultLearningRate,
                momentum: Float = 0) {
        self.epochs = epochs
        self.sampleRate = sampleRate
        self.clipNorm = clipNorm
        self.targetEpsilon = targetEpsilon
        self.delta = delta
        self.noiseMultiplier = noiseMultiplier
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
    }

    /// Steps per epoch: round(1/q), as Opacus counts an epoch of Poisson-sampled batches.
    public var stepsPerEpoch: Int { max(1, Int((1 / sampleRate).rounded())) }

    /// The steps a full run takes: epochs × round(1/q).
    public var plannedSteps: Int { epochs * stepsPerEpoch }

    /// Checks every value; `MLSecError.usage` names the first bad one.
    public func validate() throws {
        guard epochs >= 1, epochs <= 1_000_000 else { throw MLSecError.usage("epochs must be 1...1000000, got \(epochs)") }
        guard sampleRate > 0, sampleRate <= 1 else { throw MLSecError.usage("the sample rate must be in (0, 1], got \(sampleRate)") }
        guard clipNorm > 0, clipNorm.isFinite else { throw MLSecError.usage("the clip norm must be a positive number, got \(clipNorm)") }
        guard targetEpsilon > 0, targetEpsilon.isFinite else {
            throw MLSecError.usage("the target epsilon must be a positive number, got \(targetEpsilon)")
        }
        guard delta > 0, delta < 1 else { throw MLSecError.usage("delta must be in (0, 1), got \(delta)") }
        if let noiseMultiplier, !(noiseMultiplier > 0 && noiseMultiplier.isFinite) {
            throw MLSecError.usage("the noise multiplier must be a positive number, got \(noiseMultiplier)")
        }
        guard learningRate > 0, learningRate.isFinite else { throw MLSecError.usage("the learning rate must be positive") }
        guard momentum >= 0, momentum < 1 else { throw MLSecError.usage("the momentum must be in [0, 1)") }
        let (steps, overflow) = epochs.multipliedReportingOverflow(by: stepsPerEpoch)
        guard !overflow, steps <= DPSGD.maximumSteps else {
            throw MLSecError.usage("\(epochs) epochs at sample rate \(sampleRate) is more than \(DPSGD.maximumSteps) steps")
        }
    }
}

/// What a DP-SGD run reports.
public struct DPSGDSummary: Sendable {
    /// Steps taken (each one a noisy release the accountant counted).
    public var steps: Int
    /// Steps a full run would take (epochs × round(1/q)).
    public var plannedSteps: Int
    /// `true` when training stopped before `plannedSteps` because one more step would exceed the target ε.
    public var stoppedEarly: Bool
    /// ε spent at `delta` (RDP accountant, the same value `mlsec privacy epsilon` gives for σ, q, steps, δ).
    public var epsilon: Double
    /// The Rényi order that gives `epsilon`.
    public var order: Double
    public var delta: Double
    public var noiseMultiplier: Double
    /// `true` when σ was calibrated for the target (not given).
    public var calibrated: Bool
    public var sampleRate: Double
    public var clipNorm: Double
    /// Examples that went into the steps (the sum of the Poisson batch sizes).
    public var examplesProcessed: Int
    /// Mean loss and accuracy on the sampled batches of the last epoch. Computed from the private data without
    /// noise: NOT covered by the guarantee (the CLI does not print them).
    public var finalLoss: Float
    public var trainingAccuracy: Double
    public var seconds: Double
    public var examplesPerSecond: Double
}

/// Differentially private SGD.
public enum DPSGD {
    /// The learning rate when none is given (plain SGD). On the digits MLP, tuned on a validation split, the best
    /// rate grows with ε: 0.1 at ε = 1, 0.25 at ε = 3, 0.5 at ε = 8 (docs/privacy.md, "DP-SGD").
    public static let defaultLearningRate: Float = 0.25
    /// The most steps one run may plan.
    public static let maximumSteps = 10_000_000
    /// Clipping aims at C·(1 − 2⁻²⁰), so that the float rounding of the norm cannot carry a clipped gradient past C.
    static let clipMargin = 1 - 0x1p-20

    /// Per-example scale factors min(1, C'/‖gᵢ‖) with C' = C·(1 − 2⁻²⁰): the clipped gradient fᵢ·gᵢ has norm at
    /// most C'. Non-finite norms give 0 (the example is dropped rather than poisoning the sum).
    public static func clipFactors(squaredNorms: [Double], clipNorm: Double) -> [Float] {
        let limit = clipNorm * clipMargin
        return squaredNorms.map { squared in
            guard squared.isFinite else { return 0 }
            let norm = squared.squareRoot()
            return norm > limit ? Float(limit / norm) : 1
        }
    }

    /// One step's private gradient: Σᵢ clip(gᵢ) over the batch, plus N(0, (σC)²) on every coordinate, divided by
    /// the expected batch size q·N (Opacus's normalisation). An empty batch (`rows == 0`) gives noise only.
    /// - Returns: the gradient (one buffer per parameter) and the batch's per-example gradients (nil when empty).
    public static func privateGradient<G: RandomNumberGenerator>(
        _ model: Model, rows: [Float], labels: [Int], clipNorm: Double, noiseMultiplier: Double,
        expectedBatchSize: Double, noise: inout GaussianNoise<G>, factored: Bool = true
    ) throws -> (gradient: [[Float]], perExample: PerExampleGradients?) {
        var sums: [[Float]]
        var perExample: PerExampleGradients?
        if labels.isEmpty {
            sums = model.parameters.map { [Float](repeating: 0, count: $0.count) }
        } else {
            let x = try model.inputTensor(rows: rows, count: labels.count)
            let g = try model.perExampleGradients(x, labels: labels, factored: factored)
            sums = g.weightedSum(clipFactors(squaredNorms: g.squaredNorms, clipNorm: clipNorm))
            perExample = g
        }
        let deviation = noiseMultiplier * clipNorm, scale = 1 / expectedBatchSize
        for p in sums.indices { noise.addNoise(standardDeviation: deviation, to: &sums[p], scale: scale) }
        return (sums, perExample)
    }

    /// Trains `model` on `data` with DP-SGD, sampling and noise from `generator` (tests inject one; use the
    /// overload without it for the CSPRNG).
    /// - Parameter onEpoch: called after each epoch's steps with (epoch, ε spent so far).
    public static func train<G: RandomNumberGenerator>(
        _ model: inout Model, on data: Dataset, options: DPSGDOptions, generator: G,
        onEpoch: ((Int, Double) -> Void)? = nil
    ) throws -> DPSGDSummary {
        try options.validate()
        guard let labels = data.labels else { throw MLSecError.usage("training needs a label column") }
        guard data.featureCount == model.inputSize else {
            throw MLSecError.malformed("the data has \(data.featureCount) features, the model takes \(model.inputSize)")
        }
        let start = ContinuousClock.now
        let q = options.sampleRate, delta = options.delta, planned = options.plannedSteps
        let sigma: Double
        if let given = options.noiseMultiplier {
            sigma = given
        } else {
            sigma = try NoiseCalibration.rdp(targetEpsilon: options.targetEpsilon, delta: delta, sampleRate: q,
                                             steps: planned).noiseMultiplier
        }
        let mechanism = try PoissonSampledGaussian(noiseMultiplier: sigma, sampleRate: q)
        var accountant = try RDPAccountant()
        let perStep = accountant.perStepRDP(mechanism)
        // ε after t steps, as the accountant composes them (Double(t) × the cached per-step vector).
        func epsilon(after t: Int) -> Double {
            RDPAccountant.epsilon(orders: accountant.orders, rdp: perStep.map { Double(t) * $0 }, delta: delta).value
        }
        guard epsilon(after: 1) <= options.targetEpsilon else {
            throw MLSecError.usage(
                "one step at noise multiplier \(sigma) and sample rate \(q) already spends more than epsilon \(options.targetEpsilon) at delta \(delta); raise the noise multiplier or omit it to calibrate")
        }

        var noise = GaussianNoise(generator: generator)
        let sampler = try PoissonSampler(rate: q)
        var optimizer = Optimizer(kind: options.optimizer, learningRate: options.learningRate, momentum: options.momentum)
        let d = data.featureCount, n = data.count
        let expectedBatch = q * Double(n)
        var batch: [Int] = [], rows: [Float] = [], batchLabels: [Int] = []
        var steps = 0, processed = 0, stoppedEarly = false
        var lossSum = 0.0, correct = 0, seen = 0
        var finalLoss: Float = 0, accuracy = 0.0
        while steps < planned {
            guard epsilon(after: steps + 1) <= options.targetEpsilon else {
                stoppedEarly = true
                break
            }
            sampler.sample(count: n, using: &noise.generator, into: &batch)
            rows.removeAll(keepingCapacity: true)
            batchLabels.removeAll(keepingCapacity: true)
            for i in batch {
                rows.append(contentsOf: data.features[i * d..<(i + 1) * d])
                batchLabels.append(labels[i])
            }
            let (gradient, perExample) = try privateGradient(
                model, rows: rows, labels: batchLabels, clipNorm: options.clipNorm, noiseMultiplier: sigma,
                expectedBatchSize: expectedBatch, noise: &noise, factored: options.factoredGradients)
            if let perExample {
                guard perExample.loss.isFinite else {
                    throw MLSecError(.verificationFailed, "training diverged (loss is not finite) at step \(steps + 1); lower the learning rate")
                }
                lossSum += Double(perExample.loss) * Double(batch.count)
                correct += zip(perExample.predictions, batchLabels).filter { $0 == $1 }.count
                seen += batch.count
            }
            optimizer.apply(gradient, to: &model.parameters)
            steps += 1
            processed += batch.count
            if steps % options.stepsPerEpoch == 0 || steps == planned {
                finalLoss = seen > 0 ? Float(lossSum / Double(seen)) : 0
                accuracy = seen > 0 ? Double(correct) / Double(seen) : 0
                lossSum = 0; correct = 0; seen = 0
                onEpoch?((steps + options.stepsPerEpoch - 1) / options.stepsPerEpoch, epsilon(after: steps))
            }
        }
        for p in model.parameters where p.data.contains(where: { !$0.isFinite }) {
            throw MLSecError(.verificationFailed, "training diverged (a weight is not finite); lower the learning rate")
        }
        // The reported ε: a fresh composition of `steps` steps, exactly as `mlsec privacy epsilon` computes it.
        var bound = RDPAccountant.Bound(value: 0, order: accountant.orders[0])
        if steps > 0 {
            try accountant.compose(mechanism, steps: steps)
            bound = try accountant.epsilonAndOrder(delta: delta)
        }
        let seconds = Double((ContinuousClock.now - start) / .microseconds(1)) / 1e6
        return DPSGDSummary(
            steps: steps, plannedSteps: planned, stoppedEarly: stoppedEarly, epsilon: bound.value, order: bound.order,
            delta: delta, noiseMultiplier: sigma, calibrated: options.noiseMultiplier == nil, sampleRate: q,
            clipNorm: options.clipNorm, examplesProcessed: processed, finalLoss: finalLoss, trainingAccuracy: accuracy,
            seconds: seconds, examplesPerSecond: seconds > 0 ? Double(processed) / seconds : 0)
    }

    /// Trains with sampling and noise from BoringSSL's CSPRNG (``SecureRandomGenerator``).
    public static func train(_ model: inout Model, on data: Dataset, options: DPSGDOptions,
                             onEpoch: ((Int, Double) -> Void)? = nil) throws -> DPSGDSummary {
        try train(&model, on: data, options: options, generator: SecureRandomGenerator(), onEpoch: onEpoch)
    }
}
