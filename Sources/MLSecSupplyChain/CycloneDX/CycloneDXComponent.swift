// CycloneDXComponent: a component (library, application, file, model, dataset) and its hashes, licences,
// properties and external references.

import MLSecCore

extension CycloneDX {
    /// A component's type (the subset of the 1.6 enumeration MLSec writes).
    public enum ComponentType: String, Sendable, CaseIterable {
        case application, framework, library, file, data
        case machineLearningModel = "machine-learning-model"
    }

    /// A component.
    public struct Component: Sendable, Equatable {
        public var type: ComponentType
        /// A MIME type (`file` components), lower case as the schema requires.
        public var mimeType: String?
        public var bomRef: String?
        public var group: String?
        public var name: String
        public var version: String?
        public var description: String?
        public var hashes: [Hash]
        public var licenses: [License]
        public var purl: String?
        public var externalReferences: [ExternalReference]
        /// Only on `machine-learning-model` components.
        public var modelCard: ModelCard?
        /// Only on `data` components.
        public var data: [ComponentData]
        public var properties: [Property]

        public init(type: ComponentType, name: String, version: String? = nil, bomRef: String? = nil, mimeType: String? = nil,
                    group: String? = nil, description: String? = nil, hashes: [Hash] = [], licenses: [License] = [],
                    purl: String? = nil, externalReferences: [ExternalReference] = [], modelCard: ModelCard? = nil,
                    data: [ComponentData] = [], properties: [Property] = []) {
            self.type = type
            self.mimeType = mimeType
            self.bomRef = bomRef
            self.group = group
            self.name = name
            self.version = version
            self.description = description
            self.hashes = hashes
            self.licenses = licenses
            self.purl = purl
            self.externalReferences = externalReferences
            self.modelCard = modelCard
            self.data = data
            self.properties = properties
        }

        /// The component, members in schema order. A model card on anything but a model, or data on anything but
        /// a `data` component, is left out (the schema allows them nowhere else).
        public var json: JSONValue {
            var members: [(String, JSONValue)] = [("type", .string(type.rawValue))]
            members.append("mime-type", mimeType)
            members.append("bom-ref", bomRef)
            members.append("group", group)
            members.append(("name", .string(name)))
            members.append("version", version)
            members.append("description", description)
            members.append("hashes", hashes.map(\.json))
            members.append("licenses", License.choice(licenses))
            members.append("purl", purl)
            members.append("externalReferences", externalReferences.map(\.json))
            if type == .machineLearningModel, let modelCard { members.append(("modelCard", modelCard.json)) }
            if type == .data { members.append("data", data.map(\.json)) }
            members.append("properties", properties.map(\.json))
            return .object(members)
        }
    }

    /// A hash of a component's bytes.
    public struct Hash: Sendable, Equatable {
        /// The algorithms MLSec writes (CycloneDX names).
        public enum Algorithm: String, Sendable {
            case sha256 = "SHA-256"
            case sha384 = "SHA-384"
            case sha512 = "SHA-512"
            case blake2b512 = "BLAKE2b-512"
            case blake3 = "BLAKE3"
        }

        public var algorithm: Algorithm
        /// Lower-case hex.
        public var content: String

        public init(_ algorithm: Algorithm, bytes: [UInt8]) {
            self.algorithm = algorithm
            self.content = Hex.encode(bytes)
        }

        /// A SHA-256 hash from MLSec's digest notation, `sha256:<64 hex digits>` (or the bare hex).
        /// - Throws: `MLSecError.malformed` when `digest` is not that; `what` names it in the message.
        public init(sha256 digest: String, what: String) throws {
            let hex = digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest
            guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else {
                throw MLSecError.malformed("\(what): \"\(digest.prefix(80))\" is not a SHA-256 digest (sha256:<64 hex digits>)")
            }
            self.init(.sha256, bytes: bytes)
        }

        public var json: JSONValue { .object([("alg", .string(algorithm.rawValue)), ("content", .string(content))]) }
    }

    /// A licence: an SPDX identifier, an SPDX expression (`Apache-2.0 WITH Swift-exception`) or a name.
    public enum License: Sendable, Equatable {
        case spdx(String)
        case expression(String)
        case named(String)

        /// An SPDX identifier or expression as found (an expression when it has spaces or parentheses).
        public init(spdx text: String) {
            self = text.contains(" ") || text.contains("(") ? .expression(text) : .spdx(text)
        }

        /// The `licenses` array: one expression alone (the schema's rule), or a list of identifiers and names.
        static func choice(_ licenses: [License]) -> [JSONValue] {
            if let expression = licenses.lazy.compactMap({ if case .expression(let e) = $0 { e } else { nil } }).first {
                return [.object([("expression", .string(expression))])]
            }
            return licenses.map { license in
                switch license {
                case .spdx(let id): .object([("license", .object([("id", .string(id))]))])
                case .named(let name): .object([("license", .object([("name", .string(name))]))])
                case .expression(let e): .object([("expression", .string(e))])
                }
            }
        }
    }

    /// A name-value property. MLSec's own names start with `mlsec:`.
    public struct Property: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }

        public var json: JSONValue { .object([("name", .string(name)), ("value", .string(value))]) }
    }

    /// A link to something outside the BOM.
    public struct ExternalReference: Sendable, Equatable {
        /// The reference types MLSec writes (a subset of the 1.6 enumeration).
        public enum Kind: String, Sendable {
            case vcs, website, documentation, distribution, license, bom, other
            case modelCard = "model-card"
            case digitalSignature = "digital-signature"
        }

        public var kind: Kind
        public var url: String
        public var comment: String?
        public var hashes: [Hash]

        public init(_ kind: Kind, url: String, comment: String? = nil, hashes: [Hash] = []) {
            self.kind = kind
            self.url = url
            self.comment = comment
            self.hashes = hashes
        }

        public var json: JSONValue {
            var members: [(String, JSONValue)] = [("url", .string(url))]
            members.append("comment", comment)
            members.append(("type", .string(kind.rawValue)))
            members.append("hashes", hashes.map(\.json))
            return .object(members)
        }
    }
}
