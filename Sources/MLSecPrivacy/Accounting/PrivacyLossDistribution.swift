// PrivacyLossDistribution: discretised privacy loss distributions, their composition (FFT convolution with
// tail truncation) and their (ε, δ) curve.

import Foundation
import MLSecCore

/// A privacy loss distribution on the grid k·interval, k = lowerIndex…lowerIndex+count−1, plus a mass at +∞.
public struct DiscretePrivacyLoss: Sendable {
    public let interval: Double
    public let lowerIndex: Int
    public let probabilities: [Double]
    public let infinityMass: Double

    /// The largest FFT the accountant will run (2²⁴ points: 256 MiB of working arrays).
    public static let maximumTransformLength = 1 << 24

    /// The n-fold self-composition by one FFT raised to the n-th power (dp-accounting's `self_convolve`): the
    /// output window is cut by Chernoff bounds so that at most `tailMassTruncation` lies outside it, and that mass
    /// is counted at +∞ (pessimistic). The transform length is the next power of two (dp-accounting takes the
    /// next 5-smooth length: the two differ only in where the ≤ 1e-15 of wrapped-around tail mass lands).
    func selfComposed(_ n: Int, tailMassTruncation: Double = 1e-15) throws -> DiscretePrivacyLoss {
        precondition(n >= 1)
        let infinity = tailMassTruncation - expm1(Double(n) * log1p(-infinityMass))
        if probabilities.count == 1 {
            // A point mass at k composes to a point mass at n·k.
            let (index, overflow) = lowerIndex.multipliedReportingOverflow(by: n)
            guard !overflow else { throw MLSecError.limitExceeded("composing \(n) steps overflows the loss grid") }
            return DiscretePrivacyLoss(interval: interval, lowerIndex: index, probabilities: probabilities,
                                       infinityMass: -expm1(Double(n) * log1p(-infinityMass)))
        }
        if probabilities.count <= 1000, Self.power(probabilities.count, n, atMost: 1000) {
            // dp-accounting keeps small PMFs sparse and convolves them directly, truncating only at the end.
            guard n > 1 else { return self }
            var result = self
            for index in 2...n {
                result = result.composed(with: self, tailMassTruncation: index == n ? tailMassTruncation : 0)
            }
            return result
        }
        let (lowerBound, upperBound) = chernoffBounds(n, tailMassTruncation: tailMassTruncation)
        let (shiftedIndex, overflow) = lowerIndex.multipliedReportingOverflow(by: n)
        guard upperBound - lowerBound + 1 <= Double(Self.maximumTransformLength), !overflow,
              abs(Double(shiftedIndex) + lowerBound) < Double(Int.max / 2)
        else {
            throw MLSecError.limitExceeded(
                "composing \(n) steps needs an FFT of more than \(Self.maximumTransformLength) points; "
                    + "use the RDP accountant")
        }
        let (lower, upper) = (Int(lowerBound), Int(upperBound))
        let outputCount = upper - lower + 1
        let length = FFT.length(atLeast: max(outputCount, probabilities.count))
        guard length <= Self.maximumTransformLength else {
            throw MLSecError.limitExceeded(
                "composing \(n) steps needs an FFT of \(length) points (the limit is \(Self.maximumTransformLength)); "
                    + "use the RDP accountant")
        }
        let cyclic = Convolution.selfConvolve(probabilities, times: n, length: length)
        var output = [Double](repeating: 0, count: outputCount)
        let shift = ((lower % length) + length) % length
        for index in 0..<outputCount { output[index] = cyclic[(index + shift) % length] }
        return DiscretePrivacyLoss(interval: interval, lowerIndex: shiftedIndex + lower, probabilities: output,
                                   infinityMass: infinity)
    }

    private static func power(_ base: Int, _ exponent: Int, atMost limit: Int) -> Bool {
        if base <= 1 { return true }
        var value = 1
        for _ in 0..<exponent {
            value *= base
            if value > limit { return false }
        }
        return true
    }

    /// dp-accounting's `compute_self_convolve_bounds`: for orders t = ±1…±20 over the support length,
    /// the Chernoff bound (n·log E[e^{tK}] + log(2/τ))/t on the index K of the n-fold sum.
    private func chernoffBounds(_ n: Int, tailMassTruncation: Double) -> (lower: Double, upper: Double) {
        let count = probabilities.count
        var upper = Double(count - 1) * Double(n), lower = 0.0
        guard tailMassTruncation > 0 else { return (0, upper) }
        let orders = (-20..<0).map { Double($0) / Double(count) } + (1...20).map { Double($0) / Double(count) }
        let logProbabilities = probabilities.map { $0 > 0 ? log($0) : -Double.infinity }
        for order in orders {
            var peak = -Double.infinity
            for (index, logP) in logProbabilities.enumerated() { peak = max(peak, Double(index) * order + logP) }
            var sum = 0.0
            for (index, logP) in logProbabilities.enumerated() where logP > -.infinity {
                sum += exp(Double(index) * order + logP - peak)
            }
            let logMGF = peak + log(sum)
            let bound = (Double(n) * logMGF + log(2 / tailMassTruncation)) / order
            guard bound.isFinite else { continue }
            if order > 0 { upper = min(upper, bound.rounded(.up)) } else { lower = max(lower, bound.rounded(.down)) }
        }
        return (lower, upper)
    }

