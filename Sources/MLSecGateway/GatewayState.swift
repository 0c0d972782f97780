// GatewayState: opens the state directory (keys database, audit log, receipt and checkpoint keys) and loads models.

import Foundation
import GRDB
import Logging
import MLSecAudit
import MLSecCore
import MLSecIntegrity

/// Everything under the state directory: `gateway.db` (API keys), `audit.db` (the Merkle log),
/// `receipt-key.pem`/`receipt-key.pub.pem` (Ed25519, receipts), `audit-note.key`/`audit-note.vkey` (checkpoints).
/// Keys are created on first start with mode 0600.
public enum GatewayState {
    public static func ensureDirectory(_ path: String) throws {
        if !FileStatus.exists(path) {
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
                throw MLSecError.io("cannot create \(path): \(FileStatus.errnoText())")
            }
        }
    }

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

    /// Opens the keys database.
    public static func keyStore(_ dir: String) throws -> APIKeyStore {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        configuration.busyMode = .timeout(10)
        return try APIKeyStore(database: try DatabaseQueue(path: "\(dir)/gateway.db", configuration: configuration))
    }

    /// Loads the configured version of every source (each verified, decrypted in memory and scanned).
    public static func loadModels(_ sources: [ModelSource]) async throws -> [String: LoadedModel] {
        var models: [String: LoadedModel] = [:]
        for source in sources {
            let model = try await ModelLoader.load(try source.resolved(version: source.version))
            models[model.name] = model
        }
        return models
    }

    /// The state shared in PostgreSQL (rate limits, quota usage) when the configuration names a database.
    static func sharedState(_ configuration: GatewayConfiguration) async throws -> (limits: any RateLimitBackend, quotas: any QuotaUsageStore)? {
        guard let url = configuration.databaseURL else { return nil }
        let database = try PostgresDatabase(url: url, passwordFile: configuration.databasePasswordFile,
                                            logger: Logger(label: "mlsec.postgres"))
        do {
            return (LeasedRateLimiter(shared: try await PostgresRateLimiter(database: database)),
                    try await PostgresQuotaStore(database: database))
        } catch {
            throw MLSecError.io("cannot prepare the shared state in PostgreSQL: \(String(describing: error).prefix(300))")
        }
    }

    /// Opens every store and loads every model (each verified and scanned).
    public static func services(_ configuration: GatewayConfiguration, keys: APIKeyStore? = nil) async throws -> GatewayServices {
        let dir = configuration.stateDirectory
        try ensureDirectory(dir)
        let models = try await loadModels(configuration.models)
        let audit = AuditRecorder(log: try AuditLog(path: "\(dir)/audit.db"), durability: configuration.auditDurability)
        for model in models.values.sorted(by: { $0.name < $1.name }) {
            try await audit.record(AuditEvent(actor: "gateway", action: "model.load", resource: "models/\(model.name)/versions/\(model.version)",
                                              decision: .allow, reason: "signature verified, scan clean", modelDigest: model.digest))
        }
        let shared = try await sharedState(configuration)
        var services = GatewayServices(
            models: ModelCatalog(models: models, sources: configuration.models), keys: try keys ?? keyStore(dir), roles: configuration.roles, limiter: RateLimiter(), audit: audit,
            receipts: ReceiptSigner(key: try receiptKey(dir)), checkpointSigner: try checkpointKey(dir, origin: configuration.auditOrigin),
            checkpointOrigin: configuration.auditOrigin, maxBodyBytes: configuration.maxBodyBytes, maxBatch: configuration.maxBatch,
            availability: configuration.availability, sharedLimits: shared?.limits, sharedQuotas: shared?.quotas)
        if let jwt = configuration.jwt { services.jwt = try await JWTAuthenticator(configuration: jwt) }
        services.clientCertificates = configuration.clientCertificates
        services.corsOrigins = configuration.corsOrigins
        return services
    }
}
