// WatermarkKey: a watermark's secret and its decision rule: the weight bits or trigger set, the chance rate measured
// on independently trained models, and the threshold that keeps a false claim below the stated probability.

import Foundation
import MLSecCore
import MLSecEngine

/// A watermark key: what was embedded, and how a suspect model is judged against it.
public struct WatermarkKey: Sendable, Equatable {
    public enum Method: Sendable, Equatable {
        case weights(WeightWatermark)
        case triggers(TriggerSetWatermark)
    }

    public var method: Method
    /// Weights: the lowest bit error rate independent models plausibly reach; triggers: the highest trigger
    /// agreement they plausibly reach (one-sided Clopper-Pearson bound at 0.999 of the pooled calibration counts).
    public var chanceRate: Double
    /// The per-model rates measured on the independent models (bit error rates, or trigger agreement).
    public var calibrationRates: [Double]
    /// A claim needs a p-value at most this: the probability that an independent model is claimed.
    public var falseClaimProbability: Double
    /// Weights: the most bit errors of a claim; triggers: the fewest matching triggers.
    public var thresholdCount: Int
    public var model: String
    public var modelDigest: String
    public var createdAt: String

    /// Bits or triggers in the key.
    public var size: Int {
        switch method {
        case .weights(let w): return w.bits.count
        case .triggers(let t): return t.labels.count
        }
    }

    /// Sets `chanceRate` and `thresholdCount` from the calibration counts (`events` errors or matches over
    /// `trials`). Throws when no count can make a claim at `falseClaimProbability` (too few bits or triggers).
    mutating func calibrate(events: Int, trials: Int) throws {
        let n = size
        switch method {
        case .weights:
            chanceRate = BinomialTest.conservativeRate(events: events, trials: trials, lower: true)
            guard let k = (0..<n).last(where: { BinomialTest.cdf($0, n: n, p: chanceRate) <= falseClaimProbability }) else {
                throw MLSecError.usage("\(n) bits cannot support a claim at p ≤ \(falseClaimProbability) when independent models "
                    + "err on \(String(format: "%.2f", chanceRate)) of them: embed more bits")
            }
            thresholdCount = k
        case .triggers:
            chanceRate = BinomialTest.conservativeRate(events: events, trials: trials, lower: false)
            guard let m = (1...n).first(where: { BinomialTest.upperTail($0, n: n, p: chanceRate) <= falseClaimProbability }) else {
                throw MLSecError.usage("\(n) triggers cannot support a claim at p ≤ \(falseClaimProbability) when independent models "
                    + "agree on \(String(format: "%.2f", chanceRate)) of them: use more triggers")
            }
            thresholdCount = m
        }
    }

    /// The judgement of a suspect.
    public struct Verdict: Sendable, Equatable {
        /// Bit error rate (weights) or trigger agreement (triggers).
        public var rate: Double
        public var count: Int
        public var pValue: Double
        /// The claim's threshold as a rate (most bit errors, or fewest matches, over the key's size).
        public var threshold: Double
        public var watermarked: Bool
    }

    /// Judges `count` (bit errors or matching triggers) against the key.
    public func verdict(count: Int) -> Verdict {
        let n = size
        switch method {
        case .weights:
            return Verdict(rate: Double(count) / Double(n), count: count, pValue: BinomialTest.cdf(count, n: n, p: chanceRate),
                           threshold: Double(thresholdCount) / Double(n), watermarked: count <= thresholdCount)
        case .triggers:
            return Verdict(rate: Double(count) / Double(n), count: count, pValue: BinomialTest.upperTail(count, n: n, p: chanceRate),
                           threshold: Double(thresholdCount) / Double(n), watermarked: count >= thresholdCount)
        }
    }

    /// Verifies a white-box suspect (weights keys read its weights; trigger keys ask it for labels).
    public func verify(_ suspect: Model) async throws -> Verdict {
        switch method {
        case .weights(let w): return verdict(count: Int((try w.bitErrorRate(of: suspect) * Double(w.bits.count)).rounded()))
        case .triggers(let t): return verdict(count: try await t.matches(ModelOracle(model: suspect)))
        }
    }

    /// Verifies through predictions only (trigger keys).
    public func verify(_ oracle: any LabelOracle) async throws -> Verdict {
        guard case .triggers(let t) = method else {
            throw MLSecError.usage("a weight watermark is read from the weights: verify it with --model, not a remote endpoint")
        }
        return verdict(count: try await t.matches(oracle))
    }
}
