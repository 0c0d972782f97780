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
                    throw await refuse(request, context, reason: "client certificate \(name.prefix(64)) is not mapped")
                }
                var context = context
                context.principal = Principal(id: "cert:\(name.prefix(128))", role: role, models: mapping.models, rateLimit: nil)
                    .limited(by: principalLimits[role.name])
                return try await next(request, context)
            }
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.utf8.count <= 8192 else {
            throw await refuse(request, context, reason: "no bearer credential")
        }
        let token = Self.trimmingSpaces(header.utf8.dropFirst(7))
        if !token.hasPrefix("mlsec_"), let jwt {
            switch await jwt.authenticate(token, roles: roles) {
            case .failure(let refusal):
                throw await refuse(request, context, reason: "jwt \(refusal.reason.rawValue) \(refusal.detail)")
            case .success(let principal):
                var context = context
                context.principal = principal.limited(by: principalLimits[principal.role.name])
                return try await next(request, context)
            }
        }
        switch keys.authenticate(token) {
        case .failure(let refusal) where refusal.reason == .unavailable:
            // Fail closed: without a fresh view of revocations no key is accepted, and the caller may retry.
            throw await refuse(request, context, reason: "api key check unavailable: \(refusal.detail)", error: .unavailable("the key store is unavailable; retry later"))
        case .failure(let refusal) where refusal.reason == .unreadable:
            // A stored record that cannot be decoded is refused, never read as "no expiry" or "no quota".
            metrics?.unreadableKey()
            context.logger.error("refused an API key whose stored record cannot be read", metadata: ["detail": "\(refusal.detail)"])
            throw await refuse(request, context, reason: "api key unreadable: \(refusal.detail)")
        case .failure(let refusal):
            throw await refuse(request, context, reason: "api key \(refusal.reason.rawValue)")
        case .success(let record):
            guard let role = roles[record.role] else {
                throw await refuse(request, context, reason: "api key \(record.id) has unknown role \(record.role)")
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

    private func refuse(_ request: Request, _ context: Context, reason: String,
                        error: GatewayError = .unauthenticated) async -> GatewayError {
        guard let audit else { return error }
        return await audit.refusal(error, AuditEvent(
            actor: "anonymous", action: "authenticate", resource: String(request.uri.path.prefix(200)), decision: .deny,
            reason: reason, requestID: context.requestID))
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
