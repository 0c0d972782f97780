// The accountants against the reference table (dp-accounting 0.6.0's RDP and PLD ε, the exact-fractional RDP ε,
// the exact Gaussian for q = 1), the special functions, the FFT, composition, conversion and calibration.

import Foundation
import MLSecCore
import MLSecPrivacy
import Testing

/// One row of ../shared/references/differential-privacy.md §2 (ε to 6 decimals).
struct AccountantRow: Sendable, CustomStringConvertible {
    let sigma: Double, q: Double, steps: Int, delta: Double
    /// dp-accounting's RdpAccountant ε and optimal order.
    let rdp: Double, order: Double
    /// dp-accounting's PLDAccountant ε (interval 1e-4).
    let pld: Double
    /// RDP ε with exact values at fractional orders (nil: equal to `rdp`).
    let exactFractional: Double?
    /// Whether the (slower) PLD check runs for this row.
    let checkPLD: Bool

    var description: String { "sigma \(sigma) q \(q) steps \(steps) delta \(delta)" }

    static let table: [AccountantRow] = [
        .init(sigma: 0.5, q: 0.01, steps: 1000, delta: 1e-5, rdp: 15.472133, order: 2, pld: 13.360826, exactFractional: 15.464268, checkPLD: false),
        .init(sigma: 0.5, q: 0.01, steps: 10000, delta: 1e-5, rdp: 49.434266, order: 1.6, pld: 43.366502, exactFractional: 47.415221, checkPLD: false),
        .init(sigma: 0.7, q: 0.01, steps: 1000, delta: 1e-5, rdp: 5.423257, order: 3.6, pld: 4.618291, exactFractional: 5.421397, checkPLD: false),
        .init(sigma: 0.7, q: 0.01, steps: 10000, delta: 1e-5, rdp: 15.689767, order: 2.4, pld: 14.334778, exactFractional: 15.634343, checkPLD: false),
        .init(sigma: 1.0, q: 0.01, steps: 1000, delta: 1e-5, rdp: 2.101367, order: 7.8, pld: 1.828244, exactFractional: 2.101365, checkPLD: true),
        .init(sigma: 1.0, q: 0.01, steps: 10000, delta: 1e-5, rdp: 6.712757, order: 4.1, pld: 6.187745, exactFractional: 6.712738, checkPLD: true),
        .init(sigma: 1.5, q: 0.01, steps: 1000, delta: 1e-5, rdp: 1.012953, order: 17, pld: 0.917572, exactFractional: 1.012953, checkPLD: true),
        .init(sigma: 1.5, q: 0.01, steps: 10000, delta: 1e-5, rdp: 3.459385, order: 6.6, pld: 3.185637, exactFractional: 3.459385, checkPLD: false),
        .init(sigma: 2.0, q: 0.01, steps: 1000, delta: 1e-5, rdp: 0.686185, order: 24, pld: 0.622049, exactFractional: 0.686185, checkPLD: true),
        .init(sigma: 2.0, q: 0.01, steps: 10000, delta: 1e-5, rdp: 2.352913, order: 8.9, pld: 2.162774, exactFractional: 2.352913, checkPLD: true),
        .init(sigma: 4.0, q: 0.01, steps: 1000, delta: 1e-5, rdp: 0.301161, order: 48, pld: 0.272173, exactFractional: 0.301161, checkPLD: true),
        .init(sigma: 4.0, q: 0.01, steps: 10000, delta: 1e-5, rdp: 1.035490, order: 17, pld: 0.946999, exactFractional: 1.035490, checkPLD: true),
        .init(sigma: 1.0, q: 0.01, steps: 1, delta: 1e-5, rdp: 0.955549, order: 9.9, pld: 0.199450, exactFractional: 0.955549, checkPLD: true),
        .init(sigma: 1.0, q: 0.01, steps: 100, delta: 1e-5, rdp: 1.214145, order: 8.8, pld: 0.718037, exactFractional: 1.214145, checkPLD: true),
        .init(sigma: 0.5, q: 0.001, steps: 10000, delta: 1e-5, rdp: 6.418367, order: 3, pld: 5.226831, exactFractional: 6.418367, checkPLD: false),
        .init(sigma: 1.0, q: 0.001, steps: 10000, delta: 1e-5, rdp: 0.787660, order: 13, pld: 0.475987, exactFractional: 0.787660, checkPLD: true),
        .init(sigma: 2.0, q: 0.001, steps: 10000, delta: 1e-5, rdp: 0.201272, order: 54, pld: 0.173847, exactFractional: 0.201272, checkPLD: true),
        .init(sigma: 1.0, q: 0.001, steps: 100, delta: 1e-5, rdp: 0.636053, order: 14, pld: 0.055175, exactFractional: 0.636053, checkPLD: true),
        .init(sigma: 1.0, q: 0.001, steps: 1000, delta: 1e-5, rdp: 0.677826, order: 13, pld: 0.148956, exactFractional: 0.677826, checkPLD: true),
        .init(sigma: 0.7, q: 0.05, steps: 1000, delta: 1e-5, rdp: 26.730249, order: 2, pld: 24.160466, exactFractional: 26.426105, checkPLD: false),
        .init(sigma: 1.0, q: 0.05, steps: 1000, delta: 1e-5, rdp: 12.016956, order: 2.8, pld: 10.986679, exactFractional: 11.979547, checkPLD: false),
        .init(sigma: 1.5, q: 0.05, steps: 1000, delta: 1e-5, rdp: 6.019017, order: 4.4, pld: 5.534807, exactFractional: 6.018907, checkPLD: true),
        .init(sigma: 2.0, q: 0.05, steps: 1000, delta: 1e-5, rdp: 4.024352, order: 5.9, pld: 3.699742, exactFractional: 4.024351, checkPLD: true),
        .init(sigma: 1.0, q: 0.05, steps: 100, delta: 1e-5, rdp: 4.038913, order: 4.6, pld: 3.502149, exactFractional: 4.038336, checkPLD: true),
        .init(sigma: 1.0, q: 0.05, steps: 10000, delta: 1e-5, rdp: 52.933438, order: 1.9, pld: 47.219823, exactFractional: 50.112588, checkPLD: false),
        .init(sigma: 1.0, q: 0.1, steps: 1000, delta: 1e-5, rdp: 27.163494, order: 2, pld: 25.204555, exactFractional: 27.163494, checkPLD: false),
        .init(sigma: 2.0, q: 0.1, steps: 1000, delta: 1e-5, rdp: 8.946957, order: 3.5, pld: 8.279293, exactFractional: 8.943850, checkPLD: true),
        .init(sigma: 4.0, q: 0.1, steps: 1000, delta: 1e-5, rdp: 3.736242, order: 6.3, pld: 3.444345, exactFractional: 3.736242, checkPLD: true),
        .init(sigma: 1.0, q: 0.1, steps: 100, delta: 1e-5, rdp: 7.903850, order: 3.2, pld: 7.046603, exactFractional: 7.899255, checkPLD: false),
        .init(sigma: 1.0, q: 0.1, steps: 10000, delta: 1e-5, rdp: 170.108584, order: 1.6, pld: 127.878978, exactFractional: 134.502020, checkPLD: false),
        .init(sigma: 4.0, q: 0.1, steps: 10000, delta: 1e-5, rdp: 14.510300, order: 2.9, pld: 13.498383, exactFractional: 14.451319, checkPLD: true),
        .init(sigma: 1.0, q: 1.0, steps: 1, delta: 1e-5, rdp: 4.728507, order: 5.4, pld: 4.377178, exactFractional: nil, checkPLD: true),
        .init(sigma: 2.0, q: 1.0, steps: 1, delta: 1e-5, rdp: 2.165716, order: 9.6, pld: 1.993091, exactFractional: nil, checkPLD: true),
        .init(sigma: 4.0, q: 1.0, steps: 1, delta: 1e-5, rdp: 1.012551, order: 18, pld: 0.926342, exactFractional: nil, checkPLD: true),
        .init(sigma: 1.0, q: 1.0, steps: 100, delta: 1e-5, rdp: 96.116308, order: 1.5, pld: 91.817290, exactFractional: nil, checkPLD: false),
        .init(sigma: 2.0, q: 1.0, steps: 100, delta: 1e-5, rdp: 35.081754, order: 1.9, pld: 33.103733, exactFractional: nil, checkPLD: true),
        .init(sigma: 4.0, q: 1.0, steps: 100, delta: 1e-5, rdp: 14.132226, order: 2.8, pld: 13.206712, exactFractional: nil, checkPLD: true),
        .init(sigma: 4.0, q: 1.0, steps: 1000, delta: 1e-5, rdp: 67.424040, order: 1.6, pld: 64.168814, exactFractional: nil, checkPLD: false),
        .init(sigma: 0.7, q: 0.01, steps: 10000, delta: 1e-6, rdp: 17.247170, order: 2.5, pld: 15.910063, exactFractional: 17.187346, checkPLD: false),
        .init(sigma: 1.0, q: 0.01, steps: 10000, delta: 1e-6, rdp: 7.414101, order: 4.4, pld: 6.907420, exactFractional: 7.414025, checkPLD: true),
        .init(sigma: 2.0, q: 0.01, steps: 10000, delta: 1e-6, rdp: 2.629142, order: 9.8, pld: 2.446810, exactFractional: 2.629142, checkPLD: true),
        .init(sigma: 1.0, q: 0.001, steps: 10000, delta: 1e-6, rdp: 0.979542, order: 13, pld: 0.555392, exactFractional: 0.979542, checkPLD: true),
        .init(sigma: 2.0, q: 0.1, steps: 1000, delta: 1e-6, rdp: 9.823879, order: 3.8, pld: 9.181994, exactFractional: 9.821260, checkPLD: true),
        .init(sigma: 2.0, q: 1.0, steps: 100, delta: 1e-6, rdp: 37.429216, order: 2, pld: 35.566344, exactFractional: nil, checkPLD: true),
    ]
}

