// PrivacyMath: the special functions only the accountants need: log-erfc and log-space arithmetic (the normal
// distribution's functions are MLSecCore's SpecialFunctions).

import Foundation
import MLSecCore

/// Special functions for privacy accounting, written so that none of them underflows where the accountants use them.
///
/// `logNdtr` follows SciPy's `special.log_ndtr` (log1p(−erfc/2) above −1, log(erfc/2) down to −20, the asymptotic
/// series of erfc below), so `logErfc` matches dp-accounting's `_log_erfc` without the underflow of a naive
/// `log(erfc(x))`, which is −∞ from x ≈ 26.5 on.
package enum PrivacyMath {
    /// log erfc(x) = log 2 + log Φ(−x√2), as dp-accounting's `_log_erfc` computes it.
    package static func logErfc(_ x: Double) -> Double {
        log(2.0) + SpecialFunctions.logNdtr(-x * 2.0.squareRoot())
    }

    /// log(eˣ + eʸ), exact when either side is −∞ (dp-accounting's `_log_add`).
    package static func logAdd(_ x: Double, _ y: Double) -> Double {
        let (a, b) = (min(x, y), max(x, y))
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// log(eᵃ − eᵇ) for a ≥ b (−∞ when a = b, NaN when a < b).
    package static func logSub(_ a: Double, _ b: Double) -> Double {
        if a < b { return .nan }
        if a == b { return -.infinity }
        if b == -.infinity { return a }
        return a + log1p(-exp(b - a))
    }

    /// log(a·eᵇ + c), as dp-accounting's `common.log_a_times_exp_b_plus_c` computes it.
    static func logATimesExpBPlusC(_ a: Double, _ b: Double, _ c: Double) -> Double {
        if a == 0 { return log(c) }
        if a < 0 { return logSub(log(c), log(-a) + b) }
        if b == 0 { return log(a + c) }
        let d = b + log(a)
        if c == 0 { return d }
        if c < 0 { return logSub(d, log(-c)) }
        let (low, high) = (min(d, log(c)), max(d, log(c)))
        return high + log1p(exp(low - high))
    }
}
