// APIKeyStore: API keys stored only as SHA-256 hashes, checked in constant time against a refreshed cache.

import Crypto
import Foundation
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

    /// The stored columns, as both backends keep them.
    struct Columns: Sendable {
        var id, name, role, models, created: String
        var secretHash: [UInt8]
        var expiresAt: String?
        var revoked: Bool
        var requestsPerSecond: Double?
        var burst: Int?
        /// Quota and concurrency, as JSON (nil when neither is set).
        var policy: String?
    }

    var columns: Columns {
        var policy: [(String, JSONValue)] = []
        if let quota { policy.append(("quota", quota.json)) }
        if let maxConcurrent { policy.append(("max_concurrent", .int(maxConcurrent))) }
        return Columns(
            id: id, name: name, role: role, models: String(decoding: JSONWriter.bytes(.array(models.map { .string($0) })), as: UTF8.self),
            created: created, secretHash: secretHash, expiresAt: expiresAt.map { RFC3339.format($0) }, revoked: revoked,
            requestsPerSecond: rateLimit?.requestsPerSecond, burst: rateLimit?.burst,
            policy: policy.isEmpty ? nil : String(decoding: JSONWriter.bytes(.object(policy)), as: UTF8.self))
    }

    /// A record from stored columns (written by this code, but read defensively: bad JSON means no models/policy).
    init(_ c: Columns) {
        let models = (try? JSONParser().parse(Array(c.models.utf8)))?.arrayValue?.compactMap(\.stringValue) ?? []
        let policy = c.policy.flatMap { try? JSONParser().parse(Array($0.utf8)) }
        self.init(
            id: c.id, name: c.name, role: c.role, models: models, created: c.created, expiresAt: c.expiresAt.flatMap(RFC3339.parse),
            revoked: c.revoked,
            rateLimit: c.requestsPerSecond.map { RateLimit(requestsPerSecond: $0, burst: c.burst ?? max(1, Int(min($0, 1e6)))) },
            quota: policy?["quota"].flatMap { try? QuotaLimits(json: $0) }, maxConcurrent: policy?["max_concurrent"]?.integerValue,
            secretHash: c.secretHash)
    }

    init(id: String, name: String, role: String, models: [String], created: String, expiresAt: Date?, revoked: Bool,
         rateLimit: RateLimit?, quota: QuotaLimits?, maxConcurrent: Int?, secretHash: [UInt8]) {
        self.id = id
        self.name = name
        self.role = role
        self.models = models
        self.created = created
        self.expiresAt = expiresAt
        self.revoked = revoked
        self.rateLimit = rateLimit
        self.quota = quota
        self.maxConcurrent = maxConcurrent
        self.secretHash = secretHash
    }
}

/// Where key records persist: SQLite in the state directory (``SQLiteKeyBackend``) or PostgreSQL, shared by
/// replicas (``PostgresKeyBackend``). Each write gets a version number larger than every earlier one, and
/// versions commit in order, so a cache that asks for the changes after the last version it saw misses none.
/// The backend also keeps the keys' quota usage.
public protocol APIKeyBackend: QuotaUsageStore {
    /// Records created or changed after `version` (every record when nil), and the newest version seen.
    func changes(since version: Int64?) async throws -> (records: [APIKeyRecord], version: Int64)
    func insert(_ record: APIKeyRecord) async throws
    /// Marks a key revoked; `false` when there is no such key.
    func revoke(id: String) async throws -> Bool
    /// Whether other processes may change the records (then the cache must stay fresh to be trusted).
    var isShared: Bool { get }
}