/// The table's values are rounded to 6 decimals: equal means within half a unit of the last place.
private func matchesTable(_ value: Double, _ table: Double) -> Bool { abs(value - table) <= 5.0001e-7 }

private func mechanism(_ sigma: Double, _ q: Double) throws -> PoissonSampledGaussian {
    try PoissonSampledGaussian(noiseMultiplier: sigma, sampleRate: q)
}

private func rdpAccountant(_ row: AccountantRow, _ mode: RDPAccountant.FractionalOrders) throws -> RDPAccountant {
    var accountant = try RDPAccountant(fractionalOrders: mode)
    try accountant.compose(try mechanism(row.sigma, row.q), steps: row.steps)
    return accountant
}

/// The exact ε of the Gaussian mechanism with noise σ at δ (Balle and Wang's δ(ε), inverted by bisection).
private func exactGaussianEpsilon(sigma: Double, delta: Double) -> Double {
    var low = 0.0, high = 1000.0
    for _ in 0..<200 {
        let mid = (low + high) / 2
        if GaussianCalibration.delta(epsilon: mid, sigma: sigma, sensitivity: 1) > delta { low = mid } else { high = mid }
    }
    return high
}

@Suite("privacy accountants")
struct AccountantTests {
    @Test("the 156 default orders are dp-accounting's, integers exactly integral")
    func defaultOrders() {
        let orders = RDPAccountant.defaultOrders
        #expect(orders.count == 156)
        #expect(orders.first == 1.1 && orders[98] == 10.9 && orders[99] == 11 && orders[151] == 63)
        #expect(Array(orders.suffix(4)) == [128, 256, 512, 1024])
        #expect(orders[9] == 2.0 && orders[89] == 10.0 && orders[2] == 1 + 3 / 10.0)
        #expect(orders.filter { $0 == $0.rounded() }.count == 9 + 53 + 4)
    }

