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

    @OptionGroup var hashing: HashingOptions

    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let tree = try ModelTree(path: modelPath, options: ModelTreeOptions(allowSymlinks: hashing.allowSymlinks,
                                                                            ignorePaths: gitIgnorePaths))
        let serialization = Serialization(method: hashing.serializationMethod, hash: hashing.hash,
                                          allowSymlinks: hashing.allowSymlinks)
        let result = try Terminal.withProgress("hashing") { progress in
            try hashing.hasher.hash(files: tree.files, serialization: serialization,
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
