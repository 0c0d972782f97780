// EmbedPackageResolved: a build tool plugin that embeds Package.resolved (and each dependency's licence) in the
// target it is applied to, for `mlsec sbom --self`.

import Foundation
import PackagePlugin

/// Runs `mlsec-embed-resolved` before the target compiles. The tool reads the root package's Package.resolved and
/// the licence file of every package in the dependency graph (their checkout directories come from the plugin
/// context), and writes `EmbeddedPackageResolved.swift` into the plugin's work directory. The command is re-run
/// when Package.resolved or a licence file changes. A build without Package.resolved still compiles: the
/// generated file then says the dependency list is unavailable.
@main
struct EmbedPackageResolved: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let tool = try context.tool(named: "mlsec-embed-resolved")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedPackageResolved.swift")
        let resolved = context.package.directoryURL.appending(path: "Package.resolved")
        let files = FileManager.default
        var arguments = ["--output", output.path(percentEncoded: false)]
        var inputs: [URL] = []
        if files.fileExists(atPath: resolved.path(percentEncoded: false)) {
            arguments += ["--resolved", resolved.path(percentEncoded: false)]
            inputs.append(resolved)
        }
        for package in Self.dependencyClosure(of: context.package) {
            let directory = package.directoryURL
            arguments += ["--checkout", "\(package.id)=\(directory.path(percentEncoded: false))"]
            for name in Self.licenseFileNames {
                let file = directory.appending(path: name)
                if files.fileExists(atPath: file.path(percentEncoded: false)) { inputs.append(file) }
            }
        }
        return [
            .buildCommand(
                displayName: "Embedding Package.resolved in \(target.name)", executable: tool.url, arguments: arguments,
                inputFiles: inputs, outputFiles: [output])
        ]
    }

    /// Licence file names the tool looks for, in order (kept in step with the tool's list).
    static let licenseFileNames = ["LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "COPYING"]

    /// Every package the root depends on, directly or not, each once, in a stable order.
    static func dependencyClosure(of root: Package) -> [Package] {
        var seen: Set<String> = [root.id]
        var result: [Package] = []
        var queue = root.dependencies.map(\.package)
        while !queue.isEmpty {
            let package = queue.removeFirst()
            guard seen.insert(package.id).inserted else { continue }
            result.append(package)
            queue.append(contentsOf: package.dependencies.map(\.package))
        }
        return result.sorted { $0.id < $1.id }
    }
}
