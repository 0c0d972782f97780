// AgeX25519: age's native X25519 recipients (age1...) and identities (AGE-SECRET-KEY-1...).

import Crypto
import Foundation
import MLSecCore

private let x25519Label = Array("age-encryption.org/v1/X25519".utf8)

/// A public X25519 recipient, written `age1...`.
public struct AgeX25519Recipient: AgeRecipient, CustomStringConvertible, Hashable {
    public let publicKey: [UInt8]

    public init(publicKey: Curve25519.KeyAgreement.PublicKey) {
        self.publicKey = Array(publicKey.rawRepresentation)
    }

    /// Parses `age1...`.
    /// - Throws: `MLSecError` (`invalidKey`) naming the problem.
    public init(_ text: String) throws {
        guard !text.uppercased().hasPrefix("AGE-SECRET-KEY-") else {
            // Never repeated: it is a secret.
            throw MLSecError.invalidKey(
                "an age identity (AGE-SECRET-KEY-1..., a secret key) was given where an age recipient (age1...) belongs; "
                    + "give its public recipient instead (`age-keygen -y IDENTITY_FILE` prints it)")
        }
        let shown = text.count > 16 ? "\(text.prefix(12))..." : text
        func notARecipient(_ why: String) -> MLSecError {
            MLSecError.invalidKey("\"\(shown)\" is not an age recipient (age1..., as printed by age-keygen or "
                + "`mlsec keygen --algorithm x25519`): \(why)")
        }
        let decoded: (hrp: String, data: [UInt8])
        do {
            decoded = try Bech32.decode(text)
        } catch let error as MLSecError {
            throw notARecipient(error.message)
        }
        let (hrp, data) = decoded
        guard hrp == "age", text == text.lowercased() else { throw notARecipient("it does not start with age1") }
        guard data.count == 32 else { throw notARecipient("it holds \(data.count) bytes, not 32") }
        publicKey = data
    }

    public var description: String { Bech32.encode(hrp: "age", data: publicKey) }

    public func wrap(fileKey: SymmetricKey) throws -> [AgeStanza] {
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let share = Array(ephemeral.publicKey.rawRepresentation)
        let shared = try ephemeral.sharedSecretFromKeyAgreement(
            with: Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey))
        guard !shared.withUnsafeBytes({ $0.allSatisfy { $0 == 0 } }) else {
            throw MLSecError.invalidKey("the X25519 recipient is a low-order point")
        }
        let wrapKey = shared.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: share + publicKey, sharedInfo: x25519Label, outputByteCount: 32)
        return [AgeStanza(type: "X25519", arguments: [Base64.encodeUnpadded(share)],
                          body: try AgeWrap.seal(fileKey, with: wrapKey))]
    }
}

/// A secret X25519 identity, written `AGE-SECRET-KEY-1...`. Its description never shows the secret.
public struct AgeX25519Identity: AgeIdentity, CustomStringConvertible {
    let privateKey: Curve25519.KeyAgreement.PrivateKey

    /// A new random identity.
    public static func generate() -> AgeX25519Identity {
        AgeX25519Identity(privateKey: Curve25519.KeyAgreement.PrivateKey())
    }

    init(privateKey: Curve25519.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
    }

    /// Parses `AGE-SECRET-KEY-1...`.
    /// - Throws: `MLSecError` (`invalidKey`); the message never repeats the key.
    public init(_ text: String) throws {
        let decoded: (hrp: String, data: [UInt8])
        do {
            decoded = try Bech32.decode(text)
        } catch let error as MLSecError {
            throw MLSecError.invalidKey("not a valid age identity: \(error.message)")
        }
        var data = decoded.data
        defer { data.wipe() }
        guard decoded.hrp == "age-secret-key-", text == text.uppercased(), data.count == 32 else {
            throw MLSecError.invalidKey("not an age X25519 identity (AGE-SECRET-KEY-1...)")
        }
        privateKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: data)
    }

    /// The public recipient for this identity.
    public var recipient: AgeX25519Recipient { AgeX25519Recipient(publicKey: privateKey.publicKey) }

    /// The secret in age's text form: handle with care (write it only to a 0600 file).
    public var secretEncoding: String {
        var raw = Array(privateKey.rawRepresentation)
        defer { raw.wipe() }
        return Bech32.encode(hrp: "AGE-SECRET-KEY-", data: raw, uppercase: true)
    }

    public var description: String { "age X25519 identity for \(recipient)" }

    public func unwrap(stanzas: [AgeStanza]) throws -> SymmetricKey? {
        let ours = Array(privateKey.publicKey.rawRepresentation)
        return try AgeWrap.first(stanzas) { stanza in
            guard stanza.type == "X25519" else { return nil }
            guard stanza.arguments.count == 1 else {
                throw AgeError.header("X25519 stanza has \(stanza.arguments.count) arguments; it takes 1")
            }
            let share = try AgeWrap.argument(stanza.arguments[0], size: 32, what: "the X25519 share")
            guard stanza.body.count == AgeWrap.fileKeySize + 16 else {
                throw AgeError.header("X25519 stanza body is \(stanza.body.count) bytes; a wrapped file key is 32")
            }
            let shared: SharedSecret
            do {
                shared = try privateKey.sharedSecretFromKeyAgreement(
                    with: Curve25519.KeyAgreement.PublicKey(rawRepresentation: share))
            } catch {
                throw AgeError.header("X25519 share is a low-order point")
            }
            guard !shared.withUnsafeBytes({ $0.allSatisfy { $0 == 0 } }) else {
                throw AgeError.header("X25519 share is a low-order point (all-zero shared secret)")
            }
            let wrapKey = shared.hkdfDerivedSymmetricKey(
                using: SHA256.self, salt: share + ours, sharedInfo: x25519Label, outputByteCount: 32)
            return try AgeWrap.open(stanza.body, with: wrapKey, type: "X25519")
        }
    }
}
