// The model-loading pipeline: every check, and what is verified is what is loaded (files swapped during a load).

import Foundation
import MLSecCore
import MLSecDeploy
import MLSecEncryption
import MLSecEngine
import MLSecIntegrity
import Synchronization
import Testing

/// A signed model directory in a temporary folder, with a second (unsigned) set of weights to swap in.
struct SignedModel {
    let directory: String
    let modelDir: String
    let signature: String
    let publicKey: String
    let signedWeights: [UInt8]
    let otherWeights: [UInt8]
    let signed: Model

    init(encrypt identity: AgeX25519Identity? = nil, signedAs modelIdentity: SignedModelIdentity? = nil) throws {
        directory = NSTemporaryDirectory() + "mlsec-deploy-\(UUID().uuidString)"
        modelDir = "\(directory)/model"
        try FileManager.default.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
        let spec = try Architecture.spec(from: "mlp:64-16-10", name: "digits")
        signed = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: 1))
        let other = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: 2))
        try ModelStore.save(other, to: modelDir)
        otherWeights = try ReadOnlyFile.readAll("\(modelDir)/\(ModelStore.weightsFile)", maxBytes: 1 << 24)
        try ModelStore.save(signed, to: modelDir)
        signedWeights = try ReadOnlyFile.readAll("\(modelDir)/\(ModelStore.weightsFile)", maxBytes: 1 << 24)
        #expect(signedWeights.count == otherWeights.count && signedWeights != otherWeights)
        if let identity {
            for file in ModelLoader.modelFiles {
                try Age.encryptFile(at: "\(modelDir)/\(file)", to: "\(modelDir)/\(file).age", recipients: [identity.recipient])
                try FileManager.default.removeItem(atPath: "\(modelDir)/\(file)")
            }
        }
        let key = ModelSigningKey.generate(.p256)
        publicKey = "\(directory)/publisher.pub"
        try AtomicFile.write(key.publicKey.pemRepresentation, to: publicKey)
        signature = "\(directory)/model.sig"
        var options = SigningOptions()
        options.modelIdentity = modelIdentity
        let result = try ModelSigner(identity: .key(key)).sign(modelPath: modelDir, options: options)
        try AtomicFile.write(result.bundle.fileBytes, to: signature)
    }

    func location(identities: [String] = []) -> ModelLocation {
        ModelLocation(name: "digits", version: "1", path: modelDir, signature: signature, publicKeys: [publicKey], identities: identities)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite("model loading pipeline")
struct ModelLoaderTests {
    @Test("a signed model loads with its manifest digest; its engine holds the signed weights")
    func loads() async throws {
        let model = try SignedModel()
        defer { model.remove() }
        let loaded = try await ModelLoader().load(model.location())
        #expect(loaded.digest.hasPrefix("sha256:") && loaded.digest.utf8.count == 71)
        #expect(loaded.model.weights == model.signed.weights)
        #expect(loaded.encryptedFiles.isEmpty)
    }

    @Test("changed, added and missing files, and untrusted keys are refused, naming the problem")
    func refusals() async throws {
        let model = try SignedModel()
        defer { model.remove() }
        let weights = "\(model.modelDir)/\(ModelStore.weightsFile)"
        try AtomicFile.write(model.otherWeights, to: weights)
        await #expect { try await ModelLoader().load(model.location()) } throws: { error in
            (error as? MLSecError)?.message.contains("weights.safetensors was modified") ?? false
        }
        try AtomicFile.write(model.signedWeights, to: weights)
        try AtomicFile.write(Array("notes".utf8), to: "\(model.modelDir)/notes.txt")
        await #expect { try await ModelLoader().load(model.location()) } throws: { error in
            (error as? MLSecError)?.message.contains("notes.txt is not covered by the signature") ?? false
        }
        try FileManager.default.removeItem(atPath: "\(model.modelDir)/notes.txt")
        _ = try await ModelLoader().load(model.location())
        let stranger = "\(model.directory)/stranger.pub"
        try AtomicFile.write(ModelSigningKey.generate(.p256).publicKey.pemRepresentation, to: stranger)
        var untrusted = model.location()
        untrusted.publicKeys = [stranger]
        await #expect { try await ModelLoader().load(untrusted) } throws: { error in
            (error as? MLSecError)?.code == .verificationFailed
                && ((error as? MLSecError)?.message.contains("does not verify with a trusted key") ?? false)
        }
        try FileManager.default.removeItem(atPath: weights)
        await #expect { try await ModelLoader().load(model.location()) } throws: { error in
            (error as? MLSecError)?.message.contains("weights.safetensors is missing") ?? false
        }
    }

    @Test("encrypted files are decrypted in memory from the verified bytes; without an identity the load is refused")
    func encrypted() async throws {
        let identity = AgeX25519Identity.generate()
        let model = try SignedModel(encrypt: identity)
        defer { model.remove() }
        let identityFile = "\(model.directory)/model.key"
        try AgeKeyFiles.writeIdentity(identity, to: identityFile)
        let loaded = try await ModelLoader().load(model.location(identities: [identityFile]))
        #expect(loaded.model.weights == model.signed.weights)
        #expect(Set(loaded.encryptedFiles) == Set(ModelLoader.modelFiles))
        await #expect { try await ModelLoader().load(model.location()) } throws: { error in
            (error as? MLSecError)?.message.contains("configure an identity") ?? false
        }
    }

    /// Swaps the weights file between the signed and an unsigned version as fast as it can until stopped, by
    /// `rename` (a new file under the same name) or by rewriting the same file in place.
    final class Control: Sendable {
        let stop = Atomic(false)
        let swaps = Atomic(0)
        let finished = Atomic(false)
    }

    private static func swapper(_ model: SignedModel, inPlace: Bool, control: Control) -> Thread {
        let weights = "\(model.modelDir)/\(ModelStore.weightsFile)"
        let thread = Thread {
            var useOther = true
            while !control.stop.load(ordering: .relaxed) {
                let bytes = useOther ? model.otherWeights : model.signedWeights
                if inPlace {
                    let fd = open(weights, O_WRONLY)
                    if fd >= 0 {
                        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
                        close(fd)
                    }
                } else {
                    try? AtomicFile.write(bytes, to: weights, mode: 0o644, overwrite: true)
                }
                useOther.toggle()
                control.swaps.add(1, ordering: .relaxed)
            }
            try? AtomicFile.write(model.signedWeights, to: weights, mode: 0o644, overwrite: true)
            control.finished.store(true, ordering: .releasing)
        }
        thread.start()
        return thread
    }

    @Test("weights swapped on disk during loads: no load ever succeeds with bytes other than the signed ones",
          arguments: [false, true])
    func swapBetweenVerifyAndLoad(inPlace: Bool) async throws {
        let model = try SignedModel()
        defer { model.remove() }
        let control = Control()
        _ = Self.swapper(model, inPlace: inPlace, control: control)
        var succeeded = 0
        var refused = 0
        // At least 300 loads, and on until both outcomes have occurred (bounded): on a loaded CI machine the
        // swapper thread may get little CPU, so the number of swaps is not what the test asserts.
        var loads = 0
        while loads < 300 || ((refused == 0 || succeeded == 0) && loads < 20_000) {
            loads += 1
            do {
                let loaded = try await ModelLoader().load(model.location())
                #expect(loaded.model.weights == model.signed.weights, "a load succeeded with weights that were not signed")
                succeeded += 1
            } catch let error as MLSecError {
                #expect([.verificationFailed, .io, .malformed].contains(error.code), "unexpected refusal: \(error.message)")
                refused += 1
            }
        }
        control.stop.store(true, ordering: .relaxed)
        while !control.finished.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(1)) }
        // Both outcomes must have happened for the race to have been exercised.
        #expect(control.swaps.load(ordering: .relaxed) > 0)
        #expect(refused > 0, "the swapper never made a load see unsigned bytes")
        #expect(succeeded > 0, "no load succeeded while the signed weights were in place half of the time")
        #expect(succeeded + refused == loads)
    }

    @Test("a signature that names its model and version loads only as that model and version")
    func signedIdentity() async throws {
        let model = try SignedModel(signedAs: SignedModelIdentity(name: "digits", version: "1"))
        defer { model.remove() }
        let loaded = try await ModelLoader().load(model.location())
        #expect(loaded.manifest.signedModel == SignedModelIdentity(name: "digits", version: "1"))
        var copied = model.location()
        copied.version = "2"
        await #expect { try await ModelLoader().load(copied) } throws: { error in
            (error as? MLSecError)?.code == .verificationFailed && ((error as? MLSecError)?.message.contains("made for model digits version 1") ?? false)
        }
        var renamed = model.location()
        renamed.name = "other"
        await #expect(throws: MLSecError.self) { try await ModelLoader().load(renamed) }
    }

    @Test("versions order numerically by parts; text after numbers; a prefix first")
    func versionOrder() {
        let ordered = ["0.9", "1", "1.2", "1.9", "1.10", "1.10.1", "2", "2-rc", "10"]
        for (i, a) in ordered.enumerated() {
            for (j, b) in ordered.enumerated() {
                let c = ModelLocation.compareVersions(a, b)
                #expect((c < 0) == (i < j) && (c == 0) == (i == j), "\(a) vs \(b): \(c)")
            }
        }
        #expect(ModelLocation.compareVersions("007", "7") == 0)
    }
}
