// DeployPolicy: the deploy gate's rules, read strictly from a JSON file.

import Foundation
import MLSecCore
import MLSecIntegrity

#if canImport(Glibc)
import Glibc
#endif

/// A signer a policy trusts: a public key (PEM file, or its fingerprint), or a certificate identity with the
/// CA certificates its chain must lead to.
public enum TrustedSigner: Sendable, Equatable {
    /// A PEM public key file; the fingerprint of its key.
    case key(path: String, fingerprint: String)
    /// A key by its fingerprint alone (`sha256:<hex>` of the DER SubjectPublicKeyInfo).
    case keyFingerprint(String)
    /// A certificate identity (`email:`, `uri:`, `subject:` or a SAN), with CA certificate PEM files.
    case certificate(identity: String, chain: [String])

    /// Whether `signer` is this trusted signer.
    public func matches(_ signer: ModelSigner) -> Bool {
        switch self {
        case .key(_, let fingerprint), .keyFingerprint(let fingerprint):
            return ConstantTime.equal(Array(fingerprint.utf8), Array(signer.keyFingerprint.utf8))
        case .certificate(let identity, _):
            // A bare SAN matches an email or URI identity of the certificate.
            return signer.certificateIdentities.contains { $0 == identity || $0 == "email:\(identity)" || $0 == "uri:\(identity)" }
        }
    }

    public var description: String {
        switch self {
        case .key(let path, let fingerprint): "key \(path) (\(fingerprint.prefix(23))…)"
        case .keyFingerprint(let fingerprint): "key \(fingerprint.prefix(23))…"
        case .certificate(let identity, _): "certificate \(identity)"
        }
    }
}

/// One rule set for the models its patterns name. Every rule set whose pattern names a model must pass (as in
/// Sigstore's policy-controller); within `signers`, any one is enough. Absent settings require nothing.
public struct DeployRule: Sendable, Equatable {
    public var name: String
    /// Shell patterns (`*`, `?`, `[...]`) over model names.
    public var models: [String]
    public var signers: [TrustedSigner]
    /// Verdicts accepted from the scanner (the pipeline refuses anything but `clean` anyway).
    public var scanVerdicts: [String]
    /// Stages accepted (a model must be registered; `revoked` is never accepted).
    public var stages: [ModelStage]
    /// Most days since the version was registered.
    public var maxAgeDays: Double?
    /// Evaluation results that must be at least / at most these values (`accuracy` >= 0.9, `epsilon` <= 8).
    public var minEvaluations: [String: Double]
    public var maxEvaluations: [String: Double]
    public var requireEncryption: Bool
    /// A watermark status the registry must record (`verified`).
    public var requireWatermark: String?

    /// Whether the rule set applies to model `name`.
    public func applies(to name: String) -> Bool {
        models.contains { fnmatch($0, name, 0) == 0 }
    }
}

/// The deploy policy: its rule sets. A model that no rule set names is refused (fail closed).
public struct DeployPolicy: Sendable, Equatable {
    public var rules: [DeployRule]
    /// Where it was read from, for messages.
    public var source: String

