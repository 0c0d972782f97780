// DeployCommand: `mlsec deploy check NAME VERSION --policy FILE`, the deploy gate as the gateway applies it.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecDeploy
import MLSecIntegrity
import Synchronization

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Check a registered model version against a deploy policy, as the gateway does before it serves it.",
        discussion: """
            Examples:
              mlsec deploy check digits 2 --policy deploy-policy.json --state-dir state
              mlsec deploy check digits 2 --policy deploy-policy.json \\
                --config gateway.json --format json
            """,
        subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Approve (exit 0) or refuse (exit 1, naming every failed rule) a registered version.",
            discussion: """
                The version's files are loaded through the model-loading pipeline (signature verified with the \
                policy's trusted keys or certificate chains, files hashed, weights scanned), then judged by the \
                registry (not revoked, the registered digest) and by every rule set of the policy that names \
                the model: signers, scan verdict, stage, age, evaluation results, encryption at rest.

                Example:
                  mlsec deploy check digits 2 --policy deploy-policy.json --state-dir state
                """)
        @Argument(help: "Model name.") var name: String
        @Argument(help: "Version.") var version: String
        @Option(help: "The deploy policy (JSON).") var policy: String
        @Option(help: "An age identity file for encrypted model files; repeatable.") var identity: [String] = []
        @Option(help: "Output: text or json.") var format: OutputFormat = .text
        @OptionGroup var place: RegistryCommand.Place

        func run() async throws {
            let rules = try DeployPolicy(path: policy)
            let store = try await place.store()
            var failures: [String] = []
            var digest: String?
            if let record = try await store.version(name: name, version: version) {
                digest = record.manifestDigest
                failures = try await judge(record, policy: rules, store: store)
            } else {
                // Nothing to load: the registry's verdict alone (and whether any rule set names the model).
                failures = ["registry: version \(version) is not registered (mlsec registry add)"]
                if rules.rules(for: name).isEmpty {
                    failures.append("policy: no rule set in \(policy) names model \(name), so it is refused")
                }
            }
            report(failures, digest: digest)
            if !failures.isEmpty { throw ExitCode(1) }
        }

        /// Loads the registered files through the pipeline with the gate as its admission; the failures found.
        func judge(_ record: RegisteredVersion, policy: DeployPolicy, store: any ModelRegistryStore) async throws -> [String] {
            let rules = policy.rules(for: name)
            var keys: [String] = []
            var chains: [String] = []
            var identities: [CertificateIdentity] = []
            for signer in rules.flatMap(\.signers) {
                switch signer {
                case .key(let path, _): keys.append(path)
                case .certificate(let identity, let chain):
                    chains += chain
                    identities.append(try CertificateIdentity(parsing: identity))
                case .keyFingerprint: break
                }
            }
            let gate = RecordingGate(gate: DeployGate(registry: store, policyPath: policy.source))
            var attempts: [ModelLocation] = []
            let base = ModelLocation(name: name, version: version, path: record.path, signature: record.signature, publicKeys: [],
                                     identities: identity)
            if !keys.isEmpty { attempts.append(with(base) { $0.publicKeys = Array(Set(keys)).sorted() }) }
            if !chains.isEmpty {
                attempts.append(with(base) {
                    $0.certificateChain = Array(Set(chains)).sorted()
                    $0.certificateIdentities = identities
                })
            }
            guard !attempts.isEmpty else {
                return DeployGate.evaluate(
                    AdmissionCandidate(name: name, version: version, digest: record.manifestDigest, signer: ModelSigner(keyFingerprint: ""),
                                       scanVerdict: record.scanVerdict, encryptedFiles: record.encryptedFiles, files: record.files),
                    record: record, policy: policy, registryInUse: true, now: Date())
                    + ["signer: the policy names no public key file or certificate chain for model \(name), so its signature cannot be "
                        + "verified (add a signers entry with key or certificate_identity and certificate_chain)"]
            }
            var errors: [String] = []
            for location in attempts {
                do {
                    _ = try await ModelLoader(admission: gate).load(location)
                    return []
                } catch {
                    if let failures = gate.failures { return failures }
                    errors.append(readable(error, limit: 600))
                }
            }
            return ["signature: " + errors.joined(separator: "; ")]
        }

        func report(_ failures: [String], digest: String?) {
            switch format {
            case .json:
                printJSON(.object([
                    ("model", .string(name)), ("version", .string(version)), ("approved", .bool(failures.isEmpty)),
                    ("manifest_digest", digest.map { .string($0) } ?? .null), ("policy", .string(policy)),
                    ("failures", .array(failures.map { .string($0) })),
                ]))
            case .text:
                if failures.isEmpty {
                    print("approved: \(name) \(version) (\(digest ?? "")) passes \(policy)")
                } else {
                    print("refused: \(name) \(version) fails \(failures.count) rule(s) of \(policy):")
                    for failure in failures { print("  - \(failure)") }
                }
            }
        }
    }
}

/// The gate, with the failures it found kept for the report (the pipeline's error joins them into one line).
final class RecordingGate: ModelAdmission {
    let gate: DeployGate
    private let found = Mutex<[String]?>(nil)

    init(gate: DeployGate) { self.gate = gate }

    var failures: [String]? { found.withLock { $0 } }

    func admit(_ candidate: AdmissionCandidate) async throws {
        let record = try await gate.registry?.version(name: candidate.name, version: candidate.version)
        let policy = try gate.policyPath.map { try DeployPolicy(path: $0) }
        let failures = DeployGate.evaluate(candidate, record: record, policy: policy, registryInUse: true, now: Date())
        found.withLock { $0 = failures }
        if !failures.isEmpty { throw MLSecError.verificationFailed(failures.joined(separator: "; ")) }
    }
}

/// A copy of `value` changed by `change`.
func with<T>(_ value: T, _ change: (inout T) -> Void) -> T {
    var copy = value
    change(&copy)
    return copy
}
