// ModelRegistry: models loaded only after their signature verifies and the scanner calls them clean.

import Foundation
import MLSecCore
import MLSecEncryption
import MLSecEngine
import MLSecIntegrity
import MLSecScan

/// The declared shape of a model input or output (the first dimension is the batch, -1).
public struct ServedTensor: Sendable, Equatable {
    public var name: String
    public var datatype: String
    public var shape: [Int]
    /// Declared value range (inputs), checked on every request.
    public var range: ClosedRange<Float>?

    public init(name: String, datatype: String, shape: [Int], range: ClosedRange<Float>?) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.range = range
    }

    var json: JSONValue {
        .object([("name", .string(name)), ("datatype", .string(datatype)), ("shape", .array(shape.map { .int($0) }))])
    }
}

/// A model ready to serve.
public struct LoadedModel: Sendable {
    public var name: String
    public var version: String
    /// The signed manifest's root digest, `sha256:<hex>`.
    public var digest: String
    public var model: Model
    public var input: ServedTensor
    public var output: ServedTensor
    public var endsWithSoftmax: Bool

    public init(name: String, version: String, digest: String, model: Model, input: ServedTensor, output: ServedTensor,
                endsWithSoftmax: Bool) {
        self.name = name
        self.version = version
        self.digest = digest
        self.model = model
        self.input = input
        self.output = output
        self.endsWithSoftmax = endsWithSoftmax
    }

    var metadata: JSONValue {
        .object([
            ("name", .string(name)), ("versions", .array([.string(version)])), ("platform", .string("mlsec")),
            ("inputs", .array([input.json])), ("outputs", .array([output.json])),
        ])
    }
}

/// Where a model comes from and how to trust it.
public struct ModelSource: Sendable {
    public var name: String
    public var version: String
    /// The model directory (model.json and weights.safetensors, or their `.age` encrypted forms).
    public var path: String
    /// The OpenSSF model signature bundle over that directory.
    public var signature: String
    /// PEM public keys the signature may verify with.
    public var publicKeys: [String]
    /// Age identity files, when the model files are encrypted.
    public var identities: [String]
    public var inputRange: ClosedRange<Float>?

    public init(name: String, version: String, path: String, signature: String, publicKeys: [String],
                identities: [String] = [], inputRange: ClosedRange<Float>? = nil) {
        self.name = name
        self.version = version
        self.path = path
        self.signature = signature
        self.publicKeys = publicKeys
        self.identities = identities
        self.inputRange = inputRange
    }
}

/// Loads models with every check: signature (against trusted keys), decryption in memory, scan, structure.
public enum ModelLoader {
    static let maxModelBytes = 1 << 30

    public static func load(_ source: ModelSource) async throws -> LoadedModel {
        let bundle = try SignatureBundle(fileBytes: try ReadOnlyFile.readAll(source.signature, maxBytes: 16 << 20, what: "signature"))
        var manifest: Manifest?
        var failures: [String] = []
        for keyPath in source.publicKeys {
            let key = try ModelVerifyingKey(pem: String(decoding: try ReadOnlyFile.readAll(keyPath, maxBytes: 1 << 20, what: "public key"), as: UTF8.self))
            do {
                let report = try await ModelVerifier(trust: .publicKey(key)).verify(modelPath: source.path, bundle: bundle)
                guard report.isVerified else {
                    throw MLSecError.verificationFailed("model \(source.name) does not match its signature: \(report.changes)")
                }
                manifest = report.manifest
                break
            } catch let error as MLSecError {
                failures.append(error.message)
            }
        }
        guard let manifest else {
            throw MLSecError.verificationFailed(
                "model \(source.name) was not loaded: its signature does not verify with a trusted key (\(failures.joined(separator: "; ")))")
        }
        let encrypted = FileStatus.exists("\(source.path)/\(ModelStore.weightsFile).age")
        func read(_ file: String) throws -> [UInt8] {
            if encrypted {
                let identities = try source.identities.flatMap { try AgeKeyFiles.readIdentities($0) }
                guard !identities.isEmpty else {
                    throw MLSecError.usage("model \(source.name) is encrypted; configure an identity to decrypt it")
                }
                return try Age.decryptFile(at: "\(source.path)/\(file).age", identities: identities, maxBytes: maxModelBytes)
            }
            return try ReadOnlyFile.readAll("\(source.path)/\(file)", maxBytes: maxModelBytes, what: file)
        }
        let spec = try read(ModelStore.specFile)
        let weights = try read(ModelStore.weightsFile)
        let scanner = ModelScanner()
        for (bytes, name) in [(spec, ModelStore.specFile), (weights, ModelStore.weightsFile)] where name.hasSuffix(".safetensors") {
            let report = scanner.scanBytes(bytes, name: name)
            guard report.verdict == .clean else {
                throw MLSecError.verificationFailed(
                    "model \(source.name) was not loaded: the scanner found \(name) \(report.verdict.rawValue)")
            }
        }
        let model = try ModelStore.load(specBytes: spec, weightsBytes: weights)
        return LoadedModel(
            name: source.name, version: source.version, digest: "sha256:" + Hex.encode(manifest.rootDigest), model: model,
            input: ServedTensor(name: "input", datatype: "FP32", shape: [-1] + [model.inputSize], range: source.inputRange),
            output: ServedTensor(name: "output", datatype: "FP32", shape: [-1, model.outputSize], range: nil),
            endsWithSoftmax: model.endsWithSoftmax)
    }
}
