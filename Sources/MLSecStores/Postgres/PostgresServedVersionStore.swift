// PostgresServedVersionStore: the served version of each model in PostgreSQL, one record for every replica.

import Foundation
import MLSecAccess
import MLSecCore
import PostgresNIO

/// `mlsec_served_versions`: what the last deploy of each model put in service. The replica that takes the
/// deploy writes it; every replica serves it at start and on SIGHUP, and picks it up within about a second
/// from its maintenance service, so that replicas serve one version.
public final class PostgresServedVersionStore: ServedVersionStore {
    let database: PostgresDatabase

    static let schema: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS mlsec_served_versions (
            model TEXT PRIMARY KEY, version TEXT NOT NULL, configured_version TEXT NOT NULL,
            deployed_by TEXT NOT NULL, deployed_at TIMESTAMPTZ NOT NULL, digest TEXT NOT NULL)
        """,
    ]

    public init(database: PostgresDatabase) async throws {
        self.database = database
        try await database.migrate(Self.schema)
    }

    public func load() async throws -> [String: ServedVersion] {
        let client = database.client
        return try await database.withDeadline {
            var records: [String: ServedVersion] = [:]
            let rows = try await client.query(
                "SELECT model, version, configured_version, deployed_by, deployed_at, digest FROM mlsec_served_versions")
            for try await (model, version, configured, by, at, digest) in rows.decode((String, String, String, String, Date, String).self) {
                records[model] = ServedVersion(model: model, version: version, configuredVersion: configured, deployedBy: by,
                                               deployedAt: at, digest: digest)
            }
            return records
        }
    }

    public func record(_ served: ServedVersion) async throws {
        let client = database.client
        try await database.withDeadline {
            try await client.query("""
                INSERT INTO mlsec_served_versions (model, version, configured_version, deployed_by, deployed_at, digest)
                VALUES (\(served.model), \(served.version), \(served.configuredVersion), \(served.deployedBy), \(served.deployedAt),
                        \(served.digest))
                ON CONFLICT (model) DO UPDATE SET version = excluded.version, configured_version = excluded.configured_version,
                    deployed_by = excluded.deployed_by, deployed_at = excluded.deployed_at, digest = excluded.digest
                """)
        }
    }

    public func forget(model: String) async throws -> Bool {
        let client = database.client
        return try await database.withDeadline {
            var found = false
            for try await _ in try await client.query(
                "DELETE FROM mlsec_served_versions WHERE model = \(model) RETURNING model").decode(String.self) {
                found = true
            }
            return found
        }
    }
}
