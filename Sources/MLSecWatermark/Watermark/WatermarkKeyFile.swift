// WatermarkKeyFile: the watermark key's JSON form (written mode 0600: it is the secret behind every claim), parsed
// strictly with every count and shape checked before use.

import MLSecCore

extension WatermarkKey {
    public static let format = "mlsec-watermark-key"
    /// Largest key file read.
    public static let maxFileBytes = 64 << 20

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("format", .string(Self.format)), ("version", .int(1))]
        switch method {
        case .weights(let w):
            members += [
                ("method", .string("weights")), ("layer", .string(w.layer)), ("shape", .array(w.shape.map { .int($0) })),
                ("projection_seed", .string(String(w.projectionSeed))), ("bits", .string(String(w.bits.map { $0 ? "1" : "0" }))),
            ]
        case .triggers(let t):
            members += [
                ("method", .string("triggers")), ("width", .int(t.width)), ("labels", .array(t.labels.map { .int($0) })),
                ("inputs", .array(t.inputs.map { .number("\($0)") })),
            ]
        }
        members += [
            ("chance_rate", .number("\(chanceRate)")), ("calibration_rates", .array(calibrationRates.map { .number("\($0)") })),
            ("false_claim_probability", .number("\(falseClaimProbability)")), ("threshold_count", .int(thresholdCount)),
            ("model", .string(model)), ("model_digest", .string(modelDigest)), ("created_at", .string(createdAt)),
        ]
        return .object(members)
    }

    /// Parses a key file's bytes; `context` names the file in errors.
    public init(bytes: [UInt8], context: String) throws {
        guard bytes.count <= Self.maxFileBytes else { throw MLSecError.limitExceeded("\(context) is over \(Self.maxFileBytes) bytes") }
        let json = try JSONParser(limits: .init(maxDepth: 8, maxStringBytes: 1 << 16, maxContainerCount: 1 << 24)).parse(bytes, context: context)
        guard json["format"]?.stringValue == Self.format, json["version"]?.integerValue == 1 else {
            throw MLSecError.malformed("\(context) is not an MLSec watermark key (format \"\(Self.format)\", version 1)")
        }
        func number(_ key: String, _ valid: (Double) -> Bool) throws -> Double {
            guard case .number(let text)? = json[key], let v = Double(text), v.isFinite, valid(v) else {
                throw MLSecError.malformed("\(context): \"\(key)\" is missing or out of range")
            }
            return v
        }
        func int(_ value: JSONValue?, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = value?.integerValue, range.contains(v) else {
                throw MLSecError.malformed("\(context): \"\(name)\" must be an integer in \(range)")
            }
            return v
        }
        let method: Method
        switch json["method"]?.stringValue {
        case "weights":
            guard let layer = json["layer"]?.stringValue, !layer.isEmpty, let shapeValues = json["shape"]?.arrayValue,
                  (1...8).contains(shapeValues.count), let seedText = json["projection_seed"]?.stringValue, let seed = UInt64(seedText),
                  let bitText = json["bits"]?.stringValue, (1...4096).contains(bitText.utf8.count), bitText.utf8.allSatisfy({ $0 == 48 || $0 == 49 })
            else { throw MLSecError.malformed("\(context): a weights key needs layer, shape, projection_seed and bits (a string of 0 and 1)") }
            let shape = try shapeValues.map { try int($0, "shape", 1...(1 << 24)) }
            guard shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }) <= 1 << 26 else {
                throw MLSecError.limitExceeded("\(context): the layer shape \(shape) is too large")
            }
            method = .weights(WeightWatermark(layer: layer, shape: shape, projectionSeed: seed, bits: bitText.utf8.map { $0 == 49 }))
        case "triggers":
            let width = try int(json["width"], "width", 1...(1 << 20))
            guard let labelValues = json["labels"]?.arrayValue, (8...10_000).contains(labelValues.count),
                  let inputValues = json["inputs"]?.arrayValue, inputValues.count == labelValues.count * width
            else { throw MLSecError.malformed("\(context): a triggers key needs 8-10000 labels and labels × width inputs") }
            let labels = try labelValues.map { try int($0, "labels", 0...1_000_000) }
            let inputs = try inputValues.map { value -> Float in
                guard case .number(let text) = value, let v = Float(text), v.isFinite else {
                    throw MLSecError.malformed("\(context): \"inputs\" holds a value that is not a finite number")
                }
                return v
            }
            method = .triggers(TriggerSetWatermark(inputs: inputs, labels: labels, width: width))
        default:
            throw MLSecError.malformed("\(context): \"method\" must be \"weights\" or \"triggers\"")
        }
        guard let rates = json["calibration_rates"]?.arrayValue, (1...64).contains(rates.count) else {
            throw MLSecError.malformed("\(context): \"calibration_rates\" must list 1-64 rates")
        }
        guard let model = json["model"]?.stringValue, let digest = json["model_digest"]?.stringValue,
              let created = json["created_at"]?.stringValue else {
            throw MLSecError.malformed("\(context): \"model\", \"model_digest\" and \"created_at\" are required")
        }
        self.init(method: method, chanceRate: try number("chance_rate", { $0 >= 0 && $0 <= 1 }),
                  calibrationRates: try rates.map { value in
                      guard case .number(let text) = value, let v = Double(text), v >= 0, v <= 1 else {
                          throw MLSecError.malformed("\(context): a calibration rate is not in [0, 1]")
                      }
                      return v
                  },
                  falseClaimProbability: try number("false_claim_probability", { $0 > 0 && $0 < 0.5 }),
                  thresholdCount: 0, model: model, modelDigest: digest, createdAt: created)
        thresholdCount = try int(json["threshold_count"], "threshold_count", 0...size)
    }
}
