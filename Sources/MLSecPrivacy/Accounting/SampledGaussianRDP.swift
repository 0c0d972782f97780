// SampledGaussianRDP: the Rényi divergence of one step of the Poisson-sampled Gaussian mechanism, at integer
// orders (binomial sum), at fractional orders as dp-accounting 0.6.0 computes them, and exactly (quadrature).

import Foundation
import MLSecCore

/// The per-step RDP ε(α) = log(A_α)/(α − 1) of the Poisson-sampled Gaussian, where
/// A_α = E_{z∼N(0,σ²)}[(1 − q + q·e^{(2z−1)/(2σ²)})^α] (Mironov, Talwar and Zhang 2019).
package enum SampledGaussianRDP {
    /// dp-accounting's cap on the terms of its fractional-order series (`_MAX_STEPS_LOG_A_FRAC`).
    static let maximumSeriesTerms = 1000

    /// The RDP of one step at `order` (> 1). q = 1 is the Gaussian mechanism, α/(2σ²), in both modes.
    package static func rdp(order: Double, noiseMultiplier sigma: Double, sampleRate q: Double,
                            fractionalOrders: RDPAccountant.FractionalOrders) -> Double {
        if q == 0 { return 0 }
        if order.isInfinite { return .infinity }
        if q == 1 { return order / (2 * pow(sigma, 2)) }
        if order == order.rounded(), order < Double(Int32.max) {
            switch fractionalOrders {
            case .dpAccounting: return logAInteger(q: q, sigma: sigma, order: Int(order)) / (order - 1)
            case .exact: return logAIntegerExact(q: q, sigma: sigma, order: Int(order)) / (order - 1)
            }
        }
        switch fractionalOrders {
        case .dpAccounting: return logAFractionalSeries(q: q, sigma: sigma, order: order) / (order - 1)
        case .exact: return logAFractionalQuadrature(q: q, sigma: sigma, order: order) / (order - 1)
        }
    }

    // MARK: Integer orders

    /// log C(n, k) from log-gamma, as dp-accounting's `_log_comb` (works for real n).
    static func logBinomial(_ n: Double, _ k: Double) -> Double {
        SpecialFunctions.logGamma(n + 1) - SpecialFunctions.logGamma(k + 1) - SpecialFunctions.logGamma(n - k + 1)
    }

    /// log A_α for integer α, dp-accounting's `_compute_log_a_int` operation for operation:
    /// log Σᵢ C(α,i) qⁱ (1−q)^{α−i} e^{(i²−i)/(2σ²)}.
    static func logAInteger(q: Double, sigma: Double, order alpha: Int) -> Double {
        var logA = -Double.infinity
        let log1mq = log1p(-q), logQ = log(q), twoVariance = 2 * pow(sigma, 2)
        for i in 0...alpha {
            let logCoefficient = logBinomial(Double(alpha), Double(i)) + Double(i) * logQ + Double(alpha - i) * log1mq
            let s = logCoefficient + Double(i * i - i) / twoVariance
            logA = PrivacyMath.logAdd(logA, s)
        }
        return logA
    }

    /// log A_α for integer α without cancellation: since Σᵢ C(α,i) qⁱ(1−q)^{α−i} = 1,
    /// A_α − 1 = Σ_{i≥2} C(α,i) qⁱ (1−q)^{α−i} (e^{(i²−i)/(2σ²)} − 1), a sum of positive terms, and
    /// log A_α = log1p(A_α − 1). Same value as `logAInteger` to its rounding (which loses about
    /// 1e-16/log A_α relative when A_α is close to 1), never a different mathematical quantity.
    package static func logAIntegerExact(q: Double, sigma: Double, order alpha: Int) -> Double {
        guard alpha >= 2 else { return 0 }
        var logExcess = -Double.infinity
        let log1mq = log1p(-q), logQ = log(q), twoVariance = 2 * sigma * sigma
        for i in 2...alpha {
            let exponent = Double(i * i - i) / twoVariance
            let logExpm1 = exponent > 30 ? exponent + log1p(-exp(-exponent)) : log(expm1(exponent))
            let term = logBinomial(Double(alpha), Double(i)) + Double(i) * logQ + Double(alpha - i) * log1mq + logExpm1
            logExcess = PrivacyMath.logAdd(logExcess, term)
        }
        return log1pExp(logExcess)
    }

    /// log(1 + eˣ) without overflow.
    static func log1pExp(_ x: Double) -> Double {
        x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))
    }

    // MARK: Fractional orders, dp-accounting 0.6.0

    /// dp-accounting 0.6.0's `_compute_log_a_frac` as implemented: the two series of Mironov, Talwar and Zhang
    /// (2019, §3.3) split at z0 = σ² log(1/q − 1) + ½, but with |C(α, i)| (log-gamma drops the sign of the
    /// generalised binomial coefficient, which alternates for i > α + 1), stopped when both new terms decrease
    /// and are 30 nats below the running total, and +∞ (the order is dropped) after 1000 terms.
    /// The absolute values make the result an upper bound on the true A_α: a valid guarantee, but looser.
    static func logAFractionalSeries(q: Double, sigma: Double, order alpha: Double) -> Double {
        var logA0 = -Double.infinity, logA1 = -Double.infinity
        let variance = pow(sigma, 2)
        let z0 = variance * log(1 / q - 1) + 0.5
        let log1mq = log1p(-q), logQ = log(q), logHalf = log(0.5), sqrt2Sigma = 2.0.squareRoot() * sigma
        var lastS0 = -Double.infinity, lastS1 = -Double.infinity
        for i in 0..<maximumSeriesTerms {
            let k = Double(i)
            let logCoefficient = logBinomial(alpha, k)
            let j = alpha - k
            let logT0 = logCoefficient + k * logQ + j * log1mq
            let logT1 = logCoefficient + j * logQ + k * log1mq
            let logE0 = logHalf + PrivacyMath.logErfc((k - z0) / sqrt2Sigma)
            let logE1 = logHalf + PrivacyMath.logErfc((z0 - j) / sqrt2Sigma)
            let logS0 = logT0 + Double(i * i - i) / (2 * variance) + logE0
            let logS1 = logT1 + (j * j - j) / (2 * variance) + logE1
            logA0 = PrivacyMath.logAdd(logA0, logS0)
            logA1 = PrivacyMath.logAdd(logA1, logS1)
            let total = PrivacyMath.logAdd(logA0, logA1)
            if logS0 < lastS0, logS1 < lastS1, max(logS0, logS1) < total - 30 { return total }
            lastS0 = logS0
            lastS1 = logS1
        }
        return .infinity
    }

    // MARK: Fractional orders, exact

    /// log A_α for any real α > 1 by quadrature, to about 1e-14 relative.
    ///
    /// With u = z/σ, w = u/σ − 1/(2σ²) and x = q(eʷ − 1) (so that E[x] = 0 under u ∼ N(0, 1)),
    /// A_α − 1 = E[g(x)] with g(x) = (1 + x)^α − 1 − αx ≥ 0: a positive integrand, so small A_α − 1 keeps its
    /// relative precision. The integrand is analytic in a strip |Im u| < πσ (the branch point of (1 + x)^α), where
    /// the trapezoidal rule on the real line converges exponentially; the step is halved until two successive
    /// sums agree to 1e-14, and the range is extended until the log-integrand is 60 nats below its maximum and
    /// falling, past both the Gaussian's peak and the shifted peak near u = α/σ.
    package static func logAFractionalQuadrature(q: Double, sigma: Double, order alpha: Double) -> Double {
        let integrand = LogIntegrand(q: q, sigma: sigma, alpha: alpha)
        var step = min(0.5, 0.25 * sigma)
        // The coarse grid: nodes u = k·step for k in lower...upper.
        var values = integrand.scan(step: step)
        var logSum = logSumExp(values.logs)
        for _ in 0..<12 {
            var midpoints: [Double] = []
            midpoints.reserveCapacity(values.logs.count)
            for k in values.lower..<values.upper {
                midpoints.append(integrand((Double(k) + 0.5) * step))
            }
            let refined = PrivacyMath.logAdd(logSum, logSumExp(midpoints))
            // Trapezoid sums: T(h) = h·Σ, T(h/2) = (h/2)·(Σ + Σ_mid); compare log T(h) and log T(h/2).
            let coarse = logSum + log(step), fine = refined + log(step / 2)
            let converged = abs(fine - coarse) <= 1e-14 * max(1, abs(fine))
            // The finer grid, as integer nodes of step/2.
            var merged: [Double] = []
            merged.reserveCapacity(values.logs.count + midpoints.count)
            for (index, value) in values.logs.enumerated() {
                merged.append(value)
                if index < midpoints.count { merged.append(midpoints[index]) }
            }
            values = (lower: 2 * values.lower, upper: 2 * values.upper, logs: merged)
            step /= 2
            logSum = refined
            if converged { break }
        }
        let logExcess = logSum + log(step)
        return log1pExp(logExcess)
    }

    static func logSumExp(_ values: [Double]) -> Double {
        guard let peak = values.max(), peak > -.infinity else { return -.infinity }
        var sum = 0.0
        for value in values { sum += exp(value - peak) }
        return peak + log(sum)
    }

    /// log of φ(u)·g(x(u)), the integrand of A_α − 1 in u = z/σ.
    struct LogIntegrand {
        let q: Double, sigma: Double, alpha: Double
        let log1mq: Double, logQ: Double, halfInverseVariance: Double, logNormalizer: Double

        init(q: Double, sigma: Double, alpha: Double) {
            self.q = q
            self.sigma = sigma
            self.alpha = alpha
            log1mq = log1p(-q)
            logQ = log(q)
            halfInverseVariance = 1 / (2 * sigma * sigma)
            logNormalizer = -0.5 * SpecialFunctions.log2Pi
        }

        func callAsFunction(_ u: Double) -> Double {
            let w = u / sigma - halfInverseVariance
            // log(1 + x) = log(1 − q + q·eʷ).
            let log1pX = PrivacyMath.logAdd(log1mq, logQ + w)
            return -0.5 * u * u + logNormalizer + logG(w: w, log1pX: log1pX)
        }

        /// log g(x) = log((1 + x)^α − 1 − αx).
        func logG(w: Double, log1pX: Double) -> Double {
            if log1pX > log(0.5), log1pX < log(1.5) {
                // |x| < 1/2: the binomial series from the x² term, Σ_{k≥2} C(α,k) xᵏ (all terms small).
                let x = q * expm1(w)
                var term = alpha * (alpha - 1) / 2 * x * x
                var sum = term
                var k = 2.0
                while k < 400 {
                    term *= (alpha - k) / (k + 1) * x
                    sum += term
                    if abs(term) <= 1e-17 * abs(sum) { break }
                    k += 1
                }
                return sum > 0 ? log(sum) : -.infinity
            }
            let logPower = alpha * log1pX
            let x = log1pX > 30 ? Double.infinity : expm1(log1pX)
            if logPower < 600, x.isFinite {
                let g = expm1(logPower) - alpha * x
                return g > 0 ? log(g) : -.infinity
            }
            // (1 + x)^α dominates: log g = αlog(1+x) + log1p(−(1 + αx)(1+x)^{−α}).
            let logX = log1pX > 30 ? log1pX + log1p(-exp(-log1pX)) : log(expm1(log1pX))
            let correction = exp(-logPower) + alpha * exp(logX - logPower)
            return logPower + log1p(-min(correction, 0.5))
        }

        /// The log-integrand at nodes k·step, from k = 0 outwards until it is 60 nats below the maximum seen,
        /// falling, and past the region where it can rise again (u ≤ −2 on the left; u ≥ max(α/σ, 1/(2σ)) + 2
        /// on the right, beyond the zero of g at w = 0 and the shifted peak).
        func scan(step: Double) -> (lower: Int, upper: Int, logs: [Double]) {
            let limit = 400_000
            var right: [Double] = [self(0)]
            var peak = right[0]
            let rightFloor = max(alpha / sigma, halfInverseVariance * sigma) + 2
            var k = 1
            while k < limit {
                let u = Double(k) * step
                let value = self(u)
                peak = max(peak, value)
                right.append(value)
                if u > rightFloor, value < peak - 60, value < right[right.count - 2] { break }
                k += 1
            }
            var left: [Double] = []
            var previous = right[0]
            k = -1
            while -k < limit {
                let u = Double(k) * step
                let value = self(u)
                peak = max(peak, value)
                left.append(value)
                if u < -2, value < peak - 60, value < previous { break }
                previous = value
                k -= 1
            }
            return (lower: -left.count, upper: right.count - 1, logs: left.reversed() + right)
        }
    }
}
