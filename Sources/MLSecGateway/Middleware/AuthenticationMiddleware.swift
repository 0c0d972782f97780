// AuthenticationMiddleware: API keys (Authorization: Bearer mlsec_...); every route but health needs one.

import Hummingbird
import MLSecAccess
import MLSecAudit
import NIOCore
import NIOSSL
import SwiftASN1
import X509
import Foundation
import HTTPTypes
import Logging

/// Authenticates the caller; unauthenticated requests get 401 (and an audit entry), except for the public
/// health and API-description routes.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let keys: APIKeyStore
    let jwt: JWTAuthenticator?
    let roles: RoleBook
    let audit: AuditRecorder?
    let metrics: GatewayMetrics?
    /// Mutual TLS: client certificate subject common names mapped to principals.
    let clientCertificates: [String: ClientCertificateMapping]
    /// Limits for JWT and certificate principals, by role.
    let principalLimits: [String: PrincipalLimits]
    /// Failed attempts limited per address and aggregated per window (nil: each failure audited alone).
    var failures: FailedAuthentications? = nil

    static let publicPaths: Set<String> = ["/v2/health/live", "/v2/health/ready", "/openapi.json"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.publicPaths.contains(request.uri.path) { return try await next(request, context) }
        if request.headers[.authorization] == nil, !clientCertificates.isEmpty, let channel = context.channel {
            // Mutual TLS: the handshake already verified the chain against the client CA; map its subject.
            let peer = try? await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate?.toDERBytes()
            }.get()
            if let der = peer ?? nil, let name = Self.commonName(der) {
                guard let mapping = clientCertificates[name], let role = roles[mapping.role] else {
                    throw await refuse(request, context, kind: "client certificate not mapped", detail: String(name.prefix(64)))
                }
                var context = context
                context.principal = Principal(id: "cert:\(name.prefix(128))", role: role, models: mapping.models, rateLimit: nil)
                    .limited(by: principalLimits[role.name])
                return try await next(request, context)
            }
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.utf8.count <= 8192 else {
            throw await refuse(request, context, kind: "no bearer credential")
        }
        let token = Self.trimmingSpaces(header.utf8.dropFirst(7))
        if !token.hasPrefix("mlsec_"), let jwt {
            switch await jwt.authenticate(token, roles: roles) {
            case .failure(let refusal):
                throw await refuse(request, context, kind: "jwt \(refusal.reason.rawValue)", detail: refusal.detail)
            case .success(let principal):
                var context = context
                context.principal = principal.limited(by: principalLimits[principal.role.name])
                return try await next(request, context)
            }
        }
        switch keys.authenticate(token) {
        case .failure(let refusal) where refusal.reason == .unavailable:
            // Fail closed: without a fresh view of revocations no key is accepted, and the caller may retry.
            throw await refuse(request, context, kind: "api key check unavailable", detail: refusal.detail,
                               error: .unavailable("the key store is unavailable; retry later"))
        case .failure(let refusal) where refusal.reason == .unreadable:
            // A stored record that cannot be decoded is refused, never read as "no expiry" or "no quota".
            metrics?.unreadableKey()
            context.logger.error("refused an API key whose stored record cannot be read", metadata: ["detail": "\(refusal.detail)"])
            throw await refuse(request, context, kind: "api key unreadable", detail: refusal.detail)
        case .failure(let refusal):
            throw await refuse(request, context, kind: "api key \(refusal.reason.rawValue)")
        case .success(let record):
            guard let role = roles[record.role] else {
                throw await refuse(request, context, kind: "api key has an unknown role", detail: "\(record.id): \(record.role)")
            }
            var context = context
            context.principal = Principal(id: "key:\(record.id)", role: role, models: record.models, rateLimit: record.rateLimit,
                                          quota: record.quota, maxConcurrent: record.maxConcurrent)
            return try await next(request, context)
        }
    }

    /// The subject common name of a DER certificate.
    static func commonName(_ der: [UInt8]) -> String? {
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return attribute.value.description
            }
        }
        return nil
    }

    /// A failed authentication: charged to the client address (429 past its budget), audited when it is the first
    /// of its kind from that address in the window, otherwise counted into the window's one entry. An unavailable
    /// key store is not the caller's failure: it is audited and answered 503 without charging anyone.
    private func refuse(_ request: Request, _ context: Context, kind: String, detail: String? = nil,
                        error: GatewayError = .unauthenticated) async -> GatewayError {
        guard let audit else { return error }
        let resource = String(request.uri.path.prefix(200))
        let address = context.channel?.remoteAddress?.ipAddress
        let reason = detail.map { "\(kind): \($0)" } ?? kind
        guard error.status == .unauthorized, let failures else {
            return await audit.refusal(error, AuditEvent(actor: "anonymous", action: "authenticate", resource: resource,
                                                        decision: .deny, reason: reason, requestID: context.requestID))
        }
        let verdict = failures.failure(address: address, kind: kind, resource: resource)
        for event in verdict.due { try? await audit.record(event) }
        var refusal = error
        if let retryAfter = verdict.retryAfter {
            refusal = GatewayError(.tooManyRequests, "too many failed authentication attempts; retry later",
                                   headers: [.retryAfter: String(Int(retryAfter.rounded(.up)))],
                                   auditReason: "too many unauthenticated attempts")
        }
        guard verdict.record else {
            refusal.audited = true  // counted into this window's entry for the address
            return refusal
        }
        let from = FailedAuthentications.addressKey(address)
        return await audit.refusal(refusal, AuditEvent(
            actor: "anonymous", action: "authenticate", resource: resource, decision: .deny,
            reason: verdict.retryAfter == nil ? "\(reason) (from \(from))" : "too many unauthenticated attempts from \(from)",
            requestID: context.requestID))
    }

    /// The credential without surrounding spaces and tabs (RFC 9110 optional whitespace).
    static func trimmingSpaces(_ bytes: Substring.UTF8View) -> String {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(Substring(bytes[first...last]))
    }
}
