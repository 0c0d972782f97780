// ModelAdmission: the last judgement of the loading pipeline, over what verification and scanning found.

import MLSecCore
import MLSecIntegrity

/// What the loading pipeline found about a model, before it builds it: the facts a deploy gate judges.
public struct AdmissionCandidate: Sendable, Equatable {
    public var name: String
    public var version: String
    /// The signed manifest's root digest, `sha256:<hex>`.
    public var digest: String
    public var signer: ModelSigner
    /// The scanner's verdict on the weights.
    public var scanVerdict: String
    /// Model files that were age-encrypted at rest.
    public var encryptedFiles: [String]
    /// Every signed file: path to `sha256:<hex>` (shards joined under their file's path).
    public var files: [String: String]

    public init(name: String, version: String, digest: String, signer: ModelSigner, scanVerdict: String, encryptedFiles: [String],
                files: [String: String]) {
        self.name = name
        self.version = version
        self.digest = digest
        self.signer = signer
        self.scanVerdict = scanVerdict
        self.encryptedFiles = encryptedFiles
        self.files = files
    }
}

/// Decides whether a verified, scanned model may be built and served (``DeployGate``).
public protocol ModelAdmission: Sendable {
    /// Returns when the model may be served.
    /// - Throws: `MLSecError.verificationFailed` naming every rule the model fails; an error reading the rules
    ///   or records refuses too (fail closed).
    func admit(_ candidate: AdmissionCandidate) async throws
}

extension ModelLoader {
    /// Path to `sha256:<hex>` for every whole-file item of `manifest` (sharded files are named by their item names).
    static func fileDigests(_ manifest: Manifest) -> [String: String] {
        var files: [String: String] = [:]
        for item in manifest.items { files[item.name] = "\(item.algorithm.hasPrefix("sha256") ? "sha256" : item.algorithm):" + Hex.encode(item.digest) }
        return files
    }
}
