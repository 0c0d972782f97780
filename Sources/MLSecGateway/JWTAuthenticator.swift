// JWTAuthenticator: bearer JWTs (ES256, EdDSA, RS256) from a JWKS file, claims checked, verification cached.

import Foundation
import JWTKit
import MLSecCore
import Synchronization
import MLSecAccess

/// How JWTs are accepted: keys from a JWKS file (asymmetric keys only) and the required issuer and audience.
/// The role is the `role` claim (a role name), the model scopes the `models` claim (name patterns).
public struct JWTConfiguration: Sendable {
    public var jwksPath: String
    public var issuer: String
    public var audience: String

    public init(jwksPath: String, issuer: String, audience: String) {
        self.jwksPath = jwksPath
        self.issuer = issuer
        self.audience = audience
    }
}

/// The claims MLSec reads; `exp`, `iss`, `aud` and `sub` are required, `nbf` is checked when present.
struct GatewayClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var iss: IssuerClaim
    var aud: AudienceClaim
    var role: String?
    var models: [String]?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf?.verifyNotBefore()
    }
}

/// Verifies bearer JWTs. A verified token is cached until it expires (at most 10,000 tokens), so signature
/// checks are not paid on every request.
public final class JWTAuthenticator: Sendable {
    let configuration: JWTConfiguration
    private let keySet: Mutex<JWTKeyCollection>
    private let cache = Mutex<[String: (Principal, Date)]>([:])
    static let maxCached = 10_000

    /// Loads the JWKS. Symmetric (`oct`) keys are refused: a shared secret in a key file invites algorithm
    /// confusion and cannot prove who signed.
    public init(configuration: JWTConfiguration) async throws {
        self.configuration = configuration
        keySet = Mutex(try await Self.loadKeys(configuration))
    }

    /// Reads the JWKS again (after a key rotation at the identity provider): the new keys replace the old ones
    /// at once and the token cache is emptied, so tokens signed by a removed key stop working.
    public func reload() async throws {
        let keys = try await Self.loadKeys(configuration)
        keySet.withLock { $0 = keys }
        cache.withLock { $0.removeAll() }
    }

    private static func loadKeys(_ configuration: JWTConfiguration) async throws -> JWTKeyCollection {
        let bytes = try ReadOnlyFile.readAll(configuration.jwksPath, maxBytes: 1 << 20, what: "JWKS")
        let document = try JSONParser().parse(bytes, context: configuration.jwksPath)
        guard let list = document["keys"]?.arrayValue, !list.isEmpty else {
            throw MLSecError.malformed("\(configuration.jwksPath) has no keys")
        }
        for key in list where !["EC", "OKP", "RSA"].contains(key["kty"]?.stringValue ?? "") {
            throw MLSecError.unsupported("\(configuration.jwksPath): only EC (ES256), OKP (EdDSA) and RSA (RS256) keys are accepted")
        }
        let keys = JWTKeyCollection()
        do {
            _ = try await keys.add(jwksJSON: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw MLSecError.malformed("\(configuration.jwksPath) is not a usable JWKS: \(error)")
        }
        return keys
    }

    /// The principal for `token`, or why not (for the audit log; the client only sees 401).
    public func authenticate(_ token: String, roles: RoleBook) async -> Result<Principal, APIKeyStore.RefusalError> {
        let now = Date()
        if let (principal, expiry) = cache.withLock({ $0[token] }), expiry > now { return .success(principal) }
        let claims: GatewayClaims
        do {
            claims = try await keySet.withLock { $0 }.verify(token, as: GatewayClaims.self)
        } catch {
            return .failure(.init(reason: .mismatch, detail: String(String(describing: error).prefix(160))))
        }
        guard claims.iss.value == configuration.issuer, (try? claims.aud.verifyIntendedAudience(includes: configuration.audience)) != nil
        else { return .failure(.init(reason: .mismatch)) }
        guard let roleName = claims.role, let role = roles[roleName] else { return .failure(.init(reason: .unknown)) }
        let principal = Principal(id: "jwt:\(claims.sub.value.prefix(128))", role: role, models: claims.models ?? [], rateLimit: nil)
        cache.withLock { entries in
            if entries.count >= Self.maxCached { entries.removeAll() }
            entries[token] = (principal, claims.exp.value)
        }
        return .success(principal)
    }
}
