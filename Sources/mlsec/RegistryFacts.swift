// RegistryFacts: what `mlsec registry add` records beside the pipeline's findings: evaluations, datasets, the ML-BOM.

import Crypto
import Foundation
import MLSecCore
import MLSecDeploy

enum RegistryFacts {
    /// Metric names: letters, digits, `_`, `-`, `.` (1-64).
    static func isMetricName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
    }

    /// `--eval METRIC=VALUE` pairs, over the numeric top-level members of `--evaluation FILE`.
    static func evaluations(_ pairs: [String], file: String?) throws -> [String: Double] {
        var results: [String: Double] = [:]
        if let file {
            let value = try JSONParser().parse(try ReadOnlyFile.readAll(file, maxBytes: 16 << 20, what: "evaluation results"), context: file)
            guard let members = value.objectValue else { throw MLSecError.malformed("\(file) must be a JSON object of results") }
            for (name, member) in members {
                guard case .number(let text) = member, let number = Double(text), number.isFinite, isMetricName(name) else { continue }
                results[name] = number
            }
            guard !results.isEmpty else { throw MLSecError.malformed("\(file) has no numeric top-level member to record") }
        }
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, isMetricName(parts[0]), let number = Double(parts[1]), number.isFinite else {
                throw MLSecError.usage("--eval \(pair.prefix(80)): give METRIC=NUMBER, e.g. accuracy=0.97")
            }
            results[parts[0]] = number
        }
        return results
    }

    /// The results of a robustness report (`mlsec robustness report --json FILE`): `clean_accuracy`, and per attack
    /// the accuracy at its largest budget (`robust_accuracy.<attack>`), the smallest of them as `robust_accuracy`.
    static func robustness(_ file: String) throws -> [String: Double] {
        let value = try JSONParser().parse(try ReadOnlyFile.readAll(file, maxBytes: 64 << 20, what: "robustness report"), context: file)
        func number(_ value: JSONValue?) -> Double? {
            guard case .number(let text)? = value, let number = Double(text), number.isFinite else { return nil }
            return number
        }
        guard let clean = number(value["clean_accuracy"]), let attacks = value["attacks"]?.objectValue else {
            throw MLSecError.malformed("\(file) is not a robustness report: it needs clean_accuracy and attacks (mlsec robustness report)")
        }
        var results = ["clean_accuracy": clean]
        for (key, attack) in attacks where isMetricName(key) {
            // The point at the largest budget: [[epsilon, accuracy], ...].
            let points = (attack["points"]?.arrayValue ?? []).compactMap { point -> (Double, Double)? in
                guard let pair = point.arrayValue, pair.count == 2, let x = number(pair[0]), let y = number(pair[1]) else { return nil }
                return (x, y)
            }
            guard let worst = points.max(by: { $0.0 < $1.0 }) else { continue }
            results["robust_accuracy.\(key)"] = worst.1
        }
        if let weakest = results.filter({ $0.key.hasPrefix("robust_accuracy.") }).values.min() { results["robust_accuracy"] = weakest }
        return results
    }

    /// A watermark verdict (`mlsec watermark verify` JSON): the status (`verified` or `absent`) and its rate.
    static func watermark(_ file: String) throws -> (status: String, results: [String: Double]) {
        let value = try JSONParser().parse(try ReadOnlyFile.readAll(file, maxBytes: 1 << 20, what: "watermark verdict"), context: file)
        guard let verdict = value["verdict"]?.stringValue, ["watermarked", "not-watermarked"].contains(verdict) else {
            throw MLSecError.malformed("\(file) is not a watermark verdict: it needs \"verdict\" (mlsec watermark verify output)")
        }
        var results: [String: Double] = [:]
        for rate in ["bit_error_rate", "match_rate"] {
            if case .number(let text)? = value[rate], let number = Double(text), number.isFinite { results["watermark_\(rate)"] = number }
        }
        return (verdict == "watermarked" ? "verified" : "absent", results)
    }

    /// `--dataset NAME=MANIFEST`: the SHA-256 of each manifest file.
    static func datasets(_ pairs: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, isMetricName(parts[0]) else {
                throw MLSecError.usage("--dataset \(pair.prefix(80)): give NAME=MANIFEST, e.g. train=train.manifest.json")
            }
            let bytes = try ReadOnlyFile.readAll(parts[1], maxBytes: 64 << 20, what: "dataset manifest")
            result[parts[0]] = "sha256:" + Hex.encode(Array(SHA256.hash(data: bytes)))
        }
        return result
    }

    /// The ML-BOM of a version being registered.
    @Sendable static func bom(_ record: RegisteredVersion) throws -> [UInt8] {
        try ModelBOM.build(directory: record.path, registered: record, options: ModelBOM.Options(toolVersion: MLSecVersion.string))
    }
}
