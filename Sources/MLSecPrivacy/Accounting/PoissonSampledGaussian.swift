// PoissonSampledGaussian: one step of DP-SGD as the accountants see it, and the protocol they share.

import MLSecCore

/// One release of the sampled Gaussian mechanism: every record joins the batch independently with probability
/// `sampleRate` (Poisson sampling), the batch's sum of contributions clipped to L2 norm C gets Gaussian noise of
/// standard deviation `noiseMultiplier`·C.
///
/// Neighbouring datasets differ by adding or removing one record (dp-accounting's `ADD_OR_REMOVE_ONE`), so the
/// sensitivity is C and `noiseMultiplier` is the noise's standard deviation in units of the sensitivity.
public struct PoissonSampledGaussian: Hashable, Sendable, CustomStringConvertible {
    /// σ: the noise standard deviation divided by the L2 sensitivity (the clip norm).
    public let noiseMultiplier: Double
    /// q: the probability that a record is in a batch, in (0, 1]; 1 is the plain Gaussian mechanism.
    public let sampleRate: Double

    /// - Throws: `MLSecError.usage` unless σ > 0 is finite and 0 < q ≤ 1.
    public init(noiseMultiplier: Double, sampleRate: Double) throws {
        guard noiseMultiplier > 0, noiseMultiplier.isFinite else {
            throw MLSecError.usage("the noise multiplier must be a positive number, got \(noiseMultiplier)")
        }
        guard sampleRate > 0, sampleRate <= 1 else {
            throw MLSecError.usage("the sample rate must be in (0, 1], got \(sampleRate)")
        }
        self.noiseMultiplier = noiseMultiplier
        self.sampleRate = sampleRate
    }

    public var description: String { "Poisson-sampled Gaussian (sigma \(noiseMultiplier), q \(sampleRate))" }
}

/// An accountant that composes sampled-Gaussian steps and converts the result to (ε, δ).
public protocol PrivacyAccountant: Sendable {
    /// Adds `steps` releases of `mechanism` (steps ≥ 1) to the composition.
    mutating func compose(_ mechanism: PoissonSampledGaussian, steps: Int) throws
    /// The smallest ε the accountant can prove for `delta` (0 < δ < 1) over everything composed so far.
    func epsilon(delta: Double) throws -> Double
    /// The δ the accountant can prove at `epsilon` (ε ≥ 0) over everything composed so far.
    func delta(epsilon: Double) throws -> Double
}

enum AccountingArguments {
    static func checkSteps(_ steps: Int) throws {
        guard steps >= 1 else { throw MLSecError.usage("the number of steps must be at least 1, got \(steps)") }
    }

    static func checkDelta(_ delta: Double) throws {
        guard delta > 0, delta < 1 else { throw MLSecError.usage("delta must be in (0, 1), got \(delta)") }
    }

    static func checkEpsilon(_ epsilon: Double) throws {
        guard epsilon >= 0, epsilon.isFinite else {
            throw MLSecError.usage("epsilon must be a finite number >= 0, got \(epsilon)")
        }
    }
}
