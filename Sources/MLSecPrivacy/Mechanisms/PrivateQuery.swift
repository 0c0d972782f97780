// PrivateQuery: counts, sums and means over bounded contributions, released with secure noise; a mean is a noisy
// sum over a noisy count with the budget split in half between them.

import Foundation
import MLSecCore

/// A query over one column of a table, each row one person's contribution (add-or-remove neighbours).
public struct PrivateQuery: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case count, sum, mean }

    public var kind: Kind
    /// Each value is clamped into these bounds before summing (sum and mean need them).
    public var bounds: ClosedRange<Double>?
    public var epsilon: Double
    /// 0: Laplace noise (pure epsilon-DP); above 0: Gaussian noise.
    public var delta: Double

    public init(kind: Kind, bounds: ClosedRange<Double>?, epsilon: Double, delta: Double) throws {
        guard kind == .count || bounds != nil else { throw MLSecError.usage("a \(kind.rawValue) needs --bounds L,U to clamp each contribution") }
        if let bounds { guard bounds.lowerBound.isFinite, bounds.upperBound.isFinite else { throw MLSecError.usage("bounds must be finite") } }
        guard epsilon > 0, epsilon.isFinite, delta >= 0, delta < 1 else { throw MLSecError.usage("epsilon must be > 0 and 0 <= delta < 1") }
        self.kind = kind
        self.bounds = bounds
        self.epsilon = epsilon
        self.delta = delta
    }

    public var noise: NoiseKind { delta > 0 ? .gaussian : .laplace }

    /// The mechanisms the query uses, with the budget split stated: count or sum alone take all of it; a mean
    /// spends half of epsilon (and of delta) on its sum and half on its count.
    public func mechanisms() throws -> (sum: LatticeMechanism?, count: LatticeMechanism?) {
        let share = kind == .mean ? 0.5 : 1.0
        let contribution = bounds.map { max(abs($0.lowerBound), abs($0.upperBound)) } ?? 1
        var sum: LatticeMechanism?
        var count: LatticeMechanism?
        if kind != .count {
            sum = try LatticeMechanism(kind: noise, epsilon: epsilon * share, delta: delta * share,
                                       sensitivity: max(contribution, 1e-9), integerValued: false)
        }
        if kind != .sum {
            count = try LatticeMechanism(kind: noise, epsilon: epsilon * share, delta: delta * share, sensitivity: 1,
                                         integerValued: true)
        }
        return (sum, count)
    }

    /// The noisy answer for `values` (the column's values of one group).
    public func release(_ values: [Double], using sampler: inout ExactSampler<some RandomNumberGenerator>) throws -> Double {
        let (sumMechanism, countMechanism) = try mechanisms()
        var noisySum = 0.0, noisyCount = 0.0
        if let sumMechanism, let bounds {
            let clamped = values.reduce(0.0) { $0 + min(max($1, bounds.lowerBound), bounds.upperBound) }
            noisySum = try sumMechanism.release(clamped, using: &sampler)
        }
        if let countMechanism { noisyCount = try countMechanism.release(Double(values.count), using: &sampler) }
        switch kind {
        case .count: return noisyCount
        case .sum: return noisySum
        case .mean:
            guard let bounds else { return 0 }
            return min(max(noisySum / max(noisyCount, 1), bounds.lowerBound), bounds.upperBound)
        }
    }

    /// A name for the ledger and the audit log.
    public func describe(column: String, groupBy: String?) -> String {
        "\(kind.rawValue)(\(column.prefix(60)))" + (groupBy.map { " by \($0.prefix(60))" } ?? "")
    }
}