    @Test("log Φ and log erfc never underflow and match SciPy")
    func specialFunctions() {
        let scipy: [(Double, Double)] = [
            (-5, -15.064998393988727), (-20, -203.9171553710973), (-30, -454.32124395634327),
            (-40, -804.6084420137539), (0.3, -0.4814101615884813), (7, -1.2798125438866539e-12),
        ]
        for (x, expected) in scipy {
            #expect(abs(SpecialFunctions.logNdtr(x) - expected) <= 2e-15 * abs(expected), "log_ndtr(\(x))")
        }
        #expect(abs(PrivacyMath.logErfc(30) - -903.9741171106442) <= 1e-15 * 903.97)
        #expect(PrivacyMath.logErfc(1e5).isFinite && SpecialFunctions.logNdtr(-1e10).isFinite)
        // Continuity across the branches (−20 and −1).
        for x in [-20.0, -1.0] {
            let below = SpecialFunctions.logNdtr(x.nextDown), above = SpecialFunctions.logNdtr(x.nextUp)
            #expect(abs(below - above) <= 1e-13 * abs(above))
        }
        #expect(abs(SpecialFunctions.inverseNdtr(0.5 * exp(-50)) - -9.745474864965935) <= 1e-14 * 9.75)
        #expect(abs(SpecialFunctions.inverseNdtr(0.975) - 1.959963984540054) <= 1e-14)
    }

