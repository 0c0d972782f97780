// InTotoStatement: the in-toto Statement v1 payload that carries a manifest, written and read.

import MLSecCore

/// Conversion between a ``Manifest`` and the in-toto statement inside a model signature.
public enum InTotoStatement {
    public static let statementType = "https://in-toto.io/Statement/v1"
    public static let predicateType = "https://model_signing/signature/v1.0"
    /// Key of MLSec's own predicate member. Reference verifiers ignore unknown predicate members (v1.0 rule).
    public static let extensionKey = "mlsec"
    /// Most resources accepted from a signature.
    public static let maxResources = 10_000_000

    /// The statement for `manifest`, keys in the documented order.
    public static func json(for manifest: Manifest) -> JSONValue {
        let resources: [JSONValue] = manifest.items.map { item in
            .object([
                ("name", .string(item.name)),
                ("algorithm", .string(item.algorithm)),
                ("digest", .string(Hex.encode(item.digest))),
            ])
        }
        var predicate: [(String, JSONValue)] = [
            ("serialization", manifest.serialization.json),
            ("resources", .array(resources)),
        ]
        var ext: [(String, JSONValue)] = [("version", .int(1))]
        if let empty = manifest.emptyFiles {
            ext.append(("empty_files", .array(empty.sorted(by: ResourcePath.precedes).map { .string($0) })))
        }
        if !manifest.fileStamps.isEmpty {
            let stamps = manifest.fileStamps.sorted { ResourcePath.precedes($0.key, $1.key) }.map { entry in
                (entry.key, JSONValue.array([.number(String(entry.value.size)),
                                             .number(String(entry.value.modificationTimeNanoseconds))]))
            }
            ext.append(("file_stamps", .object(stamps)))
        }
        if let model = manifest.signedModel {
            ext.append(("model", .object([("name", .string(model.name)), ("version", .string(model.version))])))
        }
        predicate.append((extensionKey, .object(ext)))
        return .object([
            ("_type", .string(statementType)),
            ("subject", .array([.object([
                ("name", .string(manifest.modelName)),
                ("digest", .object([("sha256", .string(Hex.encode(manifest.rootDigest)))])),
            ])])),
            ("predicateType", .string(predicateType)),
            ("predicate", .object(predicate)),
        ])
    }

    /// Reads and checks a statement from an untrusted signature: types, one subject, every resource
    /// name, algorithm and digest length, duplicates, and the root digest against the subject.
    public static func manifest(from statement: JSONValue) throws -> Manifest {
        guard statement["_type"]?.stringValue == statementType else {
            throw MLSecError.malformed("signature: the payload is not an in-toto Statement v1 (_type)")
        }
        guard let type = statement["predicateType"]?.stringValue else {
            throw MLSecError.malformed("signature: predicateType is missing")
        }
        guard type == predicateType else {
            throw MLSecError.unsupported(
                "signature: predicate type \"\(type.prefix(100))\" is not supported (expected \(predicateType))")
        }
        guard let subjects = statement["subject"]?.arrayValue, subjects.count == 1 else {
            throw MLSecError.malformed("signature: the statement must have exactly one subject")
        }
        let modelName = subjects[0]["name"]?.stringValue ?? ""
        guard let rootHex = subjects[0]["digest"]?["sha256"]?.stringValue, let root = Hex.decode(rootHex),
            root.count == 32
        else {
            throw MLSecError.malformed("signature: the subject has no valid sha256 digest")
        }
        guard let predicate = statement["predicate"], case .object = predicate else {
            throw MLSecError.malformed("signature: predicate is missing")
        }
        guard let serializationJSON = predicate["serialization"] else {
            throw MLSecError.malformed("signature: predicate.serialization is missing")
        }
        let serialization = try Serialization(json: serializationJSON)
        guard let resources = predicate["resources"]?.arrayValue else {
            throw MLSecError.malformed("signature: predicate.resources is missing or not a list")
        }
        guard resources.count <= maxResources else {
            throw MLSecError.limitExceeded("signature: more than \(maxResources) resources")
        }
        let expectedAlgorithm = serialization.itemAlgorithmName
        var items: [ManifestItem] = []
        items.reserveCapacity(resources.count)
        var names = Set<String>()
        for (index, resource) in resources.enumerated() {
            let where_ = "signature: resource \(index)"
            guard let name = resource["name"]?.stringValue else { throw MLSecError.malformed("\(where_) has no name") }
            guard let algorithm = resource["algorithm"]?.stringValue else {
                throw MLSecError.malformed("\(where_) (\(name.prefix(200))) has no algorithm")
            }
            guard let digestHex = resource["digest"]?.stringValue, let digest = Hex.decode(digestHex) else {
                throw MLSecError.malformed("\(where_) (\(name.prefix(200))) has no valid hex digest")
            }
            guard algorithm == expectedAlgorithm || algorithmAlias(algorithm) == expectedAlgorithm else {
                throw MLSecError.malformed(
                    "\(where_) (\(name.prefix(200))) uses algorithm \"\(algorithm.prefix(64))\", "
                        + "but the serialization says \"\(expectedAlgorithm)\"")
            }
            guard digest.count == serialization.hash.digestByteCount else {
                throw MLSecError.malformed(
                    "\(where_) (\(name.prefix(200))) has a \(digest.count)-byte digest; "
                        + "\(serialization.hash.rawValue) digests are \(serialization.hash.digestByteCount) bytes")
            }
            guard names.insert(name).inserted else {
                throw MLSecError.malformed("signature: duplicate resource name \"\(name.prefix(200))\"")
            }
            let item = try parseItem(name: name, serialization: serialization, context: where_)
            items.append(ManifestItem(path: item.path, range: item.range, algorithm: expectedAlgorithm, digest: digest))
        }
        var manifest = Manifest(modelName: modelName, serialization: serialization, items: items)
        guard ConstantTime.equal(manifest.rootDigest, root) else {
            throw MLSecError.malformed(
                "signature: the manifest is inconsistent: its resources do not hash to the subject's root digest")
        }
        if let ext = predicate[extensionKey] {
            try readExtension(ext, into: &manifest)
        }
        return manifest
    }

