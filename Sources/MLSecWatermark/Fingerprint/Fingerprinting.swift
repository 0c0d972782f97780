// Fingerprinting: the small shared pieces of the fingerprints: input range, match rates, threshold calibration,
// ROC AUC, seeded Gaussian noise.

import Foundation
import MLSecCore
import MLSecEngine

/// Helpers shared by the conferrable and weight-space fingerprints.
public enum Fingerprinting {
    /// Most inputs in one conferrable fingerprint.
    public static let maxInputs = 10_000

    /// The L-inf box inputs live in: the model's declared input range, or the data's range where it declares none.
    struct Range: Sendable {
        var lower: Float
        var upper: Float
        var width: Float { upper - lower }
    }

    static func inputRange(model: Model, data: Dataset) throws -> Range {
        let lower = model.spec.input.min ?? data.features.min() ?? 0
        let upper = model.spec.input.max ?? data.features.max() ?? 1
        guard lower.isFinite, upper.isFinite, upper > lower else {
            throw MLSecError.malformed("the input range [\(lower), \(upper)] is empty: declare min and max in model.json's input, "
                + "or give data whose values vary")
        }
        return Range(lower: lower, upper: upper)
    }

    /// Fraction of `answers` equal to `expected`.
    static func matchRate(_ answers: [Int], _ expected: [Int]) -> Double {
        guard !expected.isEmpty else { return 0 }
        return Double(zip(answers, expected).filter { $0 == $1 }.count) / Double(expected.count)
    }

    /// The threshold midway between the lowest copy and the highest reference; when they overlap, midway between
    /// their means (the fingerprint then does not separate them, and the calibration record shows it).
    public static func midpoint(copies: [Double], references: [Double]) -> Double {
        guard let low = copies.min(), let high = references.max() else { return 0.5 }
        if low > high { return (low + high) / 2 }
        let meanCopies = copies.reduce(0, +) / Double(copies.count)
        let meanReferences = references.reduce(0, +) / Double(references.count)
        return (meanCopies + meanReferences) / 2
    }

    /// ROC AUC of scores of positives (copies) against negatives (independent models): the probability that a
    /// random positive scores above a random negative, ties counting one half.
    public static func rocAUC(positives: [Double], negatives: [Double]) -> Double {
        guard !positives.isEmpty, !negatives.isEmpty else { return .nan }
        var total = 0.0
        for p in positives {
            for n in negatives { total += p > n ? 1 : (p == n ? 0.5 : 0) }
        }
        return total / Double(positives.count * negatives.count)
    }

    /// One standard normal draw (Box-Muller).
    static func gaussian(_ rng: inout SeededGenerator) -> Float {
        let u1 = max(Double(rng.next() >> 11) * 0x1p-53, 1e-300)
        let u2 = Double(rng.next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
