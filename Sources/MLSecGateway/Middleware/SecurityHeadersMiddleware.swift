// SecurityHeadersMiddleware: the outermost control: request id, security headers and error rendering.

import Hummingbird
import MLSecAudit
import Foundation
import HTTPTypes
import Logging
import MLSecCore
import MLSecAccess

/// Gives every request an id (`X-Request-Id`), renders every error as `{"error": "..."}` without internal
/// detail, audits errors that no inner control recorded, and sets security headers on every response.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let audit: AuditRecorder?

    static let headers: [(HTTPField.Name, String)] = [
        (.init("X-Content-Type-Options")!, "nosniff"),
        (.init("X-Frame-Options")!, "DENY"),
        (.init("Referrer-Policy")!, "no-referrer"),
        (.init("Content-Security-Policy")!, "default-src 'none'; frame-ancestors 'none'"),
        (.init("Cache-Control")!, "no-store"),
        (.init("Strict-Transport-Security")!, "max-age=31536000"),
    ]
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var random = SystemRandomNumberGenerator()
        context.requestID = String(random.next(), radix: 16)
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        let start = DispatchTime.now().uptimeNanoseconds
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as GatewayError {
            var error = error
            if !error.audited, let audit {
                error = await audit.refusal(error, AuditEvent(
                    actor: context.principal?.id ?? "unknown", action: request.method.rawValue.lowercased(),
                    resource: String(request.uri.path.prefix(200)), decision: error.status.code >= 500 ? .error : .deny,
                    reason: error.auditReason, requestID: context.requestID))
            }
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError {
            // Router-level errors (no such route, method not allowed, body too large).
            let message = error.status == .contentTooLarge ? "the request body is too large" : (error.status.reasonPhrase.lowercased())
            var refusal = GatewayError(error.status, message)
            if let audit {
                refusal = await audit.refusal(refusal, AuditEvent(
                    actor: context.principal?.id ?? "unknown", action: request.method.rawValue.lowercased(),
                    resource: String(request.uri.path.prefix(200)), decision: error.status.code >= 500 ? .error : .deny,
                    reason: message, requestID: context.requestID))
            }
            response = try refusal.response(from: request, context: context)
        } catch {
            context.logger.error("internal error", metadata: ["request_id": "\(context.requestID)", "error": "\(readable(error))"])
            var failure = GatewayError(.internalServerError, "internal error", auditReason: "internal error")
            if let audit {
                failure = await audit.refusal(failure, AuditEvent(
                    actor: context.principal?.id ?? "unknown", action: request.method.rawValue.lowercased(),
                    resource: String(request.uri.path.prefix(200)), decision: .error, reason: "internal error",
                    requestID: context.requestID))
            }
            response = try failure.response(from: request, context: context)
        }
        for (name, value) in Self.headers { response.headers[name] = value }
        response.headers[Self.requestIDHeader] = context.requestID
        let metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue), "route": .string(context.endpointPath ?? "unmatched"),
            "status": .stringConvertible(response.status.code),
            "ms": .string(Self.milliseconds(DispatchTime.now().uptimeNanoseconds - start)),
        ]
        if response.status.code >= 500 {
            context.logger.error("request failed", metadata: metadata)
        } else if response.status.code >= 400 {
            context.logger.notice("request refused", metadata: metadata)
        } else {
            context.logger.info("request", metadata: metadata)
        }
        return response
    }

    /// Nanoseconds as milliseconds with two decimals ("12.34"), without Foundation's `String(format:)`.
    static func milliseconds(_ nanoseconds: UInt64) -> String {
        let hundredths = (nanoseconds + 5_000) / 10_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
