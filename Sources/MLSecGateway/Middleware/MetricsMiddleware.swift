// MetricsMiddleware: Prometheus metrics per route template, status and denial reason (bounded labels only).

import Foundation
import HTTPTypes
import Hummingbird
import Prometheus

/// The gateway's metrics in a Prometheus registry: requests and latency by route template (never the raw
/// path), denials by a fixed set of reasons, inferences by configured model name.
public final class GatewayMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    public init() {}

    static func reason(_ status: Int) -> String? {
        switch status {
        case 400: "invalid_request"
        case 401: "unauthenticated"
        case 403: "forbidden"
        case 404: "not_found"
        case 413: "too_large"
        case 415: "unsupported_media_type"
        case 429: "rate_limited"
        case 503: "overloaded"
        case 500...: "internal"
        default: nil
        }
    }

    /// A metric's descriptor: `name` is `<metric>_<unit>` (e.g. `mlsec_requests_total`).
    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        let cut = name.lastIndex(of: "_") ?? name.endIndex
        return MetricNameDescriptor(metricName: String(name[..<cut]), unitName: String(name[cut...].dropFirst()), helpText: help)
    }
    static var requests: MetricNameDescriptor { descriptor("mlsec_requests_total", "Requests by route template, method and status.") }
    static var duration: MetricNameDescriptor { descriptor("mlsec_request_duration_seconds", "Request duration by route template.") }
    static var rejections: MetricNameDescriptor { descriptor("mlsec_rejections_total", "Refused requests by route template and reason.") }
    static var inferences: MetricNameDescriptor { descriptor("mlsec_inferences_total", "Answered inference requests by model.") }
    static var examples: MetricNameDescriptor { descriptor("mlsec_inference_examples_total", "Examples (batch rows) inferred by model.") }
    static var detectorFlagged: MetricNameDescriptor {
        descriptor("mlsec_detector_flagged_total", "Request rows the adversarial-input detector flagged, by model and action.")
    }
    static var alerts: MetricNameDescriptor { descriptor("mlsec_alerts_total", "Answers withheld by kind and model.") }
    static var unreadableKeys: MetricNameDescriptor { descriptor("mlsec_api_key_unreadable_total", "Keys refused because their stored record cannot be read.") }
    static var auditCommits: MetricNameDescriptor { descriptor("mlsec_audit_commits_total", "Durable audit-log commits (each one fsync).") }
    static var auditCommitTime: MetricNameDescriptor { descriptor("mlsec_audit_commit_seconds", "Seconds the audit writer spent committing.") }
    static var connectionsRefused: MetricNameDescriptor {
        descriptor("mlsec_connections_refused_total", "Connections closed at once: too many open from their address.")
    }
    static var connectionsTimedOut: MetricNameDescriptor {
        descriptor("mlsec_connections_timed_out_total", "Connections closed for a request head or body that arrived too slowly.")
    }
    static var auditEntries: MetricNameDescriptor { descriptor("mlsec_audit_entries_total", "Audit entries committed.") }

    func observe(route: String, method: String, status: Int, seconds: Double) {
        registry.makeCounter(descriptor: Self.requests, labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeValueHistogram(descriptor: Self.duration, labels: [("route", route)], buckets: Self.buckets).record(seconds)
        if let reason = Self.reason(status) {
            registry.makeCounter(descriptor: Self.rejections, labels: [("route", route), ("reason", reason)]).increment()
        }
    }

    func inference(model: String, batch: Int) {
        registry.makeCounter(descriptor: Self.inferences, labels: [("model", model)]).increment()
        registry.makeCounter(descriptor: Self.examples, labels: [("model", model)]).increment(by: Int64(batch))
    }

    /// The audit writer's commits and entries so far (entries per commit: how many requests share an fsync).
    func audit(commits: Int, entries: Int, seconds: Double) {
        registry.makeGauge(descriptor: Self.auditCommits).set(Int64(commits))
        registry.makeGauge(descriptor: Self.auditEntries).set(Int64(entries))
        registry.makeGauge(descriptor: Self.auditCommitTime).set(seconds)
    }

    func connections(refused: Int, timedOut: Int) {
        registry.makeGauge(descriptor: Self.connectionsRefused).set(Int64(refused))
        registry.makeGauge(descriptor: Self.connectionsTimedOut).set(Int64(timedOut))
    }

    /// An answer withheld (`kind`: output_validation, inference_failed): alert on any increase, e.g.
    /// `increase(mlsec_alerts_total[5m]) > 0` (docs/alerts.yml).
    /// Rows the model's adversarial-input detector flagged (refused or answered, per its policy).
    func detectorFlagged(model: String, action: String, rows: Int) {
        registry.makeCounter(descriptor: Self.detectorFlagged, labels: [("model", model), ("action", action)]).increment(by: Int64(rows))
    }

    func alert(kind: String, model: String) {
        registry.makeCounter(descriptor: Self.alerts, labels: [("kind", kind), ("model", model)]).increment()
    }

    /// A key refused because its stored record cannot be decoded (alert on any increase).
    func unreadableKey() {
        registry.makeCounter(descriptor: Self.unreadableKeys).increment()
    }

    /// The text exposition format.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}

/// Records every request (the outermost middleware, so it sees the final status of errors too).
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        metrics.observe(route: route, method: request.method.rawValue, status: response.status.code,
                        seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return response
    }
}
