// DeployGate: the deploy policy and the registry applied to what the loading pipeline verified.

import Foundation
import MLSecCore

/// The gate every model passes on its way to service: in the gateway (start, SIGHUP, `PUT /admin/models/{m}`,
/// a replica following a deploy) and in `mlsec deploy check`, always as the loading pipeline's last step
/// (``ModelLoader/admission``), so that it judges the signer, verdict and digest the pipeline found in the bytes
/// it is about to serve.
///
/// - With a registry: a revoked version is refused, and a registered version whose verified digest differs
///   from the registered one is refused (the files were replaced after registration).
/// - With a policy: every rule set that names the model must pass; a model no rule set names, or one that is
///   not registered, is refused. The policy file is read at every admission, so a reload (SIGHUP) or the next
///   deploy applies an edited policy; a policy that cannot be read refuses.
public struct DeployGate: ModelAdmission {
    public let registry: (any ModelRegistryStore)?
    /// The policy file, or nil to apply the registry's checks alone.
    public let policyPath: String?
    let now: @Sendable () -> Date

    public init(registry: (any ModelRegistryStore)?, policyPath: String?, now: @escaping @Sendable () -> Date = { Date() }) {
        self.registry = registry
        self.policyPath = policyPath
        self.now = now
    }

    public func admit(_ candidate: AdmissionCandidate) async throws {
        let record: RegisteredVersion?
        do {
            record = try await registry?.version(name: candidate.name, version: candidate.version)
        } catch {
            throw MLSecError.verificationFailed("model \(candidate.name) version \(candidate.version) was not loaded: the registry "
                + "cannot be read (\(readable(error, limit: 300))); the gate refuses until it can")
        }
        let policy: DeployPolicy?
        do {
            policy = try policyPath.map { try DeployPolicy(path: $0) }
        } catch {
            throw MLSecError.verificationFailed("model \(candidate.name) version \(candidate.version) was not loaded: the deploy policy "
                + "cannot be read (\(readable(error, limit: 400))); the gate refuses until it can")
        }
        let failures = Self.evaluate(candidate, record: record, policy: policy, registryInUse: registry != nil, now: now())
        guard failures.isEmpty else {
            throw MLSecError.verificationFailed("model \(candidate.name) version \(candidate.version) was refused by the deploy gate: "
                + failures.joined(separator: "; "))
        }
    }

    /// Every rule `candidate` fails, each as `rule: what was required, what was found`; empty when it passes.
    public static func evaluate(_ candidate: AdmissionCandidate, record: RegisteredVersion?, policy: DeployPolicy?, registryInUse: Bool,
                                now: Date) -> [String] {
        var failures: [String] = []
        if let record {
            if record.stage == .revoked {
                failures.append("registry: version \(record.version) was revoked by \(record.stageChangedBy) at "
                    + "\(RFC3339.format(record.stageChangedAt)) (\(record.stageReason))")
            }
            if record.manifestDigest != candidate.digest {
                failures.append("registry: the files verified now (\(candidate.digest)) are not the registered ones "
                    + "(\(record.manifestDigest)); register the new files as a new version")
            }
        }
        guard let policy else { return failures }
        let rules = policy.rules(for: candidate.name)
        if rules.isEmpty {
            failures.append("policy: no rule set in \(policy.source) names model \(candidate.name), so it is refused (add a rule set "
                + "whose models pattern names it)")
            return failures
        }
        if record == nil {
            failures.append(registryInUse
                ? "registry: version \(candidate.version) is not registered (mlsec registry add)"
                : "registry: the policy needs the model registry, and none is open")
        }
        for rule in rules {
            failures += evaluate(rule, candidate, record: record, now: now).map { "\(rule.name): \($0)" }
        }
        return failures
    }

    static func evaluate(_ rule: DeployRule, _ candidate: AdmissionCandidate, record: RegisteredVersion?, now: Date) -> [String] {
        var failures: [String] = []
        if !rule.signers.isEmpty, !rule.signers.contains(where: { $0.matches(candidate.signer) }) {
            failures.append("signer: signed by \(candidate.signer.summary), which is not one of the trusted signers ("
                + rule.signers.prefix(10).map(\.description).joined(separator: ", ") + ")")
        }
        if !rule.scanVerdicts.isEmpty, !rule.scanVerdicts.contains(candidate.scanVerdict) {
            failures.append("scan_verdict: the scanner found the weights \(candidate.scanVerdict), required "
                + rule.scanVerdicts.joined(separator: " or "))
        }
        if rule.requireEncryption {
            let plain = ModelLoader.modelFiles.filter { !candidate.encryptedFiles.contains($0) }
            if !plain.isEmpty {
                failures.append("require_encryption: \(plain.joined(separator: " and ")) not encrypted at rest (mlsec encrypt, then sign)")
            }
        }
        guard let record else { return failures }
        if !rule.stages.isEmpty, !rule.stages.contains(record.stage) {
            failures.append("stage: version \(record.version) is in \(record.stage.rawValue), required "
                + rule.stages.map(\.rawValue).joined(separator: " or ") + " (mlsec registry promote)")
        }
        if let maxAge = rule.maxAgeDays {
            let age = now.timeIntervalSince(record.createdAt) / 86_400
            if age > maxAge {
                failures.append("max_age_days: registered \(String(format: "%.1f", age)) days ago, at most \(maxAge.formatted0) allowed")
            }
        }
        for (metric, minimum) in rule.minEvaluations.sorted(by: { $0.key < $1.key }) {
            guard let value = record.evaluations[metric] else {
                failures.append("min_evaluations: no \(metric) result recorded (required at least \(minimum.formatted0))")
                continue
            }
            if !(value >= minimum) { failures.append("min_evaluations: \(metric) is \(value.formatted0), required at least \(minimum.formatted0)") }
        }
        for (metric, maximum) in rule.maxEvaluations.sorted(by: { $0.key < $1.key }) {
            guard let value = record.evaluations[metric] else {
                failures.append("max_evaluations: no \(metric) result recorded (required at most \(maximum.formatted0))")
                continue
            }
            if !(value <= maximum) { failures.append("max_evaluations: \(metric) is \(value.formatted0), required at most \(maximum.formatted0)") }
        }
        if let watermark = rule.requireWatermark, record.watermark != watermark {
            failures.append("require_watermark: watermark status is \(record.watermark ?? "not recorded"), required \(watermark)")
        }
        return failures
    }
}

extension Double {
    /// A short decimal form for messages (`0.9`, `8`, `0.9731`).
    var formatted0: String {
        if self == rounded(), abs(self) < 1e15 { return String(Int(self)) }
        return String(format: "%.4g", self)
    }
}
