// DriftStatistics.swift: the two-sample statistics the inference monitor compares a live window with its
// reference by: population stability index, Kolmogorov-Smirnov (statistic and asymptotic p-value) and the
// chi-square goodness of fit over predicted classes.

import Foundation

/// Drift statistics over shares, samples and step CDFs. Pure functions, no allocation beyond their results.
public enum DriftStatistics {
    /// Shares below this are floored before the logarithm of the population stability index.
    public static let shareFloor = 1e-4

    /// Population stability index: Σ (a − e) · ln(a / e) over bins, both shares floored at ``shareFloor``.
    /// 0 for identical distributions; under 0.1 is usually read as stable, over 0.25 as a shift.
    public static func populationStabilityIndex(expected: [Double], actual: [Double]) -> Double {
        var total = 0.0
        for (e, a) in zip(expected, actual) {
            let e = max(e, shareFloor), a = max(a, shareFloor)
            total += (a - e) * log(a / e)
        }
        return total
    }

    /// The two-sample Kolmogorov-Smirnov statistic D = sup |F_a − F_b| of two samples (ties handled: both
    /// empirical CDFs are evaluated after every value equal to the current one), as `scipy.stats.ks_2samp`.
    public static func kolmogorovSmirnov(_ a: [Double], _ b: [Double]) -> Double {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        let x = a.sorted(), y = b.sorted()
        var i = 0, j = 0, d = 0.0
        while i < x.count || j < y.count {
            let t = min(i < x.count ? x[i] : .infinity, j < y.count ? y[j] : .infinity)
            while i < x.count, x[i] <= t { i += 1 }
            while j < y.count, y[j] <= t { j += 1 }
            d = max(d, abs(Double(i) / Double(x.count) - Double(j) / Double(y.count)))
        }
        return d
    }

    /// D between a sorted sample and a reference step CDF given by ascending `values` and their cumulative
    /// `fractions` (F(v) = share of the reference at or below v; exact where the reference was kept whole,
    /// within one over the number of points where it was sketched by quantiles).
    public static func kolmogorovSmirnov(sorted sample: UnsafeBufferPointer<Double>, values: [Double], fractions: [Double]) -> Double {
        guard sample.count > 0 else { return 0 }
        let m = Double(sample.count)
        var i = 0, j = 0, d = 0.0
        while i < sample.count || j < values.count {
            let t = min(i < sample.count ? sample[i] : .infinity, j < values.count ? values[j] : .infinity)
            while i < sample.count, sample[i] <= t { i += 1 }
            while j < values.count, values[j] <= t { j += 1 }
            let reference = j == 0 ? 0 : fractions[j - 1]
            d = max(d, abs(Double(i) / m - reference))
        }
        return d
    }

    /// The asymptotic two-sided p-value of D for samples of sizes n and m: the Kolmogorov distribution's
    /// survival function at √(nm/(n+m)) · D (`scipy.stats.kstwobign.sf`, ks_2samp's `method="asymp"` before
    /// SciPy 1.5). Conservative for discrete data (ties make large D rarer than it says).
    public static func kolmogorovSmirnovPValue(statistic d: Double, n: Int, m: Int) -> Double {
        guard n > 0, m > 0 else { return 1 }
        let en = Double(n) * Double(m) / Double(n + m)
        return kolmogorovSurvival(en.squareRoot() * d)
    }

    /// Q(λ) = P(K > λ) of the Kolmogorov distribution: 2 Σ (−1)^(k−1) exp(−2k²λ²) for λ ≥ 1, and
    /// 1 − √(2π)/λ Σ exp(−(2k−1)²π²/(8λ²)) below, where that series converges fast.
    public static func kolmogorovSurvival(_ lambda: Double) -> Double {
        guard lambda > 0 else { return 1 }
        if lambda < 1 {
            var sum = 0.0
            for k in 1...8 {
                let odd = Double(2 * k - 1)
                sum += exp(-odd * odd * Double.pi * Double.pi / (8 * lambda * lambda))
            }
            return min(1, max(0, 1 - (2 * Double.pi).squareRoot() / lambda * sum))
        }
        var sum = 0.0
        for k in 1...100 {
            let term = exp(-2 * Double(k * k) * lambda * lambda)
            sum += k % 2 == 1 ? term : -term
            if term < 1e-18 { break }
        }
        return min(1, max(0, 2 * sum))
    }

    /// Pearson's chi-square statistic of observed counts against expected shares (each expected share floored
    /// at ``shareFloor``) and its p-value with `shares.count − 1` degrees of freedom.
    public static func chiSquare(observed: [Int], expectedShares: [Double]) -> (statistic: Double, pValue: Double) {
        let total = Double(observed.reduce(0, +))
        guard total > 0, observed.count >= 2 else { return (0, 1) }
        var x2 = 0.0
        for (o, share) in zip(observed, expectedShares) {
            let e = total * max(share, shareFloor)
            x2 += (Double(o) - e) * (Double(o) - e) / e
        }
        return (x2, chiSquareSurvival(x2, degreesOfFreedom: observed.count - 1))
    }

    /// P(χ²_k > x) = Q(k/2, x/2), the regularized upper incomplete gamma function.
    public static func chiSquareSurvival(_ x: Double, degreesOfFreedom k: Int) -> Double {
        guard x > 0, k > 0 else { return 1 }
        return upperIncompleteGamma(Double(k) / 2, x / 2)
    }

    /// Q(a, x) by its series (x < a + 1) or Lentz's continued fraction (Numerical Recipes' gammq).
    static func upperIncompleteGamma(_ a: Double, _ x: Double) -> Double {
        let logPrefactor = -x + a * log(x) - lgamma(a)
        if x < a + 1 {
            var term = 1 / a, sum = term, ap = a
            for _ in 0..<1000 {
                ap += 1
                term *= x / ap
                sum += term
                if abs(term) < abs(sum) * 1e-15 { break }
            }
            return min(1, max(0, 1 - sum * exp(logPrefactor)))
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1..<1000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return min(1, max(0, exp(logPrefactor) * h))
    }

    /// The value at quantile `q` of an ascending sample (the order statistic at ⌈q·n⌉, as numpy's "inverted_cdf").
    public static func quantile(sorted values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let rank = Int((q * Double(values.count)).rounded(.up))
        return values[min(max(rank - 1, 0), values.count - 1)]
    }

    /// The bin of `value` among ascending inner `edges`: the number of edges strictly below it (bin i holds
    /// (edges[i−1], edges[i]]).
    @inline(__always)
    public static func bin(of value: Double, edges: [Double]) -> Int {
        var lo = 0, hi = edges.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if edges[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
