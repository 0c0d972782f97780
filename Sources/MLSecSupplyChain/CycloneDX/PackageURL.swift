// PackageURL: package URLs (purl) for the components MLSec lists.

import Foundation

/// Builds package URLs (`pkg:type/namespace/name@version`), percent-encoding each part as the purl
/// specification asks.
public enum PackageURL {
    /// The purl of a Swift package from its repository location and version: `pkg:swift/<host>/<path>/<name>@<version>`
    /// (the `swift` type: the namespace is the source host and owner, the name the repository's).
    /// `nil` for a location that is not a remote repository (a local path).
    public static func swift(location: String, version: String?) -> String? {
        var rest = Substring(location)
        if let scheme = rest.range(of: "://") {
            guard ["https", "http", "ssh", "git"].contains(rest[..<scheme.lowerBound].lowercased()) else { return nil }
            rest = rest[scheme.upperBound...]
            if let at = rest.firstIndex(of: "@"), let slash = rest.firstIndex(of: "/"), at < slash {
                rest = rest[rest.index(after: at)...]  // user@host/...
            }
        } else if let at = rest.firstIndex(of: "@"), let colon = rest.firstIndex(of: ":"), at < colon {
            rest = rest[rest.index(after: at)...]  // git@host:owner/name (scp form)
            if let colon = rest.firstIndex(of: ":") { rest.replaceSubrange(colon...colon, with: "/") }
        } else {
            return nil
        }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.hasSuffix(".git") { rest = rest.dropLast(4) }
        var parts = rest.split(separator: "/").map(String.init)
        guard parts.count >= 2, let name = parts.popLast() else { return nil }
        if let colon = parts[0].firstIndex(of: ":") { parts[0] = String(parts[0][..<colon]) }  // drop a port
        parts[0] = parts[0].lowercased()
        var purl = "pkg:swift/" + parts.map(encode).joined(separator: "/") + "/" + encode(name)
        if let version, !version.isEmpty { purl += "@" + encode(version) }
        return purl
    }

    /// Percent-encodes everything but ASCII letters, digits and `.-_~` (purl's safe characters for a segment).
    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xf, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
