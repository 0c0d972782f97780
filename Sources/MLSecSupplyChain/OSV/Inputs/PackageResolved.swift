// PackageResolved: the pins of a SwiftPM Package.resolved (format versions 1, 2 and 3).

import MLSecCore

/// Reads SwiftPM pins as `SwiftURL` dependencies named by their repository URL.
///
/// Version 1 nests pins under `object.pins` with `package`/`repositoryURL`; versions 2 and 3 list `pins` with
/// `identity`/`kind`/`location`. A pin without a version (a branch or revision pin) and a registry or local
/// pin are reported as not audited.
public enum PackageResolved {
    public static func read(_ path: String) throws -> DependencyList {
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: SupplyChainLimits.maxDocumentBytes, what: "Package.resolved")
        let json = try JSONParser(limits: .init(maxDepth: 16, maxStringBytes: 1 << 20, maxContainerCount: DependencyList.maxEntries))
            .parse(bytes, context: "Package.resolved \(path)")
        return try dependencies(json, path: path)
    }

    static func dependencies(_ json: JSONValue, path: String) throws -> DependencyList {
        func fail(_ what: String) -> MLSecError {
            MLSecError.malformed("Package.resolved \(path): \(what); regenerate it with `swift package resolve`")
        }
        guard let format = json["version"]?.integerValue else { throw fail("no integer \"version\"") }
        let pins: [JSONValue]
        switch format {
        case 1:
            guard let p = json["object"]?["pins"]?.arrayValue else { throw fail("no \"object.pins\" array (format 1)") }
            pins = p
        case 2, 3:
            guard let p = json["pins"]?.arrayValue else { throw fail("no \"pins\" array (format \(format))") }
            pins = p
        default:
            throw MLSecError.unsupported("Package.resolved \(path) has format version \(format); versions 1, 2 and 3 are read")
        }
        var list = DependencyList()
        for (index, pin) in pins.enumerated() {
            let origin = "\(path): pins[\(index)]"
            guard case .object = pin else { throw fail("pins[\(index)] is not an object") }
            let location = format == 1 ? pin["repositoryURL"]?.stringValue : pin["location"]?.stringValue
            let identity = (format == 1 ? pin["package"]?.stringValue : pin["identity"]?.stringValue) ?? location ?? "?"
            guard let location, !location.isEmpty else { throw fail("pins[\(index)] (\(identity)) has no repository location") }
            if format != 1, let kind = pin["kind"]?.stringValue, kind != "remoteSourceControl" {
                list.skipped.append(SkippedDependency(name: identity, origin: origin,
                                                      reason: "\(kind) pin, not audited (only remote source control pins name a repository URL)"))
                continue
            }
            guard let state = pin["state"], case .object = state else { throw fail("pins[\(index)] (\(identity)) has no \"state\"") }
            guard let version = state["version"]?.stringValue, !version.isEmpty else {
                let how = state["branch"]?.stringValue.map { "branch \($0)" } ?? "revision only"
                list.skipped.append(SkippedDependency(name: location, origin: origin,
                                                      reason: "pinned by \(how), not audited"))
                continue
            }
            do {
                _ = try SemanticVersion(version)
            } catch let error as MLSecError {
                throw MLSecError.malformed("\(origin) (\(identity)): \(error.message)")
            }
            list.dependencies.append(Dependency(ecosystem: .swiftURL, name: location, version: version, origin: origin))
        }
        return list
    }
}
