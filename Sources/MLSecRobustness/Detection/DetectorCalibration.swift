// DetectorCalibration: calibrates the feature-squeezing detector against PGD examples made on the calibration rows
// themselves (white-box, labelled by the model's own predictions), so the squeezers chosen are those that catch them.

import MLSecCore
import MLSecEngine

extension FeatureSqueezingDetector {
    /// Calibrates on clean `rows`, choosing the squeezers that best catch `attack`'s examples against the model's
    /// own predictions (only the examples whose prediction the attack changed).
    public static func calibrate(_ model: Model, rows: [Float], count: Int, falsePositiveRate: Double, modelDigest: String,
                                 against attack: GradientAttack) throws -> FeatureSqueezingDetector {
        let width = model.inputSize
        let oracle = ModelOracle(model: model)
        let predicted = try oracle.labelsNow(rows, count: count)
        let adversarial = try attack.perturb(model, rows: rows, labels: predicted, range: try InputRange(spec: model.spec))
        let after = try oracle.labelsNow(adversarial, count: count)
        let flipped = (0..<count).filter { after[$0] != predicted[$0] }
        let flippedRows = flipped.flatMap { adversarial[$0 * width..<($0 + 1) * width] }
        return try calibrate(model, rows: rows, count: count, falsePositiveRate: falsePositiveRate, modelDigest: modelDigest,
                             adversarial: flippedRows, adversarialCount: flipped.count)
    }

    /// The default attack calibration chooses squeezers with: PGD, L∞, 20 steps, a tenth of the input range.
    public static func defaultCalibrationAttack(range: InputRange) throws -> GradientAttack {
        try .pgd(norm: .infinity, epsilon: 0.1 * (range.isBounded ? range.width : 1), steps: 20)
    }
}
