// AgeRecipient: who a file is encrypted to (wraps the file key) and who can decrypt it (unwraps it).

import Crypto
import Foundation
import MLSecCore

/// Wraps a file key into header stanzas.
public protocol AgeRecipient: Sendable {
    func wrap(fileKey: SymmetricKey) throws -> [AgeStanza]
    /// `true` for recipients that must be the only one in a file (scrypt passphrases).
    var mustBeAlone: Bool { get }
}

extension AgeRecipient {
    public var mustBeAlone: Bool { false }
}

/// Recovers a file key from header stanzas.
public protocol AgeIdentity: Sendable {
    /// The file key, or `nil` when no stanza is for this identity.
    /// - Throws: `AgeError` (header) when a stanza of this identity's type is malformed.
    func unwrap(stanzas: [AgeStanza]) throws -> SymmetricKey?
}

/// Shared pieces of the recipient types.
enum AgeWrap {
    static let fileKeySize = 16
    static let zeroNonce = [UInt8](repeating: 0, count: 12)

    /// ChaCha20-Poly1305 with a zero nonce, as both native recipient types wrap the file key.
    static func seal(_ fileKey: SymmetricKey, with wrapKey: SymmetricKey) throws -> [UInt8] {
        let box = try ChaChaPoly.seal(
            fileKey.withUnsafeBytes { Data($0) }, using: wrapKey, nonce: ChaChaPoly.Nonce(data: zeroNonce))
        return Array(box.ciphertext) + Array(box.tag)
    }

    /// Opens a wrapped file key; `nil` when the tag does not verify (another recipient's stanza).
    /// - Throws: `AgeError` (header) when the body is not exactly a 16-byte key and its tag.
    static func open(_ body: [UInt8], with wrapKey: SymmetricKey, type: String) throws -> SymmetricKey? {
        guard body.count == fileKeySize + 16 else {
            throw AgeError.header("\(type) stanza body is \(body.count) bytes; a wrapped file key is 32")
        }
        guard
            let box = try? ChaChaPoly.SealedBox(
                nonce: ChaChaPoly.Nonce(data: zeroNonce), ciphertext: body[..<fileKeySize], tag: body[fileKeySize...]),
            var key = try? ChaChaPoly.open(box, using: wrapKey)
        else { return nil }
        defer { key.resetBytes(in: key.startIndex..<key.endIndex) }
        return SymmetricKey(data: key)
    }

    /// Tries `unwrap` on each stanza in order: the first key wins, a malformed stanza stops the search.
    static func first(
        _ stanzas: [AgeStanza], _ unwrap: (AgeStanza) throws -> SymmetricKey?
    ) rethrows -> SymmetricKey? {
        for stanza in stanzas {
            if let key = try unwrap(stanza) { return key }
        }
        return nil
    }

    /// Decodes a stanza argument: canonical unpadded base64 of exactly `size` bytes.
    static func argument(_ text: String, size: Int, what: String) throws -> [UInt8] {
        guard let bytes = Base64.decodeStrict(Array(text.utf8), padding: .forbidden), bytes.count == size else {
            throw AgeError.header("\(what) must be \(size) bytes of canonical unpadded base64")
        }
        return bytes
    }
}
