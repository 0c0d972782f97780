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
