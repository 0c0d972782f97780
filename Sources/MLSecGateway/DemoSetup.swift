// DemoSetup: `mlsec serve --demo`: a complete state directory with a trained, signed, scanned digits model.

import Foundation
import MLSecAccess
import MLSecCore
import MLSecEngine
import MLSecIntegrity

/// Prepares the demo: the bundled digits model (trained once, about a second), signed with a fresh publisher
/// key, an admin and an inference API key, and `demo-credentials.json`.
public enum DemoSetup {
    public static let inferenceLimit = RateLimit(requestsPerSecond: 50, burst: 100)

    /// Builds (or reuses) the demo state in `dir` and returns the configuration to serve it.
    public static func prepare(stateDirectory dir: String, port: Int, log: (String) -> Void) async throws -> GatewayConfiguration {
        if !FileStatus.exists(dir) {
            guard mkdir(dir, 0o700) == 0 || errno == EEXIST else { throw MLSecError.io("cannot create \(dir): \(FileStatus.errnoText())") }
        }
        let modelDir = "\(dir)/models/digits/1"
        let signature = "\(dir)/models/digits-1.sig"
        let publisher = "\(dir)/publisher.pem"
        if !FileStatus.exists(signature) {
            log("training the bundled digits model (64-128-10 MLP)")
            let spec = try Architecture.spec(from: "mlp:64-128-10", name: "digits")
            var model = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: 0))
            _ = try Trainer.train(&model, on: Digits.dataset(.train), options: TrainingOptions(epochs: 60, batchSize: 32, seed: 0))
            // Serve probabilities: a softmax after the trained logits (argmax unchanged), checked per answer.
            var served = model.spec
            served.layers.append(LayerSpec(.softmax))
            model = try Model(spec: served, weights: model.weights)
            try FileManager.default.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
            try ModelStore.save(model, to: modelDir)
            let key = ModelSigningKey.generate(.p256)
            try AtomicFile.write(key.pemRepresentation, to: publisher, mode: 0o600, overwrite: true)
            try AtomicFile.write(key.publicKey.pemRepresentation, to: "\(dir)/publisher.pub", mode: 0o644, overwrite: true)
            var options = SigningOptions()
            options.modelIdentity = SignedModelIdentity(name: "digits", version: "1")
            let result = try ModelSigner(identity: .key(key)).sign(modelPath: modelDir, options: options)
            try AtomicFile.write(result.bundle.fileBytes, to: signature, mode: 0o644, overwrite: true)
            log("signed the model (root digest sha256:\(Hex.encode(result.manifest.rootDigest)))")
        }
        var configuration = GatewayConfiguration(listen: ListenConfiguration(host: "127.0.0.1", port: port), stateDirectory: dir)
        configuration.auditOrigin = "mlsec-demo/audit"
        configuration.models = [ModelSource(
            name: "digits", version: "1", path: "\(dir)/models/digits/{version}", signature: "\(dir)/models/digits-{version}.sig",
            publicKeys: ["\(dir)/publisher.pub"],
            inputRange: 0...1)]
        return configuration
    }

    /// Creates the demo's API keys when there are none yet and writes `demo-credentials.json` (mode 0600).
    public static func writeCredentials(stateDirectory dir: String, url: String, keys: APIKeyStore) async throws -> (admin: String, inference: String) {
        let path = "\(dir)/demo-credentials.json"
        if FileStatus.exists(path),
            let doc = try? JSONParser().parse(try ReadOnlyFile.readAll(path, maxBytes: 1 << 16, what: "credentials")),
            let admin = doc["api_keys"]?["admin"]?.stringValue, let inference = doc["api_keys"]?["inference"]?.stringValue,
            case .success = keys.authenticate(admin), case .success = keys.authenticate(inference)
        {
            try write(path, url: url, admin: admin, inference: inference, dir: dir)
            return (admin, inference)
        }
        let (_, admin) = try await keys.create(name: "demo-admin", role: "admin", models: ["*"])
        let (_, inference) = try await keys.create(name: "demo-inference", role: "inference", models: ["digits"], rateLimit: inferenceLimit)
        try write(path, url: url, admin: admin, inference: inference, dir: dir)
        return (admin, inference)
    }

    private static func write(_ path: String, url: String, admin: String, inference: String, dir: String) throws {
        let doc: JSONValue = .object([
            ("url", .string(url)), ("model", .string("digits")),
            ("api_keys", .object([("admin", .string(admin)), ("inference", .string(inference))])),
            ("receipt_public_key", .string(FilePath.absolute("\(dir)/receipt-key.pub.pem"))),
            ("rate_limit", .object([("requests_per_second", .int(Int(inferenceLimit.requestsPerSecond))), ("burst", .int(inferenceLimit.burst))])),
        ])
        try AtomicFile.write(JSONWriter.bytes(doc, options: .init(pretty: true)) + [0x0A], to: path, mode: 0o600)
    }
}
