// AgeError: why an age file could not be decrypted, in the categories the age conformance suite uses.

import MLSecCore

/// A failure to decrypt an age file. The kinds follow the C2SP CCTV suite, so that callers (and tests) can
/// tell a file that is not for them from one that was tampered with.
public struct AgeError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// The ASCII armor is not valid.
        case armor = "armor failure"
        /// The header is malformed or a recipient stanza for this identity is invalid.
        case header = "header failure"
        /// No identity could unwrap the file key.
        case noMatch = "no match"
        /// The header MAC does not verify: the header was changed.
        case hmac = "HMAC failure"
        /// The payload is truncated, extended or was changed.
        case payload = "payload failure"
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func header(_ message: String) -> AgeError { AgeError(.header, "invalid age header: \(message)") }
    static func armor(_ message: String) -> AgeError { AgeError(.armor, "invalid age armor: \(message)") }
    static func payload(_ message: String) -> AgeError { AgeError(.payload, "age payload: \(message)") }

    /// Whether the input is not an age file at all (bad armor, a malformed header or stanza), as opposed to a
    /// well-formed file that does not decrypt (no matching identity, a header MAC or payload that does not
    /// authenticate).
    public var isMalformedInput: Bool { kind == .armor || kind == .header }

    /// The error as the rest of MLSec reports it: malformed input (exit 2), or a failed decryption (exit 1).
    public var asMLSecError: MLSecError { MLSecError(isMalformedInput ? .malformed : .verificationFailed, message) }
}
