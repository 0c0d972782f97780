// DigestCommand: `mlsec digest`, prints a model's root digest and per-file digests without signing.

import ArgumentParser
import MLSecCore
import MLSecIntegrity

struct DigestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest",
        abstract: "Print a model's root digest (sha256:<hex>) as a signature would record it.",
        discussion: """
            Examples:
              mlsec digest ./my-model
              mlsec digest ./my-model --hash blake3 --format json
            """
    )

    @Argument(help: "Model directory or single model file.")
    var modelPath: String

    @Option(help: "Serialization method: files or shards.")
    var method: MethodOption = .files

    @Option(name: .customLong("shard-size"), help: "Shard size in bytes for --method shards.")
    var shardSize: Int = Serialization.defaultShardSize

    @Option(help: "Hash function: sha256, blake2b or blake3.")
    var hash: ModelHashAlgorithm = .sha256

    @Flag(name: .customLong("allow-symlinks"), help: "Follow symbolic links to files.")
    var allowSymlinks = false

    @Option(help: "Threads for hashing (default: all cores).")
    var threads: Int?

    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if method == .shards, shardSize < Serialization.minimumShardSize {
            throw ValidationError("--shard-size must be at least \(Serialization.minimumShardSize) bytes")
        }
    }

    func run() async throws {
        let tree = try ModelTree(path: modelPath, options: ModelTreeOptions(allowSymlinks: allowSymlinks,
                                                                            ignorePaths: gitIgnorePaths))
        let serialization = Serialization(method: method == .files ? .files : .shards(shardSize: shardSize), hash: hash,
                                          allowSymlinks: allowSymlinks)
        let result = try Terminal.withProgress("hashing") { progress in
            try ModelHasher(workerCount: threads).hash(files: tree.files, serialization: serialization,
                                                       modelName: FilePath.lastComponent(of: tree.root), progress: progress)
        }
        let root = "sha256:" + Hex.encode(result.manifest.rootDigest)
        switch format {
        case .text:
            print(root)
        case .json:
            printJSON(.object([
                ("root_digest", .string(root)),
                ("resources", .array(result.manifest.items.map {
                    .object([("name", .string($0.name)), ("algorithm", .string($0.algorithm)),
                             ("digest", .string(Hex.encode($0.digest)))])
                })),
            ]))
        }
    }
}
