// VerifyCommand: `mlsec verify`, checks a model against its signature and names every change.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecIntegrity
import X509

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a model against its signature (exit 0 verified, 1 failed, 2 error).",
        discussion: """
            Method, hash and shard size are read from the signature, so files, shards, SHA-256, BLAKE2b and \
            BLAKE3 signatures all verify without extra options. On failure every modified, added, removed or \
            renamed file is named.

            Certificate mode: --certificate-identity names the expected signer (repeatable: any of them): \
            email:ADDRESS (SAN email), uri:URI (SAN URI), subject:NAME (the subject in RFC 4514 form, or a \
            common name), or a bare value (SAN email or URI), each matched exactly; the signing certificate \
            must then also carry the codeSigning extended key usage. Without it any certificate the CA issued \
            is accepted (a TLS server certificate included) and a warning says so.

            Examples:
              mlsec verify ./my-model --signature my-model.sig --public-key signing.pub
              mlsec verify ./my-model --signature my-model.sig --certificate-chain ca.pem \\
                  --certificate-identity email:publisher@example.com
              mlsec verify ./my-model --signature my-model.sig --public-key signing.pub \\
                  --only model.safetensors
            """
    )

    @Argument(help: "Model directory or single model file.")
    var modelPath: String

    @Option(help: "The signature file.")
    var signature: String

    @Option(name: .customLong("public-key"), help: "PEM public key of the signer (key mode).")
    var publicKey: String?

    @Option(name: .customLong("certificate-chain"), help: "PEM trust anchors for certificate mode (repeatable).")
    var certificateChain: [String] = []

    @Option(name: .customLong("certificate-identity"),
            help: "Expected signer in certificate mode: email:ADDRESS, uri:URI, subject:NAME or a SAN email/URI (repeatable: any).")
    var certificateIdentity: [String] = []

    @Flag(name: .customLong("ignore-unsigned-files"), help: "Accept files that the signature does not name (a warning lists them).")
    var ignoreUnsignedFiles = false

    @Option(parsing: .upToNextOption, help: "Verify only these model-relative files (for example those a loader reads).")
    var only: [String] = []

    @Option(help: "Threads for hashing (default: all cores).")
    var threads: Int?

    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if (publicKey == nil) == certificateChain.isEmpty {
            throw ValidationError("give exactly one of --public-key or --certificate-chain")
        }
        if !certificateIdentity.isEmpty, certificateChain.isEmpty {
            throw ValidationError("--certificate-identity is for certificate mode: give it with --certificate-chain")
        }
        for identity in certificateIdentity {
            do { _ = try CertificateIdentity(parsing: identity) } catch let error as MLSecError { throw ValidationError(error.message) }
        }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be 1...1024") }
    }

    func run() async throws {
        let trust: ModelTrust
        if let publicKey {
            trust = .publicKey(try ModelVerifyingKey(pem: try readTextFile(publicKey, what: "public key")))
        } else {
            var anchors: [Certificate] = []
            for path in certificateChain {
                anchors += try CertificateChainTrust.certificates(
                    pemText: try readTextFile(path, what: "certificate chain"), context: path)
            }
            trust = .certificates(CertificateChainTrust(
                anchors: anchors, identities: try certificateIdentity.map(CertificateIdentity.init(parsing:))))
        }
        let bundle = try SignatureBundle(
            fileBytes: try ReadOnlyFile.readAll(signature, maxBytes: SignatureBundle.maxFileBytes, what: "signature file"))
        let options = VerificationOptions(
            ignoreUnsignedFiles: ignoreUnsignedFiles, only: only.isEmpty ? nil : only,
            signatureRelativePath: modelRelative(signature, root: FilePath.absolute(modelPath)),
            hasher: ModelHasher(workerCount: threads))
        let verifier = ModelVerifier(trust: trust)
        let manifest = try await verifier.authenticate(bundle)
        var report: VerificationReport
        do {
            report = try Terminal.withProgress("verifying") { progress in
                try ModelVerifier.compare(modelPath: modelPath, manifest: manifest, options: options, progress: progress)
            }
        } catch let error as MLSecError where error.code == .unsafeTree {
            throw MLSecError.verificationFailed("verification failed: \(error.message)")
        }
        if case .certificates(let chain) = trust, chain.identities.isEmpty {
            report.warnings.insert(CertificateChainTrust.noIdentityWarning, at: 0)
        }
        try ReportPrinter.print(report, modelPath: modelPath, format: format, kind: .verify)
    }
}

/// Prints verification and diff reports and turns a failed verdict (or, for diff, a change) into exit code 1.
enum ReportPrinter {
    /// What produced the report: `verify` judges an authenticated signature; `diff` only lists changes against
    /// an unauthenticated one, so it reports changes, never a verification verdict.
    enum Kind { case verify, diff }

    static func print(_ report: VerificationReport, modelPath: String, format: OutputFormat, kind: Kind) throws {
        for warning in report.warnings { Terminal.warning(warning) }
        let root = "sha256:" + Hex.encode(report.manifest.rootDigest)
        let changes = report.changes
        switch format {
        case .json:
            let verdict: (String, JSONValue) = kind == .verify ? ("verified", .bool(report.isVerified)) : ("changed", .bool(!changes.isEmpty))
            printJSON(.object([
                verdict,
                ("model", .string(modelPath)),
                ("root_digest", .string(root)),
                ("files_checked", .int(report.filesChecked)),
                ("modified", .strings(changes.modified)),
                ("added", .strings(changes.added)),
                ("removed", .strings(changes.removed)),
                ("renamed", .array(changes.renamed.map { .object([("from", .string($0.from)), ("to", .string($0.to))]) })),
                ("warnings", .strings(report.warnings)),
            ]))
        case .text:
            switch (kind, report.isVerified) {
            case (.verify, true):
                Swift.print("Verified: \(modelPath) (\(report.filesChecked) file(s), root digest \(root))")
            case (.verify, false):
                Swift.print("Verification failed for \(modelPath): \(changes.lines.count) change(s)")
            case (.diff, true):
                Swift.print("No changes: \(modelPath) matches the signed manifest (\(report.filesChecked) file(s), root digest \(root))")
            case (.diff, false):
                Swift.print("\(changes.lines.count) change(s) in \(modelPath) since it was signed:")
            }
            for line in changes.lines { Swift.print("  \(line)") }
        }
        if !report.isVerified { throw ExitCode(1) }
    }
}
