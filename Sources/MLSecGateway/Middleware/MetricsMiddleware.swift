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

    func observe(route: String, method: String, status: Int, seconds: Double) {
        registry.makeCounter(name: "mlsec_requests_total", labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeValueHistogram(name: "mlsec_request_duration_seconds", labels: [("route", route)], buckets: Self.buckets).record(seconds)
        if let reason = Self.reason(status) {
            registry.makeCounter(name: "mlsec_rejections_total", labels: [("route", route), ("reason", reason)]).increment()
        }
    }

    func inference(model: String, batch: Int) {
        registry.makeCounter(name: "mlsec_inferences_total", labels: [("model", model)]).increment()
        registry.makeCounter(name: "mlsec_inference_examples_total", labels: [("model", model)]).increment(by: Int64(batch))
    }

    /// An answer withheld (`kind`: output_validation, inference_failed): alert on any increase, e.g.
    /// `increase(mlsec_alerts_total[5m]) > 0` (docs/alerts.yml).
    func alert(kind: String, model: String) {
        registry.makeCounter(name: "mlsec_alerts_total", labels: [("kind", kind), ("model", model)]).increment()
    }

    /// A key refused because its stored record cannot be decoded (alert on any increase).
    func unreadableKey() {
        registry.makeCounter(name: "mlsec_api_key_unreadable_total", labels: []).increment()
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
