// The deploy gate: each rule refused on its own with a message naming it, policies read strictly (fail closed),
// and the gate as the loading pipeline's last step.

import Foundation
import MLSecCore
import MLSecDeploy
import MLSecIntegrity
import Testing

@Suite("deploy gate")
struct DeployGateTests {
    static let fingerprint = "sha256:" + String(repeating: "ab", count: 32)

    static func policy(_ rule: String, models: String = "\"digits*\"") throws -> DeployPolicy {
        let text = "{\"version\": 1, \"policies\": [{\"name\": \"prod\", \"models\": \(models)\(rule.isEmpty ? "" : ", ")\(rule)}]}"
        return try DeployPolicy(json: try JSONParser().parse(Array(text.utf8)), source: "policy.json", baseDirectory: "/")
    }

    static func candidate(signer: String = fingerprint, verdict: String = "clean", encrypted: [String] = []) -> AdmissionCandidate {
        AdmissionCandidate(name: "digits", version: "2", digest: "sha256:11", signer: ModelSigner(keyFingerprint: signer),
                           scanVerdict: verdict, encryptedFiles: encrypted, files: [:])
    }

    static func record(stage: ModelStage = .production, age: TimeInterval = 3600, evaluations: [String: Double] = ["accuracy": 0.97],
                       digest: String = "sha256:11") -> RegisteredVersion {
        var record = RegisteredVersion(
            name: "digits", version: "2", path: "/m", signature: "/m.sig", manifestDigest: digest, signer: "key:\(fingerprint)",
            scanVerdict: "clean", scanReportDigest: "sha256:22", files: [:], encryptedFiles: [], evaluations: evaluations,
            stage: stage, createdAt: Date(timeIntervalSinceNow: -age), createdBy: "test")
        record.stageChangedBy = "ops"
        return record
    }

    func failures(_ rule: String, candidate: AdmissionCandidate = candidate(), record: RegisteredVersion? = record()) throws -> [String] {
        DeployGate.evaluate(candidate, record: record, policy: try Self.policy(rule), registryInUse: true, now: Date())
    }

    @Test func aModelThatMeetsEveryRulePasses() throws {
        let rule = """
            "signers": [{"key_fingerprint": "\(Self.fingerprint)"}], "scan_verdict": "clean", "stage": "production",
            "max_age_days": 30, "min_evaluations": {"accuracy": 0.95}, "max_evaluations": {"accuracy": 1}
            """
        #expect(try failures(rule).isEmpty)
    }

    @Test func eachRuleIsRefusedOnItsOwnAndNamed() throws {
        let other = "sha256:" + String(repeating: "cd", count: 32)
        let cases: [(String, AdmissionCandidate, RegisteredVersion?, String)] = [
            ("\"signers\": [{\"key_fingerprint\": \"\(other)\"}]", Self.candidate(), Self.record(), "prod: signer:"),
            ("\"stage\": \"production\"", Self.candidate(), Self.record(stage: .staging), "prod: stage:"),
            ("\"max_age_days\": 1", Self.candidate(), Self.record(age: 3 * 86_400), "prod: max_age_days:"),
            ("\"min_evaluations\": {\"accuracy\": 0.99}", Self.candidate(), Self.record(), "prod: min_evaluations: accuracy is 0.97"),
            ("\"min_evaluations\": {\"robust_accuracy\": 0.5}", Self.candidate(), Self.record(), "prod: min_evaluations: no robust_accuracy"),
            ("\"max_evaluations\": {\"epsilon\": 8}", Self.candidate(), Self.record(evaluations: ["epsilon": 9.5]), "prod: max_evaluations: epsilon"),
            ("\"require_encryption\": true", Self.candidate(encrypted: ["model.json"]), Self.record(), "prod: require_encryption: weights.safetensors"),
            ("\"scan_verdict\": \"clean\"", Self.candidate(verdict: "unsafe"), Self.record(), "prod: scan_verdict:"),
            ("\"require_watermark\": \"verified\"", Self.candidate(), Self.record(), "prod: require_watermark:"),
            ("", Self.candidate(), nil, "registry: version 2 is not registered"),
            ("", Self.candidate(), Self.record(stage: .revoked), "registry: version 2 was revoked"),
            ("", Self.candidate(), Self.record(digest: "sha256:99"), "registry: the files verified now"),
        ]
        for (rule, candidate, record, expected) in cases {
            let found = try failures(rule, candidate: candidate, record: record)
            #expect(found.count == 1, "\(rule): \(found)")
            #expect(found.first?.hasPrefix(expected) == true, "\(rule): \(found)")
        }
    }

