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
            let records = rows.compactMap(Self.record)
            let newest = try Int64.fetchOne(db, sql: "SELECT max(version) FROM api_keys") ?? 0
            return (records, max(version ?? 0, newest))
        }
    }

    /// A row as a record. Columns are read by their stored type, never trusted: a value of the wrong type
    /// makes the record unreadable (its key is refused), and a row without a readable id is left out.
    static func record(_ row: Row) -> APIKeyRecord? {
        func text(_ column: String) -> String? { String.fromDatabaseValue(row[column] as DatabaseValue) }
        guard let id = text("id") else { return nil }
        let hash = (row["secret_hash"] as DatabaseValue).storage
        let secretHash: [UInt8] = if case .blob(let data) = hash { [UInt8](data) } else { [] }
        let revoked = Int64.fromDatabaseValue(row["revoked"] as DatabaseValue)
        let rps = row["rps"] as DatabaseValue
        let burst = row["burst"] as DatabaseValue
        var record = APIKeyRecord(APIKeyRecord.Columns(
            id: id, name: text("name") ?? "", role: text("role") ?? "", models: text("models") ?? "", created: text("created") ?? "",
            secretHash: secretHash, expiresAt: text("expires_at"), revoked: revoked != 0,
            requestsPerSecond: Double.fromDatabaseValue(rps), burst: Int.fromDatabaseValue(burst), policy: text("policy")))
        var unreadable = ["name", "role", "models", "created"].first { text($0) == nil }
        for (column, value, readable) in [
            ("revoked", row["revoked"] as DatabaseValue, revoked != nil),
            ("rps", rps, Double.fromDatabaseValue(rps) != nil), ("burst", burst, Int.fromDatabaseValue(burst) != nil),
            ("expires_at", row["expires_at"] as DatabaseValue, text("expires_at") != nil),
            ("policy", row["policy"] as DatabaseValue, text("policy") != nil),
        ] where unreadable == nil && !readable && (column == "revoked" || !value.isNull) {
            unreadable = column
        }
        if record.defect == nil, let unreadable { record.defect = "the stored \(unreadable) has the wrong type" }
        return record
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
