// StateStores: opens where a gateway keeps its state: SQLite files in its state directory, or PostgreSQL.

import Foundation
import Logging
import MLSecAccess
import MLSecAudit
import MLSecCore
import MLSecDeploy

/// A PostgreSQL server for state shared by replicas.
public struct DatabaseSettings: Sendable, Equatable {
    /// `postgres://user[:password]@host[:port]/database[?sslmode=...]`.
    public var url: String
    /// A file holding the password (instead of the URL).
    public var passwordFile: String?

    public init(url: String, passwordFile: String? = nil) {
        self.url = url
        self.passwordFile = passwordFile
    }
}

/// Opens the stores a gateway keeps its state in, for its caller (the `mlsec serve` command, a test) to hand
/// to the gateway, which never opens a database itself. Embedded (one gateway): `gateway.db` (API keys, quota
/// usage and the deployed versions) and `audit.db` (the Merkle log) in the state directory, rate limits in
/// memory. With PostgreSQL (replicas): keys and quota usage, custom roles, GCRA state, the audit log and the
/// deployed versions all live there.
public enum StateStores {
    /// The opened stores: shared GCRA state and shared custom roles are nil for one embedded gateway.
    public typealias Opened = (keys: APIKeyStore, audit: any AuditStore, rateLimits: (any RateLimitBackend)?, roles: (any RoleStore)?,
                               servedVersions: any ServedVersionStore)

    /// Opens the stores: the state directory's SQLite files, or PostgreSQL when `database` is given (the
    /// custom `roles` are then published for every replica).
    /// - Parameter keys: an SQLite key store already open in the state directory, used instead of opening it again.
    public static func open(stateDirectory: String, database: DatabaseSettings?, roles: [String: Role],
                            keys: APIKeyStore? = nil) async throws -> Opened {
        guard let database else {
            try ensureDirectory(stateDirectory)
            let keyStore = if let keys { keys } else { try await keyStore(stateDirectory: stateDirectory) }
            return (keyStore, try SQLiteAuditStore(path: "\(stateDirectory)/audit.db"), nil, nil,
                    try SQLiteServedVersionStore(directory: stateDirectory))
        }
        let pool = try postgres(database)
        do {
            let roleStore = try await PostgresRoleStore(database: pool)
            try await roleStore.publish(roles)
            return (try await APIKeyStore(backend: try await PostgresKeyBackend(database: pool)), try await PostgresAuditStore(database: pool),
                    LeasedRateLimiter(shared: try await PostgresRateLimiter(database: pool)), roleStore,
                    try await PostgresServedVersionStore(database: pool))
        } catch let error as MLSecError {
            throw error
        } catch {
            throw MLSecError.io("cannot prepare the shared state in PostgreSQL (\(pool.location)): \(readable(error))")
        }
    }

    /// The key store alone (for `mlsec apikey`): the state directory's, or PostgreSQL's.
    public static func keyStore(stateDirectory: String, database: DatabaseSettings?) async throws -> APIKeyStore {
        guard let database else {
            try ensureDirectory(stateDirectory)
            return try await keyStore(stateDirectory: stateDirectory)
        }
        return try await APIKeyStore(backend: try await PostgresKeyBackend(database: try postgres(database)))
    }

    /// The served versions alone (for `mlsec deployments`): the state directory's, or PostgreSQL's.
    public static func servedVersions(stateDirectory: String, database: DatabaseSettings?) async throws -> any ServedVersionStore {
        guard let database else {
            try ensureDirectory(stateDirectory)
            return try SQLiteServedVersionStore(directory: stateDirectory)
        }
        return try await PostgresServedVersionStore(database: try postgres(database))
    }

    /// The model registry: `registry.db` in the state directory, or PostgreSQL's.
    public static func registry(stateDirectory: String, database: DatabaseSettings?) async throws -> any ModelRegistryStore {
        guard let database else {
            try ensureDirectory(stateDirectory)
            return try SQLiteRegistryStore(directory: stateDirectory)
        }
        return try await PostgresRegistryStore(database: try postgres(database))
    }

    /// Where registry changes are audited: `registry-audit.db` in the state directory (a log of its own, so the
    /// CLI never writes the log a running gateway holds open), or PostgreSQL's shared audit log.
    public static func registryAudit(stateDirectory: String, database: DatabaseSettings?) async throws -> any AuditStore {
        guard let database else {
            try ensureDirectory(stateDirectory)
            return try SQLiteAuditStore(path: "\(stateDirectory)/registry-audit.db")
        }
        return try await PostgresAuditStore(database: try postgres(database))
    }

    /// Opens `gateway.db` in `stateDirectory`.
    public static func keyStore(stateDirectory: String) async throws -> APIKeyStore {
        try await APIKeyStore(backend: try SQLiteKeyBackend(directory: stateDirectory))
    }

    /// A connection pool to `settings`' server.
    public static func postgres(_ settings: DatabaseSettings) throws -> PostgresDatabase {
        try PostgresDatabase(url: settings.url, passwordFile: settings.passwordFile, logger: Logger(label: "mlsec.postgres"))
    }

    /// Creates `path` (mode 0700) when it does not exist.
    public static func ensureDirectory(_ path: String) throws {
        if !FileStatus.exists(path) {
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
                throw MLSecError.io("cannot create \(path): \(FileStatus.errnoText())")
            }
        }
    }
}
