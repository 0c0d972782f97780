// CarliniWagner: the Carlini-Wagner L2 attack (2017), untargeted: Adam on the tanh-reparametrised input,
// minimising ||x' - x||² + c · max(Z_y - max_{j≠y} Z_j + κ, 0), with a binary search over the constant c.

import Foundation
import MLSecCore
import MLSecEngine

/// Carlini and Wagner's L2 attack. It looks for the smallest L2 perturbation that changes the prediction;
/// an example counts as broken at budget ε when the perturbation found is at most ε.
public struct CarliniWagnerL2: Sendable, Equatable {
    /// Adam steps per value of the constant.
    public var steps: Int
    /// Values of the constant tried by the binary search.
    public var binarySearchSteps: Int
    public var initialConstant: Float
    public var learningRate: Float
    /// κ: how far past the decision boundary the logits must be.
    public var confidence: Float

    public init(steps: Int = 100, binarySearchSteps: Int = 5, initialConstant: Float = 0.1, learningRate: Float = 0.01,
                confidence: Float = 0) throws {
        guard (1...100_000).contains(steps), (1...64).contains(binarySearchSteps) else {
            throw MLSecError.usage("CW needs 1...100000 steps and 1...64 binary search steps")
        }
        guard initialConstant > 0, initialConstant.isFinite, learningRate > 0, learningRate.isFinite, confidence >= 0 else {
            throw MLSecError.usage("CW's constant and learning rate must be positive and its confidence >= 0")
        }
        self.steps = steps
        self.binarySearchSteps = binarySearchSteps
        self.initialConstant = initialConstant
        self.learningRate = learningRate
        self.confidence = confidence
    }

    /// The smallest-L2 adversarial example found for each row (the original row where none was found).
    public func perturb(_ model: Model, rows: [Float], labels: [Int], range: InputRange) throws -> [Float] {
        let width = model.inputSize
        guard rows.count == labels.count * width else {
            throw MLSecError.malformed("expected \(labels.count) rows of \(width) values, got \(rows.count) values")
        }
        let attack = self
        return try ParallelRows.map(count: labels.count, block: ParallelRows.blockSize(count: labels.count, preferred: 64),
                                    outputWidth: width) { block in
            try attack.perturbBlock(model, original: Array(rows[block.lowerBound * width..<block.upperBound * width]),
                                    labels: Array(labels[block]), range: range)
        }
    }

    func perturbBlock(_ model: Model, original: [Float], labels: [Int], range: InputRange) throws -> [Float] {
        let n = labels.count, width = model.inputSize, classes = model.classCount
        // x' = lower + (tanh(w) + 1) / 2 · width keeps every value inside the range; unbounded inputs use x' = w.
        let bounded = range.isBounded
        func toW(_ x: Float) -> Float {
            guard bounded else { return x }
            let unit = min(max((x - range.lower) / range.width * 2 - 1, -0.999999), 0.999999)
            return atanh(unit)
        }
        let w0 = original.map(toW)
        var best = original
        var bestDistance = [Float](repeating: .infinity, count: n)
        var constant = [Float](repeating: initialConstant, count: n)
        var lowerConstant = [Float](repeating: 0, count: n)
        var upperConstant = [Float](repeating: 1e10, count: n)
        for _ in 0..<binarySearchSteps {
            var w = w0
            var m = [Float](repeating: 0, count: w.count), v = m
            var succeeded = [Bool](repeating: false, count: n)
            let (beta1, beta2): (Float, Float) = (0.9, 0.999)
            for step in 1...steps {
                let x = w.map { bounded ? range.lower + (tanh($0) + 1) / 2 * range.width : $0 }
                let (logits, gradient) = try model.inputGradient(try model.inputTensor(rows: x, count: n)) { logits in
                    var d = [Float](repeating: 0, count: logits.count)
                    for r in 0..<n {
                        let row = r * classes, y = labels[r]
                        var other = -1, otherValue = -Float.infinity
                        for j in 0..<classes where j != y && logits.data[row + j] > otherValue {
                            other = j
                            otherValue = logits.data[row + j]
                        }
                        if other >= 0, logits.data[row + y] - otherValue + confidence > 0 {
                            d[row + y] = constant[r]
                            d[row + other] = -constant[r]
                        }
                    }
                    return try Tensor(shape: logits.shape, data: d)
                }
                // Record successes at the current point before stepping.
                for r in 0..<n {
                    let row = r * classes
                    var top = 0
                    for j in 1..<classes where logits.data[row + j] > logits.data[row + top] { top = j }
                    guard top != labels[r] else { continue }
                    let distance = Norm.l2.distance(x[r * width..<(r + 1) * width], original[r * width..<(r + 1) * width])
                    succeeded[r] = true
                    if distance < bestDistance[r] {
                        bestDistance[r] = distance
                        for i in 0..<width { best[r * width + i] = x[r * width + i] }
                    }
                }
                // Adam step on w: d/dx of ||x - x0||² plus the margin term, through dx/dw.
                let correction1 = 1 - pow(beta1, Float(step)), correction2 = 1 - pow(beta2, Float(step))
                for i in w.indices {
                    var g: Float = 2 * (x[i] - original[i]) + gradient.data[i]
                    if bounded {
                        let t = tanh(w[i])
                        g *= (1 - t * t) / 2 * range.width
                    }
                    let gSquared: Float = g * g
                    m[i] = beta1 * m[i] + (1 - beta1) * g
                    v[i] = beta2 * v[i] + (1 - beta2) * gSquared
                    let mHat: Float = m[i] / correction1
                    let vHat: Float = v[i] / correction2
                    w[i] -= learningRate * mHat / (vHat.squareRoot() + 1e-8)
                }
            }
            for r in 0..<n {
                if succeeded[r] {
                    upperConstant[r] = min(upperConstant[r], constant[r])
                    constant[r] = (lowerConstant[r] + upperConstant[r]) / 2
                } else {
                    lowerConstant[r] = max(lowerConstant[r], constant[r])
                    constant[r] = upperConstant[r] < 1e9 ? (lowerConstant[r] + upperConstant[r]) / 2 : constant[r] * 10
                }
            }
        }
        return best
    }
}
