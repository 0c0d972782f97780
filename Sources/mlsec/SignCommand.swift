// SignCommand: `mlsec sign`, hashes a model and writes an OpenSSF Model Signing signature.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecIntegrity
import X509

struct SignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a model directory or file (OpenSSF Model Signing format).",
        discussion: """
            Writes a Sigstore bundle that `model_signing verify key` (files/SHA-256) and `mlsec verify` \
            accept. The signature file is written atomically; when it lies inside the model it is left out of \
            the hash. An encrypted model is signed as it lies on disk: encrypt first, then sign.

            Examples:
              mlsec sign ./my-model --private-key signing.pem --signature my-model.sig
              mlsec sign ./my-model --private-key signing.pem --method shards \\
                  --shard-size 1000000000
              mlsec sign ./my-model --private-key signing.pem --incremental \\
                  --previous-signature my-model.sig
            """
    )

    @Argument(help: "Model directory or single model file.")
    var modelPath: String

    @Option(name: .customLong("private-key"), help: "PEM private key (EC P-256/P-384/P-521, or ed25519).")
    var privateKey: String

    @Option(name: .customLong("signing-certificate"), help: "PEM certificate of the signing key (certificate mode).")
    var signingCertificate: String?

    @Option(name: .customLong("certificate-chain"), help: "PEM certificates to embed after the signing certificate.")
    var certificateChain: [String] = []

    @OptionGroup var hashing: HashingOptions

    @Option(help: "Where to write the signature.")
    var signature: String = "model.sig"

    @Option(name: .customLong("ignore-paths"), parsing: .upToNextOption, help: "Paths to leave out (relative to the current directory).")
    var ignorePaths: [String] = []

    @Flag(name: .customLong("no-ignore-git-paths"), help: "Also sign .git, .github, .gitattributes and .gitignore.")
    var noIgnoreGitPaths = false

    @Flag(help: "Re-hash only files whose size or modification time changed since --previous-signature.")
    var incremental = false

    @Option(name: .customLong("previous-signature"), help: "Earlier signature to reuse digests from (with --incremental).")
    var previousSignature: String?

    @Option(name: .customLong("model-name"), help: "Record the model's name in the signature (with --model-version): loaders check it.")
    var modelName: String?

    @Option(name: .customLong("model-version"), help: "Record the model's version in the signature (with --model-name).")
    var modelVersion: String?

    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if incremental != (previousSignature != nil) {
            throw ValidationError("--incremental and --previous-signature go together")
        }
        if (modelName == nil) != (modelVersion == nil) { throw ValidationError("--model-name and --model-version go together") }
        if let modelName, modelName.isEmpty || modelName.utf8.count > 256 { throw ValidationError("--model-name is 1-256 bytes") }
        if let modelVersion, modelVersion.isEmpty || modelVersion.utf8.count > 256 { throw ValidationError("--model-version is 1-256 bytes") }
        if signingCertificate == nil, !certificateChain.isEmpty {
            throw ValidationError("--certificate-chain needs --signing-certificate")
        }
    }

    func run() async throws {
        let key = try ModelSigningKey(pem: try readTextFile(privateKey, what: "private key"))
        let identity: ModelSignerIdentity
        if let signingCertificate {
            var certificates = try CertificateChainTrust.certificates(
                pemText: try readTextFile(signingCertificate, what: "signing certificate"), context: signingCertificate)
            for path in certificateChain {
                certificates += try CertificateChainTrust.certificates(
                    pemText: try readTextFile(path, what: "certificate chain"), context: path)
            }
            guard key.algorithm != .ed25519 else {
                throw MLSecError.unsupported("certificate mode needs an EC key (P-256, P-384 or P-521)")
            }
            identity = .certificate(key, certificates: certificates)
        } else {
            identity = .key(key)
        }
        if key.algorithm == .ed25519 {
            Terminal.warning("signing with ed25519, an MLSec extension: the OpenSSF model_signing tool cannot verify it")
        }
        let signer = try ModelSigner(identity: identity)
        let root = FilePath.absolute(modelPath)
        var ignores: [String] = []
        for path in ignorePaths {
            if let relative = modelRelative(path, root: root) {
                ignores.append(relative)
            } else {
                Terminal.warning("--ignore-paths \(path) is outside the model and has no effect")
            }
        }
        if let relative = modelRelative(signature, root: root) { ignores.append(relative) }
        var options = SigningOptions(
            method: hashing.serializationMethod, hash: hashing.hash,
            allowSymlinks: hashing.allowSymlinks, ignorePaths: ignores, ignoreGitPaths: !noIgnoreGitPaths,
            hasher: hashing.hasher)
        if let modelName, let modelVersion { options.modelIdentity = SignedModelIdentity(name: modelName, version: modelVersion) }
        if let previousSignature {
            options.previousSignature = try SignatureBundle(
                fileBytes: try ReadOnlyFile.readAll(previousSignature, maxBytes: SignatureBundle.maxFileBytes,
                                                    what: "previous signature"))
        }
        let started = ContinuousClock.now
        let result = try Terminal.withProgress("hashing") { progress in
            try signer.sign(modelPath: modelPath, options: options, progress: progress)
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        try AtomicFile.write(result.bundle.fileBytes, to: signature, mode: 0o644, overwrite: true)
        for link in result.skippedDirectoryLinks {
            Terminal.warning("\(link) is a symbolic link to a directory and was not followed")
        }
        let root_ = "sha256:" + Hex.encode(result.manifest.rootDigest)
        let fileCount = Set(result.manifest.items.map(\.path)).count + (result.manifest.emptyFiles?.count ?? 0)
        switch format {
        case .json:
            printJSON(.object([
                ("signature", .string(signature)),
                ("root_digest", .string(root_)),
                ("files", .int(fileCount)),
                ("resources", .int(result.manifest.items.count)),
                ("bytes_hashed", .number(String(result.bytesHashed))),
                ("reused_files", .strings(result.reusedFiles)),
                ("seconds", .number(String(format: "%.3f", seconds))),
            ]))
        case .text:
            if incremental {
                Terminal.note("reused \(result.reusedFiles.count) unchanged file(s) from \(previousSignature ?? ""): "
                    + result.reusedFiles.prefix(20).joined(separator: ", ") + (result.reusedFiles.count > 20 ? ", …" : ""))
            }
            print("Signed \(fileCount) file(s), \(Terminal.formatBytes(result.bytesHashed)) hashed in "
                + String(format: "%.2f", seconds) + " s")
            print("root digest: \(root_)")
            print("signature:   \(signature)")
        }
    }
}
