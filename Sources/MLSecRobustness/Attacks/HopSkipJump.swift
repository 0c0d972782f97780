// HopSkipJump: Chen, Jordan and Wainwright's decision-based attack (2020), untargeted, in L2 and L∞: it needs
// only predicted labels, estimates the boundary's normal by Monte-Carlo sign queries, and stops at a query budget.

import Foundation
import MLSecCore
import MLSecEngine

/// HopSkipJump with IBM ART's defaults (50 iterations, 100 initial and at most 10,000 evaluations per gradient
/// estimate, γ = 1) and a per-example query budget.
public struct HopSkipJump: Sendable, Equatable {
    public var norm: Norm
    public var maxIterations: Int
    public var initialEvaluations: Int
    public var maxEvaluations: Int
    /// Random draws tried to find a first adversarial point.
    public var initialDraws: Int
    public var gamma: Double
    /// Most predictions asked for one example (every evaluated point counts).
    public var maxQueries: Int
    public var seed: UInt64

    public init(norm: Norm, maxIterations: Int = 50, initialEvaluations: Int = 100, maxEvaluations: Int = 10_000,
                initialDraws: Int = 100, gamma: Double = 1, maxQueries: Int = 10_000, seed: UInt64 = 0) throws {
        guard (1...10_000).contains(maxIterations), (1...1_000_000).contains(initialEvaluations),
              (initialEvaluations...1_000_000).contains(maxEvaluations), (1...100_000).contains(initialDraws),
              gamma > 0, gamma.isFinite, (1...100_000_000).contains(maxQueries)
        else { throw MLSecError.usage("HopSkipJump's iterations, evaluations, draws, gamma and query budget must be positive and bounded") }
        self.norm = norm
        self.maxIterations = maxIterations
        self.initialEvaluations = initialEvaluations
        self.maxEvaluations = maxEvaluations
        self.initialDraws = initialDraws
        self.gamma = gamma
        self.maxQueries = maxQueries
        self.seed = seed
    }

    /// What the attack found for one example.
    public struct Outcome: Sendable {
        /// The adversarial point (the original when none was found within the budget).
        public var adversarial: [Float]
        public var found: Bool
        public var queries: Int
    }

    /// Counts queries against the budget; `nil` answers mean the budget is spent.
    struct Session {
        let oracle: any LabelOracle
        let label: Int
        let budget: Int
        var queries = 0
        var remaining: Int { budget - queries }

        /// Whether each point is adversarial (predicted label differs), or nil when the budget cannot pay for all.
        mutating func adversarial(_ points: [Float], count: Int) async throws -> [Bool]? {
            guard count <= remaining else { return nil }
            queries += count
            return try await oracle.labels(points, count: count).map { $0 != label }
        }
    }

    /// Attacks one example of true `label` (an example the oracle already misclassifies is returned as is).
    public func attack(_ oracle: any LabelOracle, original: [Float], label: Int, range: InputRange, index: Int) async throws -> Outcome {
        let d = original.count
        var session = Session(oracle: oracle, label: label, budget: maxQueries)
        var rng = SeededGenerator.forExample(index, seed: seed)
        guard let clean = try await session.adversarial(original, count: 1) else {
            return Outcome(adversarial: original, found: false, queries: session.queries)
        }
        if clean[0] { return Outcome(adversarial: original, found: true, queries: session.queries) }
        let lo = range.isBounded ? range.lower : -1, hi = range.isBounded ? range.upper : 1
        // A first adversarial point: uniform draws over the range, then a binary search toward the original.
        var start: [Float]?
        for _ in 0..<initialDraws {
            let candidate = (0..<d).map { _ in rng.uniform(lo, hi) }
            guard let answer = try await session.adversarial(candidate, count: 1) else { break }
            if answer[0] { start = candidate; break }
        }
        guard let start else { return Outcome(adversarial: original, found: false, queries: session.queries) }
        let theta = norm == .l2 ? gamma / (Double(d).squareRoot() * Double(d)) : gamma / Double(d * d)
        guard var current = try await boundary(&session, original: original, adversarial: start, theta: theta, range: range)
        else { return Outcome(adversarial: start, found: true, queries: session.queries) }
        var distance = Double(norm.distance(current[...], original[...]))
        for t in 1...maxIterations {
            let delta: Double = t == 1 ? 0.1 * Double(hi - lo)
                : (norm == .l2 ? Double(d).squareRoot() * theta * distance : Double(d) * theta * distance)
            let evaluations = min(Int(Double(initialEvaluations) * Double(t).squareRoot()), maxEvaluations)
            guard let gradient = try await estimateGradient(&session, at: current, evaluations: evaluations, delta: Float(delta),
                                                            range: range, rng: &rng) else { break }
            let update = norm == .l2 ? gradient : gradient.map { $0 > 0 ? Float(1) : ($0 < 0 ? -1 : 0) }
            // Geometric step search: halve until the step lands on the adversarial side.
            var epsilon = 2 * distance / Double(t).squareRoot()
            var stepped: [Float]?
            for _ in 0..<40 {
                epsilon /= 2
                let candidate = zip(current, update).map { range.clip($0 + Float(epsilon) * $1) }
                guard let answer = try await session.adversarial(candidate, count: 1) else { break }
                if answer[0] { stepped = candidate; break }
            }
            guard let stepped else { break }
            guard let next = try await boundary(&session, original: original, adversarial: stepped, theta: theta, range: range) else {
                current = stepped
                break
            }
            current = next
            distance = Double(norm.distance(current[...], original[...]))
        }
        return Outcome(adversarial: current, found: true, queries: session.queries)
    }