    /// Reads and checks `path`. Unknown keys, wrong types, unreadable key files and empty rule sets are errors
    /// that name the key: a policy that cannot be read refuses every model.
    public init(path: String) throws {
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: 1 << 20, what: "deploy policy")
        let base = FilePath.directory(of: path)
        try self.init(json: try JSONParser().parse(bytes, context: "deploy policy \(path)"), source: path, baseDirectory: base)
    }

    public init(json: JSONValue, source: String, baseDirectory: String) throws {
        self.source = source
        let top = try PolicyObject(json, at: "the policy", allowed: ["version", "policies"])
        guard top.value("version")?.integerValue == 1 else {
            throw MLSecError.malformed("\(source): \"version\" must be 1")
        }
        guard let list = top.value("policies")?.arrayValue, !list.isEmpty, list.count <= 1000 else {
            throw MLSecError.malformed("\(source): \"policies\" must be a list of 1-1000 rule sets")
        }
        rules = try list.enumerated().map { index, value in
            try Self.rule(value, at: "policies[\(index)]", source: source, base: baseDirectory)
        }
    }

    /// The rule sets that apply to model `name`.
    public func rules(for name: String) -> [DeployRule] { rules.filter { $0.applies(to: name) } }

    static func rule(_ value: JSONValue, at path: String, source: String, base: String) throws -> DeployRule {
        let object = try PolicyObject(value, at: "\(source): \(path)", allowed: [
            "name", "models", "signers", "scan_verdict", "stage", "max_age_days", "min_evaluations", "max_evaluations",
            "require_encryption", "require_watermark",
        ])
        let models = try object.strings("models", required: true)
        let signers = try (object.value("signers")?.arrayValue ?? []).enumerated().map { index, entry in
            try signer(entry, at: "\(source): \(path).signers[\(index)]", base: base)
        }
        if object.value("signers") != nil, signers.isEmpty {
            throw MLSecError.malformed("\(source): \(path).signers is empty: list the trusted signers, or leave the key out")
        }
        let stages = try object.strings("stage").map { text in
            let stage = try ModelStage(parsing: text)
            guard stage != .revoked else { throw MLSecError.malformed("\(source): \(path).stage cannot accept revoked versions") }
            return stage
        }
        let verdicts = try object.strings("scan_verdict")
        for verdict in verdicts where !["clean", "unsafe", "malformed", "unsupported"].contains(verdict) {
            throw MLSecError.malformed("\(source): \(path).scan_verdict \"\(verdict.prefix(40))\" is not clean, unsafe, malformed or unsupported")
        }
        var maxAge: Double?
        if let value = object.value("max_age_days") {
            guard case .number(let text) = value, let days = Double(text), days > 0, days.isFinite else {
                throw MLSecError.malformed("\(source): \(path).max_age_days must be a positive number of days")
            }
            maxAge = days
        }
        var requireEncryption = false
        if let value = object.value("require_encryption") {
            guard let flag = value.boolValue else { throw MLSecError.malformed("\(source): \(path).require_encryption must be true or false") }
            requireEncryption = flag
        }
        var watermark: String?
        if let value = object.value("require_watermark") {
            guard let text = value.stringValue, !text.isEmpty, text.count <= 64 else {
                throw MLSecError.malformed("\(source): \(path).require_watermark must be a status such as \"verified\"")
            }
            watermark = text
        }
        return DeployRule(
            name: try object.value("name").map { value in
                guard let text = value.stringValue, !text.isEmpty, text.utf8.count <= 200 else {
                    throw MLSecError.malformed("\(source): \(path).name must be a string of 1-200 bytes")
                }
                return text
            } ?? path,
            models: models, signers: signers, scanVerdicts: verdicts, stages: stages, maxAgeDays: maxAge,
            minEvaluations: try object.thresholds("min_evaluations"), maxEvaluations: try object.thresholds("max_evaluations"),
            requireEncryption: requireEncryption, requireWatermark: watermark)
    }

    static func signer(_ value: JSONValue, at path: String, base: String) throws -> TrustedSigner {
        let object = try PolicyObject(value, at: path, allowed: ["key", "key_fingerprint", "certificate_identity", "certificate_chain"])
        switch (object.value("key")?.stringValue, object.value("key_fingerprint")?.stringValue, object.value("certificate_identity")?.stringValue) {
        case (let file?, nil, nil):
            guard object.value("certificate_chain") == nil else { throw MLSecError.malformed("\(path): certificate_chain goes with certificate_identity") }
            let resolved = FilePath.resolve(file, relativeTo: base)
            let pem = String(decoding: try ReadOnlyFile.readAll(resolved, maxBytes: 1 << 20, what: "policy public key"), as: UTF8.self)
            do {
                return .key(path: resolved, fingerprint: ModelSigner.fingerprint(of: try ModelVerifyingKey(pem: pem)))
            } catch let error as MLSecError {
                throw MLSecError.malformed("\(path).key \(resolved): \(error.message)")
            }
        case (nil, let fingerprint?, nil):
            guard fingerprint.hasPrefix("sha256:"), fingerprint.utf8.count == 71, Hex.decode(String(fingerprint.dropFirst(7))) != nil else {
                throw MLSecError.malformed("\(path).key_fingerprint must be sha256:<64 hex digits> (the signer of `mlsec registry show`, or `openssl pkey -pubin -in KEY.pub -outform DER | sha256sum`)")
            }
            return .keyFingerprint(fingerprint.lowercased())
        case (nil, nil, let identity?):
            let parsed: CertificateIdentity
            do { parsed = try CertificateIdentity(parsing: identity) } catch let error as MLSecError {
                throw MLSecError.malformed("\(path).certificate_identity: \(error.message)")
            }
            let chain = try PolicyObject(value, at: path, allowed: []).stringsUnchecked("certificate_chain").map { FilePath.resolve($0, relativeTo: base) }
            return .certificate(identity: parsed.description, chain: chain)
        default:
            throw MLSecError.malformed("\(path): give exactly one of key (a PEM file), key_fingerprint or certificate_identity")
        }
    }
}

/// A JSON object of a policy, with its location for messages and unknown keys refused.
struct PolicyObject {
    let members: [(String, JSONValue)]
    let at: String

    init(_ value: JSONValue, at: String, allowed: Set<String>) throws {
        guard let members = value.objectValue else { throw MLSecError.malformed("\(at) must be a JSON object") }
        self.members = members
        self.at = at
        var seen = Set<String>()
        for (key, _) in members {
            guard seen.insert(key).inserted else { throw MLSecError.malformed("\(at): \"\(key.prefix(60))\" is given twice") }
            guard allowed.isEmpty || allowed.contains(key) else {
                throw MLSecError.malformed("\(at): unknown key \"\(key.prefix(60))\" (known: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
    }

    func value(_ key: String) -> JSONValue? { members.first { $0.0 == key }?.1 }

    /// A string or a list of 1-1000 strings; empty when absent (an error when `required`).
    func strings(_ key: String, required: Bool = false) throws -> [String] {
        guard value(key) != nil else {
            if required { throw MLSecError.malformed("\(at): \"\(key)\" is required") }
            return []
        }
        return try stringsUnchecked(key)
    }

    func stringsUnchecked(_ key: String) throws -> [String] {
        guard let value = value(key) else { return [] }
        if let text = value.stringValue, !text.isEmpty, text.utf8.count <= 1024 { return [text] }
        guard let list = value.arrayValue, !list.isEmpty, list.count <= 1000,
              case let texts = list.compactMap(\.stringValue), texts.count == list.count,
              texts.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 1024 })
        else { throw MLSecError.malformed("\(at).\(key) must be a string or a list of 1-1000 non-empty strings") }
        return texts
    }

    /// An object of metric names to finite numbers.
    func thresholds(_ key: String) throws -> [String: Double] {
        guard let value = value(key) else { return [:] }
        guard let members = value.objectValue, !members.isEmpty, members.count <= 100 else {
            throw MLSecError.malformed("\(at).\(key) must be an object of 1-100 metric names to numbers, e.g. {\"accuracy\": 0.9}")
        }
        var result: [String: Double] = [:]
        for (name, number) in members {
            guard case .number(let text) = number, let threshold = Double(text), threshold.isFinite else {
                throw MLSecError.malformed("\(at).\(key).\(name.prefix(60)) must be a number")
            }
            result[name] = threshold
        }
        return result
    }
}
