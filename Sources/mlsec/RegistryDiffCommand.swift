// RegistryDiffCommand: `mlsec registry diff NAME V1 V2`, the file- and tensor-level change between two versions.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecDeploy
import MLSecEncryption

struct RegistryDiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show which files and tensors changed between two registered versions, and by how much.",
        discussion: """
            Per tensor: added, removed, reshaped (shape or dtype), changed or unchanged, with the largest \
            absolute difference and the relative L2 difference |b - a| / |a|. The weights are checked against \
            their registered digests before they are read.

            Example:
              mlsec registry diff digits 1 2 --state-dir state
            """)
    @Argument(help: "Model name.") var name: String
    @Argument(help: "The older version.") var from: String
    @Argument(help: "The newer version.") var to: String
    @Option(help: "An age identity file for encrypted weights; repeatable.") var identity: [String] = []
    @Flag(help: "List unchanged tensors too.") var all = false
    @Option(help: "Output: text or json.") var format: OutputFormat = .text
    @OptionGroup var place: RegistryCommand.Place

    func run() async throws {
        let store = try await place.store()
        func record(_ version: String) async throws -> RegisteredVersion {
            guard let record = try await store.version(name: name, version: version) else {
                throw MLSecError.usage("model \(name) version \(version) is not registered (mlsec registry list \(name))")
            }
            return record
        }
        let identities: [any AgeIdentity] = try identity.flatMap { try AgeKeyFiles.readIdentities($0) }
        let diff = try VersionDiff.compare(try await record(from), try await record(to), identities: identities)
        switch format {
        case .json: printJSON(json(diff))
        case .text: printText(diff)
        }
    }

    func json(_ diff: VersionDiff) -> JSONValue {
        func optional(_ text: String?) -> JSONValue { text.map { .string($0) } ?? .null }
        func number(_ value: Double?) -> JSONValue {
            guard let value else { return .null }
            return value.isFinite ? .number("\(value)") : .string("inf")
        }
        func shape(_ dims: [Int]?) -> JSONValue { dims.map { .array($0.map { .int($0) }) } ?? .null }
        return .object([
            ("name", .string(diff.name)), ("from", .string(diff.from)), ("to", .string(diff.to)),
            ("files", .array(diff.files.map { file in
                .object([("path", .string(file.path)), ("status", .string(file.status)), ("from", optional(file.from)), ("to", optional(file.to))])
            })),
            ("tensors", diff.tensors.map { tensors in .array(tensors.filter { all || $0.status != "unchanged" }.map { t in
                .object([
                    ("name", .string(t.name)), ("status", .string(t.status)), ("from_shape", shape(t.fromShape)), ("to_shape", shape(t.toShape)),
                    ("from_dtype", optional(t.fromDType)), ("to_dtype", optional(t.toDType)),
                    ("max_abs_diff", number(t.maxAbsoluteDifference)), ("relative_l2", number(t.relativeL2Difference)),
                    ("changed_elements", t.changedElements.map { .int($0) } ?? .null), ("elements", t.elements.map { .int($0) } ?? .null),
                ])
            }) } ?? .null),
            ("unchanged_tensors", .int(diff.tensors?.filter { $0.status == "unchanged" }.count ?? 0)),
            ("note", optional(diff.note)),
        ])
    }

    func printText(_ diff: VersionDiff) {
        print("model \(diff.name): \(diff.from) -> \(diff.to)")
        for file in diff.files where file.status != "unchanged" || all { print("  file \(file.path): \(file.status)") }
        if let note = diff.note { Terminal.note(note) }
        guard let tensors = diff.tensors else { return }
        for t in tensors where t.status != "unchanged" || all {
            switch t.status {
            case "changed", "unchanged":
                print("  tensor \(t.name): \(t.status), \(t.changedElements ?? 0) of \(t.elements ?? 0) elements, "
                    + String(format: "max |diff| %.6g, relative L2 %.6g", t.maxAbsoluteDifference ?? 0, t.relativeL2Difference ?? 0))
            case "reshaped":
                print("  tensor \(t.name): reshaped \(t.fromDType ?? "") \(t.fromShape ?? []) -> \(t.toDType ?? "") \(t.toShape ?? [])")
            default:
                print("  tensor \(t.name): \(t.status)")
            }
        }
        let unchanged = tensors.filter { $0.status == "unchanged" }.count
        print("  \(tensors.count - unchanged) of \(tensors.count) tensors changed")
    }
}