    /// Binary search between `original` and an `adversarial` point for the boundary (on its adversarial side),
    /// as ART does: along the segment in L2, by shrinking the box around the original in L∞. Nil when the
    /// budget runs out first.
    func boundary(_ session: inout Session, original: [Float], adversarial: [Float], theta: Double,
                  range: InputRange) async throws -> [Float]? {
        var lower = 0.0, upper = 1.0
        var threshold = theta
        if norm == .infinity {
            upper = Double(norm.distance(adversarial[...], original[...]))
            threshold = min(upper * theta, theta)
        }
        func interpolate(_ alpha: Double) -> [Float] {
            switch norm {
            case .l2: return zip(original, adversarial).map { Float(1 - alpha) * $0 + Float(alpha) * $1 }
            case .infinity:
                return zip(original, adversarial).map { x, a in min(max(a, x - Float(alpha)), x + Float(alpha)) }
            }
        }
        while upper - lower > threshold {
            let middle = (upper + lower) / 2
            guard let answer = try await session.adversarial(interpolate(middle), count: 1) else { return nil }
            if answer[0] { upper = middle } else { lower = middle }
        }
        return interpolate(upper)
    }

    /// The Monte-Carlo estimate of the boundary's normal at `point` (unit length), nil when over budget.
    func estimateGradient(_ session: inout Session, at point: [Float], evaluations: Int, delta: Float, range: InputRange,
                          rng: inout SeededGenerator) async throws -> [Float]? {
        let d = point.count
        let count = min(evaluations, session.remaining)
        guard count >= 2 else { return nil }
        var directions = [Float](repeating: 0, count: count * d)
        if norm == .l2 { rng.fillGaussian(&directions, sigma: 1) } else {
            for i in directions.indices { directions[i] = rng.uniform(-1, 1) }
        }
        var samples = directions
        for r in 0..<count {
            let row = r * d
            var length: Float = 0
            for i in 0..<d { length += directions[row + i] * directions[row + i] }
            let scale = length > 0 ? 1 / length.squareRoot() : 0
            for i in 0..<d {
                samples[row + i] = range.clip(point[i] + delta * directions[row + i] * scale)
                directions[row + i] = (samples[row + i] - point[i]) / delta
            }
        }
        guard let answers = try await session.adversarial(samples, count: count) else { return nil }
        let values = answers.map { $0 ? 1.0 : -1.0 }
        let mean = values.reduce(0, +) / Double(count)
        var gradient = [Double](repeating: 0, count: d)
        for r in 0..<count {
            // With mixed answers the mean is subtracted (a baseline that lowers the variance).
            let weight = abs(mean) == 1 ? mean : values[r] - mean
            for i in 0..<d { gradient[i] += weight * Double(directions[r * d + i]) }
        }
        let length = gradient.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard length > 0 else { return [Float](repeating: 0, count: d) }
        return gradient.map { Float($0 / length) }
    }
}

extension HopSkipJump {
    /// Attacks every row (`labels.count` rows of `oracle.inputSize` values), `concurrency` examples at a time,
    /// and returns the outcomes in row order.
    public func attack(_ oracle: any LabelOracle, rows: [Float], labels: [Int], range: InputRange,
                       concurrency: Int) async throws -> [Outcome] {
        let d = oracle.inputSize
        guard rows.count == labels.count * d else {
            throw MLSecError.malformed("expected \(labels.count) rows of \(d) values, got \(rows.count) values")
        }
        var outcomes = [Outcome?](repeating: nil, count: labels.count)
        try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            var next = 0
            func launch() {
                let i = next
                next += 1
                let row = Array(rows[i * d..<(i + 1) * d])
                group.addTask { (i, try await self.attack(oracle, original: row, label: labels[i], range: range, index: i)) }
            }
            while next < labels.count && next < max(1, concurrency) { launch() }
            while let (i, outcome) = try await group.next() {
                outcomes[i] = outcome
                if next < labels.count { launch() }
            }
        }
        return outcomes.enumerated().map { i, o in
            o ?? Outcome(adversarial: Array(rows[i * d..<(i + 1) * d]), found: false, queries: 0)
        }
    }
}
