// GradientAttack: the fast gradient method (FGSM) and projected gradient descent (PGD), in L∞ and L2, untargeted,
// on the true labels, as IBM ART's FastGradientMethod and ProjectedGradientDescentNumpy compute them.

import MLSecCore
import MLSecEngine

/// FGSM and PGD: steps along the sign (L∞) or the normalised direction (L2) of the loss gradient with respect
/// to the input, each step clipped to the input range and projected back onto the `epsilon` ball around the
/// original. FGSM is one step of size `epsilon` from the original.
public struct GradientAttack: Sendable, Equatable {
    public var norm: Norm
    public var epsilon: Float
    public var stepSize: Float
    public var steps: Int
    /// Start from a point drawn uniformly in the `epsilon` ball (Madry et al.), clipped to the range.
    public var randomStart: Bool
    public var seed: UInt64

    public init(norm: Norm, epsilon: Float, stepSize: Float, steps: Int, randomStart: Bool = false, seed: UInt64 = 0) throws {
        guard epsilon.isFinite, epsilon >= 0 else { throw MLSecError.usage("epsilon must be a finite number >= 0") }
        guard stepSize.isFinite, stepSize > 0 else { throw MLSecError.usage("the step size must be a finite number > 0") }
        guard (1...100_000).contains(steps) else { throw MLSecError.usage("steps must be 1...100000") }
        self.norm = norm
        self.epsilon = epsilon
        self.stepSize = stepSize
        self.steps = steps
        self.randomStart = randomStart
        self.seed = seed
    }

    /// The fast gradient (sign) method: one step of `epsilon`.
    public static func fgsm(norm: Norm, epsilon: Float) throws -> GradientAttack {
        try GradientAttack(norm: norm, epsilon: epsilon, stepSize: max(epsilon, .leastNormalMagnitude), steps: 1)
    }

    /// PGD with Madry et al.'s step size (2.5 · epsilon / steps) unless one is given.
    public static func pgd(norm: Norm, epsilon: Float, steps: Int = 40, stepSize: Float? = nil, randomStart: Bool = false,
                           seed: UInt64 = 0) throws -> GradientAttack {
        try GradientAttack(norm: norm, epsilon: epsilon, stepSize: stepSize ?? max(2.5 * epsilon / Float(max(steps, 1)), 1e-12),
                           steps: steps, randomStart: randomStart, seed: seed)
    }

    /// Adversarial examples for `count` rows of `model`'s input (row-major) with their true `labels`.
    public func perturb(_ model: Model, rows: [Float], labels: [Int], range: InputRange) throws -> [Float] {
        let width = model.inputSize
        guard rows.count == labels.count * width else {
            throw MLSecError.malformed("expected \(labels.count) rows of \(width) values, got \(rows.count) values")
        }
        let attack = self
        return try ParallelRows.map(count: labels.count, block: ParallelRows.blockSize(count: labels.count), outputWidth: width) { block in
            try attack.perturbBlock(model, original: Array(rows[block.lowerBound * width..<block.upperBound * width]),
                                    labels: Array(labels[block]), firstRow: block.lowerBound, range: range)
        }
    }

    func perturbBlock(_ model: Model, original: [Float], labels: [Int], firstRow: Int, range: InputRange) throws -> [Float] {
        let width = model.inputSize
        var adversarial = original
        if randomStart, epsilon > 0 {
            for r in 0..<labels.count {
                var rng = SeededGenerator.forExample(firstRow + r, seed: seed)
                let offset = rng.pointInBall(dimension: width, radius: epsilon, norm: norm)
                for i in 0..<width { adversarial[r * width + i] = range.clip(original[r * width + i] + offset[i]) }
            }
        }
        for _ in 0..<steps {
            let x = try model.inputTensor(rows: adversarial, count: labels.count)
            var gradient = try model.lossInputGradient(x, labels: labels).gradient.data
            Perturbation.direction(&gradient, width: width, norm: norm)
            for i in adversarial.indices { adversarial[i] = range.clip(adversarial[i] + stepSize * gradient[i]) }
            Perturbation.project(&adversarial, onto: original, width: width, epsilon: epsilon, norm: norm, range: range)
        }
        return adversarial
    }
}
