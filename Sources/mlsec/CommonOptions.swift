// CommonOptions: option types shared by several subcommands.

import ArgumentParser
import MLSecCore
import MLSecIntegrity

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

extension ModelHashAlgorithm: ExpressibleByArgument {}
extension SignatureAlgorithm: ExpressibleByArgument {}

enum MethodOption: String, ExpressibleByArgument, CaseIterable {
    case files, shards
}

/// How a model is cut and hashed: shared by `sign` and `digest`.
struct HashingOptions: ParsableArguments {
    @Option(help: "Serialization method: files (one digest per file) or shards (per byte range).")
    var method: MethodOption = .files

    @Option(name: .customLong("shard-size"), help: "Shard size in bytes for --method shards.")
    var shardSize: Int = Serialization.defaultShardSize

    @Option(help: "Hash function: sha256, blake2b or blake3.")
    var hash: ModelHashAlgorithm = .sha256

    @Flag(name: .customLong("allow-symlinks"), help: "Follow symbolic links to files (they are refused by default).")
    var allowSymlinks = false

    @Option(help: "Threads for hashing (default: all cores).")
    var threads: Int?

    func validate() throws {
        if method == .shards, shardSize < Serialization.minimumShardSize {
            throw ValidationError("--shard-size must be at least \(Serialization.minimumShardSize) bytes")
        }
        if method == .files, shardSize != Serialization.defaultShardSize {
            throw ValidationError("--shard-size applies only to --method shards")
        }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be 1...1024") }
    }

    var serializationMethod: Serialization.Method { method == .files ? .files : .shards(shardSize: shardSize) }
    var hasher: ModelHasher { ModelHasher(workerCount: threads) }
}

extension JSONValue {
    static func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }
}

/// Prints one JSON document on stdout.
func printJSON(_ value: JSONValue) {
    print(JSONWriter.string(value, options: .init(sortKeys: false, pretty: true)))
}

/// Reads a small text file (a key or certificate), refusing large ones.
func readTextFile(_ path: String, what: String) throws -> String {
    let bytes = try ReadOnlyFile.readAll(path, maxBytes: 1 << 20, what: what)
    guard let text = String(validating: bytes, as: UTF8.self) else {
        throw MLSecError.malformed("\(what) \(path) is not UTF-8 text")
    }
    return text
}

/// The model-relative form of a path given on the command line (resolved against the current directory),
/// or `nil` when it lies outside the model.
func modelRelative(_ path: String, root: String) -> String? {
    guard let relative = FilePath.relative(FilePath.absolute(path), to: root), relative != "." else { return nil }
    return relative
}
