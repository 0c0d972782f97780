// ExactSampler: the discrete Laplace and discrete Gaussian samplers of Canonne, Kamath and Steinke (2020), in
// exact integer arithmetic over a cryptographically secure generator. No floating-point noise anywhere.

import MLSecCore

/// A positive rational number `numerator / denominator` (128-bit parts, overflow checked).
public struct PositiveRational: Sendable, Equatable, CustomStringConvertible {
    public let numerator: UInt128
    public let denominator: UInt128

    public init(_ numerator: UInt128, _ denominator: UInt128) throws {
        guard denominator > 0 else { throw MLSecError.usage("a rational with denominator 0") }
        self.numerator = numerator
        self.denominator = denominator
    }

    /// The smallest rational with denominator 2^`bits` that is at least `value` (rounding up: more noise, never
    /// less, when a noise scale is made exact).
    public init(atLeast value: Double, bits: Int = 32) throws {
        guard value.isFinite, value > 0, value < 0x1p64, (1...60).contains(bits) else {
            throw MLSecError.usage("a noise scale must be a positive number below 2^64 (got \(value))")
        }
        let scaled = (value * Double(UInt64(1) << UInt64(bits))).rounded(.up)
        try self.init(UInt128(scaled), UInt128(1) << UInt128(bits))
    }

    public var doubleValue: Double { Double(numerator) / Double(denominator) }
    public var description: String { "\(numerator)/\(denominator)" }
}

/// Samples exactly from the discrete Laplace and discrete Gaussian distributions on the integers (CKS 2020,
/// Algorithms 1-3): every decision is a Bernoulli trial on an exact rational, driven by uniform integers from
/// `generator`, which is the operating system's CSPRNG unless a test injects another. The number of trials (and
/// so the time taken) depends on the sample: callers whose threat model includes timing must not expose it.
public struct ExactSampler<Generator: RandomNumberGenerator> {
    public var generator: Generator

    public init(generator: Generator) { self.generator = generator }

    /// Bernoulli(numerator / denominator) for numerator <= denominator.
    mutating func bernoulli(_ numerator: UInt128, _ denominator: UInt128) -> Bool {
        guard numerator < denominator else { return true }
        return UInt128.random(in: 0..<denominator, using: &generator) < numerator
    }

    /// Bernoulli(exp(-gamma)) for a rational gamma = n/d >= 0 (CKS Algorithm 1), exactly.
    mutating func bernoulliExpMinus(_ n: UInt128, _ d: UInt128) throws -> Bool {
        if n <= d {
            // K = 1, 2, ... while Bernoulli(gamma / K); the result is K odd.
            var k: UInt128 = 1
            while true {
                let (denominator, overflow) = d.multipliedReportingOverflow(by: k)
                guard !overflow else { throw MLSecError.limitExceeded("exact sampling: a rational grew past 128 bits") }
                guard bernoulli(n, denominator) else { break }
                k += 1
            }
            return k % 2 == 1
        }
        // gamma > 1: exp(-gamma) = exp(-1)^floor(gamma) * exp(-(gamma - floor(gamma))).
        let whole = n / d
        guard whole <= 1 << 20 else { return false }  // exp(-2^20) underflows every probability: the trial fails
        for _ in 0..<Int(whole) where try !bernoulliExpMinus(1, 1) { return false }
        return try bernoulliExpMinus(n - whole * d, d)
    }

    /// The discrete Laplace with scale `t / s` (probability of y proportional to exp(-|y| s / t)); CKS Algorithm 2.
    public mutating func discreteLaplace(scaleNumerator t: UInt128, scaleDenominator s: UInt128) throws -> Int64 {
        guard t > 0, s > 0 else { throw MLSecError.usage("the discrete Laplace needs a positive scale") }
        while true {
            let u = UInt128.random(in: 0..<t, using: &generator)
            guard try bernoulliExpMinus(u, t) else { continue }
            var v: UInt128 = 0
            while try bernoulliExpMinus(1, 1) { v += 1 }
            let (tv, o1) = t.multipliedReportingOverflow(by: v)
            let (x, o2) = u.addingReportingOverflow(tv)
            guard !o1, !o2 else { continue }
            let y = x / s
            let negative = bernoulli(1, 2)
            if negative, y == 0 { continue }
            guard y <= UInt128(Int64.max) else { continue }
            return negative ? -Int64(y) : Int64(y)
        }
    }

    /// The discrete Gaussian with variance parameter sigma^2 = `variance` (probability of y proportional to
    /// exp(-y^2 / (2 sigma^2))), by rejection from a discrete Laplace of scale floor(sigma) + 1; CKS Algorithm 3.
    public mutating func discreteGaussian(variance: PositiveRational) throws -> Int64 {
        let n = variance.numerator, d = variance.denominator
        // t = floor(sigma) + 1, computed exactly: the largest t0 with t0^2 <= n/d, plus 1.
        var t0 = UInt128(Double(n) / Double(d)).squareRootFloor
        while (t0 + 1) * (t0 + 1) * d <= n { t0 += 1 }
        while t0 > 0, t0 * t0 * d > n { t0 -= 1 }
        let t = t0 + 1
        while true {
            let y = try discreteLaplace(scaleNumerator: t, scaleDenominator: 1)
            // Accept with probability exp(-(|y| - sigma^2/t)^2 / (2 sigma^2))
            //   = exp(-(|y| d t - n)^2 / (2 n d t^2)).
            let magnitude = UInt128(y.magnitude)
            let (ydt, o1) = magnitude.multipliedReportingOverflow(by: d * t)
            guard !o1 else { continue }
            let difference = ydt >= n ? ydt - n : n - ydt
            let (squared, o2) = difference.multipliedReportingOverflow(by: difference)
            let (denominator, o3) = (2 * n).multipliedReportingOverflow(by: d * t * t)
            guard !o2, !o3 else { throw MLSecError.limitExceeded("exact sampling: sigma is too large for 128-bit rationals") }
            if try bernoulliExpMinus(squared, denominator) { return y }
        }
    }
}

extension ExactSampler where Generator == SystemRandomNumberGenerator {
    /// A sampler over the operating system's CSPRNG (the only default).
    public init() { self.init(generator: SystemRandomNumberGenerator()) }
}

extension UInt128 {
    /// floor(sqrt(self)), from a Double estimate corrected exactly.
    var squareRootFloor: UInt128 {
        var r = UInt128(Double(self).squareRoot())
        while r > 0, r.multipliedReportingOverflow(by: r).overflow || r * r > self { r -= 1 }
        while !(r + 1).multipliedReportingOverflow(by: r + 1).overflow, (r + 1) * (r + 1) <= self { r += 1 }
        return r
    }
}
