// CycloneDXBOM: the BOM document, its metadata and its dependency graph.

import Foundation
import MLSecCore

extension CycloneDX {
    /// A CycloneDX 1.6 BOM.
    public struct BOM: Sendable, Equatable {
        /// `urn:uuid:<uuid>`, lower case (the 1.6 schema's pattern).
        public var serialNumber: String
        /// The BOM's version: 1 for a new BOM, incremented when the same BOM is revised.
        public var version: Int
        public var metadata: Metadata
        public var components: [Component]
        public var dependencies: [Dependency]

        /// - Parameter serialNumber: a UUID for the BOM; a random one by default.
        public init(serialNumber: UUID = UUID(), version: Int = 1, metadata: Metadata, components: [Component] = [],
                    dependencies: [Dependency] = []) {
            self.serialNumber = "urn:uuid:" + serialNumber.uuidString.lowercased()
            self.version = version
            self.metadata = metadata
            self.components = components
            self.dependencies = dependencies
        }

        /// The document, members in schema order.
        public var json: JSONValue {
            var members: [(String, JSONValue)] = [
                ("$schema", .string(CycloneDX.schemaURL)),
                ("bomFormat", .string(CycloneDX.bomFormat)),
                ("specVersion", .string(CycloneDX.specVersion)),
                ("serialNumber", .string(serialNumber)),
                ("version", .int(version)),
                ("metadata", metadata.json),
            ]
            members.append(("components", .array(components.map(\.json))))
            members.append("dependencies", dependencies.map(\.json))
            return .object(members)
        }

        /// The document as UTF-8 JSON, indented, with a final newline.
        public var bytes: [UInt8] { JSONWriter.bytes(json, options: .init(pretty: true)) + [0x0a] }

        /// Checks the rules the schema cannot see: every `bom-ref` is unique, and every reference in the dependency
        /// graph and in model cards names a component of the BOM.
        /// - Throws: `MLSecError.malformed` naming the first broken reference.
        public func checkReferences() throws {
            var refs: Set<String> = []
            func collect(_ component: Component) throws {
                if let ref = component.bomRef, !refs.insert(ref).inserted {
                    throw MLSecError.malformed("CycloneDX BOM: bom-ref \"\(ref.prefix(200))\" is used twice")
                }
            }
            if let root = metadata.component { try collect(root) }
            for component in components { try collect(component) }
            for dependency in dependencies {
                for ref in [dependency.ref] + dependency.dependsOn where !refs.contains(ref) {
                    throw MLSecError.malformed("CycloneDX BOM: the dependency graph names \"\(ref.prefix(200))\", which no component has")
                }
            }
            for component in components {
                for ref in component.modelCard?.modelParameters?.datasetRefs ?? [] where !refs.contains(ref) {
                    throw MLSecError.malformed("CycloneDX BOM: the model card names dataset \"\(ref.prefix(200))\", which no component has")
                }
            }
        }
    }

    /// Who made the BOM, when, and what it describes.
    public struct Metadata: Sendable, Equatable {
        /// RFC 3339 time the BOM was made.
        public var timestamp: String
        /// The tools that made it (`metadata.tools.components`).
        public var tools: [Component]
        /// What the BOM describes.
        public var component: Component?
        public var properties: [Property]

        public init(timestamp: Date = Date(), tools: [Component] = [], component: Component? = nil, properties: [Property] = []) {
            self.timestamp = RFC3339.format(timestamp)
            self.tools = tools
            self.component = component
            self.properties = properties
        }

        public var json: JSONValue {
            var members: [(String, JSONValue)] = [("timestamp", .string(timestamp))]
            if !tools.isEmpty { members.append(("tools", .object([("components", .array(tools.map(\.json)))]))) }
            if let component { members.append(("component", component.json)) }
            members.append("properties", properties.map(\.json))
            return .object(members)
        }
    }

    /// One node of the dependency graph: `ref` depends on each of `dependsOn` (bom-refs).
    public struct Dependency: Sendable, Equatable {
        public var ref: String
        public var dependsOn: [String]

        public init(ref: String, dependsOn: [String] = []) {
            self.ref = ref
            self.dependsOn = dependsOn
        }

        public var json: JSONValue {
            var members: [(String, JSONValue)] = [("ref", .string(ref))]
            // Unique items (the schema says so), in first-seen order.
            var seen: Set<String> = []
            members.append(("dependsOn", .array(dependsOn.filter { seen.insert($0).inserted }.map { .string($0) })))
            return .object(members)
        }
    }
}
