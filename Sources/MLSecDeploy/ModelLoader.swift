// ModelLoader: the one model-loading pipeline: authenticate, read once while hashing, decrypt, scan, build.

import Crypto
import MLSecCore
import MLSecEncryption
import MLSecEngine
import MLSecIntegrity
import MLSecScan

/// A model that passed every check, with the engine built from the bytes that were checked.
public struct VerifiedModel: Sendable {
    public var name: String
    public var version: String
    /// The signed manifest's root digest, `sha256:<hex>`.
    public var digest: String
    /// The authenticated manifest.
    public var manifest: Manifest
    /// The engine model built from the verified (and decrypted) bytes.
    public var model: Model
    /// Which files were encrypted at rest.
    public var encryptedFiles: [String]
    /// Notes from verification that do not change the verdict.
    public var warnings: [String]
    /// Signed companion files found in the directory (``ModelLoader/companionFiles``), their verified bytes.
    public var companions: [String: [UInt8]] = [:]
    /// Who signed the manifest (the trusted key or certificate that verified it).
    public var signer: ModelSigner
    /// The scanner's report on the weights (clean: anything else refuses the model).
    public var scanReport: FileReport
    /// The plaintext of the model files, when the loader was asked to keep them (``ModelLoader/keepsPlaintext``).
    public var plaintext: [String: [UInt8]] = [:]
}

/// Loads a model with every check, in an order that judges the bytes it uses:
/// 1. the signature bundle is authenticated with one of the trusted public keys, or its certificate chain
///    validated against the trusted CA certificates and expected signer (nothing on disk is read before the
///    manifest is trusted);
/// 2. every file of the model directory is read once into memory and hashed while it is read, and the hashes
///    must equal the signed manifest's (extra, missing or changed files refuse the model);
/// 3. encrypted files (`.age`) are decrypted in memory from those same bytes (each model file may be plain or
///    encrypted, independently; the signature covers the files as they lie on disk, see ``layoutRule``);
/// 4. the scanner judges the weights bytes;
/// 5. the engine model is built from the same bytes.
/// A file swapped or rewritten on disk while this runs cannot reach the engine: the bytes that were hashed are
/// the bytes that are used.
public struct ModelLoader: Sendable {
    /// Most bytes a model directory may hold (the files are held in memory while they are checked).
    public var maxModelBytes: Int
    public var scanner: ModelScanner
    /// Judges each verified and scanned model before it is built (the deploy gate); nil admits every model.
    public var admission: (any ModelAdmission)?
    /// Whether ``VerifiedModel/plaintext`` keeps the model files' bytes (the registry's diff reads tensors).
    public var keepsPlaintext = false

    public init(maxModelBytes: Int = 1 << 30, scanner: ModelScanner = ModelScanner(), admission: (any ModelAdmission)? = nil) {
        self.maxModelBytes = maxModelBytes
        self.scanner = scanner
        self.admission = admission
    }

    /// The files a model directory serves, each either plain or age-encrypted (`<file>.age`).
    public static let modelFiles = [ModelStore.specFile, ModelStore.weightsFile]
    /// Small files that travel with a model and are used only as the signature covers them: the adversarial-input
    /// detector calibrated for these weights (`mlsec detector calibrate --out DIR/detector.json`, then sign).
    public static let companionFiles = ["detector.json"]

    /// The rule, in one sentence, for errors and documentation.
    public static let layoutRule = "each of model.json and weights.safetensors may be plain or age-encrypted (<file>.age), independently; "
        + "the signature covers the files as they lie on disk, so encrypt first, then sign"

    /// Loads `location` (already resolved to one version).
    /// - Throws: `MLSecError`: `verificationFailed` when no trusted key verifies the signature, the files do not
    ///   match it, or the scanner does not call the weights clean; `usage` for an encrypted model without
    ///   identities; `malformed`/`io` for missing or unreadable files.
    public func load(_ location: ModelLocation) async throws -> VerifiedModel {
        let (manifest, signer) = try await authenticate(location)
        if let signed = manifest.signedModel, signed.name != location.name || signed.version != location.version {
            throw MLSecError.verificationFailed(
                "model \(location.name) version \(location.version) was not loaded: its signature was made for model \(signed.name.prefix(100)) "
                    + "version \(signed.version.prefix(64)) (a signed model copied under another name or version)")
        }
        try Self.checkLayout(signed: manifest.filePaths, location: location)
        let contents: VerifiedContents
        do {
            contents = try ModelVerifier.readVerified(modelPath: location.path, manifest: manifest, maxBytes: maxModelBytes)
        } catch let error as MLSecError where error.code == .verificationFailed {
            throw MLSecError.verificationFailed("model \(location.name) was not loaded: \(error.message)")
        }
        var plain: [String: [UInt8]] = [:]
        var encrypted: [String] = []
        for file in Self.modelFiles {
            let (bytes, wasEncrypted) = try plaintext(of: file, in: contents, location: location)
            plain[file] = bytes
            if wasEncrypted { encrypted.append(file) }
        }
        let weights = plain[ModelStore.weightsFile] ?? []
        let report = scanner.scanBytes(weights, name: ModelStore.weightsFile)
        guard report.verdict == .clean else {
            throw MLSecError.verificationFailed(
                "model \(location.name) was not loaded: the scanner found \(ModelStore.weightsFile) \(report.verdict.rawValue)")
        }
        if let admission {
            try await admission.admit(AdmissionCandidate(
                name: location.name, version: location.version, digest: contents.digest, signer: signer,
                scanVerdict: report.verdict.rawValue, encryptedFiles: encrypted, files: Self.fileDigests(manifest)))
        }
        let model = try ModelStore.load(specBytes: plain[ModelStore.specFile] ?? [], weightsBytes: weights)
        var verified = VerifiedModel(name: location.name, version: location.version, digest: contents.digest, manifest: manifest, model: model,
                                     encryptedFiles: encrypted, warnings: (location.trustWarning.map { [$0] } ?? []) + contents.warnings,
                                     signer: signer, scanReport: report)
        for file in Self.companionFiles { verified.companions[file] = contents[file] }
        if keepsPlaintext { verified.plaintext = plain }
        return verified
    }