    /// The composition with `other` (FFT convolution), then `truncatingTails`.
    func composed(with other: DiscretePrivacyLoss, tailMassTruncation: Double = 1e-15) -> DiscretePrivacyLoss {
        let convolution = Convolution.convolve(probabilities, other.probabilities)
        let infinity = infinityMass + other.infinityMass - infinityMass * other.infinityMass
        return DiscretePrivacyLoss(interval: interval, lowerIndex: lowerIndex + other.lowerIndex,
                                   probabilities: convolution, infinityMass: infinity)
            .truncatingTails(tailMassTruncation)
    }

    /// dp-accounting's pessimistic `_truncate_tails`: the longest prefix and suffix each holding at most τ/2 are
    /// cut; the prefix's mass moves onto the first kept loss (rounded up), the suffix's to +∞.
    func truncatingTails(_ tailMassTruncation: Double) -> DiscretePrivacyLoss {
        guard tailMassTruncation > 0, !probabilities.isEmpty else { return self }
        let threshold = tailMassTruncation / 2
        func prefixLength<C: Collection>(_ values: C) -> Int where C.Element == Double {
            var sum = 0.0
            for (index, value) in values.enumerated() {
                sum += value
                if sum > threshold { return index }
            }
            return values.count
        }
        let leftIndex = min(prefixLength(probabilities), probabilities.count - 1)
        let rightIndex = max(probabilities.count - prefixLength(probabilities.reversed()), leftIndex + 1)
        let leftMass = probabilities[..<leftIndex].reduce(0, +)
        let rightMass = probabilities[rightIndex...].reduce(0, +)
        var kept = Array(probabilities[leftIndex..<rightIndex])
        kept[0] += leftMass
        return DiscretePrivacyLoss(interval: interval, lowerIndex: lowerIndex + leftIndex, probabilities: kept,
                                   infinityMass: infinityMass + rightMass)
    }

    /// The smallest ε ≥ 0 whose hockey-stick divergence is at most δ (dp-accounting's `_get_epsilon_for_delta`:
    /// a walk down from the largest loss), +∞ when the mass at +∞ exceeds δ.
    public func epsilon(delta: Double) -> Double {
        if infinityMass > delta { return .infinity }
        var massUpper = infinityMass, massLower = 0.0
        // dp-accounting steps the loss down by repeated subtraction (itertools.count); so does this.
        var loss = Double(lowerIndex + probabilities.count - 1) * interval
        for probability in probabilities.reversed() {
            if massUpper > delta, massLower > 0, log((massUpper - delta) / massLower) >= loss { break }
            massUpper += probability
            massLower += exp(-loss) * probability
            if massUpper >= delta, massLower == 0 { return max(0, loss) }
            loss -= interval
        }
        if massUpper <= massLower + delta { return 0 }
        return log((massUpper - delta) / massLower)
    }

    /// The ε-hockey-stick divergence: the mass at +∞ plus Σ_{loss > ε} (1 − e^{ε − loss})·p(loss).
    public func delta(epsilon: Double) -> Double {
        var delta = infinityMass
        for (index, probability) in probabilities.enumerated() {
            let loss = Double(lowerIndex + index) * interval
            if loss > epsilon { delta += -expm1(epsilon - loss) * probability }
        }
        return delta
    }
}

/// The privacy loss distributions of a mechanism for both directions of add-or-remove neighbouring (one when they
/// coincide, as for q = 1); its (ε, δ) is the worse of the two.
public struct PrivacyLossDistribution: Sendable {
    public let remove: DiscretePrivacyLoss
    /// `nil` when it equals `remove`.
    public let add: DiscretePrivacyLoss?

    /// The identity of composition (all mass at loss 0).
    static func identity(interval: Double) -> PrivacyLossDistribution {
        PrivacyLossDistribution(
            remove: DiscretePrivacyLoss(interval: interval, lowerIndex: 0, probabilities: [1], infinityMass: 0),
            add: nil)
    }

    /// One step of the Poisson-sampled Gaussian, discretised pessimistically by connect-the-dots at `interval`.
    static func sampledGaussian(_ mechanism: PoissonSampledGaussian, interval: Double, maximumPoints: Int) throws
        -> PrivacyLossDistribution
    {
        let remove = try GaussianPrivacyLoss(sigma: mechanism.noiseMultiplier, sampleRate: mechanism.sampleRate,
                                             adjacency: .remove).connectTheDots(interval: interval,
                                                                                maximumPoints: maximumPoints)
        guard mechanism.sampleRate < 1 else { return PrivacyLossDistribution(remove: remove, add: nil) }
        let add = try GaussianPrivacyLoss(sigma: mechanism.noiseMultiplier, sampleRate: mechanism.sampleRate,
                                          adjacency: .add).connectTheDots(interval: interval,
                                                                          maximumPoints: maximumPoints)
        return PrivacyLossDistribution(remove: remove, add: add)
    }

    func selfComposed(_ n: Int) throws -> PrivacyLossDistribution {
        PrivacyLossDistribution(remove: try remove.selfComposed(n), add: try add?.selfComposed(n))
    }

    func composed(with other: PrivacyLossDistribution) -> PrivacyLossDistribution {
        let newRemove = remove.composed(with: other.remove)
        if add == nil, other.add == nil { return PrivacyLossDistribution(remove: newRemove, add: nil) }
        return PrivacyLossDistribution(remove: newRemove, add: (add ?? remove).composed(with: other.add ?? other.remove))
    }

    public func epsilon(delta: Double) -> Double {
        max(remove.epsilon(delta: delta), add?.epsilon(delta: delta) ?? 0)
    }

    public func delta(epsilon: Double) -> Double {
        max(remove.delta(epsilon: epsilon), add?.delta(epsilon: epsilon) ?? 0)
    }
}
