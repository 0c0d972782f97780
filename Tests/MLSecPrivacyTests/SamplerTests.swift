// The exact samplers and the lattice mechanisms: distributions against the exact pmf, outputs on the lattice,
// calibration against published values, and the default generator being the system CSPRNG.

import Foundation
import MLSecPrivacy
import Testing

/// A seeded generator for reproducible distribution tests (tests only; the library never defaults to one).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("exact samplers and lattice mechanisms")
struct SamplerTests {
    /// Pearson's chi-square of `counts` against `pmf` over the bins with expected count >= 5 (tails pooled).
    func chiSquare(_ counts: [Int64: Int], pmf: (Int64) -> Double, n: Int, range: ClosedRange<Int64>) -> (Double, Int) {
        var statistic = 0.0, bins = 0, tailExpected = 0.0, tailObserved = 0
        for y in range {
            let expected = pmf(y) * Double(n), observed = counts[y, default: 0]
            if expected >= 5 {
                statistic += pow(Double(observed) - expected, 2) / expected
                bins += 1
            } else {
                tailExpected += expected
                tailObserved += observed
            }
        }
        let outside = n - counts.filter { range.contains($0.key) }.values.reduce(0, +)
        tailObserved += outside
        tailExpected = Double(n) - (Double(n) - tailExpected - Double(outside) * 0) // pooled rest
        return (statistic, bins)
    }

    @Test("discrete Laplace: the exact pmf (chi-square), mean 0, variance of the closed form", arguments: [0.7, 3.0, 12.5])
    func discreteLaplace(scale: Double) throws {
        var sampler = ExactSampler(generator: SplitMix64(state: 42))
        let rational = try PositiveRational(atLeast: scale)
        let n = 20_000
        var counts: [Int64: Int] = [:]
        var sum = 0.0, sumSquares = 0.0
        for _ in 0..<n {
            let y = try sampler.discreteLaplace(scaleNumerator: rational.numerator, scaleDenominator: rational.denominator)
            counts[y, default: 0] += 1
            sum += Double(y); sumSquares += Double(y * y)
        }
        let t = rational.doubleValue, r = exp(-1 / t)
        let pmf = { (y: Int64) in (1 - r) / (1 + r) * pow(r, Double(abs(y))) }
        let variance = 2 * r / ((1 - r) * (1 - r))
        #expect(abs(sum / Double(n)) < 5 * (variance / Double(n)).squareRoot())
        #expect(abs(sumSquares / Double(n) - variance) < 0.1 * variance)
        let reach = Int64((8 * t).rounded(.up)) + 2
        let (chi, bins) = chiSquare(counts, pmf: pmf, n: n, range: -reach...reach)
        // The 0.999 quantile of chi-square is below bins + 4.5 sqrt(2 bins) for these sizes.
        #expect(chi < Double(bins) + 4.5 * (2 * Double(bins)).squareRoot(), "chi-square \(chi) over \(bins) bins")
    }

    @Test("discrete Gaussian: the exact pmf (chi-square) and variance", arguments: [0.8, 2.0, 9.3])
    func discreteGaussian(sigma: Double) throws {
        var sampler = ExactSampler(generator: SplitMix64(state: 7))
        let variance = try PositiveRational(atLeast: sigma * sigma, bits: 24)
        let n = 15_000
        var counts: [Int64: Int] = [:]
        var sumSquares = 0.0
        for _ in 0..<n {
            let y = try sampler.discreteGaussian(variance: variance)
            counts[y, default: 0] += 1
            sumSquares += Double(y * y)
        }
        let s2 = variance.doubleValue
        let reach = Int64((10 * sigma).rounded(.up)) + 2
        let weights = (-reach...reach).map { exp(-Double($0 * $0) / (2 * s2)) }
        let z = weights.reduce(0, +)
        let pmf = { (y: Int64) in exp(-Double(y * y) / (2 * s2)) / z }
        let exactVariance = (-reach...reach).map { Double($0 * $0) * pmf($0) }.reduce(0, +)
        #expect(abs(sumSquares / Double(n) - exactVariance) < 0.06 * exactVariance)
        let (chi, bins) = chiSquare(counts, pmf: pmf, n: n, range: -reach...reach)
        #expect(chi < Double(bins) + 4.5 * (2 * Double(bins)).squareRoot(), "chi-square \(chi) over \(bins) bins")
    }

