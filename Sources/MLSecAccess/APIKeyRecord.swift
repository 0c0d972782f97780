// APIKeyRecord: one API key's stored attributes (never the key), decoded strictly: a record that cannot be read is refused.

import Foundation
import MLSecCore

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
    /// SHA-256 of the whole key: the only form of the key that is stored.
    package var secretHash: [UInt8]
    /// Why the stored record could not be decoded, when it could not: such a key is refused (fail closed),
    /// never read as "no expiry" or "no quota".
    public var defect: String?

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
        if let defect { members.append(("unreadable", .string(defect))) }
        return .object(members)
    }

    /// The stored columns, as every backend keeps them.
    package struct Columns: Sendable {
        package var id, name, role, models, created: String
        package var secretHash: [UInt8]
        package var expiresAt: String?
        package var revoked: Bool
        package var requestsPerSecond: Double?
        package var burst: Int?
        /// Quota and concurrency, as JSON (nil when neither is set).
        package var policy: String?

        package init(id: String, name: String, role: String, models: String, created: String, secretHash: [UInt8],
                     expiresAt: String?, revoked: Bool, requestsPerSecond: Double?, burst: Int?, policy: String?) {
            self.id = id
            self.name = name
            self.role = role
            self.models = models
            self.created = created
            self.secretHash = secretHash
            self.expiresAt = expiresAt
            self.revoked = revoked
            self.requestsPerSecond = requestsPerSecond
            self.burst = burst
            self.policy = policy
        }
    }

    package var columns: Columns {
        var policy: [(String, JSONValue)] = []
        if let quota { policy.append(("quota", quota.json)) }
        if let maxConcurrent { policy.append(("max_concurrent", .int(maxConcurrent))) }
        return Columns(
            id: id, name: name, role: role, models: String(decoding: JSONWriter.bytes(.array(models.map { .string($0) })), as: UTF8.self),
            created: created, secretHash: secretHash, expiresAt: expiresAt.map { RFC3339.format($0) }, revoked: revoked,
            requestsPerSecond: rateLimit?.requestsPerSecond, burst: rateLimit?.burst,
            policy: policy.isEmpty ? nil : String(decoding: JSONWriter.bytes(.object(policy)), as: UTF8.self))
    }

    /// A record from stored columns. Every field is checked as strictly as when the key was created; the first
    /// problem becomes ``defect`` and the key is refused.
    package init(_ c: Columns) {
        self.init(id: c.id, name: c.name, role: c.role, models: [], created: c.created, expiresAt: nil, revoked: c.revoked,
                  rateLimit: nil, quota: nil, maxConcurrent: nil, secretHash: c.secretHash)
        do {
            try decode(c)
        } catch {
            defect = error.message
        }
    }

    private mutating func decode(_ c: Columns) throws(MLSecError) {
        guard secretHash.count == 32 else { throw .malformed("the stored key hash is \(secretHash.count) bytes, not 32") }
        let parsed: JSONValue
        do {
            parsed = try JSONParser().parse(Array(c.models.utf8), context: "models")
        } catch {
            throw .malformed("models is not JSON")
        }
        guard let list = parsed.arrayValue, list.count <= 64 else { throw .malformed("models is not a list of up to 64 patterns") }
        models = try list.map { value throws(MLSecError) in
            guard let text = value.stringValue, !text.isEmpty, text.utf8.count <= 128 else {
                throw .malformed("models holds an entry that is not a model name pattern")
            }
            return text
        }
        if let text = c.expiresAt {
            guard let date = RFC3339.parse(text) else { throw .malformed("expires_at \"\(text.prefix(40))\" is not an RFC 3339 time") }
            expiresAt = date
        }
        if let rps = c.requestsPerSecond {
            guard rps.isFinite, rps >= 0.001, rps <= 1_000_000, let burst = c.burst, (1...1_000_000).contains(burst) else {
                throw .malformed("the rate limit is out of range")
            }
            rateLimit = RateLimit(requestsPerSecond: rps, burst: burst)
        } else if c.burst != nil {
            throw .malformed("a burst is stored without a rate")
        }
        if let text = c.policy {
            let policy: JSONValue
            do {
                policy = try JSONParser().parse(Array(text.utf8), context: "policy")
            } catch {
                throw .malformed("the quota and concurrency policy is not JSON")
            }
            guard let members = policy.objectValue, members.allSatisfy({ ["quota", "max_concurrent"].contains($0.0) }) else {
                throw .malformed("the policy holds unknown fields")
            }
            if let value = policy["quota"] {
                do {
                    quota = try QuotaLimits(json: value)
                } catch {
                    throw .malformed("the quota is unreadable: \(error.message)")
                }
            }
            if let value = policy["max_concurrent"] {
                guard let n = value.integerValue, (1...100_000).contains(n) else { throw .malformed("max_concurrent is out of range") }
                maxConcurrent = n
            }
        }
    }

    package init(id: String, name: String, role: String, models: [String], created: String, expiresAt: Date?, revoked: Bool,
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
