// APIKeyStore: API keys stored only as SHA-256 hashes in the gateway's SQLite database, checked in constant time.

import Crypto
import Foundation
import GRDB
import MLSecCore
import Synchronization

/// One API key's record (never the key itself).
public struct APIKeyRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: String
    public var models: [String]
    public var created: String
    public var expiresAt: Date?
    public var revoked: Bool
    public var rateLimit: RateLimit?
    public var quota: QuotaLimits?
    public var maxConcurrent: Int?
    var secretHash: [UInt8]

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(id)), ("name", .string(name)), ("role", .string(role)),
            ("models", .array(models.map { .string($0) })), ("created", .string(created)),
            ("expires_at", expiresAt.map { .string(RFC3339.format($0)) } ?? .null),
            ("revoked", .bool(revoked)),
        ]
        if let r = rateLimit {
            members.append(("rate_limit", .object([
                ("requests_per_second", .number(String(r.requestsPerSecond))), ("burst", .int(r.burst)),
            ])))
        }
        if let quota { members.append(("quota", quota.json)) }
        if let maxConcurrent { members.append(("max_concurrent", .int(maxConcurrent))) }
        return .object(members)
    }
}

/// API keys: `mlsec_<12 hex id>_<43 base64url characters>` (256 random bits). The database keeps the id, the
/// SHA-256 of the whole key and its attributes; a lookup by id then a constant-time hash comparison checks a
/// presented key. Records are cached in memory and written through to SQLite.
public final class APIKeyStore: Sendable {
    private let database: DatabaseQueue
    private let cache: Mutex<[String: APIKeyRecord]>
    /// Keys that already verified, to their ids: a repeat caller skips parsing and hashing (the record's
    /// revocation and expiry are still checked on every request).
    private let verified = Mutex<[String: String]>([:])
    static let maxVerified = 10_000