    @Test("analytic Gaussian calibration matches Balle-Wang values (dp-accounting, diffprivlib)")
    func analyticSigma() throws {
        for (epsilon, delta, expected) in [(0.1, 1e-5, 30.749566132), (1.0, 1e-5, 3.730631635), (1.0, 1e-6, 4.224678889),
                                           (3.0, 1e-5, 1.390593457), (8.0, 1e-5, 0.600229072)] {
            let sigma = try GaussianCalibration.analyticSigma(epsilon: epsilon, delta: delta, sensitivity: 1)
            #expect(abs(sigma - expected) / expected < 1e-8, "ε=\(epsilon) δ=\(delta): \(sigma)")
        }
        #expect(abs(GaussianCalibration.classicSigma(epsilon: 1, delta: 1e-5, sensitivity: 1) - 4.844805) < 1e-5)
        // The discrete Gaussian at the continuous σ is slightly less private here (δ 1.03e-5 > 1e-5): the mechanism
        // checks it exactly and raises σ until it holds.
        let sigma = try GaussianCalibration.analyticSigma(epsilon: 1, delta: 1e-5, sensitivity: 1)
        #expect((GaussianCalibration.discreteDelta(epsilon: 1, sigma: sigma, sensitivity: 1) ?? 0) > 1e-5)
        let mechanism = try LatticeMechanism(kind: .gaussian, epsilon: 1, delta: 1e-5, sensitivity: 1, integerValued: true)
        let used = mechanism.scale.doubleValue.squareRoot()
        #expect(used >= sigma && used < sigma * 1.02)
        #expect((GaussianCalibration.discreteDelta(epsilon: 1, sigma: used, sensitivity: 1) ?? 1) <= 1e-5)
    }

    @Test("lattice outputs: every output is an exact multiple of the grid, from neighbouring inputs alike")
    func latticeOutputs() throws {
        let mechanism = try LatticeMechanism(kind: .laplace, epsilon: 1, sensitivity: 1, integerValued: false)
        let step = scalbn(1.0, mechanism.gridExponent)
        var sampler = ExactSampler(generator: SplitMix64(state: 3))
        for input in [0.0, 1.0, 0.3, -7.123456789] {
            for _ in 0..<2000 {
                let out = try mechanism.release(input, using: &sampler)
                #expect((out / step).rounded() == out / step, "\(out) is off the grid 2^\(mechanism.gridExponent)")
            }
        }
        // The floating-point attack reads the low bits of an output to tell its input: here the low bits of every
        // output are zero below the grid for both neighbours, so the supports are the same lattice.
        let gaussian = try LatticeMechanism(kind: .gaussian, epsilon: 1, delta: 1e-6, sensitivity: 2, integerValued: false)
        let gstep = scalbn(1.0, gaussian.gridExponent)
        for input in [0.0, 2.0] {
            for _ in 0..<500 {
                let out = try gaussian.release(input, using: &sampler)
                #expect((out / gstep).rounded() == out / gstep)
            }
        }
    }

    @Test("empirical privacy loss of neighbouring counts stays within e^epsilon (frequent outputs)")
    func empiricalPrivacyLoss() throws {
        let mechanism = try LatticeMechanism(kind: .laplace, epsilon: 0.5, sensitivity: 1, integerValued: true)
        var sampler = ExactSampler(generator: SplitMix64(state: 11))
        let n = 60_000
        var a: [Double: Int] = [:], b: [Double: Int] = [:]
        for _ in 0..<n {
            a[try mechanism.release(100, using: &sampler), default: 0] += 1
            b[try mechanism.release(101, using: &sampler), default: 0] += 1
        }
        for (value, countA) in a where countA >= 2000 {
            let countB = b[value, default: 0]
            guard countB >= 2000 else { continue }
            let ratio = log(Double(countA) / Double(countB))
            #expect(abs(ratio) < 0.5 + 0.12, "output \(value): log ratio \(ratio)")
        }
    }

    @Test("the default sampler draws from the system CSPRNG")
    func defaultGenerator() {
        let sampler = ExactSampler()
        #expect(type(of: sampler.generator) == SystemRandomNumberGenerator.self)
    }
}
