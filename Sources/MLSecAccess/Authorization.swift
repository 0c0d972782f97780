// Authorization: roles, permissions and model-name scopes; deny by default.

import MLSecCore

/// What a caller may do.
public enum Permission: String, Sendable, CaseIterable {
    case infer
    case readMetadata = "read_metadata"
    case deployModel = "deploy_model"
    case manageKeys = "manage_keys"
    case readAudit = "read_audit"
}

/// A named set of permissions.
public struct Role: Sendable, Equatable {
    public var name: String
    public var permissions: Set<Permission>

    public init(name: String, permissions: Set<Permission>) {
        self.name = name
        self.permissions = permissions
    }

    /// The built-in roles.
    public static let builtIn: [String: Role] = [
        "admin": Role(name: "admin", permissions: Set(Permission.allCases)),
        "publisher": Role(name: "publisher", permissions: [.deployModel, .readMetadata]),
        "inference": Role(name: "inference", permissions: [.infer, .readMetadata]),
        "auditor": Role(name: "auditor", permissions: [.readAudit]),
    ]
}

/// An authenticated caller.
public struct Principal: Sendable {
    /// Stable id for logs and audit (an API key id, a JWT subject, a certificate subject); never a secret.
    public var id: String
    public var role: Role
    /// Model name patterns the caller may use (`*` matches any run of characters).
    public var models: [String]
    /// Per-principal rate limit, if any.
    public var rateLimit: RateLimit?
    /// Calendar budgets (API keys with a quota).
    public var quota: QuotaLimits?
    /// Inference requests this principal may have in flight (the configured default when nil).
    public var maxConcurrent: Int?

    public init(id: String, role: Role, models: [String], rateLimit: RateLimit?, quota: QuotaLimits? = nil, maxConcurrent: Int? = nil) {
        self.id = id
        self.role = role
        self.models = models
        self.rateLimit = rateLimit
        self.quota = quota
        self.maxConcurrent = maxConcurrent
    }

    public func may(_ permission: Permission) -> Bool { role.permissions.contains(permission) }

    /// Whether `model` is within this principal's scope.
    public func canSee(model: String) -> Bool { models.contains { Self.glob($0, matches: model) } }

    /// Whether every model name `pattern` matches is one this principal may use. For `*`-only globs this is
    /// exactly whether one of the principal's patterns matches `pattern` read as text in which each `*` can
    /// only be matched by a `*` (a literal never matches a `*`, so ``glob(_:matches:)`` decides it as is).
    public func covers(pattern: String) -> Bool { models.contains { Self.glob($0, matches: pattern) } }

    /// Whether this principal may manage `record`'s key: its role grants nothing this principal's role lacks,
    /// and its models are all within this principal's scope. Keys outside are invisible to it.
    public func mayManage(_ record: APIKeyRecord, roles: RoleBook) -> Bool {
        guard let role = roles[record.role], role.permissions.isSubset(of: self.role.permissions) else { return false }
        return record.models.allSatisfy(covers(pattern:))
    }

    /// `*`-only glob matching, iterative (no backtracking blow-up).
    static func glob(_ pattern: String, matches text: String) -> Bool {
        let p = Array(pattern.utf8)
        let t = Array(text.utf8)
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi
                pi += 1
                mark = ti
            } else if pi < p.count, p[pi] == t[ti] {
                pi += 1
                ti += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}

/// Limits for principals that carry none of their own (JWT subjects, client certificates), by role: each
/// principal (one subject, one certificate) gets its own GCRA state, quota counters and concurrency.
public struct PrincipalLimits: Sendable, Equatable {
    public var rateLimit: RateLimit?
    public var quota: QuotaLimits?
    public var maxConcurrent: Int?

    public init(rateLimit: RateLimit? = nil, quota: QuotaLimits? = nil, maxConcurrent: Int? = nil) {
        self.rateLimit = rateLimit
        self.quota = quota
        self.maxConcurrent = maxConcurrent
    }
}

extension Principal {
    /// This principal with `limits` (nil: unchanged).
    public func limited(by limits: PrincipalLimits?) -> Principal {
        guard let limits else { return self }
        var principal = self
        principal.rateLimit = limits.rateLimit
        principal.quota = limits.quota
        principal.maxConcurrent = limits.maxConcurrent
        return principal
    }
}

/// The principal a client certificate (by subject common name) stands for.
public struct ClientCertificateMapping: Sendable, Equatable {
    public var role: String
    public var models: [String]

    public init(role: String, models: [String]) {
        self.role = role
        self.models = models
    }
}
