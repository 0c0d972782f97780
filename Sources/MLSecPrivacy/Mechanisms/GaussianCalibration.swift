// GaussianCalibration: the noise a Gaussian mechanism needs for (epsilon, delta): the classic bound and the
// analytic calibration of Balle and Wang (2018), and the exact privacy of the discrete Gaussian.

import Foundation
import MLSecCore

/// Calibration of Gaussian noise to (epsilon, delta)-DP under add-or-remove neighbours with L2 sensitivity Δ.
public enum GaussianCalibration {
    /// sqrt(2 ln(1.25/δ)) Δ / ε: Dwork and Roth's bound, proven only for ε < 1 (kept for comparison).
    public static func classicSigma(epsilon: Double, delta: Double, sensitivity: Double) -> Double {
        (2 * log(1.25 / delta)).squareRoot() * sensitivity / epsilon
    }

    /// log Φ(x), the standard normal CDF, accurate far into the lower tail (erfc's asymptotic series below -20).
    static func logPhi(_ x: Double) -> Double {
        if x > -20 { return log(0.5 * erfc(-x / 2.0.squareRoot())) }
        // Φ(x) = φ(x)/|x| (1 - 1/x² + 3/x⁴ - 15/x⁶ ...) for x → -∞.
        let x2 = x * x
        let series = 1 - 1 / x2 + 3 / (x2 * x2) - 15 / (x2 * x2 * x2)
        return -x2 / 2 - log(-x) - 0.5 * log(2 * Double.pi) + log(series)
    }

    /// δ of the Gaussian mechanism with noise σ at ε (Balle and Wang 2018, Theorem 8):
    /// Φ(Δ/(2σ) − εσ/Δ) − e^ε Φ(−Δ/(2σ) − εσ/Δ).
    public static func delta(epsilon: Double, sigma: Double, sensitivity: Double) -> Double {
        let a = sensitivity / (2 * sigma), b = epsilon * sigma / sensitivity
        let first = logPhi(a - b), second = epsilon + logPhi(-a - b)
        guard first > second else { return 0 }
        return exp(first) * -expm1(second - first)
    }

    /// The smallest σ (to a relative 1e-12) with δ(ε, σ) <= `delta`: the analytic Gaussian mechanism.
    public static func analyticSigma(epsilon: Double, delta target: Double, sensitivity: Double) throws -> Double {
        guard epsilon > 0, epsilon.isFinite, target > 0, target < 1, sensitivity > 0, sensitivity.isFinite else {
            throw MLSecError.usage("the Gaussian mechanism needs epsilon > 0, 0 < delta < 1 and a positive sensitivity")
        }
        var low = 1e-12 * sensitivity, high = sensitivity
        while delta(epsilon: epsilon, sigma: high, sensitivity: sensitivity) > target {
            high *= 2
            guard high < 1e300 else { throw MLSecError.usage("no finite noise reaches delta \(target)") }
        }
        while (high - low) > 1e-12 * high {
            let mid = (low + high) / 2
            if delta(epsilon: epsilon, sigma: mid, sensitivity: sensitivity) > target { low = mid } else { high = mid }
        }
        return high
    }

    /// The exact δ at ε of the discrete Gaussian with variance parameter σ² and integer sensitivity Δ (the
    /// hockey-stick divergence between N_Z(0, σ²) and N_Z(Δ, σ²), summed over the integers in log space), or nil
    /// when σ is too large to sum (over 10^5): callers then rely on the continuous bound with a margin.
    public static func discreteDelta(epsilon: Double, sigma: Double, sensitivity: Int) -> Double? {
        guard sigma <= 1e5, sensitivity >= 1 else { return nil }
        let reach = Int((40 * sigma).rounded(.up)) + sensitivity
        let twoVar = 2 * sigma * sigma
        var logZ = -Double.infinity
        for y in -reach...reach { logZ = addLog(logZ, -Double(y * y) / twoVar) }
        var total = 0.0
        for y in -reach...(reach + sensitivity) {
            let p = -Double(y * y) / twoVar - logZ
            let shifted = Double(y - sensitivity)
            let q = -(shifted * shifted) / twoVar - logZ
            if p > epsilon + q { total += exp(p) * -expm1(epsilon + q - p) }
        }
        return total
    }

    static func addLog(_ a: Double, _ b: Double) -> Double {
        if a == -.infinity { return b }
        if b == -.infinity { return a }
        return max(a, b) + log1p(exp(-abs(a - b)))
    }
}
