// MonitorAlerts: where the monitor's alerts go: an audit entry, Prometheus metrics, a log line, and a POST to
// each configured webhook (fire-and-forget, bounded in time and in number, never on the request's path).

import AsyncHTTPClient
import Foundation
import Logging
import MLSecAudit
import MLSecCore
import MLSecData
import NIOCore
import NIOHTTP1
import Prometheus
import Synchronization

/// Records and forwards the monitor's alerts.
public final class MonitorAlerts: Sendable {
    let metrics: GatewayMetrics
    let audit: AuditRecorder
    let logger = Logger(label: "mlsec.monitor")
    /// Webhook posts in flight; beyond ``maxInFlight`` new ones are dropped (and counted).
    private let inFlight = Atomic<Int>(0)
    static let maxInFlight = 64

    /// One client for every webhook: no redirects (a webhook cannot send the gateway elsewhere), short
    /// connect timeout. It lives as long as the process.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(10))
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    init(metrics: GatewayMetrics, audit: AuditRecorder) {
        self.metrics = metrics
        self.audit = audit
    }

    /// A caller's query pattern alerted (recorded before the request that tripped it is answered).
    func queryPattern(_ alert: QueryPatternAlert, model: LoadedModel, policy: MonitorPolicy, requestID: String) async {
        metrics.queryPatternAlert(model: model.name, kind: alert.kind.rawValue)
        let penalty = switch policy.queryAction {
        case .flag: ""
        case .throttle: "; its extraction budget is cut to \(policy.throttleFactor) for \(Int(policy.blockSeconds)) s"
        case .refuse: "; its requests are refused for \(Int(policy.blockSeconds)) s"
        }
        let summary = "query pattern alert \(alert.summary)\(penalty)"
        logger.warning("ALERT \(summary)", metadata: ["model": "\(model.name)", "caller": "\(alert.caller.prefix(100))", "request_id": "\(requestID)"])
        await record(AuditEvent(actor: alert.caller, action: "monitor.query_pattern", resource: resource(model),
                                decision: policy.queryAction == .flag ? .allow : .deny, reason: summary, requestID: requestID,
                                modelDigest: model.digest))
        post(model: model, policy: policy, fields: [
            ("kind", .string("query_pattern")), ("pattern", .string(alert.kind.rawValue)), ("caller", .string(alert.caller)),
            ("action", .string(policy.queryAction.rawValue)), ("rows", .int(alert.rows)), ("near_duplicates", .int(alert.nearDuplicates)),
            ("probes", .int(alert.probes)), ("halving_run", .int(alert.halvingRun)), ("summary", .string(summary)),
        ])
    }

    /// A comparison of the window finished (off the request path): the gauges, and the alert if it raised one.
    func drift(_ report: DriftReport, alert: DriftAlert?, model: LoadedModel, policy: MonitorPolicy) async {
        metrics.driftReport(model: model.name, maxPSI: report.maxPSI, maxKS: report.maxKS, predictionPSI: report.predictionPSI,
                            drifting: report.drifting.count)
        guard let alert else { return }
        if !alert.newlyDrifting.isEmpty { metrics.driftAlert(model: model.name, kind: "feature") }
        if alert.predictionShift { metrics.driftAlert(model: model.name, kind: "prediction") }
        let kind = alert.cleared ? "drift_cleared" : "drift"
        let summary = (alert.cleared ? "drift cleared: " : "drift alert: ") + report.summary
        if alert.cleared {
            logger.notice("\(summary)", metadata: ["model": "\(model.name)"])
        } else {
            logger.warning("ALERT \(summary)", metadata: ["model": "\(model.name)"])
        }
        await record(AuditEvent(actor: "gateway", action: "monitor.\(kind)", resource: resource(model), decision: .allow,
                                reason: summary, modelDigest: model.digest))
        post(model: model, policy: policy, fields: [
            ("kind", .string(kind)), ("rows", .int(report.rows)),
            ("drifting_features", .array(report.drifting.map { f in
                .object([("name", .string(f.name)), ("psi", Self.number(f.psi)), ("ks", Self.number(f.ks)), ("p_value", Self.number(f.pValue))])
            })),
            ("newly_drifting", .array(alert.newlyDrifting.map { .string($0) })),
            ("prediction", .object([("psi", Self.number(report.predictionPSI)), ("p_value", Self.number(report.predictionPValue)),
                                    ("shifted", .bool(report.predictionShift))])),
            ("summary", .string(summary)),
        ])
    }

    static func number(_ v: Double) -> JSONValue { v.isFinite ? .number("\(v)") : .null }

    private func resource(_ model: LoadedModel) -> String { "models/\(model.name)/versions/\(model.version)" }

    private func record(_ event: AuditEvent) async {
        do {
            try await audit.record(event)
        } catch {
            logger.error("monitor alert not recorded in the audit log", metadata: ["error": "\(readable(error))", "action": "\(event.action)"])
        }
    }

