// SQLiteKeyBackend: API key records and quota usage in the state directory's SQLite database (GRDB).

import Foundation
import GRDB
import MLSecCore

/// `gateway.db`: `api_keys` (one row per key, with a `version` that grows with every write) and
/// `quota_usage` (requests and elements per key and calendar window).
public final class SQLiteKeyBackend: APIKeyBackend {
    private let database: DatabaseQueue
    public var isShared: Bool { false }

    public init(database: DatabaseQueue) throws {
        self.database = database
        try database.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS api_keys (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, models TEXT NOT NULL,
                    secret_hash BLOB NOT NULL, created TEXT NOT NULL, expires_at TEXT, revoked INTEGER NOT NULL DEFAULT 0,
                    rps REAL, burst INTEGER)
                """)
            // Added in 0.2: quotas and concurrency per key (JSON); in 0.3: a version per write, for refreshing caches.
            let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(api_keys)").map { $0["name"] as String }
            if !columns.contains("policy") { try db.execute(sql: "ALTER TABLE api_keys ADD COLUMN policy TEXT") }
            if !columns.contains("version") { try db.execute(sql: "ALTER TABLE api_keys ADD COLUMN version INTEGER NOT NULL DEFAULT 0") }
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS quota_usage (
                    key_id TEXT NOT NULL, window TEXT NOT NULL, requests INTEGER NOT NULL, elements INTEGER NOT NULL,
                    PRIMARY KEY (key_id, window))
                """)
        }
    }

    /// Opens (creating when missing) `gateway.db` in `directory`: WAL, synchronous=FULL.
    public convenience init(directory: String) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        configuration.busyMode = .timeout(10)
        try self.init(database: try DatabaseQueue(path: "\(directory)/gateway.db", configuration: configuration))
    }

    public func changes(since version: Int64?) async throws -> (records: [APIKeyRecord], version: Int64) {
        try await database.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM api_keys WHERE version > ? ORDER BY version", arguments: [version ?? -1])
            let records = rows.map { row in
                APIKeyRecord(APIKeyRecord.Columns(
                    id: row["id"], name: row["name"], role: row["role"], models: row["models"], created: row["created"],
                    secretHash: [UInt8](row["secret_hash"] as Data), expiresAt: row["expires_at"], revoked: (row["revoked"] as Int) != 0,
                    requestsPerSecond: row["rps"], burst: row["burst"], policy: row["policy"]))
            }
            let newest = try Int64.fetchOne(db, sql: "SELECT max(version) FROM api_keys") ?? 0
            return (records, max(version ?? 0, newest))
        }
    }

    public func insert(_ record: APIKeyRecord) async throws {
        let c = record.columns
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO api_keys (id, name, role, models, secret_hash, created, expires_at, revoked, rps, burst, policy, version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(version), 0) + 1 FROM api_keys))
                    """,
                arguments: [c.id, c.name, c.role, c.models, Data(c.secretHash), c.created, c.expiresAt, c.revoked ? 1 : 0,
                            c.requestsPerSecond, c.burst, c.policy])
        }
    }

    public func revoke(id: String) async throws -> Bool {
        try await database.write { db in
            try db.execute(sql: "UPDATE api_keys SET revoked = 1, version = (SELECT max(version) + 1 FROM api_keys) WHERE id = ?",
                           arguments: [id])
            return db.changesCount > 0
        }
    }

    public func loadUsage(windows: [String]) async throws -> [QuotaTracker.Counter: QuotaTracker.Usage] {
        guard !windows.isEmpty else { return [:] }
        return try await database.read { db in
            var usage: [QuotaTracker.Counter: QuotaTracker.Usage] = [:]
            for window in windows {
                for row in try Row.fetchAll(db, sql: "SELECT key_id, requests, elements FROM quota_usage WHERE window = ?", arguments: [window]) {
                    usage[QuotaTracker.Counter(key: row["key_id"], window: window)] =
                        QuotaTracker.Usage(requests: row["requests"], elements: row["elements"])
                }
            }
            return usage
        }
    }

    public func addUsage(_ deltas: [QuotaTracker.Counter: QuotaTracker.Usage]) async throws {
        try await database.write { db in
            for (counter, usage) in deltas {
                try db.execute(sql: """
                    INSERT INTO quota_usage (key_id, window, requests, elements) VALUES (?, ?, ?, ?)
                    ON CONFLICT (key_id, window) DO UPDATE SET requests = requests + excluded.requests, elements = elements + excluded.elements
                    """, arguments: [counter.key, counter.window, usage.requests, usage.elements])
            }
        }
    }
}
