// LoadedModel: a model the gateway serves: the engine (or upstream servers), its tensors and its identity.

import MLSecCore
import MLSecDeploy
import MLSecEngine
import MLSecRobustness

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
    /// The adversarial-input detector and what to do with flagged requests (nil: none configured).
    public var detector: FeatureSqueezingDetector?
    public var detectorPolicy: DetectorPolicy?
    /// The inference monitor (nil: none configured): drift, out-of-distribution inputs, query patterns.
    public var monitor: (any InferenceMonitoring)?

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

    /// A locally served model built by the loading pipeline, with its declared tensors.
    init(_ verified: VerifiedModel, inputRange: ClosedRange<Float>?) {
        self.init(
            name: verified.name, version: verified.version, digest: verified.digest, model: verified.model,
            input: ServedTensor(name: "input", datatype: "FP32", shape: [-1] + [verified.model.inputSize], range: inputRange),
            output: ServedTensor(name: "output", datatype: "FP32", shape: [-1, verified.model.outputSize], range: nil),
            endsWithSoftmax: verified.model.endsWithSoftmax)
    }

    var metadata: JSONValue {
        .object([
            ("name", .string(name)), ("versions", .array([.string(version)])), ("platform", .string("mlsec")),
            ("inputs", .array([input.json])), ("outputs", .array([output.json])),
        ])
    }
}

extension LoadedModel {
    /// Loads `source` (resolved to one version) with every check: through the model-loading pipeline, or from
    /// its upstream servers' metadata.
    public static func load(_ source: ModelSource, loader: ModelLoader = ModelLoader()) async throws -> LoadedModel {
        if !source.upstreams.isEmpty { return try await upstream(source) }
        let verified = try await loader.load(source.location)
        var loaded = LoadedModel(verified, inputRange: source.inputRange)
        if let policy = source.detector {
            loaded.detector = try policy.detector(for: verified)
            loaded.detectorPolicy = policy
        }
        if let policy = source.monitor { loaded.monitor = try policy.monitor(for: verified, version: source.version) }
        return loaded
    }
}
