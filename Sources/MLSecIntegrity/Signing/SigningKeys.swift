// SigningKeys: the private and public keys that sign model manifests (ECDSA P-256/384/521, Ed25519).

import Crypto
import MLSecCore

/// Signature algorithms for model signatures.
public enum SignatureAlgorithm: String, Sendable, CaseIterable {
    /// ECDSA P-256 with SHA-256, DER signatures (OpenSSF Model Signing).
    case p256
    /// ECDSA P-384 with SHA-384, DER signatures (OpenSSF Model Signing).
    case p384
    /// ECDSA P-521 with SHA-512, DER signatures (OpenSSF Model Signing).
    case p521
    /// Ed25519: an MLSec extension. Reference verifiers refuse Ed25519 keys outright, so such signatures
    /// verify only with MLSec.
    case ed25519

    /// `true` for algorithms that the reference implementation can verify.
    public var isInteroperable: Bool { self != .ed25519 }
}

private let ed25519PKCS8Prefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                           0x04, 0x22, 0x04, 0x20]
private let ed25519SPKIPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

/// A private signing key. Its description never shows key material.
public struct ModelSigningKey: Sendable, CustomStringConvertible {
    enum Storage: Sendable {
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case p521(P521.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }
    let storage: Storage

    public var algorithm: SignatureAlgorithm {
        switch storage {
        case .p256: .p256
        case .p384: .p384
        case .p521: .p521
        case .ed25519: .ed25519
        }
    }

    public var description: String { "ModelSigningKey(\(algorithm.rawValue))" }

    /// A new random key.
    public static func generate(_ algorithm: SignatureAlgorithm) -> ModelSigningKey {
        switch algorithm {
        case .p256: ModelSigningKey(storage: .p256(P256.Signing.PrivateKey()))
        case .p384: ModelSigningKey(storage: .p384(P384.Signing.PrivateKey()))
        case .p521: ModelSigningKey(storage: .p521(P521.Signing.PrivateKey()))
        case .ed25519: ModelSigningKey(storage: .ed25519(Curve25519.Signing.PrivateKey()))
        }
    }

    /// Reads a PKCS#8 (`PRIVATE KEY`) or SEC 1 (`EC PRIVATE KEY`) PEM key.
    public init(pem: String) throws {
        let blocks = try PEM.decodeAll(pem, context: "private key")
        guard let block = blocks.first(where: { $0.type.hasSuffix("PRIVATE KEY") }) else {
            throw MLSecError.invalidKey("private key: no PRIVATE KEY block found in the PEM file")
        }
        if block.type == "ENCRYPTED PRIVATE KEY" {
            throw MLSecError.unsupported(
                "private key: encrypted keys are not supported; decrypt it first (openssl pkey -in KEY -out PLAIN)")
        }
        if block.der.count == ed25519PKCS8Prefix.count + 32, Array(block.der.prefix(16)) == ed25519PKCS8Prefix {
            guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: block.der.suffix(32)) else {
                throw MLSecError.invalidKey("private key: invalid Ed25519 key")
            }
            storage = .ed25519(key)
            return
        }
        if let key = try? P256.Signing.PrivateKey(derRepresentation: block.der) {
            storage = .p256(key)
        } else if let key = try? P384.Signing.PrivateKey(derRepresentation: block.der) {
            storage = .p384(key)
        } else if let key = try? P521.Signing.PrivateKey(derRepresentation: block.der) {
            storage = .p521(key)
        } else {
            throw MLSecError.invalidKey(
                "private key: not an EC P-256, P-384, P-521 or Ed25519 key (RSA and other curves are not supported)")
        }
    }

    init(storage: Storage) { self.storage = storage }

    /// PKCS#8 PEM text (write it with mode 0600).
    public var pemRepresentation: String {
        switch storage {
        case .p256(let k): PEM.encode(type: "PRIVATE KEY", der: Array(k.derRepresentation))
        case .p384(let k): PEM.encode(type: "PRIVATE KEY", der: Array(k.derRepresentation))
        case .p521(let k): PEM.encode(type: "PRIVATE KEY", der: Array(k.derRepresentation))
        case .ed25519(let k): PEM.encode(type: "PRIVATE KEY", der: ed25519PKCS8Prefix + Array(k.rawRepresentation))
        }
    }

