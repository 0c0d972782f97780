// PostgresKeyBackend: API key records (and their quota usage) in PostgreSQL, shared by every gateway replica.

import Foundation
import MLSecAccess
import MLSecCore
import NIOCore
import PostgresNIO

/// `mlsec_api_keys`: the same columns as the SQLite table, plus a `version` from a sequence. Writes take a
/// transaction-scoped advisory lock first, so versions commit in the order they were drawn and a replica that
/// asks for the changes after the last version it saw misses none. Quota usage lives in
/// ``PostgresQuotaStore``'s table.
public final class PostgresKeyBackend: APIKeyBackend {
    let database: PostgresDatabase
    let quotas: PostgresQuotaStore
    public var isShared: Bool { true }

    /// The advisory lock that orders key writes (an arbitrary constant, "mlsec-keys").
    static let writeLock: Int64 = 0x6d6c_7365_636b_6579

    static let schema: [PostgresQuery] = [
        "CREATE SEQUENCE IF NOT EXISTS mlsec_api_keys_version",
        """
        CREATE TABLE IF NOT EXISTS mlsec_api_keys (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, models TEXT NOT NULL, secret_hash BYTEA NOT NULL,
            created TEXT NOT NULL, expires_at TEXT, revoked BOOLEAN NOT NULL DEFAULT false, rps DOUBLE PRECISION, burst BIGINT,
            policy TEXT, version BIGINT NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS mlsec_api_keys_by_version ON mlsec_api_keys (version)",
    ]

    public init(database: PostgresDatabase) async throws {
        self.database = database
        try await database.migrate(Self.schema)
        quotas = try await PostgresQuotaStore(database: database)
    }

    public func changes(since version: Int64?) async throws -> (records: [APIKeyRecord], version: Int64) {
        let since = version ?? -1
        let client = database.client
        return try await database.withDeadline {
            var records: [APIKeyRecord] = []
            var newest = max(since, 0)
            let rows = try await client.query("""
                SELECT id, name, role, models, secret_hash, created, expires_at, revoked, rps, burst, policy, version
                FROM mlsec_api_keys WHERE version > \(since) ORDER BY version
                """)
            for try await (id, name, role, models, hash, created, expires, revoked, rps, burst, policy, rowVersion) in rows.decode(
                (String, String, String, String, ByteBuffer, String, String?, Bool, Double?, Int64?, String?, Int64).self) {
                records.append(APIKeyRecord(APIKeyRecord.Columns(
                    id: id, name: name, role: role, models: models, created: created, secretHash: Array(hash.readableBytesView),
                    expiresAt: expires, revoked: revoked, requestsPerSecond: rps, burst: burst.map { Int(clamping: $0) }, policy: policy)))
                newest = max(newest, rowVersion)
            }
            return (records, newest)
        }
    }

    public func insert(_ record: APIKeyRecord) async throws {
        let c = record.columns
        let hash = ByteBuffer(bytes: c.secretHash)
        let burst = c.burst.map { Int64($0) }
        let database = self.database
        try await database.withDeadline {
            try await database.client.withTransaction(logger: database.logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.writeLock))", logger: database.logger)
                try await connection.query("""
                    INSERT INTO mlsec_api_keys (id, name, role, models, secret_hash, created, expires_at, revoked, rps, burst, policy, version)
                    VALUES (\(c.id), \(c.name), \(c.role), \(c.models), \(hash), \(c.created), \(c.expiresAt), \(c.revoked), \(c.requestsPerSecond),
                            \(burst), \(c.policy), nextval('mlsec_api_keys_version'))
                    """, logger: database.logger)
            }
        }
    }

    public func revoke(id: String) async throws -> Bool {
        let database = self.database
        return try await database.withDeadline {
            try await database.client.withTransaction(logger: database.logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.writeLock))", logger: database.logger)
                let rows = try await connection.query(
                    "UPDATE mlsec_api_keys SET revoked = true, version = nextval('mlsec_api_keys_version') WHERE id = \(id) RETURNING id",
                    logger: database.logger)
                var found = false
                for try await _ in rows.decode(String.self) { found = true }
                return found
            }
        }
    }

    public func loadUsage(windows: [String]) async throws -> [QuotaTracker.Counter: QuotaTracker.Usage] {
        try await quotas.loadUsage(windows: windows)
    }

    public func addUsage(_ deltas: [QuotaTracker.Counter: QuotaTracker.Usage]) async throws {
        try await quotas.addUsage(deltas)
    }
}
