// ModelFacts: what the ML-BOM says about a model, read from its directory with every input treated as hostile.

import Crypto
import MLSecCore
import MLSecEngine
import MLSecFormats
import MLSecIntegrity
import MLSecSupplyChain

/// One model file as the BOM lists it.
struct ModelFileFact: Sendable {
    /// Path relative to the model directory.
    var path: String
    /// SHA-256 of the file as it lies on disk (so of the ciphertext for an `.age` file).
    var sha256: [UInt8]
    /// Size in bytes, when the file was read from disk.
    var size: Int64?

    var isEncrypted: Bool { path.hasSuffix(".age") }
}

/// The signature bundle as the BOM lists it.
struct SignatureFact: Sendable {
    var path: String
    var sha256: [UInt8]
    /// Key mode: the hint the bundle carries (SHA-256 of the public-key PEM); certificate mode: nil.
    var keyHint: String?
    var isCertificate: Bool
}

/// What was read from a model directory (and, for a registered version, checked against the registry's record).
struct ModelFacts: Sendable {
    var files: [ModelFileFact] = []
    /// The manifest root digest, `sha256:<hex>`, as `mlsec digest` prints it (SHA-256 files serialization).
    var manifestDigest: String = ""
    var spec: ModelSpec?
    var weights: SafetensorsHeader?
    var signature: SignatureFact?

    /// Reads `directory`: hashes every file (a size cap on the whole), parses model.json and the safetensors
    /// header when they are in the clear, and reads the signature bundle.
    /// - Parameters:
    ///   - directory: the model directory, or nil for a registered version whose directory is gone.
    ///   - registered: when given, its files are the model's files and each one on disk must still match.
    ///   - signature: the signature bundle's path, if any (left out of the files when it lies in the directory).
    static func read(directory: String?, registered: RegisteredVersion?, signature: String?, limits: ModelBOM.Limits) throws -> ModelFacts {
        var facts = ModelFacts()
        var onDisk: [String: ModelFileFact] = [:]
        if let directory {
            let hashed = try hash(directory: directory, excluding: signature, limits: limits)
            onDisk = Dictionary(hashed.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            facts.files = hashed.files
            facts.manifestDigest = hashed.root
        }
        if let registered {
            facts.files = try registeredFiles(registered, onDisk: onDisk, directory: directory)
            facts.manifestDigest = registered.manifestDigest
        }
        if let directory {
            let listed = Set(facts.files.map(\.path))
            if listed.contains(ModelStore.specFile) {
                facts.spec = try readSpec(directory: directory, expected: facts.files.first { $0.path == ModelStore.specFile })
            }
            if listed.contains(ModelStore.weightsFile) {
                facts.weights = try readWeightsHeader(directory + "/" + ModelStore.weightsFile, limits: limits)
            }
        }
        if let signature, FileStatus.exists(signature) {
            facts.signature = try readSignature(signature)
        } else if let signature, registered == nil {
            throw MLSecError.io("cannot read the signature bundle \(signature): no such file")
        }
        return facts
    }

    /// Every regular file under `directory` (symbolic links refused, git metadata skipped), hashed with SHA-256.
    static func hash(directory: String, excluding signature: String?, limits: ModelBOM.Limits) throws -> (files: [ModelFileFact], root: String) {
        let status = try FileStatus.status(directory)
        guard status.kind == .directory else {
            throw MLSecError.usage("\(directory) is a \(status.kind.description), not a model directory")
        }
        var ignore = gitIgnorePaths
        if let signature, let inside = FilePath.relative(FilePath.absolute(signature), to: FilePath.absolute(directory)),
            inside != ".", !inside.hasPrefix("../")
        {
            ignore.append(inside)
        }
        let tree = try ModelTree(path: directory, options: ModelTreeOptions(ignorePaths: ignore, maxFiles: limits.maxFiles))
        var total: Int64 = 0
        for file in tree.files {
            total += file.status.size
            guard total <= limits.maxModelBytes else {
                throw MLSecError.limitExceeded(
                    "model directory \(directory) holds more than \(limits.maxModelBytes) bytes (the ML-BOM's limit); \(file.name) passes it")
            }
        }
        let result = try ModelHasher().hash(
            files: tree.files, serialization: Serialization(method: .files, hash: .sha256), modelName: FilePath.lastComponent(of: tree.root))
        let sizes = Dictionary(tree.files.map { ($0.name, $0.status.size) }, uniquingKeysWith: { a, _ in a })
        let files = result.manifest.items.map { ModelFileFact(path: $0.path, sha256: $0.digest, size: sizes[$0.path]) }
        return (files, "sha256:" + Hex.encode(result.manifest.rootDigest))
    }

    /// The registered version's files, each checked against the same file on disk when the directory is there.
    static func registeredFiles(_ registered: RegisteredVersion, onDisk: [String: ModelFileFact], directory: String?) throws -> [ModelFileFact] {
        var files: [ModelFileFact] = []
        for (path, digest) in registered.files.sorted(by: { ResourcePath.precedes($0.key, $1.key) }) {
            let hash = try CycloneDX.Hash(sha256: digest, what: "registered file \(path) of \(registered.name) \(registered.version)")
            let bytes = Hex.decode(hash.content) ?? []
            if let directory {
                guard let found = onDisk[path] else {
                    throw MLSecError.io("\(directory): \(path) is missing (registered as part of \(registered.name) \(registered.version))")
                }
                guard ConstantTime.equal(found.sha256, bytes) else {
                    throw MLSecError.verificationFailed(
                        "\(directory)/\(path) no longer matches the digest registered for \(registered.name) \(registered.version)")
                }
                files.append(found)
            } else {
                files.append(ModelFileFact(path: path, sha256: bytes, size: nil))
            }
        }
        return files
    }

    /// model.json, read with a size cap and parsed strictly; when its digest is known, the bytes must match it.
    static func readSpec(directory: String, expected: ModelFileFact?) throws -> ModelSpec {
        let path = directory + "/" + ModelStore.specFile
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: 1 << 20, what: "model.json")
        if let expected, !ConstantTime.equal(Array(SHA256.hash(data: bytes)), expected.sha256) {
            throw MLSecError.verificationFailed("\(path) changed while the ML-BOM was being built")
        }
        return try ModelSpec(json: bytes, context: path)
    }

