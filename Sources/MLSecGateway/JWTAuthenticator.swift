// JWTAuthenticator: bearer JWTs (ES256, EdDSA, RS256) from a JWKS file, claims checked, verification cached.

import Foundation
import JWTKit
import MLSecCore
import Synchronization
import MLSecAccess

/// How JWTs are accepted: keys from a JWKS file (asymmetric keys only) and the required issuer and audience.
/// The role is the `role` claim (a role name), the model scopes the `models` claim (name patterns).
public struct JWTConfiguration: Sendable, Equatable {
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

/// Verifies bearer JWTs. Every key's algorithm is pinned from the JWKS (its `alg`, or derived strictly from
/// `kty`/`crv`: EC P-256 ES256, OKP Ed25519 EdDSA, RSA RS256) and a token whose header names any other algorithm
/// is refused before verification, so no token can choose how it is checked. A verified token's claims are
/// cached until it expires (at most 10,000 tokens); its role is looked up on every request, so a role change
/// applies to cached tokens at once.
public final class JWTAuthenticator: Sendable {
    let configuration: JWTConfiguration
    private struct Keys {
        var collection: JWTKeyCollection
        /// Each key's algorithm by `kid` (nil: a key without a kid).
        var algorithms: [String?: String]
    }
    private struct Verified {
        var subject: String
        var role: String
        var models: [String]
        var expiry: Date
    }
    private let keySet: Mutex<Keys>
    private let cache = Mutex<[String: Verified]>([:])
    static let maxCached = 10_000
    /// The algorithms MLSec accepts, by key type.
    static let algorithms: Set<String> = ["ES256", "EdDSA", "RS256"]

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

    /// The principal of verified claims, with the role as it is now.
    private func principal(_ verified: Verified, roles: RoleBook) -> Result<Principal, APIKeyStore.RefusalError> {
        guard let role = roles[verified.role] else { return .failure(.init(reason: .unknown, detail: "role \(verified.role.prefix(64))")) }
        return .success(Principal(id: "jwt:\(verified.subject)", role: role, models: verified.models, rateLimit: nil))
    }

    private static func loadKeys(_ configuration: JWTConfiguration) async throws -> Keys {
        let path = configuration.jwksPath
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: 1 << 20, what: "JWKS")
        let document = try JSONParser().parse(bytes, context: path)
        guard let list = document["keys"]?.arrayValue, !list.isEmpty else { throw MLSecError.malformed("\(path) has no keys") }
        var pinned: [JSONValue] = []
        var algorithms: [String?: String] = [:]
        for key in list {
            guard let members = key.objectValue else { throw MLSecError.malformed("\(path): a key is not an object") }
            let algorithm = try pinnedAlgorithm(key, path: path)
            let kid = key["kid"]?.stringValue
            guard algorithms[kid] == nil else { throw MLSecError.malformed("\(path): two keys share the kid \(kid ?? "(none)")") }
            algorithms[kid] = algorithm
            // The algorithm is written into every key, so the JWT library never takes it from a token.
            pinned.append(.object(members.filter { $0.0 != "alg" } + [("alg", .string(algorithm))]))
        }
        let keys = JWTKeyCollection()
        do {
            _ = try await keys.add(jwksJSON: String(decoding: JSONWriter.bytes(.object([("keys", .array(pinned))])), as: UTF8.self))
        } catch {
            throw MLSecError.malformed("\(path) is not a usable JWKS: \(readable(error))")
        }
        return Keys(collection: keys, algorithms: algorithms)
    }

    /// The one algorithm a JWK may verify: its `alg` if it is the one its type allows, else derived from the type.
    static func pinnedAlgorithm(_ key: JSONValue, path: String) throws -> String {
        let derived: String
        switch (key["kty"]?.stringValue, key["crv"]?.stringValue) {
        case ("EC", "P-256"): derived = "ES256"
        case ("OKP", "Ed25519"): derived = "EdDSA"
        case ("RSA", nil): derived = "RS256"
        default:
            throw MLSecError.unsupported("\(path): only EC P-256 (ES256), OKP Ed25519 (EdDSA) and RSA (RS256) keys are accepted")
        }
        if let declared = key["alg"]?.stringValue, declared != derived {
            throw MLSecError.unsupported("\(path): a \(key["kty"]?.stringValue ?? "") key declares alg \(declared.prefix(20)); only \(derived) is accepted for it")
        }
        return derived
    }

    /// The token header's `alg` and `kid`, read strictly (nothing of the token is trusted yet).
    static func header(_ token: String) -> (alg: String, kid: String?)? {
        guard let first = token.split(separator: ".", maxSplits: 1).first, first.utf8.count <= 2048,
            let bytes = Base64.decodeURL(String(first)),
            let header = try? JSONParser(limits: .init(maxDepth: 2, maxStringBytes: 256, maxContainerCount: 16)).parse(bytes),
            let alg = header["alg"]?.stringValue
        else { return nil }
        return (alg, header["kid"]?.stringValue)
    }

    /// The principal for `token`, or why not (for the audit log; the client only sees 401).
    public func authenticate(_ token: String, roles: RoleBook) async -> Result<Principal, APIKeyStore.RefusalError> {
        let now = Date()
        if let verified = cache.withLock({ $0[token] }), verified.expiry > now { return principal(verified, roles: roles) }
        let keys = keySet.withLock { $0 }
        // The algorithm is the key's, never the token's choice.
        guard let (alg, kid) = Self.header(token), Self.algorithms.contains(alg) else {
            return .failure(.init(reason: .mismatch, detail: "the token's algorithm is not one of ES256, EdDSA, RS256"))
        }
        guard kid.map({ keys.algorithms[$0] == alg }) ?? keys.algorithms.values.contains(alg) else {
            return .failure(.init(reason: .mismatch, detail: "the token's algorithm \(alg) is not its key's"))
        }
        let claims: GatewayClaims
        do {
            claims = try await keys.collection.verify(token, as: GatewayClaims.self)
        } catch {
            return .failure(.init(reason: .mismatch, detail: readable(error, limit: 160)))
        }
        guard claims.iss.value == configuration.issuer, (try? claims.aud.verifyIntendedAudience(includes: configuration.audience)) != nil
        else { return .failure(.init(reason: .mismatch)) }
        guard let roleName = claims.role else { return .failure(.init(reason: .unknown, detail: "no role claim")) }
        let verified = Verified(subject: String(claims.sub.value.prefix(128)), role: roleName, models: claims.models ?? [],
                                expiry: claims.exp.value)
        cache.withLock { entries in
            if entries.count >= Self.maxCached { entries.removeAll() }
            entries[token] = verified
        }
        return principal(verified, roles: roles)
    }
}