    @Test("RDP ε and order reproduce dp-accounting in .dpAccounting mode", arguments: AccountantRow.table)
    func rdpMatchesDPAccounting(_ row: AccountantRow) throws {
        let bound = try rdpAccountant(row, .dpAccounting).epsilonAndOrder(delta: row.delta)
        #expect(matchesTable(bound.value, row.rdp), "\(bound.value) vs \(row.rdp)")
        #expect(bound.order == row.order)
    }

    @Test("exact fractional orders give the exact column, never above dp-accounting", arguments: AccountantRow.table)
    func exactFractional(_ row: AccountantRow) throws {
        let exact = try rdpAccountant(row, .exact), series = try rdpAccountant(row, .dpAccounting)
        let epsilon = try exact.epsilon(delta: row.delta)
        #expect(matchesTable(epsilon, row.exactFractional ?? row.rdp), "\(epsilon) vs \(row.exactFractional ?? row.rdp)")
        let seriesEpsilon = try series.epsilon(delta: row.delta)
        // dp-accounting's series stops 30 nats below its total, so where its absolute values cost nothing it sits
        // up to about 1e-11 below the exact value: "never looser" holds to 1e-9.
        #expect(epsilon <= seriesEpsilon * (1 + 1e-9))
        for (index, order) in exact.orders.enumerated() where series.rdp[index].isFinite {
            if order == order.rounded() {
                #expect(abs(exact.rdp[index] - series.rdp[index]) <= 1e-9 * series.rdp[index], "order \(order)")
            } else {
                #expect(exact.rdp[index] <= series.rdp[index] * (1 + 1e-9), "order \(order)")
            }
        }
    }

    @Test("PLD ε reproduces dp-accounting's PLD", arguments: AccountantRow.table.filter(\.checkPLD))
    func pldMatchesDPAccounting(_ row: AccountantRow) throws {
        var accountant = try PLDAccountant()
        try accountant.compose(try mechanism(row.sigma, row.q), steps: row.steps)
        let epsilon = try accountant.epsilon(delta: row.delta)
        #expect(matchesTable(epsilon, row.pld), "\(epsilon) vs \(row.pld)")
    }

    @Test("q = 1: RDP is Tα/(2σ²), PLD sits just above the exact Gaussian ε",
          arguments: AccountantRow.table.filter { $0.q == 1 && $0.checkPLD })
    func fullBatchIsTheGaussian(_ row: AccountantRow) throws {
        let accountant = try rdpAccountant(row, .exact)
        for (order, value) in zip(accountant.orders, accountant.rdp) {
            #expect(value == Double(row.steps) * (order / (2 * row.sigma * row.sigma)))
        }
        let exact = exactGaussianEpsilon(sigma: row.sigma / Double(row.steps).squareRoot(), delta: row.delta)
        var pld = try PLDAccountant()
        try pld.compose(try mechanism(row.sigma, 1), steps: row.steps)
        let epsilon = try pld.epsilon(delta: row.delta)
        #expect(epsilon >= exact * (1 - 1e-12) && epsilon <= exact * (1 + 1e-7), "\(epsilon) vs exact \(exact)")
        let rdpEpsilon = try accountant.epsilon(delta: row.delta)
        #expect(rdpEpsilon > exact)
    }

    @Test("the quadrature: σ=1, q=0.1, α=1.6 against the reference integral and dp-accounting's series")
    func fractionalKnownValue() {
        let exact = SampledGaussianRDP.rdp(order: 1.6, noiseMultiplier: 1, sampleRate: 0.1, fractionalOrders: .exact)
        let series = SampledGaussianRDP.rdp(order: 1.6, noiseMultiplier: 1, sampleRate: 0.1, fractionalOrders: .dpAccounting)
        #expect(abs(exact - 0.0127204535) <= 5e-11)
        #expect(abs(series - 0.01526845430741902) <= 1e-15)
        // dp-accounting drops α = 1.1 here (its series does not converge in 1000 terms); the exact value is finite.
        #expect(SampledGaussianRDP.rdp(order: 1.1, noiseMultiplier: 1, sampleRate: 0.1, fractionalOrders: .dpAccounting) == .infinity)
        #expect(SampledGaussianRDP.rdp(order: 1.1, noiseMultiplier: 1, sampleRate: 0.1, fractionalOrders: .exact).isFinite)
    }

