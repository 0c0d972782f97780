// AgeScrypt: age's passphrase recipient and identity (scrypt stanza), with the work-factor caps.

import Crypto
import CryptoExtras
import Foundation
import MLSecCore

private let scryptLabel = Array("age-encryption.org/v1/scrypt".utf8)

private func scryptKey(_ passphrase: SecretBytes, salt: [UInt8], logN: Int) throws -> SymmetricKey {
    try passphrase.withUnsafeBytes { raw in
        try KDF.Scrypt.deriveKey(
            from: raw, salt: scryptLabel + salt, outputByteCount: 32, rounds: 1 << logN, blockSize: 8,
            parallelism: 1, maxMemory: 128 * 8 * (1 << logN) + (1 << 20))
    }
}

/// Encrypts to a passphrase. It must be the file's only recipient.
public struct AgeScryptRecipient: AgeRecipient {
    let passphrase: SecretBytes
    /// log2 of scrypt's N; age uses 18 (about a second and 256 MiB).
    public let workFactor: Int

    public init(passphrase: SecretBytes, workFactor: Int = 18) throws {
        guard (1...AgeScryptIdentity.maxWorkFactor).contains(workFactor) else {
            throw MLSecError.usage("the scrypt work factor must be 1...\(AgeScryptIdentity.maxWorkFactor)")
        }
        guard passphrase.count > 0 else { throw MLSecError.usage("the passphrase is empty") }
        self.passphrase = passphrase
        self.workFactor = workFactor
    }

    public var mustBeAlone: Bool { true }

    public func wrap(fileKey: SymmetricKey) throws -> [AgeStanza] {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = generator.next() }
        let wrapKey = try scryptKey(passphrase, salt: salt, logN: workFactor)
        return [AgeStanza(type: "scrypt", arguments: [Base64.encodeUnpadded(salt), String(workFactor)],
                          body: try AgeWrap.seal(fileKey, with: wrapKey))]
    }
}

/// Decrypts with a passphrase, refusing work factors above ``maxWorkFactor``.
public struct AgeScryptIdentity: AgeIdentity, CustomStringConvertible {
    /// The highest work factor accepted on decryption (2^22 x 1 KiB = 4 GiB of scrypt memory at most).
    public static let maxWorkFactor = 22

    let passphrase: SecretBytes
    let maxWorkFactor: Int

    public init(passphrase: SecretBytes, maxWorkFactor: Int = AgeScryptIdentity.maxWorkFactor) {
        self.passphrase = passphrase
        self.maxWorkFactor = min(maxWorkFactor, Self.maxWorkFactor)
    }

    public var description: String { "age passphrase identity (redacted)" }

    public func unwrap(stanzas: [AgeStanza]) throws -> SymmetricKey? {
        try AgeWrap.first(stanzas) { stanza in
            guard stanza.type == "scrypt" else { return nil }
            guard stanza.arguments.count == 2 else {
                throw AgeError.header("scrypt stanza has \(stanza.arguments.count) arguments; it takes 2")
            }
            let salt = try AgeWrap.argument(stanza.arguments[0], size: 16, what: "the scrypt salt")
            let factor = Array(stanza.arguments[1].utf8)
            guard let first = factor.first, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9"),
                factor.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), factor.count <= 2,
                let logN = Int(stanza.arguments[1])
            else {
                throw AgeError.header("the scrypt work factor must be a decimal number without leading zeros")
            }
            guard logN <= maxWorkFactor else {
                throw AgeError.header("the scrypt work factor \(logN) is over the limit of \(maxWorkFactor)")
            }
            // Check the body size before the expensive derivation (no partitioning oracle).
            guard stanza.body.count == AgeWrap.fileKeySize + 16 else {
                throw AgeError.header("scrypt stanza body is \(stanza.body.count) bytes; a wrapped file key is 32")
            }
            let wrapKey = try scryptKey(passphrase, salt: salt, logN: logN)
            return try AgeWrap.open(stanza.body, with: wrapKey, type: "scrypt")
        }
    }
}
