// FingerprintFile: the conferrable fingerprint's JSON form (FP.json, written by `mlsec fingerprint create` with
// mode 0600), parsed strictly: sizes, counts, shapes and ranges are checked before anything is used.

import Foundation
import MLSecCore

extension ConferrableFingerprint {
    /// The `format` member of a fingerprint file.
    public static let format = "mlsec.fingerprint.conferrable"
    /// The version this code reads and writes.
    public static let version = 1
    /// Largest fingerprint file read.
    public static let maxFileBytes = 32 << 20
    /// Most values per fingerprint input, and in all inputs together.
    public static let maxInputValues = 1 << 20
    public static let maxTotalValues = 4 << 20
    /// Most classes, and most models in each calibration list.
    static let maxClasses = 1 << 20
    static let maxCalibrationModels = 1000

    private static let topKeys: Set<String> = [
        "format", "version", "model", "input_name", "model_digest", "input_shape", "classes", "threshold", "inputs", "labels",
        "calibration",
    ]

    /// The file's JSON value.
    public var json: JSONValue {
        func rates(_ list: [Rate], kinds: Bool) -> JSONValue {
            .array(list.map {
                .object([("name", .string($0.name)), ("match_rate", .number("\($0.matchRate)"))] + (kinds ? [("distilled", .bool($0.distilled))] : []))
            })
        }
        let width = inputSize
        return .object([
            ("format", .string(Self.format)), ("version", .int(Self.version)),
            ("model", .string(modelName)), ("input_name", .string(inputName)), ("model_digest", .string(modelDigest)),
            ("input_shape", .array(inputShape.map { .int($0) })), ("classes", .int(classCount)),
            ("threshold", .number("\(threshold)")),
            ("calibration", .object([
                ("copies", rates(calibration.copies, kinds: true)), ("references", rates(calibration.references, kinds: false)),
                ("references_held_out", .bool(calibration.referencesHeldOut)),
                ("epsilon", .number("\(calibration.epsilon)")), ("candidates", .int(calibration.candidates)),
                ("mean_conferrability", .number("\(calibration.meanConferrability)")),
                ("seed", .number("\(calibration.seed)")),
            ])),
            ("labels", .array(labels.map { .int($0) })),
            ("inputs", .array((0..<count).map { i in .array(inputs[i * width..<(i + 1) * width].map { .number("\($0)") }) })),
        ])
    }

    /// The file's bytes: the JSON pretty-printed, except that each input row and the labels stay on one line.
    public var fileBytes: [UInt8] {
        guard case .object(let members) = json else { return [] }
        var text = "{"
        for (i, (key, value)) in members.enumerated() {
            text += (i > 0 ? "," : "") + "\n  " + JSONWriter.string(.string(key)) + ": "
            switch key {
            case "inputs":
                let rows = value.arrayValue ?? []
                text += "[" + rows.map { "\n    " + JSONWriter.string($0) }.joined(separator: ",") + (rows.isEmpty ? "]" : "\n  ]")
            case "labels", "input_shape": text += JSONWriter.string(value)
            default:
                text += JSONWriter.string(value, options: .init(pretty: true)).replacingOccurrences(of: "\n", with: "\n  ")
            }
        }
        return Array((text + "\n}\n").utf8)
    }

