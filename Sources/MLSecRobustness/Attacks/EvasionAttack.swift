// EvasionAttack: one entry point for every attack, scored the same way: accuracy before and after, perturbation
// sizes, queries; minimum-norm attacks (CW, HopSkipJump) count an example as broken only within the budget.

import Foundation
import MLSecCore
import MLSecEngine

/// An untargeted evasion attack with its budget.
public enum EvasionAttack: Sendable {
    /// FGSM or PGD (white-box, budget built in).
    case gradient(GradientAttack)
    /// Carlini-Wagner L2 (white-box): broken when the L2 perturbation found is at most `epsilon`.
    case carliniWagner(CarliniWagnerL2, epsilon: Float)
    /// HopSkipJump (label-only), `concurrency` examples at a time: broken within `epsilon` in its norm.
    case hopSkipJump(HopSkipJump, epsilon: Float, concurrency: Int)

    /// What an attack did to a data set.
    public struct Outcome: Sendable {
        public var cleanAccuracy: Double
        public var adversarialAccuracy: Double
        /// Means over every row of ‖x_adv − x‖ (rows the attack left unchanged count 0).
        public var meanPerturbationLinf: Double
        public var meanPerturbationL2: Double
        /// The rows after the attack (the original where it failed within the budget), row-major.
        public var adversarial: [Float]
        /// Predictions on the clean and the attacked rows.
        public var cleanPredictions: [Int]
        public var adversarialPredictions: [Int]
        /// Label queries (black-box attacks; 0 for white-box).
        public var queries: Int
        public var seconds: Double
    }

    /// Runs the attack on `rows` with true `labels`. White-box attacks need `model`; HopSkipJump asks `oracle`
    /// (the model itself when nil), and predictions on the rows come from the same oracle.
    public func run(model: Model, oracle: (any LabelOracle)? = nil, rows: [Float], labels: [Int]) async throws -> Outcome {
        let width = model.inputSize
        let n = labels.count
        guard n >= 1, rows.count == n * width else {
            throw MLSecError.malformed("expected at least one row of \(width) values and one label per row")
        }
        let range = try InputRange(spec: model.spec)
        let asked = oracle ?? ModelOracle(model: model)
        let clock = ContinuousClock()
        let start = clock.now
        var adversarial: [Float]
        var queries = 0
        var cleanPredictions: [Int]
        var adversarialPredictions: [Int]
        switch self {
        case .gradient(let attack):
            cleanPredictions = try ModelOracle(model: model).labelsNow(rows, count: n)
            adversarial = try attack.perturb(model, rows: rows, labels: labels, range: range)
            adversarialPredictions = try ModelOracle(model: model).labelsNow(adversarial, count: n)
        case .carliniWagner(let attack, let epsilon):
            cleanPredictions = try ModelOracle(model: model).labelsNow(rows, count: n)
            let found = try attack.perturb(model, rows: rows, labels: labels, range: range)
            adversarial = Self.withinBudget(found, original: rows, width: width, epsilon: epsilon, norm: .l2)
            adversarialPredictions = try ModelOracle(model: model).labelsNow(adversarial, count: n)
        case .hopSkipJump(let attack, let epsilon, let concurrency):
            // The clean predictions cost one query per row, counted inside each example's budget.
            let outcomes = try await attack.attack(asked, rows: rows, labels: labels, range: range, concurrency: concurrency)
            queries = outcomes.reduce(0) { $0 + $1.queries }
            adversarial = []
            adversarial.reserveCapacity(rows.count)
            cleanPredictions = []
            adversarialPredictions = []
            for (i, o) in outcomes.enumerated() {
                let original = rows[i * width..<(i + 1) * width]
                let misclassified = o.found && o.adversarial == Array(original)
                cleanPredictions.append(misclassified ? -1 : labels[i])
                let broken = o.found && attack.norm.distance(o.adversarial[...], original) <= epsilon * (1 + 1e-6)
                adversarial += broken ? o.adversarial : Array(original)
                adversarialPredictions.append(broken ? -1 : labels[i])
            }
        }
        let seconds = Double((clock.now - start) / .microseconds(1)) / 1e6
        var linf = 0.0, l2 = 0.0
        for r in 0..<n {
            let a = adversarial[r * width..<(r + 1) * width], o = rows[r * width..<(r + 1) * width]
            linf += Double(Norm.infinity.distance(a, o))
            l2 += Double(Norm.l2.distance(a, o))
        }
        let clean = Double(zip(cleanPredictions, labels).filter { $0 == $1 }.count) / Double(n)
        let attacked = Double(zip(adversarialPredictions, labels).filter { $0 == $1 }.count) / Double(n)
        return Outcome(cleanAccuracy: clean, adversarialAccuracy: attacked, meanPerturbationLinf: linf / Double(n),
                       meanPerturbationL2: l2 / Double(n), adversarial: adversarial, cleanPredictions: cleanPredictions,
                       adversarialPredictions: adversarialPredictions, queries: queries, seconds: seconds)
    }

    /// Each found row where it is within `epsilon` of the original, else the original.
    static func withinBudget(_ found: [Float], original: [Float], width: Int, epsilon: Float, norm: Norm) -> [Float] {
        var out = original
        for r in 0..<original.count / width {
            let range = r * width..<(r + 1) * width
            if norm.distance(found[range], original[range]) <= epsilon * (1 + 1e-6) {
                out.replaceSubrange(range, with: found[range])
            }
        }
        return out
    }
}
