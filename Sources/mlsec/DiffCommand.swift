// DiffCommand: `mlsec diff`, lists what changed in a model since it was signed (no key needed).

import ArgumentParser
import MLSecCore
import MLSecIntegrity

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "List the files changed since a model was signed (exit 0 none, 1 some). Does not check the signature.",
        discussion: """
            Compares the files with the manifest inside the signature file without checking who signed it: \
            it reports changes, not a verdict. Use `mlsec verify` to check the signature.

            Examples:
              mlsec diff ./my-model --signature my-model.sig
              mlsec diff ./my-model --signature my-model.sig --format json
            """
    )

    @Argument(help: "Model directory or single model file.")
    var modelPath: String

    @Option(help: "The signature file.")
    var signature: String

    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let bundle = try SignatureBundle(
            fileBytes: try ReadOnlyFile.readAll(signature, maxBytes: SignatureBundle.maxFileBytes, what: "signature file"))
        Terminal.note("note: diff does not authenticate the signature; use mlsec verify for that")
        let options = VerificationOptions(signatureRelativePath: modelRelative(signature, root: FilePath.absolute(modelPath)))
        let report = try Terminal.withProgress("hashing") { progress in
            try ModelVerifier.diff(modelPath: modelPath, bundle: bundle, options: options, progress: progress)
        }
        try ReportPrinter.print(report, modelPath: modelPath, format: format, kind: .diff)
    }
}