    @Test func everyFailedRuleIsListed() throws {
        let found = try failures("\"stage\": \"production\", \"min_evaluations\": {\"accuracy\": 0.99}, \"require_encryption\": true",
                                 record: Self.record(stage: .staging))
        #expect(found.count == 3)
    }

    @Test func aModelNoRuleNamesIsRefused() throws {
        let found = DeployGate.evaluate(Self.candidate(), record: Self.record(), policy: try Self.policy("", models: "\"fraud-*\""),
                                        registryInUse: true, now: Date())
        #expect(found.count == 1 && found[0].contains("no rule set"))
    }

    @Test func everyMatchingRuleSetMustPass() throws {
        let text = """
            {"version": 1, "policies": [{"models": "*", "scan_verdict": "clean"},
             {"name": "digits-prod", "models": ["digits"], "stage": ["production"]}]}
            """
        let policy = try DeployPolicy(json: try JSONParser().parse(Array(text.utf8)), source: "p", baseDirectory: "/")
        #expect(policy.rules(for: "digits").count == 2)
        let found = DeployGate.evaluate(Self.candidate(), record: Self.record(stage: .archived), policy: policy, registryInUse: true, now: Date())
        #expect(found == ["digits-prod: stage: version 2 is in archived, required production (mlsec registry promote)"])
    }

    @Test func policiesAreReadStrictly() throws {
        let bad = [
            "{\"version\": 2, \"policies\": [{\"models\": \"*\"}]}",
            "{\"version\": 1, \"policies\": []}",
            "{\"version\": 1, \"policies\": [{\"models\": \"*\", \"stages\": \"production\"}]}",
            "{\"version\": 1, \"policies\": [{\"stage\": \"production\"}]}",
            "{\"version\": 1, \"policies\": [{\"models\": \"*\", \"stage\": \"revoked\"}]}",
            "{\"version\": 1, \"policies\": [{\"models\": \"*\", \"max_age_days\": -1}]}",
            "{\"version\": 1, \"policies\": [{\"models\": \"*\", \"signers\": [{\"key_fingerprint\": \"md5:00\"}]}]}",
            "{\"version\": 1, \"policies\": [{\"models\": \"*\", \"signers\": [{\"key\": \"/nonexistent.pub\"}]}]}",
            "{\"version\": 1, \"policies\": [{\"models\": \"*\", \"min_evaluations\": {\"accuracy\": \"high\"}}]}",
            "{\"version\": 1, \"policies\": [{\"models\": \"*\", \"require_encryption\": \"yes\"}]}",
            "{\"version\": 1, \"policies\": [{\"models\": \"*\", \"models\": \"x\"}]}",
        ]
        for text in bad {
            #expect(throws: MLSecError.self, "\(text)") {
                try DeployPolicy(json: try JSONParser().parse(Array(text.utf8)), source: "p", baseDirectory: "/")
            }
        }
    }

    @Test func theLoaderRefusesWhatTheGateRefusesAndAnUnreadablePolicyRefusesAll() async throws {
        let model = try SignedModel()
        let store = InMemoryRegistryStore()
        let registry = ModelRegistry(store: store, audit: nil)
        _ = try await registry.register(model.location(), facts: .init(evaluations: ["accuracy": 0.9]), by: "test")
        let policyPath = "\(model.directory)/policy.json"
        try AtomicFile.write("{\"version\": 1, \"policies\": [{\"models\": \"digits\", \"signers\": [{\"key\": \"publisher.pub\"}], "
            + "\"stage\": \"production\"}]}", to: policyPath)
        let loader = ModelLoader(admission: DeployGate(registry: store, policyPath: policyPath))
        await #expect(throws: MLSecError.self) { _ = try await loader.load(model.location()) }
        try await registry.changeStage(name: "digits", version: "1", to: .production, by: "ops", reason: "release")
        _ = try await loader.load(model.location())
        try AtomicFile.write("{not json", to: policyPath)
        await #expect(throws: MLSecError.self) { _ = try await loader.load(model.location()) }
        try AtomicFile.write("{\"version\": 1, \"policies\": [{\"models\": \"digits\"}]}", to: policyPath)
        try await registry.changeStage(name: "digits", version: "1", to: .revoked, by: "sec", reason: "leak")
        do {
            _ = try await loader.load(model.location())
            Issue.record("a revoked version loaded")
        } catch let error as MLSecError {
            #expect(error.code == .verificationFailed && error.message.contains("revoked by sec"))
        }
    }
}
