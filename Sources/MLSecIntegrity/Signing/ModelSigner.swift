// ModelSigner: hashes a model and writes an OpenSSF Model Signing signature for it.

import MLSecCore
import X509

/// Who signs: a bare key (key mode) or a key with its certificate chain (certificate mode).
public enum ModelSignerIdentity: Sendable {
    case key(ModelSigningKey)
    /// `certificates`: the signing certificate first, then the chain to embed, in the given order.
    case certificate(ModelSigningKey, certificates: [Certificate])

    var key: ModelSigningKey {
        switch self {
        case .key(let k), .certificate(let k, _): k
        }
    }
}

/// Options for ``ModelSigner``.
public struct SigningOptions: Sendable {
    public var method: Serialization.Method
    public var hash: ModelHashAlgorithm
    public var allowSymlinks: Bool
    /// Model-relative paths to leave out (recorded in the signature so that verifiers leave them out too).
    public var ignorePaths: [String]
    /// Leave out `.git`, `.github`, `.gitattributes` and `.gitignore` at the model root.
    public var ignoreGitPaths: Bool
    /// Incremental re-signing: reuse the digests of this earlier signature (made with the same key) for
    /// files whose size and modification time did not change.
    public var previousSignature: SignatureBundle?
    public var hasher: ModelHasher
    /// The model name and version to record in the signature (checked by loaders that know them).
    public var modelIdentity: SignedModelIdentity?

    public init(method: Serialization.Method = .files, hash: ModelHashAlgorithm = .sha256, allowSymlinks: Bool = false,
                ignorePaths: [String] = [], ignoreGitPaths: Bool = true, previousSignature: SignatureBundle? = nil,
                hasher: ModelHasher = ModelHasher()) {
        self.method = method
        self.hash = hash
        self.allowSymlinks = allowSymlinks
        self.ignorePaths = ignorePaths
        self.ignoreGitPaths = ignoreGitPaths
        self.previousSignature = previousSignature
        self.hasher = hasher
    }
}

/// The paths the reference leaves out by default, at the model root.
public let gitIgnorePaths = [".git", ".gitattributes", ".github", ".gitignore"]

/// Signs models.
public struct ModelSigner: Sendable {
    public let identity: ModelSignerIdentity

    public init(identity: ModelSignerIdentity) throws {
        if case .certificate(let key, let certificates) = identity {
            guard let leaf = certificates.first else {
                throw MLSecError.usage("certificate signing needs the signing certificate")
            }
            let certKey = try CertificateChainTrust.publicKey(of: leaf)
            guard certKey.spki == key.publicKey.spki else {
                throw MLSecError.invalidKey("the signing certificate does not belong to the private key")
            }
            try CertificateChainTrust.checkSigningUsage(leaf)
        }
        self.identity = identity
    }

    /// The outcome of signing.
    public struct Result: Sendable {
        public var bundle: SignatureBundle
        public var manifest: Manifest
        public var reusedFiles: [String]
        public var bytesHashed: Int64
        public var skippedDirectoryLinks: [String]
    }

    /// Hashes the model at `modelPath` and signs its manifest.
    public func sign(modelPath: String, options: SigningOptions, progress: HashingProgress? = nil) throws -> Result {
        var ignores = options.ignorePaths
        if options.ignoreGitPaths { ignores.append(contentsOf: gitIgnorePaths) }
        for path in ignores { try ResourcePath.validate(path, context: "ignore path") }
        ignores = Array(Set(ignores)).sorted()
        let tree = try ModelTree(path: modelPath, options: ModelTreeOptions(allowSymlinks: options.allowSymlinks,
                                                                            ignorePaths: ignores))
        let serialization = Serialization(method: options.method, hash: options.hash,
                                          allowSymlinks: options.allowSymlinks,
                                          ignorePaths: tree.isSingleFile ? [] : ignores)
        var reuse: ModelHasher.Reuse?
        if let previous = options.previousSignature {
            guard identity.key.publicKey.isValidSignature(previous.signature, for: previous.signedBytes) else {
                throw MLSecError.verificationFailed(
                    "the previous signature was not made with this key; incremental signing reuses digests only "
                        + "from a signature it can verify")
            }
            reuse = ModelHasher.Reuse(manifest: try InTotoStatement.manifest(from: try previous.statement()))
        }
        let hashed = try options.hasher.hash(files: tree.files, serialization: serialization,
                                             modelName: FilePath.lastComponent(of: tree.root), reuse: reuse,
                                             progress: progress)
        var manifest = hashed.manifest
        manifest.signedModel = options.modelIdentity
        let payload = JSONWriter.bytes(InTotoStatement.json(for: manifest))
        let material: SignatureBundle.Material
        switch identity {
        case .key(let key):
            material = .publicKey(hint: key.publicKey.hint)
        case .certificate(_, let certificates):
            material = .certificates(try certificates.map(CertificateChainTrust.der))
        }
        var bundle = SignatureBundle(material: material, payload: payload, signature: [])
        bundle.signature = try identity.key.sign(bundle.signedBytes)
        return Result(bundle: bundle, manifest: manifest, reusedFiles: hashed.reusedFiles,
                      bytesHashed: hashed.bytesHashed, skippedDirectoryLinks: tree.skippedDirectoryLinks)
    }

}
