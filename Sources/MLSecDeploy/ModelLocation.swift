// ModelLocation: where a signed model lies on disk and which keys it must verify with.

import Foundation
import MLSecCore
import MLSecIntegrity

/// A model directory (`model.json` and `weights.safetensors`, either of them possibly age-encrypted as
/// `model.json.age` / `weights.safetensors.age`), the OpenSSF model signature over that directory as it lies
/// on disk (so over the encrypted files when they are encrypted), what the signature must verify with (public
/// keys, or in certificate mode the CA certificates its chain must lead to and the expected signer identities),
/// and the age identities that decrypt it.
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
    /// Certificate mode (instead of ``publicKeys``): PEM files of the trust anchors the signature's certificate
    /// chain must lead to.
    public var certificateChain: [String]
    /// Certificate mode: the signers accepted (any one of them); empty accepts any certificate the anchors issued.
    public var certificateIdentities: [CertificateIdentity]

    public init(name: String, version: String, path: String, signature: String, publicKeys: [String], identities: [String] = [],
                certificateChain: [String] = [], certificateIdentities: [CertificateIdentity] = []) {
        self.name = name
        self.version = version
        self.path = path
        self.signature = signature
        self.publicKeys = publicKeys
        self.identities = identities
        self.certificateChain = certificateChain
        self.certificateIdentities = certificateIdentities
    }

    /// A warning when the location trusts any certificate its CA issued (certificate mode without an identity).
    public var trustWarning: String? {
        !certificateChain.isEmpty && certificateIdentities.isEmpty ? CertificateChainTrust.noIdentityWarning : nil
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

    /// Orders two version tokens: split at `.`, `-` and `_`; parts of digits compare as numbers, other parts as
    /// text, a number before text, a shorter version before a longer one that extends it (`1.9` < `1.10` <
    /// `1.10.1`, `2` < `2-rc`). Negative when `a` is older than `b`, 0 when equal, positive when newer.
    public static func compareVersions(_ a: String, _ b: String) -> Int {
        func parts(_ v: String) -> [Substring] { v.split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "_" }) }
        let (x, y) = (parts(a), parts(b))
        for (p, q) in zip(x, y) where p != q {
            switch (p.allSatisfy(\.isASCIIDigit), q.allSatisfy(\.isASCIIDigit)) {
            case (true, true):
                let (p, q) = (p.drop { $0 == "0" }, q.drop { $0 == "0" })
                if p.count != q.count { return p.count < q.count ? -1 : 1 }
                if p != q { return p < q ? -1 : 1 }
            case (true, false): return -1
            case (false, true): return 1
            case (false, false): return p < q ? -1 : 1
            }
        }
        return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
