// APIKeyStore: API keys stored only as SHA-256 hashes, checked in constant time against a refreshed cache.

import Crypto
import Foundation
import MLSecCore
import Synchronization

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
/// SHA-256 of the whole key and its attributes; a presented key is checked by a lookup of its id and a
/// constant-time comparison of its SHA-256 with the stored one, on every request (nothing derived from a
/// presented key is kept after its request). Records are cached in memory, written through to the backend,
/// and refreshed from it every second by the maintenance service (keys created or revoked elsewhere, by
/// another replica or by `mlsec apikey`, take effect within about a second). With a shared backend the cache
/// fails closed: when it could not be refreshed for ``maxStaleness``, every key is refused as unavailable
/// (503), since a revocation might be missing. A record that cannot be decoded is refused (``Refusal/unreadable``).
public final class APIKeyStore: Sendable {
    public let backend: any APIKeyBackend
    private struct Cache {
        var records: [String: APIKeyRecord] = [:]
        var version: Int64 = 0
        var refreshed: ContinuousClock.Instant
    }
    private let cache: Mutex<Cache>
    /// How old the cache of a shared backend may be before keys are refused.
    public let maxStaleness: Duration
    private let clock: @Sendable () -> ContinuousClock.Instant

    /// - Parameter clock: the time the cache's age is measured with (tests inject one).
    public init(backend: any APIKeyBackend, maxStaleness: Duration = .seconds(5),
                clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) async throws {
        self.backend = backend
        self.maxStaleness = maxStaleness
        self.clock = clock
        let (records, version) = try await backend.changes(since: nil)
        cache = Mutex(Cache(records: Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { $1 }), version: version,
                            refreshed: clock()))
    }

    /// Reads the records changed since the last refresh; returns those among them that cannot be decoded
    /// (their keys are refused), for the caller to log.
    @discardableResult
    public func refresh() async throws -> [APIKeyRecord] {
        let since = cache.withLock { $0.version }
        let (records, version) = try await backend.changes(since: since)
        cache.withLock { cache in
            for record in records { cache.records[record.id] = record }
            cache.version = max(cache.version, version)
            cache.refreshed = clock()
        }
        return records.filter { $0.defect != nil }
    }

    /// The records that cannot be decoded (their keys are refused).
    public var unreadable: [APIKeyRecord] { cache.withLock { $0.records.values.filter { $0.defect != nil } }.sorted { $0.id < $1.id } }

    package static func hash(_ key: String) -> [UInt8] { Array(SHA256.hash(data: Array(key.utf8))) }

    /// Creates a key and returns its record and the key itself (shown once, never stored).
    /// - Throws: `MLSecError.usage` when `models` is empty (such a key could call nothing).
    public func create(
        name: String, role: String, models: [String], expiresAt: Date? = nil, rateLimit: RateLimit? = nil,
        quota: QuotaLimits? = nil, maxConcurrent: Int? = nil
    ) async throws -> (APIKeyRecord, String) {
        guard !models.isEmpty else {
            throw MLSecError.usage("a key needs the model name patterns it may use (models, e.g. [\"digits\"] or [\"*\"])")
        }
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

    /// Revokes a key at once (on other replicas: at their next refresh). Returns the revoked record, or nil
    /// when there is no such key.
    @discardableResult
    public func revoke(id: String) async throws -> APIKeyRecord? {
        guard try await backend.revoke(id: id) else { return nil }
        return cache.withLock { cache in
            cache.records[id]?.revoked = true
            return cache.records[id]
        }
    }

    /// The record of key `id`, if any.
    public func record(id: String) -> APIKeyRecord? { cache.withLock { $0.records[id] } }

    /// Every key's record, without secrets.
    public func list() -> [APIKeyRecord] { cache.withLock { Array($0.records.values) }.sorted { ($0.created, $0.id) < ($1.created, $1.id) } }

    /// Why a presented key was refused (for the audit log; the client sees 401, or 503 for `unavailable`).
    public enum Refusal: String, Sendable { case malformed, unknown, revoked, expired, mismatch, unavailable, unreadable }

    /// Checks a presented key: the record when it is valid, or why not.
    public func authenticate(_ key: String, now: Date = Date()) -> Result<APIKeyRecord, RefusalError> {
        if backend.isShared, cache.withLock({ clock() - $0.refreshed }) > maxStaleness {
            return .failure(RefusalError(reason: .unavailable, detail: "the key database has not been reachable for over \(maxStaleness)"))
        }
        let parts = key.utf8.split(separator: UInt8(ascii: "_"), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].elementsEqual("mlsec".utf8), parts[1].count == 12, parts[2].count == 43 else {
            return .failure(RefusalError(reason: .malformed))
        }
        guard let record = cache.withLock({ $0.records[String(decoding: parts[1], as: UTF8.self)] }) else {
            return .failure(RefusalError(reason: .unknown))
        }
        // Compare hashes in constant time before looking at the record's state, so timing says nothing.
        guard ConstantTime.equal(Self.hash(key), record.secretHash) else { return .failure(RefusalError(reason: .mismatch)) }
        if let defect = record.defect { return .failure(RefusalError(reason: .unreadable, detail: "key \(record.id): \(defect)")) }
        guard !record.revoked else { return .failure(RefusalError(reason: .revoked)) }
        if let expires = record.expiresAt, expires <= now { return .failure(RefusalError(reason: .expired)) }
        return .success(record)
    }

    public struct RefusalError: Error, Sendable {
        public var reason: Refusal
        /// More detail for the audit log (never shown to the client, never a secret).
        public var detail: String

        public init(reason: Refusal, detail: String = "") {
            self.reason = reason
            self.detail = detail
        }
    }
}
