// GatewayServices: what the handlers share: models, stores, signers and settings, fixed at start.

import Foundation
import MLSecAccess
import MLSecAudit
import MLSecDeploy
import MLSecReceipts

/// The stores the gateway receives. Its caller opens them (`MLSecStores.StateStores`: SQLite in the state
/// directory, or PostgreSQL for replicas); the gateway only uses them through their protocols.
public struct GatewayStores: Sendable {
    public var keys: APIKeyStore
    public var audit: any AuditStore
    /// Shared GCRA state (nil: decided in this process).
    public var rateLimits: (any RateLimitBackend)?
    /// Shared custom roles (nil: this process's configuration alone).
    public var roles: (any RoleStore)?
    /// The version each deploy put in service (nil: kept in memory, lost at restart; `mlsec serve` always
    /// passes the state directory's or PostgreSQL's).
    public var servedVersions: (any ServedVersionStore)?
    /// The model registry (nil: none): revoked versions are refused and taken out of service within a second,
    /// and the deploy policy judges registered versions.
    public var registry: (any ModelRegistryStore)?

    public init(keys: APIKeyStore, audit: any AuditStore, rateLimits: (any RateLimitBackend)? = nil, roles: (any RoleStore)? = nil,
                servedVersions: (any ServedVersionStore)? = nil, registry: (any ModelRegistryStore)? = nil) {
        self.keys = keys
        self.audit = audit
        self.rateLimits = rateLimits
        self.roles = roles
        self.servedVersions = servedVersions
        self.registry = registry
    }
}

/// The keys the gateway signs with: receipts (Ed25519) and audit checkpoints (a signed-note key).
public struct GatewaySigners: Sendable {
    public var receipts: ReceiptSigner
    public var checkpoint: NoteSigner
    /// The checkpoints' origin line.
    public var checkpointOrigin: String

    public init(receipts: ReceiptSigner, checkpoint: NoteSigner, checkpointOrigin: String) {
        self.receipts = receipts
        self.checkpoint = checkpoint
        self.checkpointOrigin = checkpointOrigin
    }
}

/// The per-request settings of the configuration.
public struct GatewayOptions: Sendable {
    public var maxBodyBytes = 8 << 20
    public var maxBatch = 64
    public var availability = AvailabilityLimits()
    /// Origins allowed to call from browsers (CORS); empty = CORS off.
    public var corsOrigins: Set<String> = []
    /// Mutual TLS: client certificate subject common names mapped to principals.
    public var clientCertificates: [String: ClientCertificateMapping] = [:]
    /// Limits for JWT and client-certificate principals, by role (API keys carry their own).
    public var principalLimits: [String: PrincipalLimits] = [:]
    public var auditDurability = AuditDurability.request
    /// Unauthenticated attempts allowed per client address (`limits.anonymous_per_address`).
    public var anonymousLimit = RateLimit(requestsPerSecond: 2, burst: 20)
    /// Identical authentication failures from one address within this window are one counted audit entry.
    public var failureWindow: Duration = .seconds(60)
    /// Per role: answers cut to top-k or rounded, and budgets of distinct inputs (`extraction_defense`).
    public var extractionDefense: [String: ExtractionPolicy] = [:]

    public init() {}
}

/// The gateway's state, built once at start and shared by every request.
public struct GatewayServices: Sendable {
    public let models: ModelCatalog
    public let keys: APIKeyStore
    /// The roles in force (custom ones refreshed from the shared role store when there is one).
    public let roles: RoleBook
    public let sharedRoles: (any RoleStore)?
    /// The version each deploy put in service, read at start, on SIGHUP and every second.
    public let servedVersions: any ServedVersionStore
    /// Where GCRA state lives: this process, or the shared store.
    public let rateLimits: any RateLimitBackend
    public let audit: AuditRecorder
    public let signers: GatewaySigners
    public let options: GatewayOptions
    public let jwt: JWTAuthenticator?
    public let metrics: GatewayMetrics
    /// Concurrency, load shedding, cost-based GCRA and quotas for inference.
    public let admission: InferenceAdmission
    /// Loads models for deploys and reloads (through the deploy gate when there is a registry or a policy).
    public let loader: ModelLoader
    /// The model registry, polled each second for revoked versions.
    public let registry: (any ModelRegistryStore)?
    /// Failed authentications: limited per client address, repeated ones counted into one entry per window.
    public let failedAuthentications: FailedAuthentications
    /// The distinct inputs each key sent each model recently, for the extraction budgets.
    public let extraction = ExtractionBudgets()
    /// Where the inference monitors' alerts go: audit, metrics, webhooks.
    public let monitorAlerts: MonitorAlerts

    public init(models: ModelCatalog, stores: GatewayStores, roles: [String: Role], signers: GatewaySigners,
                options: GatewayOptions = GatewayOptions(), jwt: JWTAuthenticator? = nil, metrics: GatewayMetrics = GatewayMetrics(),
                loader: ModelLoader = ModelLoader(), quotaClock: @escaping @Sendable () -> Date = { Date() }) {
        self.models = models
        keys = stores.keys
        self.roles = RoleBook(roles)
        sharedRoles = stores.roles
        servedVersions = stores.servedVersions ?? InMemoryServedVersionStore()
        rateLimits = stores.rateLimits ?? RateLimiter()
        audit = AuditRecorder(store: stores.audit, durability: options.auditDurability)
        self.signers = signers
        self.options = options
        self.jwt = jwt
        self.metrics = metrics
        self.loader = loader
        registry = stores.registry
        failedAuthentications = FailedAuthentications(limit: options.anonymousLimit, window: options.failureWindow)
        monitorAlerts = MonitorAlerts(metrics: metrics, audit: audit)
        admission = InferenceAdmission(limits: options.availability, limiter: rateLimits,
                                       quotas: QuotaTracker(store: stores.keys.backend, now: quotaClock))
    }
}
