// RateLimitMiddleware: per-principal GCRA limits on every route but inference; 429 with Retry-After and the
// IETF RateLimit headers. Inference is limited after parsing, with its cost (InferenceAdmission).

import Foundation
import Hummingbird
import MLSecAccess
import MLSecAudit
import MLSecCore
import HTTPTypes

struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let limiter: any RateLimitBackend
    let audit: AuditRecorder?

    static let policy = HTTPField.Name("RateLimit-Policy")!

    /// Whole seconds, rounded up and clamped (a very low configured rate must not overflow an Int).
    static func seconds(_ value: Double) -> Int {
        guard value.isFinite, value > 0 else { return 0 }
        return Int(min(value, 1e9).rounded(.up))
    }
    static let state = HTTPField.Name("RateLimit")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal, let limit = principal.rateLimit,
            !(request.method == .post && request.uri.path.hasSuffix("/infer"))
        else { return try await next(request, context) }
        let decision: RateLimiter.Decision
        do {
            decision = try await limiter.decide([RateLimiter.Item(key: principal.id, limit: limit)])[0]
        } catch {
            throw GatewayError(.serviceUnavailable, "rate-limit state is unavailable; retry later", headers: [.retryAfter: "1"],
                               auditReason: "rate-limit backend: \(readable(error, limit: 160))")
        }
        let window = Self.seconds(Double(limit.burst) / limit.requestsPerSecond)
        var headers: HTTPFields = [
            Self.policy: "\"per-key\";q=\(limit.burst);w=\(max(1, window))",
            Self.state: "\"per-key\";r=\(decision.remaining);t=\(Self.seconds(decision.resetSeconds))",
        ]
        guard decision.allowed else {
            headers[.retryAfter] = String(max(1, Self.seconds(decision.retryAfter)))
            let error = GatewayError(.tooManyRequests, "rate limit exceeded; retry later", headers: headers)
            guard let audit else { throw error }
            throw await audit.refusal(error, AuditEvent(
                actor: principal.id, action: "rate_limit", resource: String(request.uri.path.prefix(200)), decision: .deny,
                reason: "rate limited", requestID: context.requestID))
        }
        var response = try await next(request, context)
        for field in headers { response.headers[field.name] = field.value }
        return response
    }
}
