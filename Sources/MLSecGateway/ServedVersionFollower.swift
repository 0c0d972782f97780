// ServedVersionFollower: serves what the recorded deploys say, every second: deploys made on other replicas.

import Foundation
import Logging
import MLSecAccess
import MLSecAudit
import MLSecCore
import Synchronization

/// Compares the version each configured model should serve (``ServedVersions/choose(_:records:)`` over the
/// recorded deploys) with the one it serves, and loads what differs with every check. This is how a replica
/// picks up a deploy made on another one (PostgreSQL), or a deploy forgotten with `mlsec deployments reset`.
/// A version that cannot be loaded (its files not copied to this replica yet, a refused signature, an audit log
/// that cannot take the entry) is logged once, the current one stays, and the load is tried again every
/// ``retryInterval``.
public final class ServedVersionFollower: Sendable {
    private struct State {
        /// Per model, the choice (version and digest) whose load failed, and when: retried after ``retryInterval``.
        var failed: [String: (wanted: String, at: ContinuousClock.Instant)] = [:]
        /// Whether the last read of the records failed (logged once per outage).
        var unreadable = false
    }
    private let state = Mutex(State())
    let services: GatewayServices
    let logger: Logger
    /// How long a failed load waits before it is tried again.
    public let retryInterval: Duration
    private let now: @Sendable () -> ContinuousClock.Instant

    /// - Parameter now: the clock failed loads are timed with (tests inject one).
    public init(services: GatewayServices, logger: Logger, retryInterval: Duration = .seconds(30),
                now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.services = services
        self.logger = logger
        self.retryInterval = retryInterval
        self.now = now
    }

    /// One pass: reads the records and brings every model in line. Returns the models it installed.
    @discardableResult
    public func refresh() async -> [String] {
        let records: [String: ServedVersion]
        do {
            records = try await services.servedVersions.load()
            if state.withLock({ $0.unreadable }) { logger.notice("the served versions can be read again") }
            state.withLock { $0.unreadable = false }
        } catch {
            if Task.isCancelled { return [] }
            let first = state.withLock { state in defer { state.unreadable = true }; return !state.unreadable }
            if first {
                logger.error("cannot read the recorded served versions; serving the current versions until they can be read",
                             metadata: ["error": "\(readable(error))"])
            }
            return []
        }
        var installed: [String] = []
        for choice in ServedVersions.choose(services.models.sources, records: records) where !Task.isCancelled {
            if await follow(choice) { installed.append(choice.name) }
        }
        return installed
    }

    private func follow(_ choice: ServedChoice) async -> Bool {
        let served = services.models[choice.name]
        let wanted = "\(choice.version) \(choice.deploy?.digest ?? "")"
        if served?.version == choice.version, choice.deploy.map({ $0.digest == served?.digest }) ?? true {
            state.withLock { _ = $0.failed.removeValue(forKey: choice.name) }
            return false
        }
        let time = now()
        let previousFailure = state.withLock { $0.failed[choice.name] }
        if let previousFailure, previousFailure.wanted == wanted, time - previousFailure.at < retryInterval { return false }
        do {
            let model = try await ServedVersions.load(choice, loader: services.loader)
            try await services.audit.record(AuditEvent(
                actor: "gateway", action: "model.load", resource: "models/\(model.name)/versions/\(model.version)", decision: .allow,
                reason: "signature verified, scan clean; " + (choice.deploy.map { "following the recorded deploy by \($0.deployedBy)" }
                    ?? "the configured version (no recorded deploy applies)"),
                modelDigest: model.digest))
            guard services.models.install(model, replacing: served) else { return false }  // a deploy or reload came first
            state.withLock { _ = $0.failed.removeValue(forKey: choice.name) }
            logger.notice("\(choice.summary)", metadata: ["model": "\(model.name)", "version": "\(model.version)", "digest": "\(model.digest)"])
            return true
        } catch {
            if Task.isCancelled { return false }
            state.withLock { $0.failed[choice.name] = (wanted, time) }
            guard previousFailure?.wanted != wanted else { return false }  // logged when it first failed
            logger.error("model \(choice.name): cannot serve version \(choice.version); still serving version \(served?.version ?? "none")",
                         metadata: ["error": "\(readable(error, limit: 500))"])
            return false
        }
    }
}
