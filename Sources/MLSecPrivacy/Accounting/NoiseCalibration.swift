// NoiseCalibration: the smallest noise multiplier whose composed ε stays within a target, by Brent's method on
// an explicit bracket, nudged so that the returned σ never exceeds the budget.

import Foundation
import MLSecCore

/// Calibration of the noise multiplier σ of a Poisson-sampled Gaussian run for a target (ε, δ).
public enum NoiseCalibration {
    /// A calibrated noise multiplier and the ε the accountant proves for it (always ≤ the target).
    public struct Result: Sendable, Equatable {
        public let noiseMultiplier: Double
        public let epsilon: Double
    }

    /// The σ at which `steps` steps at `sampleRate` reach `targetEpsilon` at `delta`, to `tolerance` in σ, with
    /// ε(σ) ≤ target.
    ///
    /// ε(σ) is decreasing. The bracket starts at [0.3, 20] (dp-accounting's calibration examples; σ = 0 would
    /// make ε infinite) and widens by halving / doubling until it brackets the target (σ in [2⁻¹⁰, 2²⁰]).
    /// Brent's method (SciPy's `brentq`) finds the root; if ε at the root is above the target, σ is raised by
    /// tolerance·2ᵏ until it is not, as dp-accounting's `calibrate_dp_mechanism` nudges by ±tol.
    /// - Parameter epsilonOf: the accountant's ε at `delta` for `steps` steps of σ (fresh for every σ).
    /// - Throws: `MLSecError.usage` for bad arguments or an unreachable target; what `epsilonOf` throws.
    public static func calibrate(targetEpsilon: Double, tolerance: Double = 1e-9,
                                 bracket initial: (Double, Double) = (0.3, 20),
                                 epsilonOf: (Double) throws -> Double) throws -> Result {
        guard targetEpsilon > 0, targetEpsilon.isFinite else {
            throw MLSecError.usage("the target epsilon must be a positive number, got \(targetEpsilon)")
        }
        func gap(_ sigma: Double) throws -> Double { try epsilonOf(sigma) - targetEpsilon }
        var (low, high) = initial
        var lowGap = try gap(low)
        while lowGap <= 0 {
            guard low > 1.0 / 1024 else {
                return Result(noiseMultiplier: low, epsilon: lowGap + targetEpsilon)
            }
            high = low
            low /= 2
            lowGap = try gap(low)
        }
        var highGap = try gap(high)
        while highGap > 0 {
            guard high < Double(1 << 20) else {
                throw MLSecError.usage("no noise multiplier up to \(high) reaches epsilon \(targetEpsilon)")
            }
            low = high
            lowGap = highGap
            high *= 2
            highGap = try gap(high)
        }
        var root = try brent(gap, low, high, lowGap, highGap, tolerance: tolerance)
        var rootGap = try gap(root)
        var step = tolerance
        for _ in 0..<64 where rootGap > 0 {
            root += step
            step *= 2
            rootGap = try gap(root)
        }
        guard rootGap <= 0 else {
            throw MLSecError.usage("calibration did not reach epsilon \(targetEpsilon) (epsilon is not finite near sigma \(root))")
        }
        return Result(noiseMultiplier: root, epsilon: rootGap + targetEpsilon)
    }

    /// Calibration with the RDP accountant (exact fractional orders unless told otherwise).
    public static func rdp(targetEpsilon: Double, delta: Double, sampleRate: Double, steps: Int,
                           fractionalOrders: RDPAccountant.FractionalOrders = .exact,
                           tolerance: Double = 1e-9) throws -> Result {
        try AccountingArguments.checkDelta(delta)
        try AccountingArguments.checkSteps(steps)
        _ = try PoissonSampledGaussian(noiseMultiplier: 1, sampleRate: sampleRate)
        return try calibrate(targetEpsilon: targetEpsilon, tolerance: tolerance) { sigma in
            var accountant = try RDPAccountant(fractionalOrders: fractionalOrders)
            try accountant.compose(try PoissonSampledGaussian(noiseMultiplier: sigma, sampleRate: sampleRate),
                                   steps: steps)
            return try accountant.epsilon(delta: delta)
        }
    }

