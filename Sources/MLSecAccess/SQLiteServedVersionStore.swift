// SQLiteServedVersionStore: the served version of each model in the state directory's `gateway.db` (GRDB).

import Foundation
import GRDB
import MLSecCore

/// `served_versions` in `gateway.db`: one row per model that was deployed through the admin API. Writes are
/// durable before the deploy answers (WAL, synchronous=FULL), so a restart serves what was deployed.
public final class SQLiteServedVersionStore: ServedVersionStore {
    private let database: DatabaseQueue

    public init(database: DatabaseQueue) throws {
        self.database = database
        try database.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS served_versions (
                    model TEXT PRIMARY KEY, version TEXT NOT NULL, configured_version TEXT NOT NULL,
                    deployed_by TEXT NOT NULL, deployed_at TEXT NOT NULL, digest TEXT NOT NULL)
                """)
        }
    }

    /// Opens (creating when missing) `gateway.db` in `directory`, as ``SQLiteKeyBackend`` does: WAL,
    /// synchronous=FULL, a busy timeout (the two share the file through separate connections).
    public convenience init(directory: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        configuration.busyMode = .timeout(10)
        try self.init(database: try DatabaseQueue(path: "\(directory)/gateway.db", configuration: configuration))
    }

    /// Every readable row. A row with a column of the wrong type or an unreadable time is an error naming
    /// the model: a served version is never guessed.
    public func load() async throws -> [String: ServedVersion] {
        try await database.read { db in
            var records: [String: ServedVersion] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM served_versions") {
                func text(_ column: String) -> String? { String.fromDatabaseValue(row[column] as DatabaseValue) }
                guard let model = text("model") else { continue }
                guard let version = text("version"), let configured = text("configured_version"), let by = text("deployed_by"),
                    let at = text("deployed_at").flatMap(RFC3339.parse), let digest = text("digest")
                else {
                    throw MLSecError.malformed("the recorded served version of model \(model.prefix(100)) in gateway.db cannot be read; "
                        + "forget it with `mlsec deployments reset --config FILE \(model.prefix(100))` and deploy again")
                }
                records[model] = ServedVersion(model: model, version: version, configuredVersion: configured, deployedBy: by,
                                               deployedAt: at, digest: digest)
            }
            return records
        }
    }

    public func record(_ served: ServedVersion) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO served_versions (model, version, configured_version, deployed_by, deployed_at, digest)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (model) DO UPDATE SET version = excluded.version, configured_version = excluded.configured_version,
                        deployed_by = excluded.deployed_by, deployed_at = excluded.deployed_at, digest = excluded.digest
                    """,
                arguments: [served.model, served.version, served.configuredVersion, served.deployedBy,
                            RFC3339.format(served.deployedAt, fractional: true), served.digest])
        }
    }

    public func forget(model: String) async throws -> Bool {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM served_versions WHERE model = ?", arguments: [model])
            return db.changesCount > 0
        }
    }
}
