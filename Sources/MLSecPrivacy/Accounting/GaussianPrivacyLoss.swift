// GaussianPrivacyLoss: the privacy loss of the Poisson-sampled Gaussian under add-or-remove neighbours, and its
// pessimistic connect-the-dots discretisation (Doroshenko, Ghazi, Kamath, Kumar and Manurangsi 2022).

import Foundation
import MLSecCore

/// The privacy loss of one step of the Poisson-sampled Gaussian (sensitivity 1, noise N(0, σ²)) for one of the
/// two directions of add-or-remove neighbouring, following dp-accounting 0.6.0's `GaussianPrivacyLoss`:
/// - remove: μ_upper = (1 − q)·N(0, σ²) + q·N(−1, σ²), μ_lower = N(0, σ²);
/// - add: μ_upper = N(0, σ²), μ_lower = (1 − q)·N(0, σ²) + q·N(1, σ²).
/// The privacy loss ln(μ_upper(x)/μ_lower(x)) is decreasing in x.
struct GaussianPrivacyLoss {
    enum Adjacency { case remove, add }

    let sigma: Double
    let q: Double
    let adjacency: Adjacency
    let variance: Double
    /// ln of the noise mass that may be cut from each tail (dp-accounting's default, −50).
    static let logMassTruncationBound = -50.0

    init(sigma: Double, sampleRate q: Double, adjacency: Adjacency) {
        self.sigma = sigma
        self.q = q
        self.adjacency = adjacency
        variance = pow(sigma, 2)
    }

    /// The x range outside which the noise mass is below e⁻⁵⁰ (shifted by the sensitivity on one side).
    var truncation: (lower: Double, upper: Double) {
        var lower = sigma * SpecialFunctions.inverseNdtr(0.5 * exp(Self.logMassTruncationBound))
        var upper = -lower
        switch adjacency {
        case .add: upper += 1
        case .remove: lower -= 1
        }
        return (lower, upper)
    }

    func privacyLoss(_ x: Double) -> Double {
        switch adjacency {
        case .add: return -removeLoss(-x)
        case .remove: return removeLoss(x)
        }
    }

    private func removeLoss(_ x: Double) -> Double {
        let withoutSampling = (-0.5 - x) / variance
        if q == 1 { return withoutSampling }
        return PrivacyMath.logATimesExpBPlusC(q, withoutSampling, 1 - q)
    }

    /// The largest x whose privacy loss is at least `loss`.
    func inversePrivacyLoss(_ loss: Double) -> Double {
        switch adjacency {
        case .add:
            if q == 1 { return 1 + (-0.5 - loss * variance) }
            if Self.isClose(loss, -log(1 - q)) { return -.infinity }
            let withoutSampling = -PrivacyMath.logATimesExpBPlusC(1 / q, -loss, 1 - 1 / q)
            return 1 + (-0.5 - withoutSampling * variance)
        case .remove:
            if q == 1 { return -0.5 - loss * variance }
            if Self.isClose(loss, log(1 - q)) { return .infinity }
            let withoutSampling = PrivacyMath.logATimesExpBPlusC(1 / q, loss, 1 - 1 / q)
            return -0.5 - withoutSampling * variance
        }
    }

    private func muUpperCDF(_ x: Double) -> Double {
        switch adjacency {
        case .add: return SpecialFunctions.ndtr(x / sigma)
        case .remove:
            if q == 1 { return SpecialFunctions.ndtr((x + 1) / sigma) }
            return (1 - q) * SpecialFunctions.ndtr(x / sigma) + q * SpecialFunctions.ndtr((x + 1) / sigma)
        }
    }

    private func muLowerLogCDF(_ x: Double) -> Double {
        switch adjacency {
        case .remove: return SpecialFunctions.logNdtr(x / sigma)
        case .add:
            if q == 1 { return SpecialFunctions.logNdtr((x - 1) / sigma) }
            return Self.logAddExp(log1p(-q) + SpecialFunctions.logNdtr(x / sigma), log(q) + SpecialFunctions.logNdtr((x - 1) / sigma))
        }
    }

    /// The ε-hockey-stick divergence of one step: μ_upper(X ≤ x) − e^ε μ_lower(X ≤ x) at x = inverse loss(ε),
    /// clipped to [0, 1].
    func delta(epsilon: Double) -> Double {
        if q < 1 {
            switch adjacency {
            case .add: if !(epsilon < -log1p(-q)) { return 0 }
            case .remove: if !(epsilon > log1p(-q)) { return min(max(-expm1(epsilon), 0), 1) }
            }
        }
        let x = inversePrivacyLoss(epsilon)
        let delta = muUpperCDF(x) - exp(epsilon + muLowerLogCDF(x))
        return min(max(delta, 0), 1)
    }

    /// Python's `math.isclose` with its default relative tolerance 1e-9.
    static func isClose(_ a: Double, _ b: Double) -> Bool {
        a == b || abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    }

    /// NumPy's `logaddexp`.
    static func logAddExp(_ a: Double, _ b: Double) -> Double {
        if a == b { return a + log(2.0) }
        let difference = a - b
        return difference > 0 ? a + log1p(exp(-difference)) : b + log1p(exp(difference))
    }

    /// The pessimistic connect-the-dots PLD on the grid k·interval between the losses at the truncation points
    /// (rounded outwards): the probabilities are those of the convex-hull "dots" (ε_k, δ(ε_k)) of the hockey-stick
    /// curve, so that every δ(ε) computed from the result is an upper bound (dp-accounting's
    /// `create_pmf_pessimistic_connect_dots_fixed_gap`). Mass e⁻⁵⁰-scale beyond the truncation goes to +∞.
    func connectTheDots(interval: Double, maximumPoints: Int) throws -> DiscretePrivacyLoss {
        let (lowerX, upperX) = truncation
        let epsilonUpper = privacyLoss(lowerX), epsilonLower = privacyLoss(upperX)
        let roundedUpper = (epsilonUpper / interval).rounded(.up)
        let roundedLower = (epsilonLower / interval).rounded(.down)
        guard roundedUpper - roundedLower + 1 <= Double(maximumPoints) else {
            throw MLSecError.limitExceeded(
                "the privacy loss distribution of sigma \(sigma), q \(q) needs more than \(maximumPoints) points at "
                    + "interval \(interval); use the RDP accountant or a larger noise multiplier")
        }
        let lowerIndex = Int(roundedLower), count = Int(roundedUpper) - lowerIndex + 1
        var deltas = (0..<count).map { delta(epsilon: Double(lowerIndex + $0) * interval) }
        if count == 1 {
            return DiscretePrivacyLoss(interval: interval, lowerIndex: lowerIndex, probabilities: [1 - deltas[0]],
                                       infinityMass: deltas[0])
        }
        for index in 1..<count { deltas[index] = min(deltas[index], deltas[index - 1]) }
        let growth = exp(interval), growthMinusOne = expm1(interval)
        var probabilities = [Double](repeating: 0, count: count)
        probabilities[0] = 1 - deltas[0] + (deltas[1] - deltas[0]) / growthMinusOne
        for index in 1..<(count - 1) {
            let next = deltas[index + 1] - deltas[index], previous = deltas[index] - deltas[index - 1]
            probabilities[index] = (next - previous * growth) / growthMinusOne
        }
        probabilities[count - 1] = (deltas[count - 1] - deltas[count - 2]) / expm1(-interval)
        for index in probabilities.indices { probabilities[index] = max(0, probabilities[index]) }
        return DiscretePrivacyLoss(interval: interval, lowerIndex: lowerIndex, probabilities: probabilities,
                                   infinityMass: deltas[count - 1])
    }
}