    /// POSTs `{"source": "mlsec", "model", "version", "time", ...fields}` to each webhook from a task of its
    /// own: the caller never waits, a slow or failing webhook is logged and counted.
    private func post(model: LoadedModel, policy: MonitorPolicy, fields: [(String, JSONValue)]) {
        guard !policy.webhooks.isEmpty else { return }
        let body = JSONWriter.bytes(.object([
            ("source", .string("mlsec")), ("model", .string(model.name)), ("version", .string(model.version)),
            ("time", .string(AuditEvent.now())),
        ] + fields))
        for url in policy.webhooks {
            guard inFlight.add(1, ordering: .relaxed).newValue <= Self.maxInFlight else {
                inFlight.subtract(1, ordering: .relaxed)
                metrics.webhook(model: model.name, outcome: "dropped")
                logger.error("monitor webhook dropped: too many posts in flight", metadata: ["model": "\(model.name)", "url": "\(url.prefix(200))"])
                continue
            }
            let (timeout, name) = (policy.webhookTimeout, model.name)
            Task.detached { await self.deliver(body, to: url, timeout: timeout, model: name) }
        }
    }

    /// One webhook post, bounded by `timeout`; its outcome counted, a failure logged.
    private func deliver(_ body: [UInt8], to url: String, timeout: Duration, model name: String) async {
        defer { inFlight.subtract(1, ordering: .relaxed) }
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "mlsec-gateway")
            request.body = .bytes(ByteBuffer(bytes: body))
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            let response = try await Self.client.execute(request, timeout: .nanoseconds(nanoseconds))
            _ = try? await response.body.collect(upTo: 64 << 10)
            guard (200..<300).contains(Int(response.status.code)) else {
                metrics.webhook(model: name, outcome: "failed")
                logger.error("monitor webhook answered \(response.status.code)", metadata: ["model": "\(name)", "url": "\(url.prefix(200))"])
                return
            }
            metrics.webhook(model: name, outcome: "sent")
        } catch {
            metrics.webhook(model: name, outcome: "failed")
            logger.error("monitor webhook failed", metadata: ["model": "\(name)", "url": "\(url.prefix(200))", "error": "\(readable(error))"])
        }
    }
}

extension GatewayMetrics {
    static var driftAlerts: MetricNameDescriptor {
        descriptor("mlsec_monitor_drift_alerts_total", "Drift alerts by model and kind (feature: inputs drifted; prediction: predicted classes shifted).")
    }
    static var oodRows: MetricNameDescriptor { descriptor("mlsec_monitor_ood_total", "Request rows out of the model's input distribution, by model and action.") }
    static var queryPatternAlerts: MetricNameDescriptor {
        descriptor("mlsec_query_pattern_alerts_total", "Callers whose queries looked like extraction or a black-box attack, by model and pattern.")
    }
    static var queryPatternRefusals: MetricNameDescriptor {
        descriptor("mlsec_query_pattern_refusals_total", "Requests refused or throttled after a query-pattern alert, by model.")
    }
    static var extractionRefusals: MetricNameDescriptor {
        descriptor("mlsec_extraction_budget_refusals_total", "Requests refused because the key's distinct-input budget was spent, by model.")
    }
    static var psiMax: MetricNameDescriptor { descriptor("mlsec_monitor_psi_max", "Largest feature PSI in the model's last window comparison.") }
    static var ksMax: MetricNameDescriptor { descriptor("mlsec_monitor_ks_max", "Largest feature KS statistic in the last window comparison.") }
    static var predictionPSI: MetricNameDescriptor { descriptor("mlsec_monitor_prediction_psi", "PSI of the predicted classes in the last comparison.") }
    static var driftingFeatures: MetricNameDescriptor { descriptor("mlsec_monitor_drifting_features", "Features drifting at the last comparison.") }
    static var webhooks: MetricNameDescriptor { descriptor("mlsec_monitor_webhooks_total", "Alert webhook posts by model and outcome (sent, failed, dropped).") }

    func driftAlert(model: String, kind: String) {
        registry.makeCounter(descriptor: Self.driftAlerts, labels: [("model", model), ("kind", kind)]).increment()
    }

    func ood(model: String, action: String, rows: Int) {
        registry.makeCounter(descriptor: Self.oodRows, labels: [("model", model), ("action", action)]).increment(by: Int64(rows))
    }

    func queryPatternAlert(model: String, kind: String) {
        registry.makeCounter(descriptor: Self.queryPatternAlerts, labels: [("model", model), ("kind", kind)]).increment()
    }

    func queryPatternRefusal(model: String) { registry.makeCounter(descriptor: Self.queryPatternRefusals, labels: [("model", model)]).increment() }

    func extractionRefusal(model: String) { registry.makeCounter(descriptor: Self.extractionRefusals, labels: [("model", model)]).increment() }

    func driftReport(model: String, maxPSI: Double, maxKS: Double, predictionPSI: Double, drifting: Int) {
        registry.makeGauge(descriptor: Self.psiMax, labels: [("model", model)]).set(maxPSI)
        registry.makeGauge(descriptor: Self.ksMax, labels: [("model", model)]).set(maxKS)
        registry.makeGauge(descriptor: Self.predictionPSI, labels: [("model", model)]).set(predictionPSI)
        registry.makeGauge(descriptor: Self.driftingFeatures, labels: [("model", model)]).set(Int64(drifting))
    }

    func webhook(model: String, outcome: String) {
        registry.makeCounter(descriptor: Self.webhooks, labels: [("model", model), ("outcome", outcome)]).increment()
    }
}
