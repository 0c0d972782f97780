// MonitorRouting: the inference route's monitoring and extraction-defense steps: before the model runs (a
// caller's query-pattern penalty, its extraction budget, the out-of-distribution screen) and after (the window,
// the caller's pattern, the answer cut to the caller's role).

import HTTPTypes
import Hummingbird
import Logging
import MLSecAccess
import MLSecData

extension InferenceRoutes {
    static let oodFlagged = HTTPField.Name("MLSec-OOD-Flagged")!

    /// Before the model runs. Returns the out-of-distribution verdict of a monitored model (nil: not monitored).
    /// - Throws: a denial already audited: 429 for a key refused after a query-pattern alert or over its
    ///   extraction budget, 422 for an out-of-distribution input under `ood_action: refuse`.
    func monitorBeforeInference(_ principal: Principal, _ model: LoadedModel, _ parsed: InferenceRequest, resource: String,
                                context: GatewayContext) async throws -> OODVerdict? {
        let monitor = model.monitor
        var throttle: (factor: Double, retryAfter: Int, reason: String)?
        switch monitor?.admission(caller: principal.id) ?? .admitted {
        case .admitted: break
        case .throttled(let factor, let retryAfter, let reason): throttle = (factor, retryAfter, reason)
        case .refused(let retryAfter, let reason):
            services.metrics.queryPatternRefusal(model: model.name)
            throw await deny(GatewayError(
                .tooManyRequests, "this key's queries to model \(model.name) looked like a black-box attack (\(reason)); "
                    + "it is refused for \(retryAfter) s more",
                headers: [.retryAfter: String(retryAfter)], auditReason: "query pattern: key refused for \(retryAfter) s after a \(reason) alert"),
                principal, "infer", resource, context, model: model)
        }
        if let budget = services.options.extractionDefense[principal.role.name]?.budget {
            let (values, batch) = (parsed.values, parsed.batch)
            do {
                let hashes = try await Self.compute(Self.heavyMonitoring(parsed)) { ExtractionBudgets.hashes(values, count: batch) }
                try await services.extraction.charge(principal, model: model.name, hashes: hashes, budget: budget, factor: throttle?.factor,
                                                     limiter: services.rateLimits)
            } catch let error as GatewayError {
                if error.status == .tooManyRequests {
                    services.metrics.extractionRefusal(model: model.name)
                    if throttle != nil { services.metrics.queryPatternRefusal(model: model.name) }
                }
                throw await deny(error, principal, "infer", resource, context, model: model)
            } catch {
                throw await deny(GatewayError(.serviceUnavailable, "the server is shutting down; retry later"), principal, "infer", resource,
                                 context, model: model)
            }
        } else if let throttle {
            // Throttling cuts a budget; without one the key is refused (fail closed) for the same time.
            services.metrics.queryPatternRefusal(model: model.name)
            throw await deny(GatewayError(
                .tooManyRequests, "this key's queries to model \(model.name) looked like a black-box attack (\(throttle.reason)); "
                    + "its role has no extraction budget to cut, so it is refused for \(throttle.retryAfter) s more",
                headers: [.retryAfter: String(throttle.retryAfter)],
                auditReason: "query pattern: key throttled after a \(throttle.reason) alert; role \(principal.role.name) has no extraction budget"),
                principal, "infer", resource, context, model: model)
        }
        guard let monitor else { return nil }
        let values = parsed.values, batch = parsed.batch
        let verdict: OODVerdict
        do {
            verdict = try await Self.compute(Self.heavyMonitoring(parsed)) { monitor.screen(rows: values, count: batch) }
        } catch {
            throw await deny(GatewayError(.serviceUnavailable, "the server is shutting down; retry later"), principal, "infer", resource, context,
                             model: model)
        }
        if verdict.flagged > 0 {
            services.metrics.ood(model: model.name, action: monitor.policy.oodAction.rawValue, rows: verdict.flagged)
            if monitor.policy.oodAction == .refuse {
                throw await deny(GatewayError(.unprocessableContent, "the input is outside the model's input distribution; the monitor refuses it",
                                              auditReason: "monitor: \(verdict.summary)"), principal, "infer", resource, context, model: model)
            }
        }
        return verdict
    }

    /// After the model answered (before the answer is cut to the caller's role): the window and the caller's
    /// pattern; a query-pattern alert is recorded now, a due window comparison runs in a task of its own.
    func monitorAfterInference(_ principal: Principal, _ model: LoadedModel, _ parsed: InferenceRequest, output: [Float],
                               context: GatewayContext) async {
        guard let monitor = model.monitor else { return }
        let (caller, values, batch) = (principal.id, parsed.values, parsed.batch)
        let observation: MonitorObservation
        do {
            observation = try await Self.compute(Self.heavyMonitoring(parsed)) {
                monitor.observe(caller: caller, rows: values, outputs: output, count: batch)
            }
        } catch {
            // Only when the server is shutting down (the blocking pool is gone): the answer goes out unobserved.
            context.logger.notice("monitor skipped a request: the server is shutting down", metadata: ["model": "\(model.name)"])
            return
        }
        for alert in observation.queryAlerts {
            await services.monitorAlerts.queryPattern(alert, model: model, policy: monitor.policy, requestID: context.requestID)
        }
        if let check = observation.driftCheck {
            let alerts = services.monitorAlerts
            Task.detached(priority: .utility) {
                let (report, alert) = monitor.compare(check)
                await alerts.drift(report, alert: alert, model: model, policy: monitor.policy)
            }
        }
    }

    /// Large batches are scored and observed on NIO's blocking pool, as large inferences run (a few microseconds
    /// a row: a batch of thousands would hold an event loop for milliseconds).
    static func heavyMonitoring(_ parsed: InferenceRequest) -> Bool { parsed.batch >= 256 }

    /// The answer as the caller's role may see it (`extraction_defense.<role>`: top-k, labels only, rounding).
    func limitOutput(_ output: inout [Float], _ principal: Principal, _ model: LoadedModel, batch: Int) {
        services.options.extractionDefense[principal.role.name]?.limit(&output, batch: batch, width: model.output.shape[1])
    }
}
