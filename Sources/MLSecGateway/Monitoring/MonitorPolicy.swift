// MonitorPolicy: `models[].monitor` in the gateway's configuration: the reference file, the window and
// thresholds, what happens to out-of-distribution requests and to callers whose queries look like an attack,
// and where alerts are posted.

import Foundation
import MLSecCore
import MLSecData
import MLSecDeploy
import MLSecEngine

/// A model's inference-monitoring policy, read strictly (unknown keys are errors).
///
/// ```json
/// "monitor": {"reference": "monitor.json", "window": 500, "check_every": 100, "psi_threshold": 0.25,
///             "ks_p_value": 0.01, "ood_action": "flag",
///             "query_pattern": {"action": "refuse", "block_seconds": 600},
///             "webhooks": ["https://alerts.example/mlsec"]}
/// ```
public struct MonitorPolicy: Sendable, Equatable {
    /// What an out-of-distribution request gets.
    public enum OODAction: String, Sendable, CaseIterable {
        /// Answered with `MLSec-OOD-Flagged` and the flag in its audit entry and the metrics.
        case flag
        /// 422 and a denial in the audit log; the model does not run.
        case refuse
    }

    /// What a caller whose queries raise a query-pattern alert gets (besides the alert).
    public enum QueryAction: String, Sendable, CaseIterable {
        /// Nothing more: the alert is for people.
        case flag
        /// For `block_seconds`, each distinct input costs 1/`throttle_factor` of its role's extraction budget (a
        /// role without a budget is refused instead: fail closed).
        case throttle
        /// For `block_seconds`, its requests to this model are answered 429.
        case refuse
    }

    /// The reference file (resolved against the configuration's directory; `{version}` is the served version).
    public var reference: String
    public var settings = MonitorSettings()
    public var oodAction = OODAction.flag
    public var queryAction = QueryAction.flag
    public var blockSeconds = 600.0
    public var throttleFactor = 0.1
    /// URLs alerts are POSTed to (https://, or http:// with `allow_insecure_webhooks`).
    public var webhooks: [String] = []
    public var webhookTimeout = Duration.seconds(2)

    public init(reference: String) { self.reference = reference }

    static let maxWebhooks = 8

