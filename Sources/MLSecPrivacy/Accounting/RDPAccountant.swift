// RDPAccountant: Rényi-DP accounting of Poisson-sampled Gaussian steps at dp-accounting's 156 orders, composed
// over steps of different (q, σ), converted to (ε, δ) with the improved bound.

import Foundation
import MLSecCore

/// A Rényi differential privacy accountant for the Poisson-sampled Gaussian mechanism.
///
/// The per-step RDP vector is computed once per distinct (q, σ) and multiplied by its step count, so composing
/// 100,000 steps costs the same as composing one. Conversion to (ε, δ) uses the improved bound of Balle et al.
/// (2020) / Canonne, Kamath and Steinke (2020) exactly as dp-accounting 0.6.0's `compute_epsilon` does.
public struct RDPAccountant: PrivacyAccountant {
    /// How RDP is computed at non-integer orders (integer orders are exact in both modes).
    public enum FractionalOrders: String, Sendable, CaseIterable {
        /// The exact Rényi divergence, by quadrature of its defining integral. Tighter than dp-accounting at
        /// fractional orders (never looser) and never drops an order. MLSec's guarantees use this.
        case exact
        /// dp-accounting 0.6.0's series as implemented: absolute binomial coefficients (an over-estimate), its
        /// stopping rule, and +∞ (the order is dropped) when 1000 terms do not converge. For cross-checking.
        case dpAccounting = "dp-accounting"
    }

    /// A bound and the order that gives it.
    public struct Bound: Sendable, Equatable {
        public let value: Double
        /// The first order (in `orders`) at which the minimum is reached.
        public let order: Double
    }

    /// dp-accounting's `DEFAULT_RDP_ORDERS`: 1 + x/10 for x = 1…99, then 11…63, 128, 256, 512, 1024 (156 orders).
    public static let defaultOrders: [Double] = {
        var orders: [Double] = (1...99).map { (x: Int) -> Double in 1 + Double(x) / 10.0 }
        orders += (11...63).map { (x: Int) -> Double in Double(x) }
        orders += [128, 256, 512, 1024]
        return orders
    }()

    public let orders: [Double]
    public let fractionalOrders: FractionalOrders
    /// Steps composed so far per mechanism, in first-composed order.
    public private(set) var steps: [(mechanism: PoissonSampledGaussian, count: Int)] = []
    private var perStep: [PoissonSampledGaussian: [Double]] = [:]

    /// - Parameters:
    ///   - orders: the Rényi orders, each > 1 (default: the 156 orders above).
    ///   - fractionalOrders: how non-integer orders are computed (default `.exact`).
    /// - Throws: `MLSecError.usage` when an order is not above 1 or there are none.
    public init(orders: [Double] = RDPAccountant.defaultOrders, fractionalOrders: FractionalOrders = .exact) throws {
        guard !orders.isEmpty, orders.allSatisfy({ $0 > 1 && !$0.isNaN }) else {
            throw MLSecError.usage("RDP orders must be numbers above 1")
        }
        self.orders = orders
        self.fractionalOrders = fractionalOrders
    }

    /// The RDP of one step of `mechanism` at every order.
    public func perStepRDP(_ mechanism: PoissonSampledGaussian) -> [Double] {
        if let cached = perStep[mechanism] { return cached }
        return orders.map {
            SampledGaussianRDP.rdp(order: $0, noiseMultiplier: mechanism.noiseMultiplier,
                                   sampleRate: mechanism.sampleRate, fractionalOrders: fractionalOrders)
        }
    }

    public mutating func compose(_ mechanism: PoissonSampledGaussian, steps count: Int) throws {
        try AccountingArguments.checkSteps(count)
        if perStep[mechanism] == nil { perStep[mechanism] = perStepRDP(mechanism) }
        if let index = steps.firstIndex(where: { $0.mechanism == mechanism }) {
            let (total, overflow) = steps[index].count.addingReportingOverflow(count)
            guard !overflow else { throw MLSecError.usage("too many steps") }
            steps[index].count = total
        } else {
            steps.append((mechanism, count))
        }
    }

    /// The composed RDP at every order: Σ over mechanisms of count × per-step RDP.
    public var rdp: [Double] {
        var total = [Double](repeating: 0, count: orders.count)
        for (mechanism, count) in steps {
            guard let vector = perStep[mechanism] else { continue }
            for index in total.indices { total[index] += Double(count) * vector[index] }
        }
        return total
    }

    public func epsilon(delta: Double) throws -> Double { try epsilonAndOrder(delta: delta).value }

    public func delta(epsilon: Double) throws -> Double { try deltaAndOrder(epsilon: epsilon).value }

    /// The smallest ε over the orders for `delta`, and the first order that reaches it.
    public func epsilonAndOrder(delta: Double) throws -> Bound {
        try AccountingArguments.checkDelta(delta)
        return Self.epsilon(orders: orders, rdp: rdp, delta: delta)
    }

    /// The smallest δ over the orders at `epsilon`, and the first order that reaches it.
    public func deltaAndOrder(epsilon: Double) throws -> Bound {
        try AccountingArguments.checkEpsilon(epsilon)
        return Self.delta(orders: orders, rdp: rdp, epsilon: epsilon)
    }

    /// RDP → (ε, δ): for each order α with RDP r, ε(α) = r + log1p(−1/α) − log(δα)/(α − 1) for α > 1.01
    /// (Balle et al. 2020, Proposition 12), 0 when δ² + expm1(−r) > 0 (the KL bound δ ≤ √(1 − e^{−r})), 0 for
    /// r < 0; then the minimum over orders, clipped at 0. dp-accounting's `compute_epsilon`, step for step.
    public static func epsilon(orders: [Double], rdp: [Double], delta: Double) -> Bound {
        precondition(orders.count == rdp.count && !orders.isEmpty)
        var best = Double.infinity, bestIndex = 0
        for (index, (alpha, r)) in zip(orders, rdp).enumerated() {
            let epsilon: Double
            if r < 0 {
                epsilon = 0
            } else if delta * delta + expm1(-r) > 0 {
                epsilon = 0
            } else if alpha > 1.01 {
                epsilon = r + log1p(-1 / alpha) - log(delta * alpha) / (alpha - 1)
            } else {
                epsilon = .infinity
            }
            // numpy argmin: the first minimum.
            if index == 0 || epsilon < best {
                best = epsilon
                bestIndex = index
            }
        }
        return Bound(value: max(0, best), order: orders[bestIndex])
    }

    /// RDP → δ at ε: min over orders of min(√(1 − e^{−r}), e^{(α−1)(r − ε + log1p(−1/α)) − log α}) (dp-accounting's
    /// `compute_delta`), capped at 1.
    public static func delta(orders: [Double], rdp: [Double], epsilon: Double) -> Bound {
        precondition(orders.count == rdp.count && !orders.isEmpty)
        var best = Double.infinity, bestIndex = 0
        for (index, (alpha, r)) in zip(orders, rdp).enumerated() {
            var logDelta: Double
            if r <= 0 {
                logDelta = -.infinity
            } else {
                logDelta = 0.5 * log1p(-exp(-r))
            }
            if alpha > 1.01, r > 0 {
                let bound = (alpha - 1) * (r - epsilon + log1p(-1 / alpha)) - log(alpha)
                logDelta = min(logDelta, bound)
            }
            if index == 0 || logDelta < best {
                best = logDelta
                bestIndex = index
            }
        }
        return Bound(value: min(exp(best), 1), order: orders[bestIndex])
    }
}
