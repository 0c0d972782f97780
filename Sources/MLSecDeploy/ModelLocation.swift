// ModelLocation: where a signed model lies on disk and which keys it must verify with.

import Foundation
import MLSecCore

/// A model directory (`model.json` and `weights.safetensors`, either of them possibly age-encrypted as
/// `model.json.age` / `weights.safetensors.age`), the OpenSSF model signature over that directory as it lies
/// on disk (so over the encrypted files when they are encrypted), the public keys the signature may verify
/// with, and the age identities that decrypt it.
public struct ModelLocation: Sendable, Equatable {
    public var name: String
    public var version: String
    /// The model directory; may contain ``versionPlaceholder``.
    public var path: String
    /// The signature bundle; may contain ``versionPlaceholder``.
    public var signature: String
    /// PEM public keys the signature may verify with (any one of them).
    public var publicKeys: [String]
    /// Age identity files, for encrypted model files.
    public var identities: [String]

    public init(name: String, version: String, path: String, signature: String, publicKeys: [String], identities: [String] = []) {
        self.name = name
        self.version = version
        self.path = path
        self.signature = signature
        self.publicKeys = publicKeys
        self.identities = identities
    }

    /// The placeholder a versioned location has in `path` and `signature`.
    public static let versionPlaceholder = "{version}"

    /// Whether `path` names the version (`models/digits/{version}`), so that other versions can be loaded.
    public var isVersioned: Bool { path.contains(Self.versionPlaceholder) }

    /// This location for `version`: the placeholder replaced in path and signature. Versions are short tokens
    /// of letters, digits, `.`, `_` and `-` (never a path): they may come from requests.
    /// - Throws: `MLSecError.usage` for a malformed version, or another version of an unversioned location.
    public func resolved(version: String) throws -> ModelLocation {
        guard Self.isValidVersion(version) else {
            throw MLSecError.usage("a model version is 1-64 letters, digits, '.', '_' or '-', not starting with '.'")
        }
        guard isVersioned || version == self.version else {
            throw MLSecError.usage(
                "model \(name) has no {version} in its configured path; only version \(self.version) can be loaded")
        }
        var location = self
        location.version = version
        location.path = path.replacingOccurrences(of: Self.versionPlaceholder, with: version)
        location.signature = signature.replacingOccurrences(of: Self.versionPlaceholder, with: version)
        return location
    }

    /// Whether `version` is a valid version token.
    public static func isValidVersion(_ version: String) -> Bool {
        let bytes = Array(version.utf8)
        guard (1...64).contains(bytes.count), bytes[0] != UInt8(ascii: ".") else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}
