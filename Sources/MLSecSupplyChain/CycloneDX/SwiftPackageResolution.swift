// SwiftPackageResolution: the Swift packages a build resolved (from Package.resolved), and their BOM.

import Foundation
import MLSecCore

/// One resolved Swift package, as Package.resolved pins it, with the licence found in its checkout.
public struct SwiftPackagePin: Sendable, Equatable {
    /// The package identity (`swift-crypto`, `grdb.swift`).
    public var identity: String
    /// The repository URL (or local path).
    public var location: String
    public var version: String?
    /// The commit checked out.
    public var revision: String?
    /// The branch, for a package pinned to one.
    public var branch: String?
    /// The SPDX identifier or expression detected from the package's licence file, when recognised.
    public var license: String?

    public init(identity: String, location: String, version: String?, revision: String?, branch: String? = nil,
                license: String? = nil) {
        self.identity = identity
        self.location = location
        self.version = version
        self.revision = revision
        self.branch = branch
        self.license = license
    }

    /// The version a BOM names: the tagged version, else the branch, else the commit.
    public var displayVersion: String? { version ?? branch ?? revision }

    /// The purl of the package (`pkg:swift/github.com/apple/swift-crypto@4.5.2`), when it comes from a repository.
    public var purl: String? { PackageURL.swift(location: location, version: displayVersion) }
}

/// The dependencies of a build: every package pinned in Package.resolved, or why they are unknown.
public struct SwiftPackageResolution: Sendable, Equatable {
    /// Package.resolved's hash of the manifest inputs it was resolved from.
    public var originHash: String?
    /// The pins, or nil when the build had no Package.resolved to read.
    public var pins: [SwiftPackagePin]?
    /// Why ``pins`` is nil.
    public var unavailableReason: String?

    public init(originHash: String?, pins: [SwiftPackagePin]) {
        self.originHash = originHash
        self.pins = pins
        self.unavailableReason = nil
    }

    public init(unavailable reason: String) {
        self.originHash = nil
        self.pins = nil
        self.unavailableReason = reason
    }

    /// A CycloneDX BOM of the application and these packages: one `library` component per pin (identity, version,
    /// purl, licence, repository, commit), and the application depending on each.
    /// - Throws: `MLSecError.unsupported` when the dependency list was unavailable at build time.
    public func bom(application: String, version: String, serialNumber: UUID = UUID(), timestamp: Date = Date()) throws -> CycloneDX.BOM {
        guard let pins else {
            throw MLSecError.unsupported(
                "the dependency list is unavailable in this build: \(unavailableReason ?? "no Package.resolved") "
                    + "(build from a resolved package: swift package resolve, then swift build)")
        }
        let tool = CycloneDX.Component(type: .application, name: application, version: version, bomRef: "tool:\(application)")
        let root = CycloneDX.Component(type: .application, name: application, version: version, bomRef: application)
        var components: [CycloneDX.Component] = []
        for pin in pins {
            var properties = [CycloneDX.Property("mlsec:package-identity", pin.identity)]
            if let revision = pin.revision { properties.append(.init("mlsec:revision", revision)) }
            if let branch = pin.branch { properties.append(.init("mlsec:branch", branch)) }
            if pin.license == nil { properties.append(.init("mlsec:license", "not recognised from the package's licence file")) }
            let purl = pin.purl
            let isRemote = purl != nil
            components.append(CycloneDX.Component(
                type: .library, name: pin.identity, version: pin.displayVersion, bomRef: purl ?? "swift:\(pin.identity)",
                licenses: pin.license.map { [CycloneDX.License(spdx: $0)] } ?? [], purl: purl,
                externalReferences: isRemote ? [CycloneDX.ExternalReference(.vcs, url: pin.location)] : [],
                properties: properties))
        }
        var metadataProperties: [CycloneDX.Property] = [.init("mlsec:source", "Package.resolved at build time")]
        if let originHash { metadataProperties.append(.init("mlsec:package-resolved-origin-hash", originHash)) }
        // Package.resolved lists the packages, not who depends on whom: the application depends on each, and the
        // packages' own edges are left unknown (no empty entries, which would claim they depend on nothing).
        let dependencies = [CycloneDX.Dependency(ref: application, dependsOn: components.compactMap(\.bomRef))]
        return CycloneDX.BOM(
            serialNumber: serialNumber,
            metadata: CycloneDX.Metadata(timestamp: timestamp, tools: [tool], component: root, properties: metadataProperties),
            components: components, dependencies: dependencies)
    }
}
