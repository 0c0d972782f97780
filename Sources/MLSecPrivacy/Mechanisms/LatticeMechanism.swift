// LatticeMechanism: Laplace and Gaussian noise for real or integer values, done securely: the value is snapped to
// a power-of-two grid, exact integer noise from ExactSampler is added, and the rounding is charged to the sensitivity.

import Foundation
import MLSecCore

/// What noise a release uses and what it costs.
public enum NoiseKind: String, Sendable {
    case laplace = "discrete_laplace"
    case gaussian = "discrete_gaussian"
}

/// A secure additive-noise mechanism (Mironov 2012's attack on floating-point noise does not apply): outputs are
/// exact multiples of 2^`gridExponent`, the noise is an exact discrete Laplace (pure ε) or discrete Gaussian
/// (ε, δ) in grid units, and the sensitivity is raised by one grid step (the rounding of the input).
public struct LatticeMechanism: Sendable {
    public let kind: NoiseKind
    public let epsilon: Double
    public let delta: Double
    /// L1 (Laplace) or L2 (Gaussian) sensitivity of the query, before the grid charge.
    public let sensitivity: Double
    /// Outputs lie on 2^gridExponent · Z; 0 for integer queries (counts), which need no rounding charge.
    public let gridExponent: Int
    /// The exact noise scale used, in grid units: the Laplace scale, or the discrete Gaussian's σ².
    public let scale: PositiveRational

    /// Grid steps per unit of sensitivity, at most: a finer grid costs nothing but wider integers.
    static let stepsPerSensitivity = 1024.0

    /// A mechanism for `epsilon` (and `delta` > 0 for Gaussian noise). `integerValued` queries (counts) keep the
    /// unit grid; real ones get the largest power-of-two grid at most sensitivity/1024.
    public init(kind: NoiseKind, epsilon: Double, delta: Double = 0, sensitivity: Double, integerValued: Bool) throws {
        guard epsilon > 0, epsilon.isFinite, epsilon <= 100 else { throw MLSecError.usage("epsilon must be in (0, 100]") }
        guard sensitivity > 0, sensitivity.isFinite else { throw MLSecError.usage("the sensitivity must be positive") }
        self.kind = kind
        self.epsilon = epsilon
        self.delta = delta
        self.sensitivity = sensitivity
        gridExponent = integerValued ? 0 : Int(floor(log2(sensitivity / Self.stepsPerSensitivity)))
        let step = Foundation.scalbn(1.0, gridExponent)
        // Sensitivity in grid units, the rounding of the input charged (none for integer queries).
        let gridSensitivity = integerValued ? (sensitivity).rounded(.up) : (sensitivity / step).rounded(.up) + 1
        switch kind {
        case .laplace:
            guard delta == 0 else { throw MLSecError.usage("Laplace noise gives pure epsilon-DP: leave delta at 0") }
            scale = try PositiveRational(atLeast: gridSensitivity / epsilon)
        case .gaussian:
            guard delta > 0, delta < 1 else { throw MLSecError.usage("Gaussian noise needs 0 < delta < 1") }
            var sigma = try GaussianCalibration.analyticSigma(epsilon: epsilon, delta: delta, sensitivity: gridSensitivity)
            // The discrete Gaussian is not always as private as the continuous one at the same σ (at ε = 1,
            // δ = 1e-5, Δ = 1 its δ is 1.03e-5): check it exactly and raise σ until it holds.
            if let exact = GaussianCalibration.discreteDelta(epsilon: epsilon, sigma: sigma, sensitivity: Int(gridSensitivity)) {
                var d = exact
                while d > delta {
                    sigma *= 1.001
                    d = GaussianCalibration.discreteDelta(epsilon: epsilon, sigma: sigma, sensitivity: Int(gridSensitivity)) ?? 0
                }
            } else {
                sigma *= 1.01  // beyond exact summation: a margin over the continuous calibration
            }
            // Denominator bits so that the sampler's 128-bit rationals hold 2σ⁴d²: b <= (119 - 4 log2 σ) / 2.
            let bits = max(4, min(32, Int((119 - 4 * log2(max(sigma, 1))) / 2)))
            scale = try PositiveRational(atLeast: sigma * sigma, bits: bits)
        }
    }

    /// The noise standard deviation in the query's units (for reporting).
    public var noiseStandardDeviation: Double {
        let step = Foundation.scalbn(1.0, gridExponent)
        switch kind {
        case .laplace: return scale.doubleValue * 2.0.squareRoot() * step
        case .gaussian: return scale.doubleValue.squareRoot() * step
        }
    }

    /// `value` with noise: snapped to the grid, plus exact integer noise, times the grid step (exact).
    public func release(_ value: Double, using sampler: inout ExactSampler<some RandomNumberGenerator>) throws -> Double {
        guard value.isFinite else { throw MLSecError.malformed("cannot release a non-finite value") }
        let snapped = Foundation.scalbn(value, -gridExponent).rounded()
        guard abs(snapped) < 0x1p62 else { throw MLSecError.limitExceeded("the value \(value) is too large for the grid 2^\(gridExponent)") }
        let noise: Int64
        switch kind {
        case .laplace: noise = try sampler.discreteLaplace(scaleNumerator: scale.numerator, scaleDenominator: scale.denominator)
        case .gaussian: noise = try sampler.discreteGaussian(variance: scale)
        }
        let (sum, overflow) = Int64(snapped).addingReportingOverflow(noise)
        guard !overflow else { throw MLSecError.limitExceeded("the noisy value overflowed the grid") }
        return Foundation.scalbn(Double(sum), gridExponent)
    }
}
