// ModelInput: the `--model` option group of the engine commands: a model directory, loaded verified when signed.

import ArgumentParser
import MLSecCore
import MLSecDeploy
import MLSecEngine
import MLSecIntegrity

/// A model directory to run. With `--signature` it is loaded through the model-loading pipeline (the
/// signature must verify with a `--public-key`, or in certificate mode chain to a `--certificate-chain` CA,
/// from a `--certificate-identity` signer when given; the files are read once and hashed while read, encrypted files
/// are decrypted in memory with `--identity`, the weights are scanned), as the gateway loads it.
struct ModelInput: ParsableArguments {
    @Option(help: "Model directory (model.json + weights.safetensors, or their .age forms with --signature).")
    var model: String
    @Option(help: "The model's signature bundle: load only if it verifies with a --public-key or --certificate-chain.")
    var signature: String?
    @Option(name: .customLong("public-key"), help: "A trusted public key (PEM) for --signature; repeat for several.")
    var publicKeys: [String] = []
    @Option(name: .customLong("certificate-chain"), help: "Certificate mode: PEM CA certificates the signature's chain must lead to; repeatable.")
    var certificateChain: [String] = []
    @Option(name: .customLong("certificate-identity"),
            help: "Certificate mode: the expected signer, email:ADDRESS, uri:URI, subject:NAME or a SAN email/URI (repeatable: any).")
    var certificateIdentity: [String] = []
    @Option(help: "An age identity file that decrypts encrypted model files; repeat for several.")
    var identity: [String] = []

    func validate() throws {
        if signature != nil, publicKeys.isEmpty == certificateChain.isEmpty {
            throw ValidationError("--signature needs at least one --public-key, or a --certificate-chain (not both)")
        }
        if signature == nil, !(publicKeys.isEmpty && identity.isEmpty && certificateChain.isEmpty && certificateIdentity.isEmpty) {
            throw ValidationError("--public-key, --certificate-chain, --certificate-identity and --identity are used with --signature")
        }
        if !certificateIdentity.isEmpty, certificateChain.isEmpty {
            throw ValidationError("--certificate-identity is for certificate mode: give it with --certificate-chain")
        }
        for value in certificateIdentity {
            do { _ = try CertificateIdentity(parsing: value) } catch let error as MLSecError { throw ValidationError(error.message) }
        }
    }

    func load() async throws -> Model {
        guard let signature else {
            for file in ModelLoader.modelFiles where !FileStatus.exists("\(model)/\(file)") && FileStatus.exists("\(model)/\(file).age") {
                throw MLSecError.usage(
                    "\(model)/\(file).age is encrypted: an encrypted model loads only verified, with --signature, --public-key "
                        + "and --identity (\(ModelLoader.layoutRule))")
            }
            return try ModelStore.load(directory: model)
        }
        let location = ModelLocation(name: FilePath.lastComponent(of: model), version: "", path: model, signature: signature,
                                     publicKeys: publicKeys, identities: identity, certificateChain: certificateChain,
                                     certificateIdentities: try certificateIdentity.map(CertificateIdentity.init(parsing:)))
        let verified = try await ModelLoader().load(location)
        for warning in verified.warnings { Terminal.warning(warning) }
        Terminal.note("verified \(model) (\(verified.digest))")
        return verified.model
    }
}
