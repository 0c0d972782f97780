// ModelInput: the `--model` option group of the engine commands: a model directory, loaded verified when signed.

import ArgumentParser
import MLSecCore
import MLSecDeploy
import MLSecEngine

/// A model directory to run. With `--signature` it is loaded through the model-loading pipeline (the
/// signature must verify with a `--public-key`, the files are read once and hashed while read, encrypted files
/// are decrypted in memory with `--identity`, the weights are scanned), as the gateway loads it.
struct ModelInput: ParsableArguments {
    @Option(help: "Model directory (model.json + weights.safetensors, or their .age forms with --signature).")
    var model: String
    @Option(help: "The model's signature bundle: load only if it verifies with a --public-key.")
    var signature: String?
    @Option(name: .customLong("public-key"), help: "A trusted public key (PEM) for --signature; repeat for several.")
    var publicKeys: [String] = []
    @Option(help: "An age identity file that decrypts encrypted model files; repeat for several.")
    var identity: [String] = []

    func validate() throws {
        if signature != nil, publicKeys.isEmpty { throw ValidationError("--signature needs at least one --public-key") }
        if signature == nil, !(publicKeys.isEmpty && identity.isEmpty) {
            throw ValidationError("--public-key and --identity are used with --signature")
        }
    }

    func load() async throws -> Model {
        guard let signature else { return try ModelStore.load(directory: model) }
        let location = ModelLocation(name: FilePath.lastComponent(of: model), version: "", path: model, signature: signature,
                                     publicKeys: publicKeys, identities: identity)
        let verified = try await ModelLoader().load(location)
        for warning in verified.warnings { Terminal.warning(warning) }
        Terminal.note("verified \(model) (\(verified.digest))")
        return verified.model
    }
}
