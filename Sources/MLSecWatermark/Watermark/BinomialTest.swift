// BinomialTest: the tail probabilities behind every ownership claim: how likely an independent model is to agree
// with a watermark as well as the suspect does, when independent models agree at a calibrated chance rate.

import MLSecCore

/// One-sided binomial tails and the calibration of chance rates from independent models.
public enum BinomialTest {
    /// P(X ≤ k) for X ~ Binomial(n, p).
    public static func cdf(_ k: Int, n: Int, p: Double) -> Double {
        guard k >= 0 else { return 0 }
        guard k < n else { return 1 }
        guard p > 0 else { return 1 }
        guard p < 1 else { return 0 }
        return SpecialFunctions.regularizedIncompleteBeta(1 - p, Double(n - k), Double(k + 1))
    }

    /// P(X ≥ k) for X ~ Binomial(n, p).
    public static func upperTail(_ k: Int, n: Int, p: Double) -> Double {
        k <= 0 ? 1 : 1 - cdf(k - 1, n: n, p: p)
    }

    /// A conservative chance rate from independent models' counts: the one-sided Clopper-Pearson bound at level
    /// 1 − `alpha` of the pooled rate, on the side that favours a false claim (`lower` for error rates that a claim
    /// needs to be small, upper for agreement rates that a claim needs to be large).
    public static func conservativeRate(events: Int, trials: Int, lower: Bool, alpha: Double = 0.001) -> Double {
        guard trials > 0 else { return lower ? 0 : 1 }
        if lower { return SpecialFunctions.clopperPearsonLower(successes: events, trials: trials, alpha: alpha) }
        return 1 - SpecialFunctions.clopperPearsonLower(successes: trials - events, trials: trials, alpha: alpha)
    }
}