    private static func algorithmAlias(_ algorithm: String) -> String {
        algorithm.hasPrefix("blake2-") || algorithm == "blake2" ? "blake2b" + algorithm.dropFirst(6) : algorithm
    }

    private static func parseItem(name: String, serialization: Serialization, context: String) throws
        -> (path: String, range: Range<Int>?)
    {
        switch serialization.method {
        case .files:
            try ResourcePath.validate(name, context: context)
            return (name, nil)
        case .shards(let shardSize):
            let parts = name.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, let start = Int(parts[1]), let end = Int(parts[2]) else {
                throw MLSecError.malformed("\(context): shard name \"\(name.prefix(200))\" is not path:start:end")
            }
            let path = String(parts[0])
            try ResourcePath.validate(path, context: context)
            guard start >= 0, end > start, end - start <= shardSize, start % shardSize == 0 else {
                throw MLSecError.malformed("\(context): shard \"\(name.prefix(200))\" has an impossible byte range")
            }
            return (path, start..<end)
        }
    }

    private static func readExtension(_ ext: JSONValue, into manifest: inout Manifest) throws {
        guard case .object = ext else { throw MLSecError.malformed("signature: predicate.mlsec is not an object") }
        if let empty = ext["empty_files"] {
            guard let list = empty.arrayValue else {
                throw MLSecError.malformed("signature: predicate.mlsec.empty_files is not a list")
            }
            var paths: [String] = []
            for entry in list {
                guard let path = entry.stringValue else {
                    throw MLSecError.malformed("signature: predicate.mlsec.empty_files holds a non-string")
                }
                try ResourcePath.validate(path, context: "signature: empty_files entry")
                paths.append(path)
            }
            guard Set(paths).count == paths.count else {
                throw MLSecError.malformed("signature: predicate.mlsec.empty_files has duplicates")
            }
            manifest.emptyFiles = paths
        }
        if let model = ext["model"] {
            guard let name = model["name"]?.stringValue, let version = model["version"]?.stringValue,
                model.objectValue?.count == 2, !name.isEmpty, name.utf8.count <= 256, !version.isEmpty, version.utf8.count <= 256
            else { throw MLSecError.malformed("signature: predicate.mlsec.model must be {\"name\": ..., \"version\": ...}") }
            manifest.signedModel = SignedModelIdentity(name: name, version: version)
        }
        if let stamps = ext["file_stamps"]?.objectValue {
            for (path, value) in stamps {
                guard let pair = value.arrayValue, pair.count == 2, let size = pair[0].integerValue,
                    let mtime = pair[1].integerValue
                else {
                    throw MLSecError.malformed("signature: predicate.mlsec.file_stamps entry for \(path.prefix(200)) is invalid")
                }
                manifest.fileStamps[path] = FileStamp(size: Int64(size), modificationTimeNanoseconds: Int64(mtime))
            }
        }
    }
}
