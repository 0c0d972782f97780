// CycloneDX documents: fixed member order, the schema's rules the types enforce, purls and the Swift packages' BOM.

import Foundation
import MLSecCore
import MLSecSupplyChain
import Testing

private let serial = UUID(uuidString: "0A1B2C3D-4E5F-4061-8293-A4B5C6D7E8F9")!
private let time = Date(timeIntervalSince1970: 1_800_000_000)

private func parse(_ bom: CycloneDX.BOM) throws -> JSONValue { try JSONParser().parse(bom.bytes, context: "BOM") }

private func keys(_ value: JSONValue?) -> [String] { value?.objectValue?.map(\.0) ?? [] }

@Suite("CycloneDX documents")
struct CycloneDXTests {
    static let pins = [
        SwiftPackagePin(identity: "swift-crypto", location: "https://github.com/apple/swift-crypto.git", version: "4.5.2",
                        revision: "b4f1ff2a8e8a9a2f4bb56e6a2f1f4c12f6a9e0d1", license: "Apache-2.0"),
        SwiftPackagePin(identity: "swift-argument-parser", location: "https://github.com/apple/swift-argument-parser.git",
                        version: "1.8.2", revision: "0000000000000000000000000000000000000001",
                        license: "Apache-2.0 WITH Swift-exception"),
        SwiftPackagePin(identity: "grdb.swift", location: "https://github.com/groue/GRDB.swift.git", version: "7.10.0",
                        revision: "a60dcff33d97a98b21425f1894587145d3efda50", license: "MIT"),
        SwiftPackagePin(identity: "local-thing", location: "/src/local-thing", version: nil, revision: nil, branch: "main"),
    ]

