// ReportJSON: the robustness report as a JSON document (snake_case keys in a fixed order, finite numbers only).

import MLSecCore

extension RobustnessReport {
    /// The report as a JSON document, the machine-readable twin of ``html()``. Keys, in this order: `model`, `data`,
    /// `examples`, `clean_accuracy`, `norm`, `input_range` (`[lo, hi]` or null), `attacks` (`{key: {"name", "points":
    /// [[epsilon, accuracy], ...]}}`), `certified` (`{"sigma", "samples", "abstain_rate", "certified_accuracy":
    /// {"0.0": a, "0.25": b, ...}}` or null), `detector` (`{"roc": [[fpr, tpr], ...], "auc", "threshold",
    /// "operating_point": {"false_positive_rate", "true_positive_rate"}, "target_false_positive_rate",
    /// "attacked_with"}` or null), `flips` (`[{"row", "label", "adversarial_prediction", "epsilon", "original",
    /// "adversarial"}]`), `image_shape` (array or null), `grade`, `verdict`, `generated_at`, `generator`.
    ///
    /// Numbers have at most six significant digits; NaN and infinities become null, so the document is valid JSON.
    /// A repeated attack key or certified radius keeps its first occurrence (JSON objects must not repeat keys).
    public var json: JSONValue {
        var attackMembers: [(String, JSONValue)] = []
        for curve in attacks where !attackMembers.contains(where: { $0.0 == curve.key }) {
            attackMembers.append((curve.key, .object([
                ("name", .string(curve.name)),
                ("points", Self.pairs(curve.points)),
            ])))
        }
        return .object([
            ("model", .string(model)),
            ("data", .string(data)),
            ("examples", .int(examples)),
            ("clean_accuracy", Self.number(cleanAccuracy)),
            ("norm", .string(norm)),
            ("input_range", inputRange.map { .array([Self.number($0.lowerBound), Self.number($0.upperBound)]) } ?? .null),
            ("attacks", .object(attackMembers)),
            ("certified", certifiedJSON),
            ("detector", detector.map(Self.detectorJSON) ?? .null),
            ("flips", .array(flips.map(Self.flipJSON))),
            ("image_shape", imageShape.map { .array($0.map { .int($0) }) } ?? .null),
            ("grade", .string(grade.rawValue)),
            ("verdict", .string(verdict)),
            ("generated_at", .string(generatedAt)),
            ("generator", .string(generator)),
        ])
    }

    /// ``json`` as text: two-space indented, keys in the documented order, ending with a newline.
    public var jsonText: String {
        JSONWriter.string(json, options: .init(sortKeys: false, pretty: true)) + "\n"
    }

    /// A finite number with at most six significant digits, or null.
    package static func number(_ value: Double) -> JSONValue {
        ReportText.significant(value).map { .number($0) } ?? .null
    }

    /// `[[x, y], ...]`.
    private static func pairs(_ points: [CurvePoint]) -> JSONValue {
        .array(points.map { .array([number($0.x), number($0.y)]) })
    }

    private var certifiedJSON: JSONValue {
        guard let certified else { return .null }
        var byRadius: [(String, JSONValue)] = []
        for point in certified.points where point.x.isFinite {
            let key = ReportText.decimal(point.x)
            if !byRadius.contains(where: { $0.0 == key }) { byRadius.append((key, Self.number(point.y))) }
        }
        return .object([
            ("sigma", smoothingSigma.map(Self.number) ?? .null),
            ("samples", smoothingSamples.map { .int($0) } ?? .null),
            ("abstain_rate", abstainRate.map(Self.number) ?? .null),
            ("certified_accuracy", .object(byRadius)),
        ])
    }

    private static func detectorJSON(_ detector: DetectorSummary) -> JSONValue {
        .object([
            ("roc", pairs(detector.roc)),
            ("auc", number(detector.auc)),
            ("threshold", number(detector.threshold)),
            ("operating_point", .object([
                ("false_positive_rate", number(detector.operatingPoint.x)),
                ("true_positive_rate", number(detector.operatingPoint.y)),
            ])),
            ("target_false_positive_rate", number(detector.targetFalsePositiveRate)),
            ("attacked_with", .string(detector.attackedWith)),
        ])
    }

    private static func flipJSON(_ flip: FlipExample) -> JSONValue {
        .object([
            ("row", .int(flip.row)),
            ("label", .int(flip.label)),
            ("adversarial_prediction", .int(flip.adversarialPrediction)),
            ("epsilon", number(flip.epsilon)),
            ("original", .array(flip.original.map { number(Double($0)) })),
            ("adversarial", .array(flip.adversarial.map { number(Double($0)) })),
        ])
    }
}
