// GatewayState: opens the state directory and the stores (SQLite or PostgreSQL), reads the signing keys, loads models.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import MLSecIntegrity

/// Everything under the state directory: `gateway.db` (API keys and quota usage) and `audit.db` (the Merkle
/// log) unless PostgreSQL holds them (``stores(_:keys:)``),
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

    /// Opens the keys database in the state directory (`gateway.db`).
    public static func keyStore(_ dir: String) async throws -> APIKeyStore {
        try await APIKeyStore(backend: try SQLiteKeyBackend(directory: dir))
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

    /// The stores a gateway keeps its state in: the state directory's SQLite files by default, or PostgreSQL
    /// (`database` in the configuration), shared by every replica.
    public struct Stores: Sendable {
        public var keys: APIKeyStore
        public var audit: any AuditStore
        public var limits: (any RateLimitBackend)?
        public var roles: PostgresRoleStore?
    }

    /// Opens the configured stores. With PostgreSQL: API keys and quota usage, custom roles, GCRA state and the
    /// audit log all live there; the configuration's custom roles are published for every replica.
    /// - Parameter keys: an SQLite key store already open (the demo's), used instead of opening it again.
    public static func stores(_ configuration: GatewayConfiguration, keys: APIKeyStore? = nil) async throws -> Stores {
        let dir = configuration.stateDirectory
        guard let database = try database(configuration) else {
            let keyStore = if let keys { keys } else { try await keyStore(dir) }
            return Stores(keys: keyStore, audit: try SQLiteAuditStore(path: "\(dir)/audit.db"))
        }
        do {
            let roles = try await PostgresRoleStore(database: database)
            try await roles.publish(configuration.roles)
            return Stores(keys: try await APIKeyStore(backend: try await PostgresKeyBackend(database: database)),
                          audit: try await PostgresAuditStore(database: database),
                          limits: LeasedRateLimiter(shared: try await PostgresRateLimiter(database: database)), roles: roles)
        } catch let error as MLSecError {
            throw error
        } catch {
            throw MLSecError.io("cannot prepare the shared state in PostgreSQL (\(database.location)): \(String(describing: error).prefix(300))")
        }
    }

    /// The key store alone, where the configuration keeps it (for `mlsec apikey`).
    public static func keyStore(_ configuration: GatewayConfiguration) async throws -> APIKeyStore {
        guard let database = try database(configuration) else {
            try ensureDirectory(configuration.stateDirectory)
            return try await keyStore(configuration.stateDirectory)
        }
        return try await APIKeyStore(backend: try await PostgresKeyBackend(database: database))
    }

    /// The configured PostgreSQL connection pool, if any.
    public static func database(_ configuration: GatewayConfiguration) throws -> PostgresDatabase? {
        guard let url = configuration.databaseURL else { return nil }
        return try PostgresDatabase(url: url, passwordFile: configuration.databasePasswordFile, logger: Logger(label: "mlsec.postgres"))
    }

    /// Opens every store and loads every model (each verified and scanned).
    public static func services(_ configuration: GatewayConfiguration, keys: APIKeyStore? = nil) async throws -> GatewayServices {
        let dir = configuration.stateDirectory
        try ensureDirectory(dir)
        let models = try await loadModels(configuration.models)
        let stores = try await stores(configuration, keys: keys)
        let audit = AuditRecorder(store: stores.audit, durability: configuration.auditDurability)
        for model in models.values.sorted(by: { $0.name < $1.name }) {
            try await audit.record(AuditEvent(actor: "gateway", action: "model.load", resource: "models/\(model.name)/versions/\(model.version)",
                                              decision: .allow, reason: "signature verified, scan clean", modelDigest: model.digest))
        }
        var services = GatewayServices(
            models: ModelCatalog(models: models, sources: configuration.models), keys: stores.keys, roles: configuration.roles, limiter: RateLimiter(), audit: audit,
            receipts: ReceiptSigner(key: try receiptKey(dir)), checkpointSigner: try checkpointKey(dir, origin: configuration.auditOrigin),
            checkpointOrigin: configuration.auditOrigin, maxBodyBytes: configuration.maxBodyBytes, maxBatch: configuration.maxBatch,
            availability: configuration.availability, sharedLimits: stores.limits, sharedRoles: stores.roles)
        if let shared = stores.roles { services.roles.replaceCustom(try await shared.load()) }
        if let jwt = configuration.jwt { services.jwt = try await JWTAuthenticator(configuration: jwt) }
        services.clientCertificates = configuration.clientCertificates
        services.corsOrigins = configuration.corsOrigins
        return services
    }
}