    /// The matching public key.
    public var publicKey: ModelVerifyingKey {
        switch storage {
        case .p256(let k): ModelVerifyingKey(storage: .p256(k.publicKey))
        case .p384(let k): ModelVerifyingKey(storage: .p384(k.publicKey))
        case .p521(let k): ModelVerifyingKey(storage: .p521(k.publicKey))
        case .ed25519(let k): ModelVerifyingKey(storage: .ed25519(k.publicKey))
        }
    }

    /// Signs `message`: ECDSA with the curve's digest, DER encoded; or Ed25519 (64 bytes).
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        do {
            switch storage {
            case .p256(let k): return Array(try k.signature(for: message).derRepresentation)
            case .p384(let k): return Array(try k.signature(for: message).derRepresentation)
            case .p521(let k): return Array(try k.signature(for: message).derRepresentation)
            case .ed25519(let k): return Array(try k.signature(for: message))
            }
        } catch {
            throw MLSecError.invalidKey("signing failed: \(error)")
        }
    }
}

/// A public key that verifies model signatures.
public struct ModelVerifyingKey: Sendable, CustomStringConvertible {
    enum Storage: Sendable {
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case p521(P521.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }
    let storage: Storage

    init(storage: Storage) { self.storage = storage }

    public var algorithm: SignatureAlgorithm {
        switch storage {
        case .p256: .p256
        case .p384: .p384
        case .p521: .p521
        case .ed25519: .ed25519
        }
    }

    public var description: String { "ModelVerifyingKey(\(algorithm.rawValue), hint \(hint.prefix(16))…)" }

    /// Reads a SubjectPublicKeyInfo (`PUBLIC KEY`) PEM key.
    public init(pem: String) throws {
        let blocks = try PEM.decodeAll(pem, context: "public key")
        guard let block = blocks.first(where: { $0.type == "PUBLIC KEY" }) else {
            throw MLSecError.invalidKey("public key: no PUBLIC KEY block found in the PEM file")
        }
        try self.init(spki: block.der)
    }

    /// Reads a DER SubjectPublicKeyInfo.
    public init(spki der: [UInt8]) throws {
        if der.count == ed25519SPKIPrefix.count + 32, Array(der.prefix(12)) == ed25519SPKIPrefix {
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: der.suffix(32)) else {
                throw MLSecError.invalidKey("public key: invalid Ed25519 key")
            }
            storage = .ed25519(key)
        } else if let key = try? P256.Signing.PublicKey(derRepresentation: der) {
            storage = .p256(key)
        } else if let key = try? P384.Signing.PublicKey(derRepresentation: der) {
            storage = .p384(key)
        } else if let key = try? P521.Signing.PublicKey(derRepresentation: der) {
            storage = .p521(key)
        } else {
            throw MLSecError.invalidKey("public key: not an EC P-256, P-384, P-521 or Ed25519 key")
        }
    }

    /// DER SubjectPublicKeyInfo.
    public var spki: [UInt8] {
        switch storage {
        case .p256(let k): Array(k.derRepresentation)
        case .p384(let k): Array(k.derRepresentation)
        case .p521(let k): Array(k.derRepresentation)
        case .ed25519(let k): ed25519SPKIPrefix + Array(k.rawRepresentation)
        }
    }

    /// PEM text in OpenSSL's layout.
    public var pemRepresentation: String { PEM.encode(type: "PUBLIC KEY", der: spki) }

    /// The key hint of model-signing bundles: lowercase hex SHA-256 of the PEM text.
    public var hint: String { Hex.encode(SHA256.hash(data: Array(pemRepresentation.utf8))) }

    /// `true` when `signature` is valid for `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        switch storage {
        case .p256(let k):
            guard let s = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return k.isValidSignature(s, for: message)
        case .p384(let k):
            guard let s = try? P384.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return k.isValidSignature(s, for: message)
        case .p521(let k):
            guard let s = try? P521.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return k.isValidSignature(s, for: message)
        case .ed25519(let k):
            return k.isValidSignature(signature, for: message)
        }
    }
}
