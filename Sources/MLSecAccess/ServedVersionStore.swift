// ServedVersionStore: the version of each model a deploy put in service, kept where the gateway keeps its state.

import Foundation
import Synchronization

/// What `PUT /admin/models/{model}` put in service: start, SIGHUP reload and (every second) the maintenance
/// service serve it instead of the configured version, as long as the configuration still names the version
/// it named when the deploy was made (``configuredVersion``). The digest pins the files: a recorded version
/// whose files now hash to something else is refused, never served.
public struct ServedVersion: Sendable, Equatable {
    /// The model's configured name.
    public var model: String
    /// The version deployed.
    public var version: String
    /// The version the configuration named when the deploy was made: once the configuration names another
    /// one, the configuration wins (it was edited after the deploy).
    public var configuredVersion: String
    /// The principal that deployed it (`key:<id>`, a JWT subject, ...).
    public var deployedBy: String
    public var deployedAt: Date
    /// The signed manifest's root digest of the deployed files, `sha256:<hex>`.
    public var digest: String

    public init(model: String, version: String, configuredVersion: String, deployedBy: String, deployedAt: Date, digest: String) {
        self.model = model
        self.version = version
        self.configuredVersion = configuredVersion
        self.deployedBy = deployedBy
        self.deployedAt = deployedAt
        self.digest = digest
    }
}

/// Where the served versions are kept: `gateway.db` in the state directory (``SQLiteServedVersionStore``), or
/// PostgreSQL, shared by every replica (`PostgresServedVersionStore` in MLSecStores).
public protocol ServedVersionStore: Sendable {
    /// Every recorded deploy, by model name.
    func load() async throws -> [String: ServedVersion]
    /// Records `served` as its model's served version (replacing the previous record).
    func record(_ served: ServedVersion) async throws
    /// Forgets the recorded deploy of `model` (the configured version is served again); whether there was one.
    func forget(model: String) async throws -> Bool
}

/// Served versions kept in memory (tests, and gateways built without a store): nothing survives a restart.
public final class InMemoryServedVersionStore: ServedVersionStore {
    private let records = Mutex<[String: ServedVersion]>([:])

    public init(_ records: [ServedVersion] = []) {
        self.records.withLock { state in for record in records { state[record.model] = record } }
    }

    public func load() async throws -> [String: ServedVersion] { records.withLock { $0 } }

    public func record(_ served: ServedVersion) async throws { records.withLock { $0[served.model] = served } }

    public func forget(model: String) async throws -> Bool { records.withLock { $0.removeValue(forKey: model) != nil } }
}