    /// Parses a fingerprint file's bytes; `context` names the file in errors.
    public init(bytes: [UInt8], context: String) throws {
        guard bytes.count <= Self.maxFileBytes else {
            throw MLSecError.limitExceeded("\(context) is over \(Self.maxFileBytes >> 20) MiB: not a fingerprint file this version writes")
        }
        let json = try JSONParser(limits: .init(maxDepth: 6, maxStringBytes: 4096, maxContainerCount: Self.maxInputValues))
            .parse(bytes, context: context)
        guard json["format"]?.stringValue == Self.format, json["version"]?.integerValue == Self.version else {
            throw MLSecError.malformed("\(context) is not an MLSec fingerprint file (format \"\(Self.format)\", version \(Self.version)); "
                + "create one with `mlsec fingerprint create`")
        }
        guard let members = json.objectValue else { throw MLSecError.malformed("\(context): the document is not an object") }
        for (key, _) in members where !Self.topKeys.contains(key) {
            throw MLSecError.malformed("\(context): unknown member \"\(key.prefix(64))\" (this version reads \(Self.topKeys.sorted().joined(separator: ", ")))")
        }
        func fail(_ what: String) -> MLSecError { .malformed("\(context): \(what)") }
        func number(_ value: JSONValue?, _ name: String, _ valid: (Double) -> Bool) throws -> Double {
            guard case .number(let text)? = value, let v = Double(text), v.isFinite, valid(v) else {
                throw fail("\"\(name)\" is missing or out of range")
            }
            return v
        }
        func integer(_ value: JSONValue?, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = value?.integerValue, range.contains(v) else { throw fail("\"\(name)\" must be an integer in \(range)") }
            return v
        }
        guard let model = json["model"]?.stringValue, !model.isEmpty, let inputName = json["input_name"]?.stringValue, !inputName.isEmpty else {
            throw fail("\"model\" and \"input_name\" must be non-empty strings")
        }
        guard let digest = json["model_digest"]?.stringValue, digest.hasPrefix("sha256:"), digest.utf8.count == 71 else {
            throw fail("\"model_digest\" must be sha256: and 64 hex digits")
        }
        guard let shapeValues = json["input_shape"]?.arrayValue, (1...8).contains(shapeValues.count) else {
            throw fail("\"input_shape\" must list 1 to 8 dimensions")
        }
        let shape = try shapeValues.map { try integer($0, "input_shape", 1...Self.maxInputValues) }
        var width = 1
        for d in shape {
            let (product, overflow) = width.multipliedReportingOverflow(by: d)
            guard !overflow, product <= Self.maxInputValues else { throw fail("\"input_shape\" \(shape) has over \(Self.maxInputValues) values") }
            width = product
        }
        let classes = try integer(json["classes"], "classes", 2...Self.maxClasses)
        guard let labelValues = json["labels"]?.arrayValue, (1...Fingerprinting.maxInputs).contains(labelValues.count) else {
            throw fail("\"labels\" must list 1 to \(Fingerprinting.maxInputs) labels")
        }
        let labels = try labelValues.map { try integer($0, "labels", 0...(classes - 1)) }
        guard let rows = json["inputs"]?.arrayValue, rows.count == labels.count else {
            throw fail("\"inputs\" must hold one row per label (\(labels.count))")
        }
        guard labels.count * width <= Self.maxTotalValues else {
            throw MLSecError.limitExceeded("\(context): \(labels.count) inputs of \(width) values are over \(Self.maxTotalValues) values")
        }
        var inputs: [Float] = []
        inputs.reserveCapacity(labels.count * width)
        for (i, row) in rows.enumerated() {
            guard let values = row.arrayValue, values.count == width else {
                throw fail("input \(i) must be an array of \(width) numbers (input_shape \(shape))")
            }
            for value in values {
                guard case .number(let text) = value, let v = Float(text), v.isFinite else { throw fail("input \(i) holds a value that is not a finite number") }
                inputs.append(v)
            }
        }
        let calibrationValue = json["calibration"]
        func rates(_ name: String, kinds: Bool) throws -> [Rate] {
            guard let list = calibrationValue?[name]?.arrayValue, list.count <= Self.maxCalibrationModels else {
                throw fail("\"calibration.\(name)\" must list at most \(Self.maxCalibrationModels) models")
            }
            return try list.map { entry in
                guard let label = entry["name"]?.stringValue else { throw fail("each of \"calibration.\(name)\" needs a \"name\"") }
                var distilled = false
                if kinds {
                    guard let flag = entry["distilled"]?.boolValue else { throw fail("each of \"calibration.\(name)\" needs \"distilled\": true or false") }
                    distilled = flag
                }
                return Rate(name: label, matchRate: try number(entry["match_rate"], "calibration.\(name).match_rate", { $0 >= 0 && $0 <= 1 }),
                            distilled: distilled)
            }
        }
        guard let heldOut = calibrationValue?["references_held_out"]?.boolValue else {
            throw fail("\"calibration.references_held_out\" must be true or false")
        }
        guard case .number(let seedText)? = calibrationValue?["seed"], let seed = UInt64(seedText) else {
            throw fail("\"calibration.seed\" must be an unsigned integer")
        }
        let calibration = Calibration(
            copies: try rates("copies", kinds: true), references: try rates("references", kinds: false), referencesHeldOut: heldOut,
            epsilon: try number(calibrationValue?["epsilon"], "calibration.epsilon", { $0 > 0 && $0 <= 1 }),
            candidates: try integer(calibrationValue?["candidates"], "calibration.candidates", 1...100_000_000),
            meanConferrability: try number(calibrationValue?["mean_conferrability"], "calibration.mean_conferrability", { $0 >= 0 && $0 <= 1 }),
            seed: seed)
        self.init(modelName: model, inputName: inputName, modelDigest: digest, inputShape: shape, classCount: classes, inputs: inputs,
                  labels: labels, threshold: try number(json["threshold"], "threshold", { $0 >= 0 && $0 <= 1 }), calibration: calibration)
    }
}
