// GatewayMaintenance: the gateway's background service: quota saving, key and role refresh, reload on SIGHUP, a clean stop.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import ServiceLifecycle
import Synchronization
import UnixSignals
import MLSecAccess

/// Runs beside the HTTP server in one ServiceGroup (listed before it, so it stops after it): every second it
/// saves quota usage, reads the API keys changed elsewhere (another replica, `mlsec apikey`) and, with
/// PostgreSQL, the published roles, and follows the recorded deploys (``ServedVersionFollower``); on SIGHUP it
/// reloads models, roles and JWKS keys (certificates reload at the next handshake); on shutdown it saves
/// quotas and drains the audit queue.
public struct GatewayMaintenance: Service {
    let services: GatewayServices
    /// Where SIGHUP reads the configuration again (the file, or the demo's generated configuration).
    let source: ConfigurationSource
    /// The configuration in force (models and roles change with each reload; the other sections cannot).
    private let running: RunningConfiguration
    let follower: ServedVersionFollower
    let revocations: RevocationFollower
    let logger: Logger

    public init(services: GatewayServices, configuration: GatewayConfiguration, source: ConfigurationSource, logger: Logger) {
        self.services = services
        self.source = source
        running = RunningConfiguration(configuration)
        follower = ServedVersionFollower(services: services, logger: logger)
        revocations = RevocationFollower(services: services, logger: logger)
        self.logger = logger
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                await cancelWhenGracefulShutdown {
                    var ticks = 0
                    var refreshFailing = false
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        if Task.isCancelled { break }
                        await saveQuotas()
                        await recordFailureCounts()
                        await refreshSharedState(failing: &refreshFailing)
                        ticks += 1
                        if ticks % 60 == 0 { try? await services.rateLimits.maintain() }
                    }
                }
            }
            // Apart from the loop above: loading a model can take longer than the keys' staleness limit.
            group.addTask {
                await cancelWhenGracefulShutdown {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        if Task.isCancelled { break }
                        await revocations.refresh()
                        await follower.refresh()
                    }
                }
            }
            group.addTask {
                await cancelWhenGracefulShutdown {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        await reload()
                    }
                }
            }
        }
        // Cancelled when the server failed (a port in use): the saving and draining still run to the end, in a
        // task of their own that the group's cancellation does not reach (the group bounds how long it waits).
        let stopping = Task.isCancelled
        let written = await Task { await finish() }.value
        if !stopping, written { logger.notice("stopped: quota usage saved and the audit queue written") }
    }

    /// Saves quotas and the counted failures, and drains the audit queue; whether the queue was written.
    private func finish() async -> Bool {
        await saveQuotas()
        await recordFailureCounts(all: true)
        do {
            try await services.audit.drain()
            return true
        } catch {
            logger.critical("the audit queue could not be written at shutdown", metadata: ["error": "\(readable(error))"])
            return false
        }
    }

    /// The counted entries of repeated authentication failures whose window has ended (all of them at shutdown).
    private func recordFailureCounts(all: Bool = false) async {
        for event in services.failedAuthentications.due(all: all) {
            do {
                try await services.audit.record(event)
            } catch {
                logger.error("cannot record a counted authentication-failure entry", metadata: ["error": "\(readable(error))"])
            }
        }
    }

    /// Keys changed by others, and with PostgreSQL the roles every replica enforces. A failure is logged once
    /// per outage; the key cache then fails closed after its staleness limit (``APIKeyStore/maxStaleness``).
    private func refreshSharedState(failing: inout Bool) async {
        do {
            for record in try await services.keys.refresh() {
                logger.error("an API key record cannot be read; the key is refused until it is fixed or revoked",
                             metadata: ["key": "\(record.id)", "problem": "\(record.defect ?? "")"])
            }
            if let shared = services.sharedRoles { services.roles.replaceCustom(try await shared.load()) }
            if failing { logger.notice("the key and role stores are reachable again") }
            failing = false
        } catch {
            if Task.isCancelled { return }  // shutting down: the query was cut short, not failed
            defer { failing = true }
            if !failing {
                logger.error("cannot refresh API keys and roles; keys are refused once the cache is too old",
                             metadata: ["error": "\(readable(error))"])
            }
        }
    }

    private func saveQuotas() async {
        do {
            try await services.admission.quotas.save()
        } catch {
            logger.error("cannot save quota usage; will retry", metadata: ["error": "\(readable(error))"])
        }
    }

    /// Reads the configuration again and swaps in its models (each at the version its last deploy recorded,
    /// or the configured one: ``ServedVersions``; each loaded with every check; if any fails, nothing changes),
    /// its roles (published to PostgreSQL for every replica when it holds them) and the JWKS keys. Settings
    /// that need a new listener or state (listen, tls, state_dir, limits, cors) are reported as needing a restart.
    public func reload() async {
        let configurationPath = source.name
        do {
            let configuration = try await source.load()
            // Everything the file changes is applied, or nothing: sections that need a restart refuse the reload.
            let restartOnly = running.current.restartOnlyChanges(to: configuration)
            guard restartOnly.isEmpty else {
                throw MLSecError.usage("the configuration changes \(restartOnly.joined(separator: ", ")), which take a restart; "
                    + "nothing was reloaded (restart the gateway, or undo those changes and send SIGHUP again)")
            }
            let choices = ServedVersions.choose(configuration.models, records: try await services.servedVersions.load())
            let models = try await ServedVersions.loadAll(choices, loader: services.loader)
            if let shared = services.sharedRoles { try await shared.publish(configuration.roles) }
            try await services.jwt?.reload()
            try await services.audit.record(AuditEvent(
                actor: "gateway", action: "config.reload", resource: configurationPath, decision: .allow,
                reason: "models: " + choices.map { choice in
                    "\(choice.name) \(choice.version)" + (choice.deploy.map { " (recorded deploy by \($0.deployedBy))" } ?? "")
                }.sorted().joined(separator: ", ")))
            services.models.replaceAll(models: models, sources: configuration.models)
            services.roles.replaceCustom(configuration.roles)
            running.current = configuration
            for choice in choices.sorted(by: { $0.name < $1.name }) {
                logger.notice("\(choice.summary)", metadata: ["model": "\(choice.name)", "version": "\(choice.version)"])
            }
            logger.notice("configuration reloaded: models, roles and JWKS keys", metadata: ["models": "\(models.count)"])
        } catch {
            let message = readable(error)
            logger.error("configuration reload failed; still serving the previous models", metadata: ["error": "\(message)"])
            try? await services.audit.record(AuditEvent(
                actor: "gateway", action: "config.reload", resource: configurationPath, decision: .error,
                reason: String(message.prefix(300))))
        }
    }
}

/// The configuration in force, replaced by each successful reload.
private final class RunningConfiguration: Sendable {
    private let value: Mutex<GatewayConfiguration>
    init(_ configuration: GatewayConfiguration) { value = Mutex(configuration) }
    var current: GatewayConfiguration {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
