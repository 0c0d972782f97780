// GatewayServices: what the handlers share: models, keys, roles, limits, audit, receipts.

import Foundation
import MLSecAudit

/// The gateway's state, built once at start and shared by every request.
public struct GatewayServices: Sendable {
    public var models: ModelCatalog
    public var keys: APIKeyStore
    public var jwt: JWTAuthenticator?
    public var clientCertificates: [String: ClientCertificateMapping] = [:]
    /// Origins allowed to call from browsers (CORS); empty = CORS off.
    public var corsOrigins: Set<String> = []
    /// The roles in force (custom ones refreshed from PostgreSQL when it holds them).
    public var roles: RoleBook
    /// Where the custom roles are published for every replica (nil: this process alone, from its configuration).
    public var sharedRoles: PostgresRoleStore?
    public var limiter: RateLimiter
    /// Where GCRA state lives: `limiter` (this process) or PostgreSQL (shared by replicas).
    public var rateLimits: any RateLimitBackend
    public var audit: AuditRecorder
    public var receipts: ReceiptSigner
    public var checkpointSigner: NoteSigner
    public var checkpointOrigin: String
    public var maxBodyBytes: Int
    public var maxBatch: Int
    public var metrics = GatewayMetrics()
    /// Concurrency, load shedding, cost-based GCRA and quotas for inference.
    public var admission: InferenceAdmission

    public init(models: ModelCatalog, keys: APIKeyStore, roles: [String: Role], limiter: RateLimiter,
                audit: AuditRecorder, receipts: ReceiptSigner, checkpointSigner: NoteSigner, checkpointOrigin: String,
                maxBodyBytes: Int = 8 << 20, maxBatch: Int = 64, availability: AvailabilityLimits = AvailabilityLimits(),
                quotaClock: @escaping @Sendable () -> Date = { Date() }, sharedLimits: (any RateLimitBackend)? = nil,
                sharedRoles: PostgresRoleStore? = nil) {
        self.models = models
        self.keys = keys
        self.roles = RoleBook(roles)
        self.sharedRoles = sharedRoles
        self.limiter = limiter
        self.audit = audit
        self.receipts = receipts
        self.checkpointSigner = checkpointSigner
        self.checkpointOrigin = checkpointOrigin
        self.maxBodyBytes = maxBodyBytes
        self.maxBatch = maxBatch
        rateLimits = sharedLimits ?? limiter
        admission = InferenceAdmission(limits: availability, limiter: rateLimits, quotas: QuotaTracker(store: keys.backend, now: quotaClock))
    }
}
