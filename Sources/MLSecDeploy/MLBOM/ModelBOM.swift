// ModelBOM: a model's ML-BOM (CycloneDX 1.6): the model with its model card, its files, datasets and signature.

import Foundation
import MLSecCore
import MLSecEngine
import MLSecFormats
import MLSecSupplyChain

/// Builds the CycloneDX 1.6 ML-BOM of a model, from a plain model directory or from a registered version:
/// - a `machine-learning-model` component: name, version, the manifest root digest as its SHA-256 hash, properties
///   (format, parameter and tensor counts, layers, manifest digest, signer, scan verdict, stage, signature digest,
///   encryption at rest) and a model card (architecture from model.json, datasets, metrics, security considerations);
/// - one `file` component per model file with the SHA-256 of the file as it lies on disk (the ciphertext of an
///   `.age` file), and the signature bundle with its SHA-256;
/// - one `data` component per dataset, carrying its MLSec data manifest digest;
/// - the dependency graph: the model depends on its files and datasets.
///
/// Every input is hostile: the directory is walked without following symbolic links, with caps on the number of
/// files and total bytes; model.json and the safetensors header are parsed strictly with size caps; a registered
/// version's files must still match the registry's digests. Errors are `MLSecError`s that name the file.
public enum ModelBOM {
    /// Caps on what is read.
    public struct Limits: Sendable {
        /// Most bytes the model directory may hold (every file is hashed).
        public var maxModelBytes: Int64
        /// Most files the model directory may hold.
        public var maxFiles: Int

        public init(maxModelBytes: Int64 = 64 << 30, maxFiles: Int = 10_000) {
            self.maxModelBytes = maxModelBytes
            self.maxFiles = maxFiles
        }
    }

    /// How the BOM is made.
    public struct Options: Sendable {
        public var limits: Limits
        /// The BOM's time (`metadata.timestamp`).
        public var timestamp: Date
        /// The BOM's serial number.
        public var serialNumber: UUID
        /// The tool named in `metadata.tools`.
        public var toolName: String
        public var toolVersion: String

        public init(limits: Limits = Limits(), timestamp: Date = Date(), serialNumber: UUID = UUID(), toolName: String = "mlsec",
                    toolVersion: String = "unknown") {
            self.limits = limits
            self.timestamp = timestamp
            self.serialNumber = serialNumber
            self.toolName = toolName
            self.toolVersion = toolVersion
        }
    }

    /// The ML-BOM's JSON bytes.
    /// - Parameters:
    ///   - directory: the model directory (its files are hashed); for a registered version, its registered path when
    ///     this is nil (the BOM is then built from the registry's record alone if that directory is gone).
    ///   - name: the model's name; by default the registered name, else model.json's, else the directory's.
    ///   - version: the model's version; by default the registered one.
    ///   - registered: the registry's record of the version: its files, manifest digest, signer, scan verdict,
    ///     evaluations, datasets, watermark and stage.
    ///   - signature: the signature bundle; by default the registered one.
    /// - Throws: `MLSecError`: `usage` (not a directory, conflicting names), `io`, `malformed`/`unsupported`/
    ///   `limitExceeded` (a hostile file, named), `verificationFailed` (a file no longer matches the registry).
    public static func build(directory: String?, name: String? = nil, version: String? = nil, registered: RegisteredVersion? = nil,
                             signature: String? = nil, options: Options = Options()) throws -> [UInt8] {
        try document(directory: directory, name: name, version: version, registered: registered, signature: signature,
                     options: options).bytes
    }

    /// The ML-BOM of a registered version, from its registered directory and signature.
    public static func build(registered: RegisteredVersion, options: Options = Options()) throws -> [UInt8] {
        try build(directory: nil, registered: registered, options: options)
    }

    /// The ML-BOM as a document (see ``build(directory:name:version:registered:signature:options:)``).
    public static func document(directory: String?, name: String? = nil, version: String? = nil, registered: RegisteredVersion? = nil,
                                signature: String? = nil, options: Options = Options()) throws -> CycloneDX.BOM {
        if let registered {
            if let name, name != registered.name {
                throw MLSecError.usage("the name \(name.prefix(100)) differs from the registered version's name \(registered.name.prefix(100))")
            }
            if let version, version != registered.version {
                throw MLSecError.usage("the version \(version.prefix(64)) differs from the registered version \(registered.version.prefix(64))")
            }
        }
        guard directory != nil || registered != nil else { throw MLSecError.usage("an ML-BOM needs a model directory or a registered version") }
        var modelDirectory = directory
        if modelDirectory == nil, let registered, FileStatus.exists(registered.path) { modelDirectory = registered.path }
        let signaturePath = signature ?? registered.flatMap { $0.signature.isEmpty ? nil : $0.signature }
        let facts = try ModelFacts.read(directory: modelDirectory, registered: registered, signature: signaturePath, limits: options.limits)

        let modelName = name ?? registered?.name ?? facts.spec?.name ?? modelDirectory.map { FilePath.lastComponent(of: FilePath.absolute($0)) } ?? "model"
        let modelVersion = version ?? registered?.version
        let modelRef = "model:" + modelName + (modelVersion.map { "@" + $0 } ?? "")

        var components: [CycloneDX.Component] = []
        let datasets = (registered?.datasets ?? [:]).sorted { $0.key < $1.key }
        let datasetComponents = try datasets.map { try datasetComponent(name: $0.key, digest: $0.value) }
        let fileComponents = facts.files.map(fileComponent)
        var model = CycloneDX.Component(
            type: .machineLearningModel, name: modelName, version: modelVersion, bomRef: modelRef,
            hashes: [try CycloneDX.Hash(sha256: facts.manifestDigest, what: "manifest digest of \(modelName)")],
            modelCard: ModelCardBuilder.card(facts: facts, registered: registered, datasetRefs: datasetComponents.compactMap(\.bomRef)),
            properties: modelProperties(facts: facts, registered: registered))
        model.description = "Machine-learning model \(modelName); its hash is the manifest root digest over its files "
            + "(SHA-256 of the files' SHA-256 digests in path order), as signed"
        components.append(model)
        components.append(contentsOf: fileComponents)
        if let fact = facts.signature { components.append(signatureComponent(fact, registered: registered, modelDirectory: modelDirectory)) }
        components.append(contentsOf: datasetComponents)

        let bom = CycloneDX.BOM(
            serialNumber: options.serialNumber,
            metadata: CycloneDX.Metadata(
                timestamp: options.timestamp,
                tools: [CycloneDX.Component(type: .application, name: options.toolName, version: options.toolVersion, bomRef: "tool:\(options.toolName)")]),
            components: components,
            dependencies: [CycloneDX.Dependency(ref: modelRef, dependsOn: fileComponents.compactMap(\.bomRef) + datasetComponents.compactMap(\.bomRef))]
                + fileComponents.compactMap(\.bomRef).map { CycloneDX.Dependency(ref: $0) })
        try bom.checkReferences()
        return bom
    }