    /// The safetensors header (tensor names, dtypes, shapes), validated against the file's size.
    static func readWeightsHeader(_ path: String, limits: ModelBOM.Limits) throws -> SafetensorsHeader {
        let file = try SafetensorsFile(path: path, limits: SafetensorsLimits(maxFileBytes: Int(clamping: limits.maxModelBytes)))
        return file.header
    }

    /// The signature bundle's digest and, unverified, how it names its signer.
    static func readSignature(_ path: String) throws -> SignatureFact {
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: SignatureBundle.maxFileBytes, what: "signature bundle")
        let bundle: SignatureBundle
        do {
            bundle = try SignatureBundle(fileBytes: bytes)
        } catch let error as MLSecError {
            throw MLSecError(error.code, "signature bundle \(path): \(error.message)")
        }
        var fact = SignatureFact(path: path, sha256: Array(SHA256.hash(data: bytes)), keyHint: nil, isCertificate: false)
        switch bundle.material {
        case .publicKey(let hint): fact.keyHint = hint.isEmpty ? nil : hint
        case .certificates: fact.isCertificate = true
        }
        return fact
    }

    /// Total number of parameters (elements of every tensor), saturating rather than overflowing.
    var parameterCount: Int? {
        guard let weights else { return nil }
        var total = 0
        for tensor in weights.tensors {
            let (sum, overflow) = total.addingReportingOverflow(tensor.elementCount)
            total = overflow ? .max : sum
        }
        return total
    }

    /// Which of the model's files are encrypted at rest.
    var encryptedFiles: [String] { files.filter(\.isEncrypted).map(\.path) }
}
