// RobustnessCommand: `mlsec robustness report`: attacks over a range of budgets, certification and the detector,
// in one self-contained HTML page (inline SVG, no scripts) and the same numbers in JSON.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecRobustness

struct RobustnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "robustness", abstract: "Robustness reports.",
        discussion: """
            Example:
              mlsec robustness report --model ./digits-mlp --data digits-test \\
                  --label-column label --out report.html
            """,
        subcommands: [Report.self])

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Attack, certify and screen a model; write an HTML report a reviewer reads in a minute.",
            discussion: """
                Runs FGSM and PGD at each budget (and Carlini-Wagner for --norm 2, HopSkipJump on --black-box-rows \
                rows), randomized smoothing certificates, and the feature-squeezing detector (--detector, or one \
                calibrated on the rows at 5% false positives), then writes one HTML file with inline SVG charts: \
                accuracy against epsilon, certified accuracy against radius, the detector's ROC curve with its \
                operating point, the examples that flip most easily, and a one-line verdict at the top. --json \
                writes the same numbers. Prints the verdict as JSON.
                Examples:
                  mlsec robustness report --model ./digits-mlp --data digits-test \\
                      --label-column label --out report.html --json report.json
                  mlsec robustness report --model ./digits-mlp --data digits-test \\
                      --label-column label --norm 2 --black-box-rows 20 \\
                      --out report-l2.html
                """)

        @OptionGroup var input: ModelInput
        @Option(help: "CSV file with a header row, or digits / digits-train / digits-test.") var data: String
        @Option(name: .customLong("label-column"), help: "The label column.") var labelColumn: String
        @Option(help: "The HTML report to write.") var out: String
        @Option(help: "Also write the numbers as JSON here.") var json: String?
        @Option(help: "Norm of the attack budgets: inf (default) or 2.") var norm: Norm = .infinity
        @Option(help: "Comma-separated budgets (default: L-inf 0,0.02,0.05,0.1,0.15,0.2,0.3 or L2 0,0.25,...,3 times the input range).")
        var epsilons: String?
        @Option(name: .customLong("reference-eps"), help: "The budget the verdict and the detector's ROC use (default 0.1 L-inf, 1 L2).")
        var referenceEps: Float?
        @Option(help: "PGD steps.") var steps = 40
        @Option(help: "Randomized smoothing noise (default 0.25 times the input range); 0 skips certification.") var sigma: Float?
        @Option(help: "Randomized smoothing samples per row.") var samples = 1000
        @Option(help: "A detector from `mlsec detector calibrate` (default: calibrate one on the rows).") var detector: String?
        @Option(name: .customLong("black-box-rows"), help: "Run HopSkipJump on this many rows (0: skip).") var blackBoxRows = 0
        @Option(name: .customLong("max-queries"), help: "HopSkipJump's queries per row.") var maxQueries = 2000
        @Option(name: .customLong("max-rows"), help: "Use at most this many rows of --data.") var maxRows = 2000
        @Option(help: "Seed of every random draw.") var seed: UInt64 = 0
        @Flag(help: "Overwrite --out and --json.") var force = false

        func run() async throws {
            for path in [out] + (json.map { [$0] } ?? []) where !force && FileStatus.exists(path) {
                throw MLSecError(.alreadyExists, "\(path) exists; pass --force to overwrite it")
            }
            guard (1...100_000).contains(maxRows), (0...10_000).contains(blackBoxRows), (1...10_000).contains(steps) else {
                throw MLSecError.usage("--max-rows must be 1...100000, --black-box-rows 0...10000, --steps 1...10000")
            }
            let model = try await input.load()
            var data = try LabelledRows(data: self.data, labelColumn: labelColumn, model: model)
            if data.count > maxRows {
                Terminal.note("using the first \(maxRows) of \(data.count) rows (--max-rows)")
                data.dataset = data.dataset.subset(Array(0..<maxRows))
                data.labels = Array(data.labels.prefix(maxRows))
            }
            let range = try InputRange(spec: model.spec)
            var settings = try ReportSettings.defaults(norm: norm, range: range)
            if let epsilons {
                let values = epsilons.split(separator: ",").map { Float($0.trimming(" ")) }
                guard !values.isEmpty, values.count <= 32, values.allSatisfy({ ($0 ?? -1) >= 0 && ($0 ?? .infinity).isFinite }) else {
                    throw MLSecError.usage("--epsilons must be up to 32 comma-separated numbers >= 0")
                }
                settings.epsilons = values.compactMap { $0 }
            }
            if let referenceEps {
                guard referenceEps > 0, referenceEps.isFinite else { throw MLSecError.usage("--reference-eps must be positive") }
                settings.referenceEpsilon = referenceEps
            }
            settings.pgdSteps = steps
            settings.seed = seed
            settings.blackBoxExamples = blackBoxRows
            settings.hopSkipJumpQueries = maxQueries
            if let sigma {
                settings.smoothing = sigma == 0 ? nil : try RandomizedSmoothing(sigma: sigma, samples: samples, seed: seed)
            } else if let smoothing = settings.smoothing {
                settings.smoothing = try RandomizedSmoothing(sigma: smoothing.sigma, samples: samples, seed: seed)
            }
            if let detector {
                let bytes = try ReadOnlyFile.readAll(detector, maxBytes: FeatureSqueezingDetector.maxFileBytes, what: "detector file")
                let loaded = try FeatureSqueezingDetector(bytes: bytes, context: detector)
                try loaded.checkBinding(modelDigest: model.parameterDigest)
                settings.detector = loaded
            }
            let report = try await ReportBuilder.build(model: model, rows: data.rows, labels: data.labels, dataName: self.data,
                                                       settings: settings, generatedAt: RFC3339.now(), generator: "mlsec \(MLSecVersion.string)")
            try AtomicFile.write(report.html(), to: out, overwrite: true)
            if let json { try AtomicFile.write(report.jsonText + "\n", to: json, overwrite: true) }
            printJSON(.object([
                ("out", .string(out)), ("json", json.map { .string($0) } ?? .null), ("grade", .string(report.grade.rawValue)),
                ("verdict", .string(report.verdict)), ("clean_accuracy", decimal(report.cleanAccuracy)),
            ]))
        }
    }
}
