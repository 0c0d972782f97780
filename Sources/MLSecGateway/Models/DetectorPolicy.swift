// DetectorPolicy: a model's adversarial-input detector in the gateway: which action flagged requests get, and the
// detector itself, read from the signed model's detector.json and bound to the weights it was calibrated for.

import MLSecCore
import MLSecDeploy
import MLSecEngine
import MLSecRobustness

/// `"detector": {"action": "refuse" | "flag"}` in a model's configuration.
public struct DetectorPolicy: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        /// Answer 422 and record a denial.
        case refuse
        /// Answer, and record the flag in the audit log, the metrics and an `MLSec-Detector-Flagged` header.
        case flag
    }

    public var action: Action

    public init(action: Action) { self.action = action }

    init(json: JSONValue, context: String) throws {
        try GatewayConfiguration.check(json, allowed: ["action"], context)
        guard let text = json["action"]?.stringValue, let action = Action(rawValue: text) else {
            throw MLSecError.malformed("\(context).action must be \"refuse\" or \"flag\"")
        }
        self.action = action
    }

    /// The detector of `verified`: its signed detector.json, which must have been calibrated for these weights.
    /// Fails closed: a configured detector that is missing, unreadable or bound to other weights stops the load.
    func detector(for verified: VerifiedModel) throws -> FeatureSqueezingDetector {
        let file = ModelLoader.companionFiles[0]
        guard let bytes = verified.companions[file] else {
            throw MLSecError.verificationFailed(
                "model \(verified.name) was not loaded: its configuration asks for a detector but the signed directory has no \(file) "
                    + "(mlsec detector calibrate --out <model>/\(file), then sign the model again)")
        }
        let detector = try FeatureSqueezingDetector(bytes: bytes, context: "model \(verified.name) \(file)")
        do {
            try detector.checkBinding(modelDigest: verified.model.parameterDigest)
        } catch let error as MLSecError {
            throw MLSecError.verificationFailed("model \(verified.name) was not loaded: \(error.message)")
        }
        return detector
    }
}
