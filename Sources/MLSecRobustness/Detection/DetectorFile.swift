// DetectorFile: the feature-squeezing detector's JSON form (written by `mlsec detector calibrate`, read by
// `mlsec detector check` and the gateway), parsed strictly: a file that cannot be read refuses, it never allows.

import MLSecCore

extension FeatureSqueezingDetector {
    /// Largest detector file read.
    public static let maxFileBytes = 64 << 10

    public var json: JSONValue {
        .object([
            ("format", .string(Self.format)), ("version", .int(1)),
            ("model", .string(model)), ("model_digest", .string(modelDigest)),
            ("input_range", range.isBounded ? .array([.number("\(range.lower)"), .number("\(range.upper)")]) : .null),
            ("squeezers", .array(squeezers.map(\.json))),
            ("threshold", .number("\(threshold)")),
            ("target_false_positive_rate", .number("\(targetFalsePositiveRate)")),
            ("calibration", .object([
                ("examples", .int(calibrationExamples)),
                ("false_positive_rate", .number("\(observedFalsePositiveRate)")),
                ("selection_detection_rate", selectionDetectionRate.map { .number("\($0)") } ?? .null),
            ])),
        ])
    }

    /// Parses a detector file's bytes; `context` names the file in errors.
    public init(bytes: [UInt8], context: String) throws {
        guard bytes.count <= Self.maxFileBytes else { throw MLSecError.limitExceeded("\(context) is over \(Self.maxFileBytes) bytes") }
        let json = try JSONParser(limits: .init(maxDepth: 8, maxStringBytes: 4096, maxContainerCount: 64)).parse(bytes, context: context)
        guard json["format"]?.stringValue == Self.format, json["version"]?.integerValue == 1 else {
            throw MLSecError.malformed("\(context) is not an MLSec detector file (format \"\(Self.format)\", version 1)")
        }
        func number(_ value: JSONValue?, _ name: String, _ valid: (Double) -> Bool) throws -> Double {
            guard case .number(let text)? = value, let v = Double(text), v.isFinite, valid(v) else {
                throw MLSecError.malformed("\(context): \"\(name)\" is missing or out of range")
            }
            return v
        }
        guard let model = json["model"]?.stringValue, let digest = json["model_digest"]?.stringValue, digest.hasPrefix("sha256:") else {
            throw MLSecError.malformed("\(context): \"model\" and \"model_digest\" (sha256:...) are required")
        }
        guard let squeezerValues = json["squeezers"]?.arrayValue, (1...8).contains(squeezerValues.count) else {
            throw MLSecError.malformed("\(context): \"squeezers\" must list 1 to 8 squeezers")
        }
        var range = try InputRange(lower: -.infinity, upper: .infinity)
        if let bounds = json["input_range"]?.arrayValue {
            guard bounds.count == 2 else { throw MLSecError.malformed("\(context): \"input_range\" must be [low, high]") }
            range = try InputRange(lower: Float(try number(bounds[0], "input_range", { _ in true })),
                                   upper: Float(try number(bounds[1], "input_range", { _ in true })))
        }
        var selection: Double?
        if let value = json["calibration"]?["selection_detection_rate"], value != .null {
            selection = try number(value, "calibration.selection_detection_rate", { $0 >= 0 && $0 <= 1 })
        }
        self.init(
            squeezers: try squeezerValues.map { try Squeezer(json: $0, context: context) }, range: range,
            threshold: try number(json["threshold"], "threshold", { $0 >= 0 }),
            targetFalsePositiveRate: try number(json["target_false_positive_rate"], "target_false_positive_rate", { $0 > 0 && $0 < 1 }),
            observedFalsePositiveRate: try number(json["calibration"]?["false_positive_rate"], "calibration.false_positive_rate", { $0 >= 0 && $0 <= 1 }),
            calibrationExamples: try Int(number(json["calibration"]?["examples"], "calibration.examples", { $0 >= 1 && $0 <= 1e9 })),
            model: model, modelDigest: digest,
            selectionDetectionRate: selection)
    }
}
