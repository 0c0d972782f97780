// SQLiteRegistryStore: the embedded registry, `registry.db` in the state directory (GRDB).

import Foundation
import GRDB
import MLSecCore

/// `model_versions` in `registry.db`: one row per registered version, its record a JSON document. Writes are
/// durable before they return (WAL, synchronous=FULL); a gateway reading the same file sees a revocation at
/// its next poll.
public final class SQLiteRegistryStore: ModelRegistryStore {
    private let database: DatabaseQueue
    /// Most bytes of one stored record (the ML-BOM is inside it).
    static let maxRecordBytes = 16 << 20

    public init(database: DatabaseQueue) throws {
        self.database = database
        try database.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS model_versions (
                    name TEXT NOT NULL, version TEXT NOT NULL, stage TEXT NOT NULL, created_at TEXT NOT NULL,
                    record TEXT NOT NULL, PRIMARY KEY (name, version))
                """)
        }
    }

    /// Opens (creating when missing) `registry.db` in `directory`.
    public convenience init(directory: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        configuration.busyMode = .timeout(10)
        try self.init(database: try DatabaseQueue(path: "\(directory)/registry.db", configuration: configuration))
    }

    public func add(_ record: RegisteredVersion) async throws {
        let document = JSONWriter.string(record.json())
        guard document.utf8.count <= Self.maxRecordBytes else {
            throw MLSecError.usage("the registry record of \(record.name) \(record.version) would exceed \(Self.maxRecordBytes >> 20) MiB")
        }
        let inserted = try await database.write { db -> Bool in
            try db.execute(
                sql: "INSERT OR IGNORE INTO model_versions (name, version, stage, created_at, record) VALUES (?, ?, ?, ?, ?)",
                arguments: [record.name, record.version, record.stage.rawValue, RFC3339.format(record.createdAt, fractional: true), document])
            return db.changesCount == 1
        }
        guard inserted else { throw ModelRegistry.alreadyRegistered(record) }
    }

    public func version(name: String, version: String) async throws -> RegisteredVersion? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT name, version, stage, record FROM model_versions WHERE name = ? AND version = ?",
                             arguments: [name, version]).map(Self.decode)
        }
    }

    public func versions(name: String?) async throws -> [RegisteredVersion] {
        try await database.read { db in
            let rows = if let name {
                try Row.fetchAll(db, sql: "SELECT name, version, stage, record FROM model_versions WHERE name = ?", arguments: [name])
            } else {
                try Row.fetchAll(db, sql: "SELECT name, version, stage, record FROM model_versions")
            }
            return try rows.map(Self.decode).sorted(by: ModelRegistry.order)
        }
    }

    public func changeStage(_ record: RegisteredVersion, expected: ModelStage) async throws -> Bool {
        let document = JSONWriter.string(record.json())
        return try await database.write { db in
            try db.execute(
                sql: "UPDATE model_versions SET stage = ?, record = ? WHERE name = ? AND version = ? AND stage = ?",
                arguments: [record.stage.rawValue, document, record.name, record.version, expected.rawValue])
            return db.changesCount == 1
        }
    }

    public func revoked() async throws -> Set<RegistryKey> {
        try await database.read { db in
            var keys = Set<RegistryKey>()
            for row in try Row.fetchAll(db, sql: "SELECT name, version FROM model_versions WHERE stage = 'revoked'") {
                guard let name = String.fromDatabaseValue(row["name"] as DatabaseValue),
                      let version = String.fromDatabaseValue(row["version"] as DatabaseValue)
                else { throw MLSecError.malformed("registry.db: a revoked version's name cannot be read") }
                keys.insert(RegistryKey(name: name, version: version))
            }
            return keys
        }
    }

    /// A row's record; the stage column must agree with the document (a row edited by hand is refused).
    static func decode(_ row: Row) throws -> RegisteredVersion {
        let name = String.fromDatabaseValue(row["name"] as DatabaseValue) ?? "?"
        let version = String.fromDatabaseValue(row["version"] as DatabaseValue) ?? "?"
        let context = "registry.db, model \(name.prefix(100)) version \(version.prefix(64))"
        guard let text = String.fromDatabaseValue(row["record"] as DatabaseValue), text.utf8.count <= maxRecordBytes else {
            throw MLSecError.malformed("\(context): the record cannot be read")
        }
        return try ModelRegistry.decode(document: Array(text.utf8), stage: String.fromDatabaseValue(row["stage"] as DatabaseValue),
                                        name: name, version: version, context: context)
    }
}
