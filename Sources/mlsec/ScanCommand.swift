// ScanCommand: `mlsec scan`, finds code that would run when a model file loads, and malformed files.

import ArgumentParser
import MLSecCore
import MLSecScan

struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan model files for insecure deserialization and malformed structure (exit 0 clean, 1 unsafe or malformed, 2 error).",
        discussion: """
            Formats are identified by content: pickle (protocols 0-5), PyTorch zip and legacy tar, NumPy \
            .npy/.npz, joblib (gzip/bz2/xz/zlib), Keras .keras and .h5, safetensors, GGUF, ONNX. Pickles are \
            emulated, never run; every imported callable must be on an allow list (deny by default). A file \
            whose name or first bytes claim a model format but that does not parse as it is malformed; \
            "unsupported" is only for files that claim no model format (README, config.json), and --strict \
            fails on those too. A policy file adds allowed or denied callables, e.g. \
            {"allow": ["mypkg.models.*"], "deny": []}; allowing a callable on the always-dangerous list \
            (os.system, builtins.eval, ...) is refused.

            Examples:
              mlsec scan ./models
              mlsec scan model.pt --format sarif --output scan.sarif
              mlsec scan model.pkl --policy my-policy.json
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, sarif }

    @Argument(help: "Files or directories to scan.") var paths: [String]
    @Option(help: "Output: text, json or sarif.") var format: Format = .text
    @Option(help: "Write the report to this file instead of stdout.") var output: String?
    @Option(help: "Policy file adding allowed or denied callables.") var policy: String?
    @Flag(help: "Fail (exit 1) on files the scanner cannot judge too (verdict unsupported), not only on unsafe or malformed ones.")
    var strict = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one path") }
    }

    func run() async throws {
        try await Self.scan(paths: paths, format: format, output: output, policy: policy, strict: strict)
    }

    /// The scan, also run without the argument parser for `mlsec scan PATH...` (MLSecCommand.runWithoutParser,
    /// docs/scanning.md "Start-up"): each default here is its option's default above (interop/test_startup.py
    /// compares both ways on the corpus), and a new option needs its parameter here.
    static func scan(
        paths: [String], format: Format = .text, output: String? = nil, policy: String? = nil, strict: Bool = false
    ) async throws {
        var options = ScanOptions()
        if let policy { options.policy = try ScanPolicy.load(path: policy) }
        let report = try ModelScanner(options: options).scan(paths: paths)
        let text: String
        switch format {
        case .text: text = ReportWriter.text(report)
        case .json: text = JSONWriter.string(ReportWriter.json(report), options: .init(pretty: true))
        case .sarif: text = JSONWriter.string(ReportWriter.sarif(report, toolVersion: MLSecVersion.string), options: .init(pretty: true))
        }
        if let output {
            try AtomicFile.write(text + "\n", to: output)
        } else {
            print(text)
        }
        if !report.isClean || (strict && report.count(.unsupported) > 0) { throw ExitCode(1) }
    }
}
