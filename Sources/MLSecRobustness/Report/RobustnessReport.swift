// RobustnessReport: the numbers behind `mlsec robustness report`: accuracy under each attack against the budget,
// certified accuracy against the radius, the detector's ROC curve, the examples that flip most easily, a verdict.

/// A point of a curve.
public struct CurvePoint: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// A named curve (one attack's accuracy against epsilon, or certified accuracy against the radius).
public struct Curve: Sendable, Equatable {
    /// What the curve shows, e.g. "PGD (L∞, 40 steps)".
    public var name: String
    /// Short key used in the JSON, e.g. "pgd".
    public var key: String
    public var points: [CurvePoint]
    public init(name: String, key: String, points: [CurvePoint]) {
        self.name = name
        self.key = key
        self.points = points
    }
}

/// The feature-squeezing detector's part of the report.
public struct DetectorSummary: Sendable, Equatable {
    /// ROC curve on clean versus adversarial (PGD) examples: x = false-positive rate, y = true-positive rate.
    public var roc: [CurvePoint]
    /// Area under the ROC curve.
    public var auc: Double
    /// The calibrated threshold and where it sits on the curve.
    public var threshold: Double
    public var operatingPoint: CurvePoint
    /// The false-positive rate the threshold was calibrated for.
    public var targetFalsePositiveRate: Double
    /// The attack and budget of the adversarial examples the detector was scored on, e.g. "PGD L∞ eps 0.1".
    public var attackedWith: String
    public init(roc: [CurvePoint], auc: Double, threshold: Double, operatingPoint: CurvePoint,
                targetFalsePositiveRate: Double, attackedWith: String) {
        self.roc = roc
        self.auc = auc
        self.threshold = threshold
        self.operatingPoint = operatingPoint
        self.targetFalsePositiveRate = targetFalsePositiveRate
        self.attackedWith = attackedWith
    }
}

/// An example that an attack flips with a small budget.
public struct FlipExample: Sendable, Equatable {
    /// Row of the data set (0-based, header excluded).
    public var row: Int
    public var label: Int
    public var adversarialPrediction: Int
    /// The smallest budget (in the report's norm) at which the attack flipped it.
    public var epsilon: Double
    /// Input values, row-major, of the original and the adversarial example.
    public var original: [Float]
    public var adversarial: [Float]
    public init(row: Int, label: Int, adversarialPrediction: Int, epsilon: Double, original: [Float], adversarial: [Float]) {
        self.row = row
        self.label = label
        self.adversarialPrediction = adversarialPrediction
        self.epsilon = epsilon
        self.original = original
        self.adversarial = adversarial
    }
}

/// Everything the report shows; the HTML and the JSON are two renderings of it.
public struct RobustnessReport: Sendable, Equatable {
    /// How the verdict judges the model.
    public enum Grade: String, Sendable, Equatable {
        case robust, fragile, broken
    }

    public var model: String
    public var data: String
    public var examples: Int
    public var cleanAccuracy: Double
    /// "inf" or "2": the norm the attack budgets are measured in.
    public var norm: String
    /// The declared input range the attacks clip to (nil where the model declares none).
    public var inputRange: ClosedRange<Double>?
    /// Accuracy against epsilon, one curve per attack (x = epsilon, y = accuracy; the first point is epsilon 0).
    public var attacks: [Curve]
    /// Randomized smoothing: certified accuracy against the L2 radius (nil when not run), with its settings.
    public var certified: Curve?
    public var smoothingSigma: Double?
    public var smoothingSamples: Int?
    public var abstainRate: Double?
    public var detector: DetectorSummary?
    /// The examples that flip with the smallest budget, most fragile first.
    public var flips: [FlipExample]
    /// [height, width] when the input is an image (the flips are drawn as images), else nil.
    public var imageShape: [Int]?
    public var grade: Grade
    /// One line, e.g. "Fragile: PGD (L∞) drops accuracy from 0.97 to 0.41 at eps 0.1".
    public var verdict: String
    /// RFC 3339 time the report was made, and the MLSec version.
    public var generatedAt: String
    public var generator: String

    public init(model: String, data: String, examples: Int, cleanAccuracy: Double, norm: String, inputRange: ClosedRange<Double>?,
                attacks: [Curve], certified: Curve?, smoothingSigma: Double?, smoothingSamples: Int?, abstainRate: Double?,
                detector: DetectorSummary?, flips: [FlipExample], imageShape: [Int]?, grade: Grade, verdict: String,
                generatedAt: String, generator: String) {
        self.model = model
        self.data = data
        self.examples = examples
        self.cleanAccuracy = cleanAccuracy
        self.norm = norm
        self.inputRange = inputRange
        self.attacks = attacks
        self.certified = certified
        self.smoothingSigma = smoothingSigma
        self.smoothingSamples = smoothingSamples
        self.abstainRate = abstainRate
        self.detector = detector
        self.flips = flips
        self.imageShape = imageShape
        self.grade = grade
        self.verdict = verdict
        self.generatedAt = generatedAt
        self.generator = generator
    }
}
