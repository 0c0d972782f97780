// SignedNote: C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, as transparency logs sign them.

import Crypto
import Foundation
import MLSecCore

/// An Ed25519 note signer: `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`.
public struct NoteSigner: Sendable, CustomStringConvertible {
    public let name: String
    let key: Curve25519.Signing.PrivateKey

    /// A new random signer for `name`.
    public static func generate(name: String) throws -> NoteSigner {
        try NoteVerifier.checkName(name)
        return NoteSigner(name: name, key: Curve25519.Signing.PrivateKey())
    }

    init(name: String, key: Curve25519.Signing.PrivateKey) {
        self.name = name
        self.key = key
    }

    /// Parses a signer key string (the sumdb/note "skey" form).
    /// - Throws: `MLSecError` (invalidKey); the message never contains key material.
    public init(encoded text: String) throws {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 4,
                                                                                 omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY",
            var raw = Base64.decode(String(parts[4])), raw.count == 33, raw[0] == 0x01
        else { throw MLSecError.invalidKey("not an Ed25519 note signer key (PRIVATE+KEY+name+id+key)") }
        defer { for i in raw.indices { raw[i] = 0 } }
        let name = String(parts[2])
        try NoteVerifier.checkName(name)
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: raw[1...])
        self.init(name: name, key: key)
        guard String(parts[3]) == Hex.encode(verifier.keyID) else {
            throw MLSecError.invalidKey("the signer key's id does not match its key")
        }
    }

    /// The signer key string: write it only to a 0600 file.
    public var encoded: String {
        "PRIVATE+KEY+\(name)+\(Hex.encode(verifier.keyID))+\(Base64.encode([0x01] + Array(key.rawRepresentation)))"
    }

    /// The matching verifier.
    public var verifier: NoteVerifier { NoteVerifier(name: name, publicKey: Array(key.publicKey.rawRepresentation)) }

    public var description: String { "note signer \(name) (redacted)" }

    /// Signs `text` (which must end in a newline) and returns the note.
    public func sign(_ text: String) throws -> String {
        try NoteVerifier.checkText(text)
        let signature = try key.signature(for: Array(text.utf8))
        return "\(text)\n\u{2014} \(name) \(Base64.encode(verifier.keyID + Array(signature)))\n"
    }
}

/// An Ed25519 note verifier: `<name>+<hex key id>+<base64(0x01 || public key)>`.
public struct NoteVerifier: Sendable, Equatable {
    public let name: String
    public let publicKey: [UInt8]

    /// The 4-byte key id: SHA-256(name || "\n" || 0x01 || public key)[0..<4].
    public var keyID: [UInt8] {
        Array(SHA256.hash(data: Array(name.utf8) + [0x0A, 0x01] + publicKey).prefix(4))
    }

    init(name: String, publicKey: [UInt8]) {
        self.name = name
        self.publicKey = publicKey
    }

    /// Parses a verifier key string.
    public init(encoded text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        // The name has no '+', but base64 can: split on the first two only.
        let parts = trimmed.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let id = Hex.decode(String(parts[1])), id.count == 4,
            let raw = Base64.decode(String(parts[2])), raw.count == 33, raw[0] == 0x01
        else { throw MLSecError.invalidKey("not an Ed25519 note verifier key (name+id+key): \(trimmed.prefix(80))") }
        try Self.checkName(String(parts[0]))
        self.init(name: String(parts[0]), publicKey: Array(raw[1...]))
        guard keyID == id else { throw MLSecError.invalidKey("the verifier key's id does not match its key") }
    }

    public var encoded: String { "\(name)+\(Hex.encode(keyID))+\(Base64.encode([0x01] + publicKey))" }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= 256,
            name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0 != "+" && !($0.properties.generalCategory == .control) })
        else { throw MLSecError.usage("a note key name must be non-empty, without spaces, '+' or control characters") }
    }

    static func checkText(_ text: String) throws {
        guard text.hasSuffix("\n") else { throw MLSecError.malformed("a note's text must end with a newline") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" || $0.value == 0x7F }) else {
            throw MLSecError.malformed("a note's text must not contain control characters other than newline")
        }
    }

    /// Most bytes in a note, and signatures on it, that are looked at.
    static let maxNoteBytes = 1 << 20
    static let maxSignatures = 100

    /// Verifies `note` and returns its text.
    ///
    /// Signatures from other keys are ignored; a signature that claims one of `verifiers` but does not verify
    /// rejects the note; at least one of `verifiers` must have signed.
    /// - Throws: `MLSecError` (malformed) for a note that is not well formed, (verificationFailed) otherwise.
    public static func open(_ note: String, verifiers: [NoteVerifier]) throws -> String {
        guard note.utf8.count <= maxNoteBytes else { throw MLSecError.limitExceeded("the note is over \(maxNoteBytes) bytes") }
        guard note.hasSuffix("\n"), let split = note.range(of: "\n\n", options: .backwards) else {
            throw MLSecError.malformed("not a signed note: no blank line before the signatures")
        }
        let text = String(note[..<split.lowerBound]) + "\n"
        try checkText(text)
        let signatureBlock = note[split.upperBound...].dropLast()
        let lines = signatureBlock.split(separator: "\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty, lines.count <= maxSignatures else {
            throw MLSecError.malformed("a signed note needs 1 to \(maxSignatures) signature lines")
        }
        var verified = false
        for line in lines {
            guard line.hasPrefix("\u{2014} ") else { throw MLSecError.malformed("a signature line must start with an em dash and a space") }
            let fields = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, let blob = Base64.decode(String(fields[1])), blob.count >= 5 else {
                throw MLSecError.malformed("a signature line must be '\u{2014} <name> <base64 signature>'")
            }
            let name = String(fields[0])
            let id = Array(blob[..<4])
            guard let verifier = verifiers.first(where: { $0.name == name && $0.keyID == id }) else { continue }
            let signature = Array(blob[4...])
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: verifier.publicKey),
                signature.count == 64, key.isValidSignature(signature, for: Array(text.utf8))
            else {
                throw MLSecError.verificationFailed("the signature by \(name) does not verify: the note was modified")
            }
            verified = true
        }
        guard verified else {
            throw MLSecError.verificationFailed("the note carries no signature by \(verifiers.map(\.name).joined(separator: ", "))")
        }
        return text
    }
}
