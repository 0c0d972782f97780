// SpecialFunctions: the normal distribution's CDF, its logarithm far into the tail and its inverse, log-gamma, and
// the regularized incomplete beta function with its inverse (for Clopper-Pearson bounds).

import Foundation

/// Special functions shared by the privacy accountants and the robustness certificates, written so that none of
/// them underflows where they are used.
///
/// `logNdtr` follows SciPy's `special.log_ndtr` (log1p(−erfc/2) above −1, log(erfc/2) down to −20, the asymptotic
/// series of erfc below), so a log-erfc built on it does not underflow as a naive `log(erfc(x))` does (−∞ from
/// x ≈ 26.5 on).
package enum SpecialFunctions {
    /// log 2π.
    package static let log2Pi = log(2 * Double.pi)

    /// Φ(x), the standard normal CDF, computed as SciPy's `ndtr` does (erf near 0, erfc in the tails).
    package static func ndtr(_ x: Double) -> Double {
        guard !x.isNaN else { return .nan }
        let t = x * 0.5.squareRoot(), z = abs(t)
        if z < 0.5.squareRoot() { return 0.5 + 0.5 * erf(t) }
        let y = 0.5 * erfc(z)
        return t > 0 ? 1 - y : y
    }

    /// log Φ(x), accurate and finite for every finite x (about −x²/2 for x → −∞).
    package static func logNdtr(_ x: Double) -> Double {
        guard !x.isNaN else { return .nan }
        if x == -.infinity { return -.infinity }
        if x >= -1 { return log1p(-erfc(x * 0.5.squareRoot()) / 2) }
        if x > -20 { return log(erfc(-x * 0.5.squareRoot()) / 2) }
        // Φ(x) = φ(x)/|x| · (1 − 1/x² + 3/x⁴ − 15/x⁶ + …) for x → −∞; at |x| ≥ 20 fourteen terms are exact to
        // far below one ulp (the asymptotic series' smallest term is at k ≈ x²/2 ≥ 200).
        let inverseSquare = 1 / (x * x)
        var term = 1.0, series = 1.0
        for k in 1...14 {
            term *= -Double(2 * k - 1) * inverseSquare
            series += term
        }
        return -0.5 * x * x - log(-x) - 0.5 * log2Pi + log(series)
    }

    /// Φ⁻¹(p) for 0 < p < 1: Acklam's rational start, then Newton steps on log Φ (accurate in the far lower
    /// tail, where the accountants use it: p = e⁻⁵⁰/2).
    package static func inverseNdtr(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "inverseNdtr needs 0 < p < 1")
        if p > 0.5 { return -inverseNdtr(1 - p) }
        let logP = log(p)
        var x = acklam(p)
        for _ in 0..<50 {
            let logCdf = logNdtr(x)
            // d/dx log Φ(x) = φ(x)/Φ(x).
            let slope = exp(-0.5 * x * x - 0.5 * log2Pi - logCdf)
            let step = (logCdf - logP) / slope
            x -= step
            if abs(step) <= 1e-16 * max(1, abs(x)) { break }
        }
        return x
    }

    /// Acklam's approximation of Φ⁻¹ (relative error about 1e-9): the start of the Newton iteration.
    private static func acklam(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
                 -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
                 -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
                 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        if p < 0.02425 {
            let q = (-2 * log(p)).squareRoot()
            let numerator = ((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]
            return numerator / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let q = p - 0.5, r = q * q
        let numerator = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
        return numerator / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }

    /// log|Γ(x)|, through the reentrant `lgamma_r` (plain `lgamma` writes the global `signgam`).
    package static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    /// I_x(a, b), the regularized incomplete beta function, for a, b > 0 and 0 ≤ x ≤ 1: the continued fraction
    /// (modified Lentz), on whichever side of the mean converges fast.
    package static func regularizedIncompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        guard a > 0, b > 0, x >= 0, x <= 1 else { return .nan }
        if x == 0 || x == 1 { return x }
        let logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * log(x) + b * log1p(-x)
        if x < (a + 1) / (a + b + 2) { return exp(logFront) * betaContinuedFraction(x, a, b) / a }
        return 1 - exp(logFront) * betaContinuedFraction(1 - x, b, a) / b
    }

    private static func betaContinuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let m = Double(m), m2 = 2 * m
            var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if abs(step - 1) < 1e-15 { break }
        }
        return h
    }

    /// The x with I_x(a, b) = p (the beta distribution's quantile), by bisection to double precision: I_x is
    /// monotone in x, so this cannot fail to converge.
    package static func inverseRegularizedIncompleteBeta(_ p: Double, _ a: Double, _ b: Double) -> Double {
        guard p > 0 else { return 0 }
        guard p < 1 else { return 1 }
        var lo = 0.0, hi = 1.0
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mid <= lo || mid >= hi { break }
            if regularizedIncompleteBeta(mid, a, b) < p { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// The one-sided Clopper-Pearson lower confidence bound, at level 1 − `alpha`, on a binomial proportion from
    /// `successes` of `trials` (the lower end of statsmodels' `proportion_confint(..., alpha=2·alpha, method="beta")`).
    package static func clopperPearsonLower(successes: Int, trials: Int, alpha: Double) -> Double {
        guard trials > 0, successes > 0 else { return 0 }
        return inverseRegularizedIncompleteBeta(alpha, Double(successes), Double(trials - successes + 1))
    }
}