    /// Calibration with the PLD accountant. The bracket comes from the RDP calibration: PLD's ε is tighter, so the
    /// RDP σ is an upper end, and the lower end is found below it.
    public static func pld(targetEpsilon: Double, delta: Double, sampleRate: Double, steps: Int,
                           interval: Double = 1e-4, tolerance: Double = 1e-9) throws -> Result {
        let fromRDP = try rdp(targetEpsilon: targetEpsilon, delta: delta, sampleRate: sampleRate, steps: steps,
                              tolerance: 1e-6)
        let epsilonOf = { (sigma: Double) throws -> Double in
            var accountant = try PLDAccountant(interval: interval)
            try accountant.compose(try PoissonSampledGaussian(noiseMultiplier: sigma, sampleRate: sampleRate),
                                   steps: steps)
            return try accountant.epsilon(delta: delta)
        }
        let high = fromRDP.noiseMultiplier
        return try calibrate(targetEpsilon: targetEpsilon, tolerance: tolerance, bracket: (0.8 * high, high),
                             epsilonOf: epsilonOf)
    }

    /// SciPy's `brentq` (Brent 1973): inverse quadratic interpolation with bisection safeguards, until the bracket
    /// is within xtol + 4ε·|x|.
    static func brent(_ f: (Double) throws -> Double, _ a: Double, _ b: Double, _ fa: Double, _ fb: Double,
                      tolerance: Double, maximumIterations: Int = 200) throws -> Double {
        var xPrevious = a, xCurrent = b, fPrevious = fa, fCurrent = fb
        var xBlock = 0.0, fBlock = 0.0, sPrevious = 0.0, sCurrent = 0.0
        if fPrevious == 0 { return xPrevious }
        if fCurrent == 0 { return xCurrent }
        let relative = 4 * Double.ulpOfOne
        for _ in 0..<maximumIterations {
            if fPrevious != 0, fCurrent != 0, (fPrevious < 0) != (fCurrent < 0) {
                xBlock = xPrevious
                fBlock = fPrevious
                sPrevious = xCurrent - xPrevious
                sCurrent = sPrevious
            }
            if abs(fBlock) < abs(fCurrent) {
                xPrevious = xCurrent
                xCurrent = xBlock
                xBlock = xPrevious
                fPrevious = fCurrent
                fCurrent = fBlock
                fBlock = fPrevious
            }
            let delta = (tolerance + relative * abs(xCurrent)) / 2
            let bisection = (xBlock - xCurrent) / 2
            if fCurrent == 0 || abs(bisection) < delta { return xCurrent }
            if abs(sPrevious) > delta, abs(fCurrent) < abs(fPrevious) {
                let trial: Double
                if xPrevious == xBlock {
                    trial = -fCurrent * (xCurrent - xPrevious) / (fCurrent - fPrevious)
                } else {
                    let dPrevious = (fPrevious - fCurrent) / (xPrevious - xCurrent)
                    let dBlock = (fBlock - fCurrent) / (xBlock - xCurrent)
                    trial = -fCurrent * (fBlock * dBlock - fPrevious * dPrevious) / (dBlock * dPrevious * (fBlock - fPrevious))
                }
                if 2 * abs(trial) < min(abs(sPrevious), 3 * abs(bisection) - delta) {
                    sPrevious = sCurrent
                    sCurrent = trial
                } else {
                    sPrevious = bisection
                    sCurrent = bisection
                }
            } else {
                sPrevious = bisection
                sCurrent = bisection
            }
            xPrevious = xCurrent
            fPrevious = fCurrent
            xCurrent += abs(sCurrent) > delta ? sCurrent : (bisection > 0 ? delta : -delta)
            fCurrent = try f(xCurrent)
        }
        return xCurrent
    }
}
