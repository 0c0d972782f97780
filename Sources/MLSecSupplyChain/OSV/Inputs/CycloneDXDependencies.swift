// CycloneDXDependencies: the components of a CycloneDX JSON BOM, audited by their package URLs.

import MLSecCore

/// Reads a CycloneDX JSON BOM's `components` (nested ones included) and keeps those whose `purl` names a
/// supported ecosystem: `pkg:pypi/NAME@VERSION` (PyPI), `pkg:swift/HOST/OWNER/NAME@VERSION` and
/// `pkg:github/OWNER/NAME@VERSION` (SwiftURL, as `HOST/OWNER/NAME`). Others are reported as unsupported.
public enum CycloneDXDependencies {
    public static func read(_ path: String) throws -> DependencyList {
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: SupplyChainLimits.maxDocumentBytes, what: "CycloneDX BOM")
        let json = try JSONParser(limits: .init(maxDepth: 64, maxStringBytes: 16 << 20, maxContainerCount: DependencyList.maxEntries))
            .parse(bytes, context: "CycloneDX BOM \(path)")
        guard json["bomFormat"]?.stringValue == "CycloneDX" else {
            throw MLSecError.malformed("\(path) is not a CycloneDX JSON BOM (no \"bomFormat\": \"CycloneDX\")")
        }
        var list = DependencyList()
        var pending: [(JSONValue, String)] = (json["components"]?.arrayValue ?? []).enumerated().map {
            ($0.element, "components[\($0.offset)]")
        }
        if let root = json["metadata"]?["component"] { pending.append((root, "metadata.component")) }
        while let (component, where_) = pending.popLast() {
            guard list.dependencies.count + list.skipped.count < DependencyList.maxEntries else {
                throw MLSecError.limitExceeded("CycloneDX BOM \(path) has over \(DependencyList.maxEntries) components")
            }
            let origin = "\(path): \(where_)"
            for (i, child) in (component["components"]?.arrayValue ?? []).enumerated() {
                pending.append((child, "\(where_).components[\(i)]"))
            }
            let name = component["name"]?.stringValue ?? "?"
            guard let purlText = component["purl"]?.stringValue else {
                if component["type"]?.stringValue == "library" {
                    list.skipped.append(SkippedDependency(name: name, origin: origin, reason: "no purl, not audited"))
                }
                continue
            }
            guard let purl = ParsedPackageURL(purlText) else {
                throw MLSecError.malformed("\(origin): \(PEP440Version.quoted(purlText)) is not a package URL (pkg:TYPE/NAME@VERSION)")
            }
            guard let dependency = purl.dependency(fallbackVersion: component["version"]?.stringValue, origin: origin) else {
                let reason = ["pypi", "swift", "github"].contains(purl.type)
                    ? "no version, not audited" : "unsupported ecosystem \(purl.type), not audited"
                list.skipped.append(SkippedDependency(name: purlText, origin: origin, reason: reason))
                continue
            }
            list.dependencies.append(dependency)
        }
        list.dependencies.reverse()
        return list
    }
}

/// A package URL (https://github.com/package-url/purl-spec): `pkg:type/namespace/name@version?qualifiers#subpath`.
public struct ParsedPackageURL: Sendable, Hashable {
    public var type: String
    public var namespace: [String]
    public var name: String
    public var version: String?

    public init?(_ text: String) {
        guard text.utf8.count <= 4096, text.hasPrefix("pkg:") else { return nil }
        var rest = Substring(text.dropFirst(4))
        while rest.hasPrefix("/") { rest = rest.dropFirst() }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        var version: String?
        if let at = rest.lastIndex(of: "@"), let slash = rest.lastIndex(of: "/"), at > slash {
            version = Self.decode(rest[rest.index(after: at)...])
            rest = rest[..<at]
        }
        let decoded = rest.split(separator: "/").map { Self.decode($0) }
        guard decoded.count >= 2, decoded.allSatisfy({ $0 != nil }) else { return nil }
        let parts = decoded.compactMap { $0 }
        guard let type = parts.first, !type.isEmpty, let name = parts.last, !name.isEmpty else { return nil }
        self.type = type.lowercased()
        self.namespace = Array(parts.dropFirst().dropLast())
        self.name = name
        self.version = version
    }

    private static func decode(_ s: Substring) -> String? { s.purlPercentDecoded() }

    func dependency(fallbackVersion: String?, origin: String) -> Dependency? {
        guard let version = version ?? fallbackVersion, !version.isEmpty else { return nil }
        switch type {
        case "pypi":
            return Dependency(ecosystem: .pypi, name: name, version: version, origin: origin)
        case "swift":
            return Dependency(ecosystem: .swiftURL, name: (namespace + [name]).joined(separator: "/"), version: version,
                              origin: origin)
        case "github":
            return Dependency(ecosystem: .swiftURL, name: (["github.com"] + namespace + [name]).joined(separator: "/"),
                              version: version, origin: origin)
        default:
            return nil
        }
    }
}

extension Substring {
    /// Percent-decoding that refuses malformed escapes and invalid UTF-8 (`nil`).
    func purlPercentDecoded() -> String? {
        var bytes: [UInt8] = []
        var it = Array(utf8)[...]
        while let b = it.popFirst() {
            guard b == 0x25 else {
                bytes.append(b)
                continue
            }
            guard it.count >= 2, let hi = Self.hex(it[it.startIndex]), let lo = Self.hex(it[it.startIndex + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            it = it.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}