    // MARK: - Components

    static func modelProperties(facts: ModelFacts, registered: RegisteredVersion?) -> [CycloneDX.Property] {
        var properties: [CycloneDX.Property] = [.init("mlsec:format", ModelCardBuilder.weightsFormat(facts))]
        if let spec = facts.spec {
            properties.append(.init("mlsec:model-spec-format", ModelSpec.format))
            properties.append(.init("mlsec:layers", spec.layers.map(\.layer.typeName).joined(separator: ",")))
        }
        if let count = facts.parameterCount { properties.append(.init("mlsec:parameter-count", String(count))) }
        if let weights = facts.weights { properties.append(.init("mlsec:tensor-count", String(weights.tensors.count))) }
        properties.append(.init("mlsec:manifest-digest", facts.manifestDigest))
        let encrypted = facts.encryptedFiles
        properties.append(.init("mlsec:encrypted-at-rest", encrypted.isEmpty ? "none" : encrypted.joined(separator: ",")))
        if let registered {
            properties.append(.init("mlsec:signer", registered.signer))
            properties.append(.init("mlsec:scan-verdict", registered.scanVerdict))
            if !registered.scanReportDigest.isEmpty { properties.append(.init("mlsec:scan-report-digest", registered.scanReportDigest)) }
            properties.append(.init("mlsec:stage", registered.stage.rawValue))
            if let watermark = registered.watermark { properties.append(.init("mlsec:watermark", watermark)) }
            properties.append(.init("mlsec:registered-at", RFC3339.format(registered.createdAt)))
        }
        if let signature = facts.signature { properties.append(.init("mlsec:signature-sha256", "sha256:" + Hex.encode(signature.sha256))) }
        return properties
    }

    static func fileComponent(_ file: ModelFileFact) -> CycloneDX.Component {
        var properties: [CycloneDX.Property] = []
        if let size = file.size { properties.append(.init("mlsec:size", String(size))) }
        if file.isEncrypted { properties.append(.init("mlsec:encryption", "age")) }
        return CycloneDX.Component(
            type: .file, name: file.path, bomRef: "file:" + file.path, hashes: [CycloneDX.Hash(.sha256, bytes: file.sha256)],
            properties: properties)
    }

    static func signatureComponent(_ fact: SignatureFact, registered: RegisteredVersion?, modelDirectory: String?) -> CycloneDX.Component {
        var properties: [CycloneDX.Property] = [.init("mlsec:role", "signature-bundle"), .init("mlsec:signature-format", "OpenSSF model signing (Sigstore bundle, DSSE)")]
        if let registered {
            properties.append(.init("mlsec:signer", registered.signer))
            properties.append(.init("mlsec:verified", "when registered"))
        } else {
            properties.append(.init("mlsec:verified", "no (this BOM does not verify signatures: run mlsec verify)"))
            if let hint = fact.keyHint { properties.append(.init("mlsec:key-hint", hint)) }
            if fact.isCertificate { properties.append(.init("mlsec:signer-kind", "certificate")) }
        }
        let name = modelDirectory.flatMap { FilePath.relative(FilePath.absolute(fact.path), to: FilePath.absolute($0)) }
            ?? FilePath.lastComponent(of: fact.path)
        return CycloneDX.Component(
            type: .file, name: name, bomRef: "signature:" + name, mimeType: "application/vnd.dev.sigstore.bundle.v0.3+json",
            description: "The model's signature bundle", hashes: [CycloneDX.Hash(.sha256, bytes: fact.sha256)], properties: properties)
    }

    static func datasetComponent(name: String, digest: String) throws -> CycloneDX.Component {
        CycloneDX.Component(
            type: .data, name: name, bomRef: "dataset:" + name,
            description: "Dataset, identified by the root digest of its signed MLSec data manifest (mlsec data sign)",
            hashes: [try CycloneDX.Hash(sha256: digest, what: "data manifest digest of dataset \(name)")],
            data: [CycloneDX.ComponentData(.dataset, name: name)],
            properties: [.init("mlsec:data-manifest-digest", digest)])
    }
}