/// API keys: `mlsec_<12 hex id>_<43 base64url characters>` (256 random bits). The backend keeps the id, the
/// SHA-256 of the whole key and its attributes; a lookup by id then a constant-time hash comparison checks a
/// presented key. Records are cached in memory, written through to the backend, and refreshed from it every
/// second by the maintenance service (keys created or revoked elsewhere, by another replica or by
/// `mlsec apikey`, take effect within about a second). With a shared backend the cache fails closed: when
/// it could not be refreshed for ``maxStaleness``, every key is refused as unavailable (503), since a
/// revocation might be missing.
public final class APIKeyStore: Sendable {
    public let backend: any APIKeyBackend
    private struct Cache {
        var records: [String: APIKeyRecord] = [:]
        var version: Int64 = 0
        var refreshed = ContinuousClock.now
    }
    private let cache: Mutex<Cache>
    /// Keys that already verified, to their ids: a repeat caller skips parsing and hashing (the record's
    /// revocation and expiry are still checked on every request).
    private let verified = Mutex<[String: String]>([:])
    static let maxVerified = 10_000
    /// How old the cache of a shared backend may be before keys are refused.
    public let maxStaleness: Duration

    public init(backend: any APIKeyBackend, maxStaleness: Duration = .seconds(5)) async throws {
        self.backend = backend
        self.maxStaleness = maxStaleness
        let (records, version) = try await backend.changes(since: nil)
        cache = Mutex(Cache(records: Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { $1 }), version: version))
    }

    /// Reads the records changed since the last refresh.
    public func refresh() async throws {
        let since = cache.withLock { $0.version }
        let (records, version) = try await backend.changes(since: since)
        cache.withLock { cache in
            for record in records { cache.records[record.id] = record }
            cache.version = max(cache.version, version)
            cache.refreshed = .now
        }
    }

    static func hash(_ key: String) -> [UInt8] { Array(SHA256.hash(data: Array(key.utf8))) }

    /// Creates a key and returns its record and the key itself (shown once, never stored).
    public func create(
        name: String, role: String, models: [String], expiresAt: Date? = nil, rateLimit: RateLimit? = nil,
        quota: QuotaLimits? = nil, maxConcurrent: Int? = nil
    ) async throws -> (APIKeyRecord, String) {
        var random = SystemRandomNumberGenerator()
        let id = Hex.encode((0..<6).map { _ in UInt8.random(in: 0...255, using: &random) })
        var secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        defer { for i in secret.indices { secret[i] = 0 } }
        let key = "mlsec_\(id)_\(Base64.encodeURL(secret))"
        let record = APIKeyRecord(
            id: id, name: name, role: role, models: models, created: RFC3339.now(),
            expiresAt: expiresAt, revoked: false, rateLimit: rateLimit, quota: quota, maxConcurrent: maxConcurrent,
            secretHash: Self.hash(key))
        try await backend.insert(record)
        cache.withLock { $0.records[id] = record }
        return (record, key)
    }

    /// Revokes a key at once (on other replicas: at their next refresh). Returns `false` when there is no such key.
    @discardableResult
    public func revoke(id: String) async throws -> Bool {
        guard try await backend.revoke(id: id) else { return false }
        cache.withLock { $0.records[id]?.revoked = true }
        return true
    }

    /// Every key's record, without secrets.
    public func list() -> [APIKeyRecord] { cache.withLock { Array($0.records.values) }.sorted { ($0.created, $0.id) < ($1.created, $1.id) } }

    /// Why a presented key was refused (for the audit log; the client sees 401, or 503 for `unavailable`).
    public enum Refusal: String, Sendable { case malformed, unknown, revoked, expired, mismatch, unavailable }

    /// Checks a presented key: the record when it is valid, or why not.
    public func authenticate(_ key: String, now: Date = Date()) -> Result<APIKeyRecord, RefusalError> {
        if backend.isShared, cache.withLock({ ContinuousClock.now - $0.refreshed }) > maxStaleness {
            return .failure(RefusalError(reason: .unavailable, detail: "the key database has not been reachable for over \(maxStaleness)"))
        }
        if let id = verified.withLock({ $0[key] }), let record = cache.withLock({ $0.records[id] }) {
            guard !record.revoked else { return .failure(RefusalError(reason: .revoked)) }
            if let expires = record.expiresAt, expires <= now { return .failure(RefusalError(reason: .expired)) }
            return .success(record)
        }
        let parts = key.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "mlsec", parts[1].utf8.count == 12, parts[2].utf8.count == 43 else {
            return .failure(RefusalError(reason: .malformed))
        }
        guard let record = cache.withLock({ $0.records[String(parts[1])] }) else { return .failure(RefusalError(reason: .unknown)) }
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