    /// The manifest of the first trusted key the signature verifies with, or in certificate mode the manifest
    /// of a signature whose certificate chain leads to the anchors (from an expected signer, when given).
    func authenticate(_ location: ModelLocation) async throws -> (Manifest, ModelSigner) {
        let certificateMode = !location.certificateChain.isEmpty
        guard location.publicKeys.isEmpty || !certificateMode else {
            throw MLSecError.usage("model \(location.name): give trusted public keys or a certificate chain, not both")
        }
        guard certificateMode || location.certificateIdentities.isEmpty else {
            throw MLSecError.usage("model \(location.name): a certificate identity needs a certificate chain (certificate mode)")
        }
        guard !location.publicKeys.isEmpty || certificateMode else {
            throw MLSecError.usage("model \(location.name) has no trusted public key or certificate chain to verify its signature with")
        }
        let bundle = try SignatureBundle(fileBytes: try ReadOnlyFile.readAll(location.signature, maxBytes: 16 << 20, what: "signature"))
        if certificateMode {
            let trust = try CertificateChainTrust(pemFiles: location.certificateChain, identities: location.certificateIdentities)
            do {
                let manifest = try await ModelVerifier(trust: .certificates(trust)).authenticate(bundle)
                return (manifest, try ModelSigner(bundle))
            } catch let error as MLSecError where error.code == .verificationFailed {
                throw MLSecError.verificationFailed("model \(location.name) was not loaded: \(error.message)")
            }
        }
        var failures: [String] = []
        for keyPath in location.publicKeys {
            let pem = String(decoding: try ReadOnlyFile.readAll(keyPath, maxBytes: 1 << 20, what: "public key"), as: UTF8.self)
            let key = try ModelVerifyingKey(pem: pem)
            do {
                return (try await ModelVerifier(trust: .publicKey(key)).authenticate(bundle), ModelSigner(key: key))
            } catch let error as MLSecError where error.code == .verificationFailed {
                failures.append("\(keyPath): \(error.message)")
            }
        }
        throw MLSecError.verificationFailed(
            "model \(location.name) was not loaded: its signature does not verify with a trusted key (\(failures.joined(separator: "; ")))")
    }

    /// Checks, before any model file is read, that the signed manifest names each model file exactly once, plain
    /// or encrypted, that the directory holds it in the form that was signed, and that an encrypted model has
    /// identities to decrypt it with. A model encrypted after it was signed is the usual mistake: it is named.
    static func checkLayout(signed: Set<String>, location: ModelLocation) throws {
        let model = "model \(location.name) was not loaded"
        for file in modelFiles {
            let sealed = "\(file).age"
            let onDisk = (plain: FileStatus.exists("\(location.path)/\(file)"), sealed: FileStatus.exists("\(location.path)/\(sealed)"))
            switch (signed.contains(file), signed.contains(sealed)) {
            case (true, true):
                throw MLSecError.malformed("\(model): its signature covers both \(file) and \(sealed); keep one of them and sign again (\(layoutRule))")
            case (false, false):
                throw MLSecError.malformed("\(model): its signature covers neither \(file) nor \(sealed) (\(layoutRule))")
            case (true, false) where !onDisk.plain && onDisk.sealed:
                throw MLSecError.verificationFailed(
                    "\(model): \(sealed) was encrypted after the model was signed: the signature covers \(file) in the clear; "
                        + "sign the directory again now that it is encrypted (\(layoutRule))")
            case (false, true) where !onDisk.sealed && onDisk.plain:
                throw MLSecError.verificationFailed(
                    "\(model): the signature covers the encrypted \(sealed) but the directory holds \(file) in the clear "
                        + "(\(layoutRule))")
            case (false, true) where location.identities.isEmpty:
                throw MLSecError.usage("model \(location.name): \(sealed) is encrypted; configure an identity to decrypt it")
            default:
                break
            }
        }
    }

    /// The plaintext of `file` from the verified contents: the file itself, or its `.age` form decrypted in memory.
    func plaintext(of file: String, in contents: VerifiedContents, location: ModelLocation) throws -> (bytes: [UInt8], encrypted: Bool) {
        switch (contents[file], contents["\(file).age"]) {
        case (let bytes?, nil):
            return (bytes, false)
        case (nil, let sealed?):
            let identities = try location.identities.flatMap { try AgeKeyFiles.readIdentities($0) }
            guard !identities.isEmpty else {
                throw MLSecError.usage("model \(location.name): \(file).age is encrypted; configure an identity to decrypt it")
            }
            do {
                return (try Age.decrypt(bytes: sealed, identities: identities, maxBytes: maxModelBytes), true)
            } catch let error as AgeError {
                throw MLSecError(error.asMLSecError.code,
                                 "model \(location.name) was not loaded: \(file).age does not decrypt with the configured identities: \(error.message)")
            }
        case (_?, _?):
            throw MLSecError.malformed("model \(location.name) holds both \(file) and \(file).age; keep only one of them")
        case (nil, nil):
            throw MLSecError.malformed("model \(location.name) has no \(file) (or \(file).age) in \(location.path)")
        }
    }
}