    @Test("a BOM's members come in schema order, and the same document gives the same bytes")
    func fixedOrder() throws {
        let bom = try SwiftPackageResolution(originHash: "abc", pins: Self.pins).bom(
            application: "mlsec", version: "1.0", serialNumber: serial, timestamp: time)
        let json = try parse(bom)
        #expect(keys(json) == ["$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata", "components", "dependencies"])
        #expect(json["serialNumber"]?.stringValue == "urn:uuid:0a1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9")
        #expect(json["metadata"]?["timestamp"]?.stringValue == "2027-01-15T08:00:00Z")
        #expect(keys(json["components"]?.arrayValue?.first) == ["type", "bom-ref", "name", "version", "licenses", "purl",
                                                               "externalReferences", "properties"])
        let again = try SwiftPackageResolution(originHash: "abc", pins: Self.pins).bom(
            application: "mlsec", version: "1.0", serialNumber: serial, timestamp: time)
        #expect(bom.bytes == again.bytes)
    }

    @Test("Swift packages: identity, version, purl, licence as an SPDX id or expression, repository and commit")
    func swiftPackages() throws {
        let bom = try SwiftPackageResolution(originHash: nil, pins: Self.pins).bom(application: "mlsec", version: "1.0")
        let json = try parse(bom)
        let components = json["components"]?.arrayValue ?? []
        let crypto = try #require(components.first { $0["name"]?.stringValue == "swift-crypto" })
        #expect(crypto["type"]?.stringValue == "library")
        #expect(crypto["version"]?.stringValue == "4.5.2")
        #expect(crypto["purl"]?.stringValue == "pkg:swift/github.com/apple/swift-crypto@4.5.2")
        #expect(crypto["licenses"]?.arrayValue?.first?["license"]?["id"]?.stringValue == "Apache-2.0")
        #expect(crypto["externalReferences"]?.arrayValue?.first?["type"]?.stringValue == "vcs")
        let parser = try #require(components.first { $0["name"]?.stringValue == "swift-argument-parser" })
        #expect(parser["licenses"]?.arrayValue?.first?["expression"]?.stringValue == "Apache-2.0 WITH Swift-exception")
        let grdb = try #require(components.first { $0["name"]?.stringValue == "grdb.swift" })
        #expect(grdb["purl"]?.stringValue == "pkg:swift/github.com/groue/GRDB.swift@7.10.0")
        let local = try #require(components.first { $0["name"]?.stringValue == "local-thing" })
        #expect(local["purl"] == nil && local["version"]?.stringValue == "main" && local["licenses"] == nil)
        let root = json["dependencies"]?.arrayValue?.first { $0["ref"]?.stringValue == "mlsec" }
        #expect(root?["dependsOn"]?.arrayValue?.count == Self.pins.count)
        try bom.checkReferences()
    }

    @Test("no Package.resolved at build time: the dependency list is unavailable, said as such")
    func unavailable() throws {
        let resolution = SwiftPackageResolution(unavailable: "Package.resolved was missing when this binary was built")
        let error = try #require(throws: MLSecError.self) { try resolution.bom(application: "mlsec", version: "1") }
        #expect(error.code == .unsupported && error.message.contains("unavailable"))
    }

    @Test("package URLs for Swift packages", arguments: [
        ("https://github.com/apple/swift-crypto.git", "4.5.2", "pkg:swift/github.com/apple/swift-crypto@4.5.2"),
        ("https://github.com/apple/swift-crypto", "4.5.2", "pkg:swift/github.com/apple/swift-crypto@4.5.2"),
        ("https://GitHub.com/groue/GRDB.swift.git/", "7.10.0", "pkg:swift/github.com/groue/GRDB.swift@7.10.0"),
        ("git@github.com:apple/swift-nio.git", "2.0.0+build.1", "pkg:swift/github.com/apple/swift-nio@2.0.0%2Bbuild.1"),
        ("ssh://git@gitlab.example.com:2222/team/sub/pkg.git", "1.0.0", "pkg:swift/gitlab.example.com/team/sub/pkg@1.0.0"),
    ])
    func purls(location: String, version: String, expected: String) {
        #expect(PackageURL.swift(location: location, version: version) == expected)
    }

    @Test("no package URL for a local path or an unknown scheme")
    func noPurl() {
        #expect(PackageURL.swift(location: "/src/pkg", version: "1") == nil)
        #expect(PackageURL.swift(location: "file:///src/pkg", version: "1") == nil)
        #expect(PackageURL.swift(location: "https://example.com", version: "1") == nil)
    }

    @Test("hashes: only SHA-256 digests are accepted from MLSec's notation")
    func hashes() throws {
        let hex = String(repeating: "ab", count: 32)
        #expect(try CycloneDX.Hash(sha256: "sha256:" + hex, what: "x").content == hex)
        #expect(try CycloneDX.Hash(sha256: hex.uppercased(), what: "x").content == hex)
        for bad in ["sha256:abc", "sha256:" + String(repeating: "zz", count: 32), "", "blake3:" + hex] {
            let error = try #require(throws: MLSecError.self) { try CycloneDX.Hash(sha256: bad, what: "file weights") }
            #expect(error.code == .malformed && error.message.contains("file weights"))
        }
    }

    @Test("a model card only on a model and data only on a data component; references must resolve")
    func schemaRules() throws {
        let card = CycloneDX.ModelCard(modelParameters: .init(approach: .supervised, datasetRefs: ["dataset:train"]))
        let library = CycloneDX.Component(type: .library, name: "x", modelCard: card, data: [.init(.dataset, name: "d")])
        #expect(library.json["modelCard"] == nil && library.json["data"] == nil)
        let model = CycloneDX.Component(type: .machineLearningModel, name: "m", bomRef: "model:m", modelCard: card)
        #expect(model.json["modelCard"]?["modelParameters"]?["approach"]?["type"]?.stringValue == "supervised")

        var bom = CycloneDX.BOM(metadata: .init(), components: [model], dependencies: [.init(ref: "model:m")])
        var error = try #require(throws: MLSecError.self) { try bom.checkReferences() }
        #expect(error.message.contains("dataset:train"))
        bom.components.append(CycloneDX.Component(type: .data, name: "train", bomRef: "dataset:train"))
        try bom.checkReferences()
        bom.components.append(CycloneDX.Component(type: .file, name: "again", bomRef: "model:m"))
        error = try #require(throws: MLSecError.self) { try bom.checkReferences() }
        #expect(error.message.contains("used twice"))
        bom.components.removeLast()
        bom.dependencies.append(.init(ref: "model:m", dependsOn: ["file:nowhere", "file:nowhere"]))
        error = try #require(throws: MLSecError.self) { try bom.checkReferences() }
        #expect(error.message.contains("file:nowhere"))
        // dependsOn is written with unique items, as the schema requires.
        #expect(bom.dependencies[1].json["dependsOn"]?.arrayValue?.count == 1)
    }

    @Test("strings are escaped and optional members left out rather than written as null")
    func escapingAndOmission() throws {
        let component = CycloneDX.Component(type: .file, name: "a \"quoted\"\nname\u{1}", properties: [.init("k", "v\\w")])
        let bom = CycloneDX.BOM(serialNumber: serial, metadata: .init(timestamp: time), components: [component])
        let text = String(decoding: bom.bytes, as: UTF8.self)
        #expect(!text.contains("null"))
        let back = try JSONParser().parse(bom.bytes, context: "BOM")
        #expect(back["components"]?.arrayValue?.first?["name"]?.stringValue == "a \"quoted\"\nname\u{1}")
        #expect(back["dependencies"] == nil)
    }
}
