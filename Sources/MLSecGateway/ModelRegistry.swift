// ModelRegistry: models loaded only after their signature verifies and the scanner calls them clean.

import Crypto
import Foundation
import MLSecCore
import MLSecEncryption
import MLSecEngine
import MLSecIntegrity
import MLSecScan
import Synchronization

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
    /// The local engine's model; nil when upstream servers serve it.
    public var engine: Model?
    /// The upstream servers that serve this model instead of the local engine.
    public var upstream: UpstreamPool?
    /// The model's name on the upstream servers.
    public var upstreamModel: String?
    public var input: ServedTensor
    public var output: ServedTensor
    public var endsWithSoftmax: Bool

    public init(name: String, version: String, digest: String, model: Model?, input: ServedTensor, output: ServedTensor,
                endsWithSoftmax: Bool) {
        self.name = name
        self.version = version
        self.digest = digest
        self.engine = model
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
    /// A GCRA limit shared by every caller of this model.
    public var rateLimit: RateLimit?
    /// Upstream V2 servers that serve the model instead of the local engine (then path and signature are unused).
    public var upstreams: [UpstreamEndpoint] = []
    public var upstreamModel: String?
    public var upstreamPolicy = UpstreamPolicy()
    /// For upstream models: the model digest receipts name (`sha256:<hex>`, e.g. the signed manifest's root
    /// digest of what the upstreams serve); when absent, the SHA-256 of the upstream's model metadata.
    public var digest: String?
    /// For upstream models: whether output rows are probabilities (checked to sum to one).
    public var softmaxOutput = false

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

    /// The placeholder a versioned source has in `path` and `signature`.
    public static let versionPlaceholder = "{version}"

    /// Whether `path` names the version (`models/digits/{version}`), so that other versions can be deployed.
    public var isVersioned: Bool { path.contains(Self.versionPlaceholder) }

    /// This source for `version`: the placeholder replaced in path and signature. Versions are short tokens
    /// of letters, digits, `.`, `_` and `-` (never a path): they come from requests.
    /// - Throws: `MLSecError.usage` for a malformed version, or another version of an unversioned source.
    public func resolved(version: String) throws -> ModelSource {
        guard Self.isValidVersion(version) else {
            throw MLSecError.usage("a model version is 1-64 letters, digits, '.', '_' or '-', not starting with '.'")
        }
        guard isVersioned || version == self.version else {
            throw MLSecError.usage(
                "model \(name) has no {version} in its configured path; only version \(self.version) can be loaded")
        }
        var source = self
        source.version = version
        source.path = path.replacingOccurrences(of: Self.versionPlaceholder, with: version)
        source.signature = signature.replacingOccurrences(of: Self.versionPlaceholder, with: version)
        return source
    }

    static func isValidVersion(_ version: String) -> Bool {
        let bytes = Array(version.utf8)
        guard (1...64).contains(bytes.count), bytes[0] != UInt8(ascii: ".") else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}

/// The models being served and the configured sources they come from. Deploys and reloads swap entries
/// atomically: a request sees the old model or the new one, never a mix, and in-flight requests finish on
/// the model they started with.
public final class ModelCatalog: Sendable {
    private struct State {
        var models: [String: LoadedModel]
        var sources: [String: ModelSource]
    }
    private let state: Mutex<State>

    public init(models: [String: LoadedModel], sources: [ModelSource] = []) {
        state = Mutex(State(models: models, sources: Dictionary(sources.map { ($0.name, $0) }, uniquingKeysWith: { $1 })))
    }

    /// The model served under `name`.
    public subscript(name: String) -> LoadedModel? { state.withLock { $0.models[name] } }

    /// Every served model, by name.
    public var all: [LoadedModel] { state.withLock { $0.models.values.sorted { $0.name < $1.name } } }

    /// The configured source (a template when versioned) for `name`.
    public func source(named name: String) -> ModelSource? { state.withLock { $0.sources[name] } }

    /// Serves `model` under its name from now on (a replaced upstream pool stops its health checks).
    public func install(_ model: LoadedModel) {
        let previous = state.withLock { $0.models.updateValue(model, forKey: model.name) }
        if let pool = previous?.upstream, pool !== model.upstream { pool.stop() }
    }

    /// Replaces everything (configuration reload): the new models and sources, all at once.
    public func replaceAll(models: [String: LoadedModel], sources: [ModelSource]) {
        let previous = state.withLock { state -> [LoadedModel] in
            let previous = Array(state.models.values)
            state = State(models: models, sources: Dictionary(sources.map { ($0.name, $0) }, uniquingKeysWith: { $1 }))
            return previous
        }
        for model in previous { model.upstream?.stop() }
    }
}

/// Loads models with every check: signature (against trusted keys), decryption in memory, scan, structure.
public enum ModelLoader {
    /// An upstream-served model: its tensors come from the upstream's V2 metadata (FP32, [-1, n] in and out);
    /// the gateway still authenticates, limits, validates, signs receipts and audits every request.
    static func loadUpstream(_ source: ModelSource) async throws -> LoadedModel {
        let pool = try UpstreamPool(model: source.name, endpoints: source.upstreams, policy: source.upstreamPolicy)
        let upstreamModel = source.upstreamModel ?? source.name
        let metadata = try await pool.metadata(upstreamModel: upstreamModel)
        func tensor(_ list: String) throws -> ServedTensor {
            guard let tensors = metadata[list]?.arrayValue, tensors.count == 1, let name = tensors[0]["name"]?.stringValue,
                tensors[0]["datatype"]?.stringValue == "FP32", let shape = tensors[0]["shape"]?.arrayValue?.compactMap(\.integerValue),
                shape.count == 2, shape[0] == -1, shape[1] >= 1, shape[1] <= 1 << 20
            else {
                throw MLSecError.unsupported("model \(source.name): the upstream must declare one FP32 \(list.dropLast()) of shape [-1, n]")
            }
            return ServedTensor(name: name, datatype: "FP32", shape: shape, range: list == "inputs" ? source.inputRange : nil)
        }
        let digest = source.digest ?? "sha256:" + Hex.encode(SHA256.hash(data: JSONWriter.canonical(metadata)))
        var model = LoadedModel(name: source.name, version: source.version, digest: digest, model: nil, input: try tensor("inputs"),
                                output: try tensor("outputs"), endsWithSoftmax: source.softmaxOutput)
        model.upstream = pool
        model.upstreamModel = upstreamModel
        pool.startHealthChecks()
        return model
    }

    static let maxModelBytes = 1 << 30

    public static func load(_ source: ModelSource) async throws -> LoadedModel {
        if !source.upstreams.isEmpty { return try await loadUpstream(source) }
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
