// AgeKeyFiles: age's identity files (age-keygen format) and recipients files, read and written safely.

import Foundation
import MLSecCore

/// Reading and writing the text key files `age` and `age-keygen` use.
public enum AgeKeyFiles {
    /// Largest key file read (a file of many keys is a few KiB).
    static let maxFileBytes = 1 << 20

    /// The text of an identity file: creation time, public key, then the secret, as age-keygen writes it.
    public static func identityFileText(_ identity: AgeX25519Identity, created: Date = Date()) -> String {
        let time = RFC3339.format(created)
        return "# created: \(time)\n# public key: \(identity.recipient)\n\(identity.secretEncoding)\n"
    }

    /// Writes a new identity file with mode 0600 (never overwriting one unless `overwrite`).
    public static func writeIdentity(_ identity: AgeX25519Identity, to path: String, overwrite: Bool = false) throws {
        var text = Array(identityFileText(identity).utf8)
        defer { text.wipe() }
        try AtomicFile.write(text, to: path, mode: 0o600, overwrite: overwrite)
    }

    /// The meaningful lines of a key file (no blank lines, no `#` comments), with their line numbers.
    private static func lines(_ path: String, what: String) throws -> [(Int, String)] {
        var bytes = try ReadOnlyFile.readAll(path, maxBytes: maxFileBytes, what: what)
        defer { bytes.wipe() }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw MLSecError.malformed("\(path) is not UTF-8 text")
        }
        var result: [(Int, String)] = []
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            result.append((index + 1, line))
        }
        return result
    }

    /// Reads the identities in an identity file (`AGE-SECRET-KEY-1...` lines).
    /// - Throws: `MLSecError` naming the file and line (never the key) when a line is not an identity.
    public static func readIdentities(_ path: String) throws -> [AgeX25519Identity] {
        var identities: [AgeX25519Identity] = []
        for (number, line) in try lines(path, what: "identity file") {
            do {
                identities.append(try AgeX25519Identity(line))
            } catch {
                throw MLSecError.invalidKey("\(path):\(number): not an age identity (AGE-SECRET-KEY-1...)")
            }
        }
        guard !identities.isEmpty else { throw MLSecError.invalidKey("\(path) holds no identity") }
        return identities
    }

    /// Reads the recipients in a recipients file (`age1...` lines).
    public static func readRecipients(_ path: String) throws -> [AgeX25519Recipient] {
        var recipients: [AgeX25519Recipient] = []
        for (number, line) in try lines(path, what: "recipients file") {
            do {
                recipients.append(try AgeX25519Recipient(line))
            } catch let error as MLSecError {
                throw MLSecError.invalidKey("\(path):\(number): \(error.message)")
            }
        }
        guard !recipients.isEmpty else { throw MLSecError.invalidKey("\(path) holds no recipient") }
        return recipients
    }

    /// Reads a passphrase: the first line of the file, without its line ending.
    public static func readPassphrase(_ path: String) throws -> SecretBytes {
        var bytes = try ReadOnlyFile.readAll(path, maxBytes: 64 * 1024, what: "passphrase file")
        defer { bytes.wipe() }
        var end = bytes.firstIndex(of: 0x0A) ?? bytes.count
        if end > 0, bytes[end - 1] == 0x0D { end -= 1 }
        guard end > 0 else { throw MLSecError.usage("\(path): the passphrase (first line) is empty") }
        return SecretBytes(bytes[..<end])
    }
}
