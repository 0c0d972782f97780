// ModelVerifier: checks a model on disk against its signature and reports every change.

import Foundation
import MLSecCore

/// What the verifier trusts.
public enum ModelTrust: Sendable {
    /// Key mode: the signer's public key.
    case publicKey(ModelVerifyingKey)
    /// Certificate mode: trust anchors the embedded chain must lead to.
    case certificates(CertificateChainTrust)
}

/// Options for ``ModelVerifier``.
public struct VerificationOptions: Sendable {
    /// Check only the files the signature names; files on disk that it does not name are accepted
    /// (reported in ``VerificationReport/warnings``).
    public var ignoreUnsignedFiles: Bool
    /// Check only these model-relative files (for example the files a loader will read). Each must be
    /// named by the signature.
    public var only: [String]?
    /// Model-relative path of the signature file when it lies inside the model (left out of the check).
    public var signatureRelativePath: String?
    public var hasher: ModelHasher

    public init(ignoreUnsignedFiles: Bool = false, only: [String]? = nil, signatureRelativePath: String? = nil,
                hasher: ModelHasher = ModelHasher()) {
        self.ignoreUnsignedFiles = ignoreUnsignedFiles
        self.only = only
        self.signatureRelativePath = signatureRelativePath
        self.hasher = hasher
    }
}

/// The verdict on a model.
public struct VerificationReport: Sendable {
    /// The signed manifest (authenticated unless produced by ``ModelVerifier/diff(modelPath:bundle:options:)``).
    public var manifest: Manifest
    /// What differs on disk.
    public var changes: ManifestComparison
    /// Notes for the user that do not change the verdict.
    public var warnings: [String]
    /// Number of files checked.
    public var filesChecked: Int

    /// `true` when nothing that was checked differs.
    public var isVerified: Bool { changes.isEmpty }
}

/// Verifies model signatures.
public struct ModelVerifier: Sendable {
    public let trust: ModelTrust

    public init(trust: ModelTrust) { self.trust = trust }

    /// Checks the bundle's signature and returns its authenticated manifest.
    /// - Throws: `verificationFailed` for a wrong key or an invalid signature, `malformed` for a bad bundle.
    public func authenticate(_ bundle: SignatureBundle) async throws -> Manifest {
        try InTotoStatement.manifest(from: try await authenticateStatement(bundle))
    }

    /// Checks the bundle's signature (key or certificate mode) and returns its authenticated in-toto statement,
    /// whatever its predicate (model manifests, dataset manifests).
    public func authenticateStatement(_ bundle: SignatureBundle) async throws -> JSONValue {
        let key: ModelVerifyingKey
        switch (trust, bundle.material) {
        case (.publicKey(let k), .publicKey(let hint)):
            if !hint.isEmpty, !ConstantTime.equal(Array(hint.utf8), Array(k.hint.utf8)) {
                throw MLSecError.verificationFailed(
                    "key mismatch: the signature names a different public key (hint \(hint.prefix(16))…) "
                        + "than the one given (\(k.hint.prefix(16))…)")
            }
            key = k
        case (.certificates(let anchors), .certificates(let chain)):
            key = try await anchors.validate(chain: chain)
        case (.publicKey, .certificates):
            throw MLSecError.verificationFailed(
                "the signature was made in certificate mode; verify it with --certificate-chain")
        case (.certificates, .publicKey):
            throw MLSecError.verificationFailed("the signature was made in key mode; verify it with --public-key")
        }
        guard key.isValidSignature(bundle.signature, for: bundle.signedBytes) else {
            throw MLSecError.verificationFailed("the signature does not verify with the given key: it is invalid or was made by another key")
        }
        return try bundle.statement()
    }

    /// Authenticates the signature, hashes the model and compares.
    public func verify(modelPath: String, bundle: SignatureBundle, options: VerificationOptions = VerificationOptions(),
                       progress: HashingProgress? = nil) async throws -> VerificationReport {
        let manifest = try await authenticate(bundle)
        return try Self.compare(modelPath: modelPath, manifest: manifest, options: options, progress: progress)
    }

    /// Compares the model with an unauthenticated signature (no key needed): what changed since signing.
    public static func diff(modelPath: String, bundle: SignatureBundle, options: VerificationOptions = VerificationOptions(),
                            progress: HashingProgress? = nil) throws -> VerificationReport {
        let manifest = try InTotoStatement.manifest(from: try bundle.statement())
        return try compare(modelPath: modelPath, manifest: manifest, options: options, progress: progress)
    }

    /// What a comparison covers: the files on disk to hash (walked with the signature's own ignore rules),
    /// the part of the manifest they must match, and warnings for the user.
    struct Plan {
        var files: [ModelFile]
        var expected: Manifest
        var warnings: [String]
    }

    static func plan(modelPath: String, manifest: Manifest, options: VerificationOptions) throws -> Plan {
        var warnings: [String] = []
        let signedPaths = manifest.filePaths
        var ignores = manifest.serialization.ignorePaths
        // Git paths are left out by default, unless the signature covers files under them.
        for git in gitIgnorePaths where !signedPaths.contains(where: { ResourcePath.isWithin($0, git) }) {
            ignores.append(git)
        }
        if let sig = options.signatureRelativePath, !signedPaths.contains(sig) { ignores.append(sig) }
        let tree = try ModelTree(path: modelPath, options: ModelTreeOptions(
            allowSymlinks: manifest.serialization.allowSymlinks, ignorePaths: ignores))
        var files = tree.files
        var expected = manifest
        if let only = options.only {
            for path in only {
                try ResourcePath.validate(path, context: "--only")
                guard signedPaths.contains(path) else {
                    throw MLSecError.verificationFailed("\(path) is not covered by the signature")
                }
            }
            let wanted = Set(only)
            files = files.filter { wanted.contains($0.name) }
            expected.items = expected.items.filter { wanted.contains($0.path) }
            expected.emptyFiles = expected.emptyFiles?.filter { wanted.contains($0) }
        } else if options.ignoreUnsignedFiles {
            let extra = files.filter { !signedPaths.contains($0.name) }.map(\.name)
            if !extra.isEmpty {
                warnings.append(
                    "\(extra.count) file(s) not covered by the signature were accepted because of "
                        + "--ignore-unsigned-files: \(extra.prefix(10).joined(separator: ", "))\(extra.count > 10 ? ", …" : "")")
            }
            files = files.filter { signedPaths.contains($0.name) }
        }
        if case .shards = manifest.serialization.method, manifest.emptyFiles == nil {
            warnings.append("this shards signature does not record empty files (made by the reference tool), "
                + "so added or removed empty files cannot be detected")
        }
        for link in tree.skippedDirectoryLinks {
            warnings.append("\(link) is a symbolic link to a directory and was not followed")
        }
        return Plan(files: files, expected: expected, warnings: warnings)
    }

    public static func compare(modelPath: String, manifest: Manifest, options: VerificationOptions,
                        progress: HashingProgress?) throws -> VerificationReport {
        let plan = try plan(modelPath: modelPath, manifest: manifest, options: options)
        let files = plan.files
        let hashed = try options.hasher.hash(files: files, serialization: manifest.serialization,
                                             modelName: manifest.modelName, progress: progress)
        let changes = ManifestComparison(expected: plan.expected, actual: hashed.manifest)
        return VerificationReport(manifest: manifest, changes: changes, warnings: plan.warnings, filesChecked: files.count)
    }
}
