// RevocationFollower: takes a version revoked in the registry out of service, within a second, on every replica.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import MLSecDeploy
import Synchronization

/// Each second, reads the registry's revoked versions and stops serving any of them: the model is removed from
/// the catalog (requests for it answer 404 from then on), and the removal is an audit entry that names who
/// revoked the version and why. The deploy gate then refuses to load the version again (start, SIGHUP, deploy,
/// a replica following a deploy). A registry that cannot be read is logged once per outage; what is served
/// stays served until it can be read (new loads are refused meanwhile: the gate fails closed).
public final class RevocationFollower: Sendable {
    let services: GatewayServices
    let logger: Logger
    private let unreadable = Mutex(false)

    public init(services: GatewayServices, logger: Logger) {
        self.services = services
        self.logger = logger
    }

    /// One pass; returns the models it took out of service.
    @discardableResult
    public func refresh() async -> [String] {
        guard let registry = services.registry else { return [] }
        let revoked: Set<RegistryKey>
        do {
            revoked = try await registry.revoked()
            if unreadable.withLock({ state in defer { state = false }; return state }) {
                logger.notice("the model registry can be read again")
            }
        } catch {
            if Task.isCancelled { return [] }
            if !unreadable.withLock({ state in defer { state = true }; return state }) {
                logger.error("cannot read the model registry's revoked versions; new loads are refused until it can be read",
                             metadata: ["error": "\(readable(error))"])
            }
            return []
        }
        guard !revoked.isEmpty else { return [] }
        var removed: [String] = []
        for model in services.models.all where revoked.contains(RegistryKey(name: model.name, version: model.version)) {
            guard services.models.remove(model) else { continue }
            removed.append(model.name)
            let record = try? await registry.version(name: model.name, version: model.version)
            let why = record.map { "revoked in the registry by \($0.stageChangedBy): \($0.stageReason)" } ?? "revoked in the registry"
            logger.warning("model \(model.name) version \(model.version) taken out of service: \(why)",
                           metadata: ["model": "\(model.name)", "version": "\(model.version)", "digest": "\(model.digest)"])
            do {
                try await services.audit.record(AuditEvent(
                    actor: "gateway", action: "model.unload", resource: "models/\(model.name)/versions/\(model.version)", decision: .deny,
                    reason: why, modelDigest: model.digest))
            } catch {
                logger.error("the audit log cannot take the unload of a revoked model (it is out of service anyway)",
                             metadata: ["model": "\(model.name)", "error": "\(readable(error))"])
            }
        }
        return removed
    }
}
