// SBOMCommand: `mlsec sbom`: a model's ML-BOM, or MLSec's own dependencies, as CycloneDX 1.6 JSON.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecDeploy
import MLSecStores
import MLSecSupplyChain

struct SBOMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sbom",
        abstract: "Print a CycloneDX 1.6 BOM: a model's ML-BOM, or MLSec's own dependencies.",
        discussion: """
            --model DIR describes a model directory: a machine-learning-model component with its model card \
            (architecture from model.json, parameter count from the safetensors header, security considerations), \
            every file with its SHA-256 as it lies on disk (encrypted .age files included), and the signature \
            bundle given with --signature. --model NAME, not a directory, names a registered model (with \
            --state-dir and --version). --self lists the Swift packages this binary was built from, read from \
            Package.resolved at build time, with versions, purls and licences. The BOM goes to standard output, or \
            to --out (written atomically).
            Examples:
              mlsec sbom --model ./my-model --signature my-model.sig
              mlsec sbom --model ./my-model --name digits --version 3 \\
                  --out digits.cdx.json
              mlsec sbom --self --out mlsec.cdx.json
            """)

    @Option(help: ArgumentHelp("A model directory, or a registered model's name.", valueName: "dir-or-name"))
    var model: String?

    @Flag(name: .customLong("self"), help: "List MLSec's own Swift package dependencies instead.")
    var ownDependencies = false

    @Option(help: "The model's name (default: model.json's name, else the directory's).")
    var name: String?

    @Option(help: "The model's version.")
    var version: String?

    @Option(help: "The model's signature bundle (hashed and listed).")
    var signature: String?

    @Option(name: .customLong("state-dir"), help: "The state directory whose registry --model NAME is looked up in.")
    var stateDir: String?

    @Option(help: "Write the BOM to this file instead of standard output.")
    var out: String?

    @Flag(help: "Overwrite --out.")
    var force = false

    func validate() throws {
        if ownDependencies {
            guard model == nil else { throw ValidationError("give --model or --self, not both") }
            let modelOnly = [("--name", name), ("--version", version), ("--signature", signature), ("--state-dir", stateDir)]
            if let (flag, _) = modelOnly.first(where: { $0.1 != nil }) { throw ValidationError("\(flag) applies only to --model") }
        } else if model == nil {
            throw ValidationError("give --model DIR (a model directory or a registered name) or --self")
        }
    }

    func run() async throws {
        if let out, !force, FileStatus.exists(out) {
            throw MLSecError(.alreadyExists, "\(out) exists; pass --force to overwrite it")
        }
        let bytes: [UInt8]
        if ownDependencies {
            bytes = try embeddedPackageResolution.bom(application: "mlsec", version: MLSecVersion.string).bytes
        } else {
            bytes = try await modelBOM(model ?? "")
        }
        if let out {
            try AtomicFile.write(bytes, to: out, overwrite: true)
            Terminal.note("wrote \(out) (\(bytes.count) bytes, CycloneDX \(CycloneDX.specVersion))")
        } else {
            FileHandle.standardOutput.write(Data(bytes))
        }
    }

    /// The ML-BOM of a model directory, or of a registered version when `model` is not a directory.
    func modelBOM(_ model: String) async throws -> [UInt8] {
        let options = ModelBOM.Options(toolVersion: MLSecVersion.string)
        if FileStatus.exists(model) {
            return try ModelBOM.build(directory: model, name: name, version: version, signature: signature, options: options)
        }
        let registered = try await registeredVersion(name: model, version: version)
        return try ModelBOM.build(directory: nil, name: name, version: version, registered: registered, signature: signature,
                                  options: options)
    }

    // MARK: - Registry lookup

    /// The registered version `version` of model `name` from the registry in `--state-dir` (without `--version`:
    /// the newest version in production, else the newest one).
    func registeredVersion(name: String, version: String?) async throws -> RegisteredVersion {
        guard let stateDir else {
            throw MLSecError.usage(
                "\(name) is not a model directory, and no registry given to look it up in (--state-dir DIR)")
        }
        let store = try await StateStores.registry(stateDirectory: stateDir, database: nil)
        let versions = try await store.versions(name: name).filter { version == nil || $0.version == version }
        guard let record = versions.last(where: { $0.stage == .production }) ?? versions.last else {
            throw MLSecError.usage("model \(name)\(version.map { " version \($0)" } ?? "") is not registered in \(stateDir) "
                + "(mlsec registry list --state-dir \(stateDir))")
        }
        return record
    }
}
