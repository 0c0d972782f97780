// ModelSource: a configured model: where its signed files are (or which upstream servers serve it) and its limits.

import MLSecAccess
import MLSecCore
import MLSecDeploy
import MLSecIntegrity

/// A model of the configuration: a signed directory loaded through the model-loading pipeline
/// (``MLSecDeploy/ModelLoader``), or upstream V2 servers that serve it, with the gateway's own settings.
public struct ModelSource: Sendable {
    /// Where the signed files are and which keys (or CA certificates and signer identities) and age identities
    /// open them.
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
    /// The adversarial-input detector's policy; the detector itself is the signed model's detector.json.
    public var detector: DetectorPolicy?
    /// The inference monitor's policy (`models[].monitor`); its reference is a file of its own.
    public var monitor: MonitorPolicy?

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

    /// Certificate mode from the configuration: `certificate_chain` (CA certificate PEM files, resolved) and
    /// `certificate_identity` (one written identity or an array of them, any one matches; see
    /// ``MLSecIntegrity/CertificateIdentity/init(parsing:)``).
    /// - Throws: `MLSecError.malformed` for a malformed identity, or an identity without a chain.
    mutating func setCertificateTrust(chain: [String], identity: JSONValue?, _ context: String) throws {
        location.certificateChain = chain
        location.certificateIdentities = try Self.certificateIdentities(identity, context)
        if chain.isEmpty, !location.certificateIdentities.isEmpty {
            throw MLSecError.malformed("\(context).certificate_identity needs certificate_chain (certificate mode)")
        }
    }

    static func certificateIdentities(_ value: JSONValue?, _ context: String) throws -> [CertificateIdentity] {
        guard let value else { return [] }
        let texts: [String]
        if let text = value.stringValue {
            texts = [text]
        } else if let list = value.arrayValue, !list.isEmpty, list.count <= 64, list.allSatisfy({ $0.stringValue != nil }) {
            texts = list.compactMap(\.stringValue)
        } else {
            throw MLSecError.malformed("\(context).certificate_identity must be a string or an array of 1-64 strings")
        }
        return try texts.map { text in
            do {
                return try CertificateIdentity(parsing: text)
            } catch let error as MLSecError {
                throw MLSecError.malformed("\(context).certificate_identity: \(error.message)")
            }
        }
    }

    /// This source for `version` (see ``MLSecDeploy/ModelLocation/resolved(version:)``).
    public func resolved(version: String) throws -> ModelSource {
        var source = self
        source.location = try location.resolved(version: version)
        return source
    }
}