    @Test("the quadrature equals the binomial sum at integer orders")
    func quadratureAtIntegerOrders() {
        for sigma in [0.3, 0.7, 1.0, 2.0, 8.0] {
            for q in [1e-4, 0.01, 0.2, 0.9] {
                for alpha in [2, 3, 7, 20, 63] {
                    let sum = SampledGaussianRDP.logAIntegerExact(q: q, sigma: sigma, order: alpha)
                    let integral = SampledGaussianRDP.logAFractionalQuadrature(q: q, sigma: sigma, order: Double(alpha))
                    #expect(abs(integral - sum) <= 1e-12 * sum, "sigma \(sigma) q \(q) alpha \(alpha): \(integral) vs \(sum)")
                }
            }
        }
    }

    @Test("composition: per-(q, σ) vectors times counts, in any order")
    func composition() throws {
        let a = try mechanism(1.0, 0.01), b = try mechanism(2.0, 0.05)
        var mixed = try RDPAccountant()
        try mixed.compose(a, steps: 5)
        try mixed.compose(b, steps: 3)
        try mixed.compose(a, steps: 2)
        #expect(mixed.steps.count == 2 && mixed.steps[0].count == 7 && mixed.steps[1].count == 3)
        let vectorA = mixed.perStepRDP(a), vectorB = mixed.perStepRDP(b)
        for index in mixed.orders.indices {
            #expect(abs(mixed.rdp[index] - (7 * vectorA[index] + 3 * vectorB[index])) <= 1e-15 * mixed.rdp[index])
        }
        var pld = try PLDAccountant()
        try pld.compose(a, steps: 500)
        try pld.compose(b, steps: 300)
        var onlyA = try PLDAccountant(), onlyB = try PLDAccountant()
        try onlyA.compose(a, steps: 500)
        try onlyB.compose(b, steps: 300)
        var rdp = try RDPAccountant()
        try rdp.compose(a, steps: 500)
        try rdp.compose(b, steps: 300)
        let both = try pld.epsilon(delta: 1e-5)
        let epsilonA = try onlyA.epsilon(delta: 1e-5), epsilonB = try onlyB.epsilon(delta: 1e-5)
        let rdpEpsilon = try rdp.epsilon(delta: 1e-5)
        #expect(both > max(epsilonA, epsilonB))
        #expect(both < rdpEpsilon)
    }

    @Test("ε(δ) and δ(ε) are consistent")
    func conversionsAgree() throws {
        var rdp = try RDPAccountant()
        try rdp.compose(try mechanism(1.0, 0.01), steps: 10000)
        let epsilon = try rdp.epsilon(delta: 1e-5)
        let deltaBack = try rdp.delta(epsilon: epsilon), deltaBelow = try rdp.delta(epsilon: epsilon * 0.9)
        #expect(deltaBack <= 1e-5 * (1 + 1e-9))
        #expect(deltaBelow > 1e-5)
        var pld = try PLDAccountant()
        try pld.compose(try mechanism(1.0, 0.01), steps: 1000)
        let distribution = try pld.distribution()
        let pldEpsilon = distribution.epsilon(delta: 1e-5)
        #expect(distribution.delta(epsilon: pldEpsilon) <= 1e-5 * (1 + 1e-9))
        #expect(distribution.delta(epsilon: pldEpsilon * 0.99) > 1e-5)
        // Tiny RDP: the KL shortcut gives ε = 0.
        #expect(RDPAccountant.epsilon(orders: [2, 3], rdp: [1e-12, 1e-12], delta: 1e-5).value == 0)
    }

