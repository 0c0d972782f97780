// The loader's rule for encrypted models (issue 16): each model file may be plain or `.age` independently, the
// signature covers the files as they lie on disk, and a model encrypted after it was signed is named as such.

import Foundation
import MLSecCore
import MLSecDeploy
import MLSecEncryption
import MLSecEngine
import MLSecIntegrity
import Testing

/// A model directory whose files are encrypted (or not) one by one, then signed.
struct LayoutModel {
    let directory: String
    let modelDir: String
    let key = ModelSigningKey.generate(.p256)
    let identity = AgeX25519Identity.generate()
    let identityFile: String
    let model: Model

    init() throws {
        directory = NSTemporaryDirectory() + "mlsec-layout-\(UUID().uuidString)"
        modelDir = "\(directory)/model"
        try FileManager.default.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
        let spec = try Architecture.spec(from: "mlp:64-8-10", name: "digits")
        model = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: 3))
        try ModelStore.save(model, to: modelDir)
        identityFile = "\(directory)/model.key"
        try AgeKeyFiles.writeIdentity(identity, to: identityFile)
        try AtomicFile.write(key.publicKey.pemRepresentation, to: "\(directory)/publisher.pub")
    }

    /// Replaces `file` with its `.age` form (`keepPlain`: both stay).
    func encrypt(_ file: String, keepPlain: Bool = false) throws {
        try Age.encryptFile(at: "\(modelDir)/\(file)", to: "\(modelDir)/\(file).age", recipients: [identity.recipient])
        if !keepPlain { try FileManager.default.removeItem(atPath: "\(modelDir)/\(file)") }
    }

    func sign() throws {
        let result = try ModelSigner(identity: .key(key)).sign(modelPath: modelDir, options: SigningOptions())
        try AtomicFile.write(result.bundle.fileBytes, to: "\(directory)/model.sig", mode: 0o644, overwrite: true)
    }

    func location(identities: [String]? = nil) -> ModelLocation {
        ModelLocation(name: "digits", version: "1", path: modelDir, signature: "\(directory)/model.sig",
                      publicKeys: ["\(directory)/publisher.pub"], identities: identities ?? [identityFile])
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite("encrypted model layout")
struct ModelLayoutTests {
    static func message(_ error: any Error) -> String { (error as? MLSecError)?.message ?? "\(error)" }

    @Test("each model file may be plain or encrypted independently", arguments: [ModelStore.specFile, ModelStore.weightsFile])
    func mixed(encrypted file: String) async throws {
        let m = try LayoutModel()
        defer { m.remove() }
        try m.encrypt(file)
        try m.sign()
        let loaded = try await ModelLoader().load(m.location())
        #expect(loaded.encryptedFiles == [file])
        #expect(loaded.model.weights == m.model.weights)
    }

    @Test("a model encrypted after it was signed is named, with the rule")
    func encryptedAfterSigning() async throws {
        let m = try LayoutModel()
        defer { m.remove() }
        try m.sign()
        try m.encrypt(ModelStore.weightsFile)
        await #expect { try await ModelLoader().load(m.location()) } throws: { error in
            let text = Self.message(error)
            return (error as? MLSecError)?.code == .verificationFailed
                && text.contains("weights.safetensors.age was encrypted after the model was signed")
                && text.contains("encrypt first, then sign") && !text.contains("cannot open")
        }
    }

    @Test("a signature over both a file and its .age form is refused as malformed")
    func bothForms() async throws {
        let m = try LayoutModel()
        defer { m.remove() }
        try m.encrypt(ModelStore.specFile, keepPlain: true)
        try m.sign()
        await #expect { try await ModelLoader().load(m.location()) } throws: { error in
            (error as? MLSecError)?.code == .malformed && Self.message(error).contains("covers both model.json and model.json.age")
        }
    }

    @Test("an encrypted model without identities, or with the wrong one, says so before or while decrypting")
    func identities() async throws {
        let m = try LayoutModel()
        defer { m.remove() }
        try m.encrypt(ModelStore.weightsFile)
        try m.sign()
        await #expect { try await ModelLoader().load(m.location(identities: [])) } throws: { error in
            (error as? MLSecError)?.code == .usage && Self.message(error).contains("weights.safetensors.age is encrypted")
        }
        let stranger = "\(m.directory)/stranger.key"
        try AgeKeyFiles.writeIdentity(AgeX25519Identity.generate(), to: stranger)
        await #expect { try await ModelLoader().load(m.location(identities: [stranger])) } throws: { error in
            (error as? MLSecError)?.code == .verificationFailed
                && Self.message(error).contains("weights.safetensors.age does not decrypt with the configured identities")
        }
    }

    @Test("a changed file is refused with a sentence, not a structure dump")
    func changedFileSentence() async throws {
        let m = try LayoutModel()
        defer { m.remove() }
        try m.sign()
        var bytes = try ReadOnlyFile.readAll("\(m.modelDir)/\(ModelStore.weightsFile)", maxBytes: 1 << 24)
        bytes[bytes.count - 1] ^= 1
        try AtomicFile.write(bytes, to: "\(m.modelDir)/\(ModelStore.weightsFile)", mode: 0o644, overwrite: true)
        await #expect { try await ModelLoader().load(m.location()) } throws: { error in
            Self.message(error) == "model digits was not loaded: signature check failed: weights.safetensors was modified"
        }
    }
}
