// GatewayStartup: builds the gateway's services from a configuration and the stores its caller opened.

import Foundation
import Logging
import MLSecAccess
import MLSecAudit
import MLSecCore
import MLSecDeploy
import MLSecIntegrity
import MLSecReceipts

/// Start-up: the signing keys of the state directory (`receipt-key.pem`/`receipt-key.pub.pem`, Ed25519, for
/// receipts; `audit-note.key`/`audit-note.vkey` for checkpoints; created on first start with mode 0600), every
/// configured model loaded with every check, and the services over the stores the caller opened.
public enum GatewayStartup {
    static func receiptKey(_ dir: String) throws -> ModelSigningKey {
        let path = "\(dir)/receipt-key.pem"
        if FileStatus.exists(path) {
            return try ModelSigningKey(pem: String(decoding: try ReadOnlyFile.readAll(path, maxBytes: 1 << 16, what: "receipt key"), as: UTF8.self))
        }
        let key = ModelSigningKey.generate(.ed25519)
        try AtomicFile.write(key.pemRepresentation, to: path, mode: 0o600, overwrite: false)
        try AtomicFile.write(key.publicKey.pemRepresentation, to: "\(dir)/receipt-key.pub.pem", mode: 0o644)
        return key
    }

    static func checkpointKey(_ dir: String, origin: String) throws -> NoteSigner {
        let path = "\(dir)/audit-note.key"
        if FileStatus.exists(path) {
            return try NoteSigner(encoded: String(decoding: try ReadOnlyFile.readAll(path, maxBytes: 1 << 16, what: "note key"), as: UTF8.self))
        }
        let signer = try NoteSigner.generate(name: origin)
        try AtomicFile.write(signer.encoded + "\n", to: path, mode: 0o600, overwrite: false)
        try AtomicFile.write(signer.verifier.encoded + "\n", to: "\(dir)/audit-note.vkey", mode: 0o644)
        return signer
    }

    /// The receipt and checkpoint keys of the state directory (created on first start).
    public static func signers(stateDirectory dir: String, origin: String) throws -> GatewaySigners {
        GatewaySigners(receipts: ReceiptSigner(key: try receiptKey(dir)), checkpoint: try checkpointKey(dir, origin: origin),
                       checkpointOrigin: origin)
    }

    /// Loads the configured version of every source (each verified, decrypted in memory and scanned).
    public static func loadModels(_ sources: [ModelSource], loader: ModelLoader = ModelLoader()) async throws -> [String: LoadedModel] {
        try await ServedVersions.loadAll(ServedVersions.choose(sources, records: [:]), loader: loader)
    }

    /// Loads every model (the version its last deploy recorded, or the configured one: ``ServedVersions``) and
    /// builds the services over `stores`; each model load is an audit entry and a log line.
    /// - Throws: when a model cannot be loaded, a recorded deploy included (the gateway does not start
    ///   rather than serve another version than the one deployed).
    public static func services(_ configuration: GatewayConfiguration, stores: GatewayStores,
                                loader: ModelLoader = ModelLoader(), logger: Logger = Logger(label: "mlsec.gateway")) async throws -> GatewayServices {
        var loader = loader
        if stores.registry != nil || configuration.deployPolicy != nil {
            loader.admission = DeployGate(registry: stores.registry, policyPath: configuration.deployPolicy)
        }
        let recorded = try await stores.servedVersions?.load() ?? [:]
        let choices = ServedVersions.choose(configuration.models, records: recorded)
        let models = try await ServedVersions.loadAll(choices, loader: loader)
        let jwt: JWTAuthenticator? = if let settings = configuration.jwt { try await JWTAuthenticator(configuration: settings) } else { nil }
        let services = GatewayServices(
            models: ModelCatalog(models: models, sources: configuration.models), stores: stores, roles: configuration.roles,
            signers: try signers(stateDirectory: configuration.stateDirectory, origin: configuration.auditOrigin),
            options: configuration.options, jwt: jwt, loader: loader)
        if let shared = stores.roles { services.roles.replaceCustom(try await shared.load()) }
        for choice in choices.sorted(by: { $0.name < $1.name }) {
            guard let model = models[choice.name] else { continue }
            try await services.audit.record(AuditEvent(
                actor: "gateway", action: "model.load", resource: "models/\(model.name)/versions/\(model.version)",
                decision: .allow, reason: "signature verified, scan clean" + (choice.deploy.map { "; recorded deploy by \($0.deployedBy)" } ?? ""),
                modelDigest: model.digest))
            logger.notice("\(choice.summary)", metadata: ["model": "\(model.name)", "version": "\(model.version)", "digest": "\(model.digest)"])
        }
        return services
    }
}