    @Test("bad parameters are refused with a usage error")
    func validation() throws {
        for (sigma, q) in [(1.0, 0.0), (1.0, 1.5), (1.0, Double.nan), (0.0, 0.1), (-1.0, 0.1), (Double.infinity, 0.1)] {
            #expect(throws: MLSecError.usage("")) { try PoissonSampledGaussian(noiseMultiplier: sigma, sampleRate: q) }
        }
        var rdp = try RDPAccountant()
        #expect(throws: MLSecError.usage("")) { try rdp.compose(try mechanism(1, 0.1), steps: 0) }
        for delta in [0.0, 1.0, -1e-5, Double.nan] {
            #expect(throws: MLSecError.usage("")) { try rdp.epsilon(delta: delta) }
            #expect(throws: MLSecError.usage("")) { try PLDAccountant().epsilon(delta: delta) }
        }
        #expect(throws: MLSecError.usage("")) { try RDPAccountant(orders: [1.0, 2.0]) }
    }

    @Test("RDP calibration reproduces dp-accounting's σ; ε stays within the target",
          arguments: [(1.0, 4.125802983), (3.0, 1.661856090), (8.0, 0.916880817)])
    func rdpCalibration(_ target: Double, _ reference: Double) throws {
        let series = try NoiseCalibration.rdp(targetEpsilon: target, delta: 1e-5, sampleRate: 0.01, steps: 10000,
                                              fractionalOrders: .dpAccounting)
        #expect(abs(series.noiseMultiplier - reference) <= 2e-9)
        #expect(series.epsilon <= target && target - series.epsilon <= 1e-6 * target)
        let exact = try NoiseCalibration.rdp(targetEpsilon: target, delta: 1e-5, sampleRate: 0.01, steps: 10000)
        #expect(exact.epsilon <= target && target - exact.epsilon <= 1e-6 * target)
        #expect(exact.noiseMultiplier <= series.noiseMultiplier + 1e-9)
    }

    @Test("PLD calibration reproduces dp-accounting's σ to its 1e-6 tolerance")
    func pldCalibration() throws {
        let result = try NoiseCalibration.pld(targetEpsilon: 3, delta: 1e-5, sampleRate: 0.01, steps: 10000)
        #expect(abs(result.noiseMultiplier - 1.564985667) <= 2e-6)
        #expect(result.epsilon <= 3 && 3 - result.epsilon <= 1e-6 * 3)
    }

    @Test("the FFT matches a direct DFT; real transforms and convolutions round-trip")
    func fft() {
        var generator = SplitMix64(state: 7)
        for n in [1, 2, 4, 8, 32, 256] {
            let xr = (0..<n).map { _ in Double.random(in: -1...1, using: &generator) }
            let xi = (0..<n).map { _ in Double.random(in: -1...1, using: &generator) }
            var re = xr, im = xi
            re.withUnsafeMutableBufferPointer { r in
                im.withUnsafeMutableBufferPointer { i in FFT(size: n).complexTransform(r, i, count: n, inverse: false) }
            }
            for k in 0..<n {
                var sr = 0.0, si = 0.0
                for j in 0..<n {
                    let angle = -2 * Double.pi * Double(j * k % n) / Double(n)
                    sr += xr[j] * cos(angle) - xi[j] * sin(angle)
                    si += xr[j] * sin(angle) + xi[j] * cos(angle)
                }
                #expect(abs(re[k] - sr) <= 1e-12 && abs(im[k] - si) <= 1e-12, "n \(n) k \(k)")
            }
        }
        let signal = (0..<64).map { _ in Double.random(in: 0...1, using: &generator) }
        let fft = FFT(size: 64)
        let spectrum = fft.realForward(signal)
        let back = fft.realInverse(real: spectrum.real, imaginary: spectrum.imaginary)
        #expect(zip(signal, back).allSatisfy { abs($0 - $1) <= 1e-14 })
        let a = (0..<37).map { _ in Double.random(in: 0...1, using: &generator) }
        let b = (0..<21).map { _ in Double.random(in: 0...1, using: &generator) }
        let product = Convolution.convolve(a, b)
        #expect(product.count == 57)
        for k in product.indices {
            var direct = 0.0
            for i in a.indices where k - i >= 0 && k - i < b.count { direct += a[i] * b[k - i] }
            #expect(abs(product[k] - direct) <= 1e-13)
        }
        // Three-fold self-convolution on a cycle long enough for no wrap-around.
        let p = [0.2, 0.5, 0.3]
        let cubed = Convolution.selfConvolve(p, times: 3, length: 8)
        let expected = Convolution.convolve(Convolution.convolve(p, p), p)
        #expect(zip(cubed, expected).allSatisfy { abs($0 - $1) <= 1e-15 } && abs(cubed[7]) <= 1e-15)
    }
}
