// Serialization: how a model was cut into hashed items (the predicate's `serialization` object).

import MLSecCore

/// The serialization method and its parameters, as recorded in a signature.
public struct Serialization: Sendable, Equatable {
    public enum Method: Sendable, Equatable {
        /// One item per file.
        case files
        /// One item per `[start, end)` range of `shardSize` bytes of each file.
        case shards(shardSize: Int)

        public var name: String {
            switch self {
            case .files: "files"
            case .shards: "shards"
            }
        }
    }

    /// Default shard size of the reference implementation (1,000,000,000 bytes).
    public static let defaultShardSize = 1_000_000_000
    /// Smallest shard size accepted from a signature, so a hostile one cannot ask for billions of items.
    public static let minimumShardSize = 4096

    public var method: Method
    public var hash: ModelHashAlgorithm
    public var allowSymlinks: Bool
    /// Model-relative paths the signer left out; the verifier leaves them out too.
    public var ignorePaths: [String]

    public init(method: Method, hash: ModelHashAlgorithm, allowSymlinks: Bool = false, ignorePaths: [String] = []) {
        self.method = method
        self.hash = hash
        self.allowSymlinks = allowSymlinks
        self.ignorePaths = ignorePaths
    }

    /// The algorithm string of each resource: `sha256`, or `sha256-sharded-1000000000` for shards.
    public var itemAlgorithmName: String {
        switch method {
        case .files: hash.rawValue
        case .shards(let size): "\(hash.rawValue)-sharded-\(size)"
        }
    }

    /// The `serialization` object, keys in the documented order; `shard_size` as an integer.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("method", .string(method.name)), ("hash_type", .string(hash.rawValue))]
        if case .shards(let size) = method { members.append(("shard_size", .int(size))) }
        members.append(("allow_symlinks", .bool(allowSymlinks)))
        if !ignorePaths.isEmpty {
            members.append(("ignore_paths", .array(ignorePaths.sorted().map { .string($0) })))
        }
        return .object(members)
    }

    /// Reads a `serialization` object from an untrusted signature.
    public init(json: JSONValue) throws {
        guard case .object = json else { throw MLSecError.malformed("signature: predicate.serialization is not an object") }
        guard let methodName = json["method"]?.stringValue else {
            throw MLSecError.malformed("signature: predicate.serialization.method is missing")
        }
        guard let hashName = json["hash_type"]?.stringValue else {
            throw MLSecError.malformed("signature: predicate.serialization.hash_type is missing")
        }
        guard let hash = ModelHashAlgorithm(formatName: hashName) else {
            throw MLSecError.unsupported("signature: unknown hash_type \"\(hashName.prefix(64))\"")
        }
        switch methodName {
        case "files":
            method = .files
        case "shards":
            guard let size = json["shard_size"]?.integerValue else {
                throw MLSecError.malformed("signature: predicate.serialization.shard_size is missing or not an integer")
            }
            guard size >= Serialization.minimumShardSize else {
                throw MLSecError.malformed(
                    "signature: shard_size \(size) is below the minimum of \(Serialization.minimumShardSize) bytes")
            }
            method = .shards(shardSize: size)
        default:
            throw MLSecError.unsupported("signature: unknown serialization method \"\(methodName.prefix(64))\"")
        }
        self.hash = hash
        guard let allow = json["allow_symlinks"]?.boolValue else {
            throw MLSecError.malformed("signature: predicate.serialization.allow_symlinks is missing or not a boolean")
        }
        allowSymlinks = allow
        var ignores: [String] = []
        if let list = json["ignore_paths"] {
            guard let array = list.arrayValue else {
                throw MLSecError.malformed("signature: predicate.serialization.ignore_paths is not a list")
            }
            for entry in array {
                guard var path = entry.stringValue else {
                    throw MLSecError.malformed("signature: ignore_paths holds a value that is not a string")
                }
                if path.hasSuffix("/") { path.removeLast() }
                try ResourcePath.validate(path, context: "signature: ignore_paths entry")
                ignores.append(path)
            }
        }
        ignorePaths = ignores
    }
}
