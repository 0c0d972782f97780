// ModelSource: a configured model: where its signed files are (or which upstream servers serve it) and its limits.

import MLSecAccess
import MLSecDeploy

/// A model of the configuration: a signed directory loaded through the model-loading pipeline
/// (``MLSecDeploy/ModelLoader``), or upstream V2 servers that serve it, with the gateway's own settings.
public struct ModelSource: Sendable {
    /// Where the signed files are and which keys and identities open them.
    public var location: ModelLocation
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
        location = ModelLocation(name: name, version: version, path: path, signature: signature, publicKeys: publicKeys,
                                 identities: identities)
        self.inputRange = inputRange
    }

    public var name: String { location.name }
    public var version: String { location.version }

    /// Whether the path names the version (`models/digits/{version}`), so that other versions can be deployed.
    public var isVersioned: Bool { location.isVersioned }

    /// This source for `version` (see ``MLSecDeploy/ModelLocation/resolved(version:)``).
    public func resolved(version: String) throws -> ModelSource {
        var source = self
        source.location = try location.resolved(version: version)
        return source
    }
}