    public init(database: DatabaseQueue) throws {
        self.database = database
        try database.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS api_keys (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, models TEXT NOT NULL,
                    secret_hash BLOB NOT NULL, created TEXT NOT NULL, expires_at TEXT, revoked INTEGER NOT NULL DEFAULT 0,
                    rps REAL, burst INTEGER)
                """)
            // Added in 0.2: quotas and concurrency per key (JSON), for databases created before.
            let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(api_keys)").map { $0["name"] as String }
            if !columns.contains("policy") { try db.execute(sql: "ALTER TABLE api_keys ADD COLUMN policy TEXT") }
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS quota_usage (
                    key_id TEXT NOT NULL, window TEXT NOT NULL, requests INTEGER NOT NULL, elements INTEGER NOT NULL,
                    PRIMARY KEY (key_id, window))
                """)
        }
        let records = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys").map(Self.record)
        }
        cache = Mutex(Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) }))
    }

    private static func record(_ row: Row) throws -> APIKeyRecord {
        let modelsText: String = row["models"]
        let models = (try? JSONParser().parse(Array(modelsText.utf8)))?.arrayValue?.compactMap(\.stringValue) ?? []
        let expires: String? = row["expires_at"]
        let rps: Double? = row["rps"]
        let burst: Int? = row["burst"]
        let hash: Data = row["secret_hash"]
        let policyText: String? = row["policy"]
        let policy = policyText.flatMap { try? JSONParser().parse(Array($0.utf8)) }
        return APIKeyRecord(
            id: row["id"], name: row["name"], role: row["role"], models: models, created: row["created"],
            expiresAt: expires.flatMap(RFC3339.parse), revoked: (row["revoked"] as Int) != 0,
            rateLimit: rps.map { RateLimit(requestsPerSecond: $0, burst: burst ?? max(1, Int(min($0, 1e6)))) },
            quota: policy?["quota"].flatMap { try? QuotaLimits(json: $0) },
            maxConcurrent: policy?["max_concurrent"]?.integerValue,
            secretHash: [UInt8](hash))
    }

    static func hash(_ key: String) -> [UInt8] { Array(SHA256.hash(data: Array(key.utf8))) }

    /// Creates a key and returns its record and the key itself (shown once, never stored).
    public func create(
        name: String, role: String, models: [String], expiresAt: Date? = nil, rateLimit: RateLimit? = nil,
        quota: QuotaLimits? = nil, maxConcurrent: Int? = nil
    ) throws -> (APIKeyRecord, String) {
        var random = SystemRandomNumberGenerator()
        let id = Hex.encode((0..<6).map { _ in UInt8.random(in: 0...255, using: &random) })
        var secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        defer { for i in secret.indices { secret[i] = 0 } }
        let key = "mlsec_\(id)_\(Base64.encodeURL(secret))"
        let record = APIKeyRecord(
            id: id, name: name, role: role, models: models, created: RFC3339.now(),
            expiresAt: expiresAt, revoked: false, rateLimit: rateLimit, quota: quota, maxConcurrent: maxConcurrent,
            secretHash: Self.hash(key))
        let modelsText = String(decoding: JSONWriter.bytes(.array(models.map { .string($0) })), as: UTF8.self)
        var policy: [(String, JSONValue)] = []
        if let quota { policy.append(("quota", quota.json)) }
        if let maxConcurrent { policy.append(("max_concurrent", .int(maxConcurrent))) }
        let policyText = policy.isEmpty ? nil : String(decoding: JSONWriter.bytes(.object(policy)), as: UTF8.self)
        try database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO api_keys (id, name, role, models, secret_hash, created, expires_at, revoked, rps, burst, policy)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
                    """,
                arguments: [id, name, role, modelsText, Data(record.secretHash), record.created,
                            expiresAt.map { RFC3339.format($0) }, rateLimit?.requestsPerSecond,
                            rateLimit?.burst, policyText])
        }
        cache.withLock { $0[id] = record }
        return (record, key)
    }

    /// Revokes a key at once. Returns `false` when there is no such key.
    @discardableResult
    public func revoke(id: String) throws -> Bool {
        guard cache.withLock({ $0[id] }) != nil else { return false }
        try database.write { db in try db.execute(sql: "UPDATE api_keys SET revoked = 1 WHERE id = ?", arguments: [id]) }
        cache.withLock { $0[id]?.revoked = true }
        return true
    }

    /// Every key's record, without secrets.
    public func list() -> [APIKeyRecord] { cache.withLock { Array($0.values) }.sorted { $0.created < $1.created } }

    /// Why a presented key was refused (for the audit log; the client only sees 401).
    public enum Refusal: String, Sendable { case malformed, unknown, revoked, expired, mismatch }

    /// Checks a presented key: the record when it is valid, or why not.
    public func authenticate(_ key: String, now: Date = Date()) -> Result<APIKeyRecord, RefusalError> {
        if let id = verified.withLock({ $0[key] }), let record = cache.withLock({ $0[id] }) {
            guard !record.revoked else { return .failure(RefusalError(reason: .revoked)) }
            if let expires = record.expiresAt, expires <= now { return .failure(RefusalError(reason: .expired)) }
            return .success(record)
        }
        let parts = key.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "mlsec", parts[1].utf8.count == 12, parts[2].utf8.count == 43 else {
            return .failure(RefusalError(reason: .malformed))
        }
        guard let record = cache.withLock({ $0[String(parts[1])] }) else { return .failure(RefusalError(reason: .unknown)) }
        // Compare hashes in constant time before looking at the record's state, so timing says nothing.
        let matches = ConstantTime.equal(Self.hash(key), record.secretHash)
        guard matches else { return .failure(RefusalError(reason: .mismatch)) }
        guard !record.revoked else { return .failure(RefusalError(reason: .revoked)) }
        if let expires = record.expiresAt, expires <= now { return .failure(RefusalError(reason: .expired)) }
        verified.withLock { entries in
            if entries.count >= Self.maxVerified { entries.removeAll() }
            entries[key] = record.id
        }
        return .success(record)
    }

    public struct RefusalError: Error, Sendable {
        public var reason: Refusal
        /// More detail for the audit log (never shown to the client, never a secret).
        public var detail: String = ""
    }
}

/// Quota usage kept in the same SQLite database as the keys.
extension APIKeyStore: QuotaUsageStore {
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
