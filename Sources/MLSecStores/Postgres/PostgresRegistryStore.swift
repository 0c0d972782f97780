// PostgresRegistryStore: the model registry in PostgreSQL, shared by every replica and `mlsec registry`.

import Foundation
import MLSecCore
import MLSecDeploy
import PostgresNIO

/// `mlsec_model_versions`: one row per registered version, its record a JSON document (as in SQLite). Every
/// replica polls the revoked versions each second, so a revocation takes them out of service everywhere.
public final class PostgresRegistryStore: ModelRegistryStore {
    let database: PostgresDatabase

    static let schema: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS mlsec_model_versions (
            name TEXT NOT NULL, version TEXT NOT NULL, stage TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL,
            record TEXT NOT NULL, PRIMARY KEY (name, version))
        """,
    ]

    public init(database: PostgresDatabase) async throws {
        self.database = database
        try await database.migrate(Self.schema)
    }

    public func add(_ record: RegisteredVersion) async throws {
        let client = database.client
        let document = JSONWriter.string(record.json())
        let inserted = try await database.withDeadline {
            var inserted = false
            for try await _ in try await client.query("""
                INSERT INTO mlsec_model_versions (name, version, stage, created_at, record)
                VALUES (\(record.name), \(record.version), \(record.stage.rawValue), \(record.createdAt), \(document))
                ON CONFLICT (name, version) DO NOTHING RETURNING name
                """).decode(String.self) {
                inserted = true
            }
            return inserted
        }
        guard inserted else {
            throw MLSecError.usage("model \(record.name) version \(record.version) is registered already; versions are immutable: "
                + "register the new files under a new version")
        }
    }

    public func version(name: String, version: String) async throws -> RegisteredVersion? {
        let client = database.client
        return try await database.withDeadline {
            var found: RegisteredVersion?
            for try await (rowName, rowVersion, stage, record) in try await client.query(
                "SELECT name, version, stage, record FROM mlsec_model_versions WHERE name = \(name) AND version = \(version)"
            ).decode((String, String, String, String).self) {
                found = try Self.decode(rowName, rowVersion, stage, record)
            }
            return found
        }
    }

    public func versions(name: String?) async throws -> [RegisteredVersion] {
        let client = database.client
        return try await database.withDeadline {
            var records: [RegisteredVersion] = []
            let rows = if let name {
                try await client.query("SELECT name, version, stage, record FROM mlsec_model_versions WHERE name = \(name)")
            } else {
                try await client.query("SELECT name, version, stage, record FROM mlsec_model_versions")
            }
            for try await (rowName, rowVersion, stage, record) in rows.decode((String, String, String, String).self) {
                records.append(try Self.decode(rowName, rowVersion, stage, record))
            }
            return records.sorted(by: ModelRegistry.order)
        }
    }

    public func changeStage(_ record: RegisteredVersion, expected: ModelStage) async throws -> Bool {
        let client = database.client
        let document = JSONWriter.string(record.json())
        return try await database.withDeadline {
            var changed = false
            for try await _ in try await client.query("""
                UPDATE mlsec_model_versions SET stage = \(record.stage.rawValue), record = \(document)
                WHERE name = \(record.name) AND version = \(record.version) AND stage = \(expected.rawValue) RETURNING name
                """).decode(String.self) {
                changed = true
            }
            return changed
        }
    }

    public func revoked() async throws -> Set<RegistryKey> {
        let client = database.client
        return try await database.withDeadline {
            var keys = Set<RegistryKey>()
            for try await (name, version) in try await client.query(
                "SELECT name, version FROM mlsec_model_versions WHERE stage = 'revoked'").decode((String, String).self) {
                keys.insert(RegistryKey(name: name, version: version))
            }
            return keys
        }
    }

    static func decode(_ name: String, _ version: String, _ stage: String, _ record: String) throws -> RegisteredVersion {
        try ModelRegistry.decode(document: Array(record.utf8), stage: stage, name: name, version: version,
                                 context: "PostgreSQL mlsec_model_versions, model \(name.prefix(100)) version \(version.prefix(64))")
    }
}