    init(json: JSONValue, context: String, resolve: (String) -> String) throws {
        try GatewayConfiguration.check(json, allowed: [
            "reference", "window", "check_every", "psi_threshold", "prediction_psi_threshold", "ks_p_value", "ood_action",
            "query_pattern", "webhooks", "allow_insecure_webhooks", "webhook_timeout_ms",
        ], context)
        guard let path = json["reference"]?.stringValue, !path.isEmpty else {
            throw MLSecError.malformed("\(context).reference must name the file `mlsec monitor profile` wrote")
        }
        self.init(reference: resolve(path))
        func integer(_ value: JSONValue?, _ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let value else { return nil }
            guard let n = value.integerValue, range.contains(n) else {
                throw MLSecError.malformed("\(context).\(key) must be an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        func number(_ value: JSONValue?, _ key: String, _ range: ClosedRange<Double>) throws -> Double? {
            guard let value else { return nil }
            guard case .number(let text) = value, let v = Double(text), v.isFinite, range.contains(v) else {
                throw MLSecError.malformed("\(context).\(key) must be a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
        settings.window = try integer(json["window"], "window", 20...100_000) ?? settings.window
        settings.checkEvery = try integer(json["check_every"], "check_every", 1...100_000) ?? max(1, settings.window / 5)
        settings.psiThreshold = try number(json["psi_threshold"], "psi_threshold", 0.001...100) ?? settings.psiThreshold
        settings.predictionPSIThreshold = try number(json["prediction_psi_threshold"], "prediction_psi_threshold", 0.001...100)
            ?? settings.psiThreshold
        settings.ksPValue = try number(json["ks_p_value"], "ks_p_value", 1e-12...0.5) ?? settings.ksPValue
        if let value = json["ood_action"] {
            guard let action = value.stringValue.flatMap(OODAction.init(rawValue:)) else {
                throw MLSecError.malformed("\(context).ood_action must be \"flag\" or \"refuse\"")
            }
            oodAction = action
        }
        if let q = json["query_pattern"] {
            let at = "\(context).query_pattern"
            try GatewayConfiguration.check(q, allowed: [
                "window", "min_queries", "near_distance", "near_duplicate_share", "probe_distance", "low_margin", "probe_share",
                "halving_run", "cooldown_seconds", "max_callers", "action", "block_seconds", "throttle_factor",
            ], at)
            var p = settings.queryPattern
            p.window = try integer(q["window"], "query_pattern.window", 10...10_000) ?? p.window
            p.minQueries = try integer(q["min_queries"], "query_pattern.min_queries", 1...p.window) ?? min(p.minQueries, p.window)
            p.nearDistance = try number(q["near_distance"], "query_pattern.near_distance", 0...10) ?? p.nearDistance
            p.nearDuplicateShare = try number(q["near_duplicate_share"], "query_pattern.near_duplicate_share", 0.01...1) ?? p.nearDuplicateShare
            p.probeDistance = try number(q["probe_distance"], "query_pattern.probe_distance", 0...10) ?? p.probeDistance
            p.lowMargin = try number(q["low_margin"], "query_pattern.low_margin", 0...1) ?? p.lowMargin
            p.probeShare = try number(q["probe_share"], "query_pattern.probe_share", 0.01...1) ?? p.probeShare
            p.halvingRun = try integer(q["halving_run"], "query_pattern.halving_run", 2...10_000) ?? p.halvingRun
            p.cooldownSeconds = try number(q["cooldown_seconds"], "query_pattern.cooldown_seconds", 0...86_400) ?? p.cooldownSeconds
            p.maxCallers = try integer(q["max_callers"], "query_pattern.max_callers", 16...1_000_000) ?? p.maxCallers
            settings.queryPattern = p
            if let value = q["action"] {
                guard let action = value.stringValue.flatMap(QueryAction.init(rawValue:)) else {
                    throw MLSecError.malformed("\(at).action must be \"flag\", \"throttle\" or \"refuse\"")
                }
                queryAction = action
            }
            blockSeconds = try number(q["block_seconds"], "query_pattern.block_seconds", 1...604_800) ?? blockSeconds
            throttleFactor = try number(q["throttle_factor"], "query_pattern.throttle_factor", 0.001...1) ?? throttleFactor
        }
        let insecure = json["allow_insecure_webhooks"]?.boolValue ?? false
        if let list = json["webhooks"] {
            guard let urls = list.arrayValue?.compactMap(\.stringValue), urls.count == list.arrayValue?.count, urls.count <= Self.maxWebhooks else {
                throw MLSecError.malformed("\(context).webhooks must list at most \(Self.maxWebhooks) URLs")
            }
            webhooks = try urls.map { try Self.webhook($0, insecure: insecure, context: "\(context).webhooks") }
        }
        if let ms = try integer(json["webhook_timeout_ms"], "webhook_timeout_ms", 100...30_000) { webhookTimeout = .milliseconds(ms) }
    }

    /// A webhook URL: https (http only with `allow_insecure_webhooks`), a host, no credentials in the URL.
    static func webhook(_ text: String, insecure: Bool, context: String) throws -> String {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw MLSecError.malformed("\(context): \"\(text.prefix(100))\" is not a URL")
        }
        guard scheme == "https" || (scheme == "http" && insecure) else {
            throw MLSecError.malformed("\(context): \(text.prefix(100)) must be https:// (set allow_insecure_webhooks to post alerts over plain http)")
        }
        guard url.user == nil, url.password == nil else {
            throw MLSecError.malformed("\(context): \(text.prefix(100)) carries credentials; webhook URLs must not (they would reach logs)")
        }
        return text
    }

    /// The monitor of `verified` (served as `version`): the reference file, bound to these weights and shapes.
    /// Fails closed: a configured reference that is missing, unreadable or built for other weights stops the load.
    func monitor(for verified: VerifiedModel, version: String) throws -> GatewayMonitor {
        let path = reference.replacingOccurrences(of: ModelLocation.versionPlaceholder, with: version)
        do {
            let bytes = try ReadOnlyFile.readAll(path, maxBytes: MonitorReference.maxFileBytes, what: "monitor reference")
            let parsed = try MonitorReference(bytes: bytes, context: path)
            try parsed.checkBinding(modelDigest: verified.model.parameterDigest, inputSize: verified.model.inputSize,
                                    classCount: verified.model.outputSize)
            return GatewayMonitor(policy: self, monitor: ModelMonitor(reference: parsed, settings: settings),
                                  probabilities: verified.model.endsWithSoftmax)
        } catch let error as MLSecError {
            throw MLSecError(error.code == .io ? .io : .verificationFailed,
                             "model \(verified.name) was not loaded: its monitor reference \(path): \(error.message) "
                                 + "(`mlsec monitor profile --model <model> --data <training data> --out \(path)`)")
        }
    }
}
