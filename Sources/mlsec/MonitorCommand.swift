// MonitorCommand: `mlsec monitor profile|check`: the inference monitor's reference (built from a model and its
// training data) and an offline drift check of a batch of inputs against it.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecData
import MLSecEngine

struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Build the inference monitor's reference and check inputs for drift against it.",
        discussion: """
            The gateway compares each model's live inputs and predictions with a reference built from the \
            training data (models[].monitor in its configuration; docs/monitoring.md).
            Example:
              mlsec monitor profile --model ./digits-mlp --data train.csv \\
                  --label-column label --out ./monitor.json
              mlsec monitor check --reference ./monitor.json \\
                  --model ./digits-mlp --data incoming.csv --label-column label
            """,
        subcommands: [Profile.self, Check.self])

    /// The model's predicted class and outputs for each of `count` rows, in blocks.
    static func predictions(_ model: Model, rows: [Float], count: Int) throws -> (classes: [Int], outputs: [Float]) {
        let d = model.inputSize, width = model.outputSize
        var classes: [Int] = [], outputs: [Float] = []
        classes.reserveCapacity(count)
        outputs.reserveCapacity(count * width)
        var start = 0
        while start < count {
            let n = min(1024, count - start)
            let out = try model.forward(try model.inputTensor(rows: Array(rows[(start * d)..<((start + n) * d)]), count: n)).data
            for r in 0..<n {
                var best = 0
                for j in 1..<max(width, 1) where out[r * width + j] > out[r * width + best] { best = j }
                classes.append(best)
            }
            outputs += out
            start += n
        }
        return (classes, outputs)
    }

    static func loadFeatures(_ data: String, labelColumn: String?, model: Model) throws -> Dataset {
        let dataset = try loadDataset(data, labelColumn: labelColumn)
        guard dataset.featureCount == model.inputSize else {
            throw MLSecError.malformed("\(data) has \(dataset.featureCount) feature columns, the model takes \(model.inputSize)"
                + (labelColumn == nil ? " (name the label column with --label-column)" : ""))
        }
        return dataset
    }

    struct Profile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "profile",
            abstract: "Build a model's monitoring reference from its training data.",
            discussion: """
                Records, per input feature, histogram bins at the deciles (for the population stability index) \
                and the distribution (for Kolmogorov-Smirnov tests); the model's predicted class shares; and a \
                robust centre and shrunk covariance of the inputs with a Mahalanobis distance threshold set so \
                that --false-positive-rate of held-out rows (every fifth row, left out of the fit) are out of \
                distribution. The file is bound to the model's weights and written with mode 0600.
                Example:
                  mlsec monitor profile --model ./digits-mlp --data train.csv \\
                      --label-column label --false-positive-rate 0.01 \\
                      --out ./monitor.json
                """)

        @OptionGroup var input: ModelInput
        @Option(help: "Training CSV rows (or digits / digits-train / digits-test).") var data: String
        @Option(name: .customLong("label-column"), help: "A label column to leave out of the features.") var labelColumn: String?
        @Option(name: .customLong("false-positive-rate"), help: "Share of clean rows the OOD threshold flags, in (0, 0.5].")
        var falsePositiveRate = 0.01
        @Option(help: "Histogram bins per feature for the population stability index (2-255).") var bins = 10
        @Option(help: "Where to write the reference (JSON, mode 0600).") var out: String
        @Flag(help: "Overwrite --out.") var force = false

        func validate() throws {
            guard falsePositiveRate > 0, falsePositiveRate <= 0.5 else { throw ValidationError("--false-positive-rate must be in (0, 0.5]") }
            guard (2...255).contains(bins) else { throw ValidationError("--bins must be 2...255") }
        }

        func run() async throws {
            if !force, FileStatus.exists(out) { throw MLSecError(.alreadyExists, "\(out) exists; pass --force to overwrite it") }
            let model = try await input.load()
            let dataset = try MonitorCommand.loadFeatures(data, labelColumn: labelColumn, model: model)
            let predicted = try MonitorCommand.predictions(model, rows: dataset.features, count: dataset.count)
            var settings = MonitorReference.Settings()
            settings.falsePositiveRate = falsePositiveRate
            settings.bins = bins
            let reference = try MonitorReference.build(
                rows: dataset.features, count: dataset.count, featureNames: dataset.featureNames, predictions: predicted.classes,
                classCount: model.outputSize, modelDigest: model.parameterDigest, settings: settings)
            try AtomicFile.write(JSONWriter.bytes(reference.json) + [0x0A], to: out, mode: 0o600, overwrite: true)
            printJSON(.object([
                ("out", .string(out)), ("rows", .int(reference.rows)), ("features", .int(reference.featureCount)),
                ("classes", .int(reference.classCount)), ("class_shares", .array(reference.classShares.map(decimal))),
                ("ood_threshold", decimal(reference.oodThreshold)), ("false_positive_rate", .number("\(falsePositiveRate)")),
                ("held_out_rows", .int(reference.heldOutRows)), ("held_out_flag_rate", decimal(reference.heldOutFlagRate)),
                ("shrinkage", decimal(reference.shrinkage)), ("model_digest", .string(reference.modelDigest)),
            ]))
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Compare a batch of inputs with a monitoring reference, as the gateway compares its window.",
            discussion: """
                The rows are one window: population stability index and Kolmogorov-Smirnov test per feature, \
                the predicted classes' shift (PSI and chi-square), and how many rows are out of distribution. \
                A feature drifts when its PSI reaches --psi-threshold and its KS p-value is below --ks-p-value \
                divided by the number of features. Exit 0 without drift, 1 with drift.
                Example:
                  mlsec monitor check --reference ./monitor.json \\
                      --model ./digits-mlp --data incoming.csv \\
                      --label-column label --format json
                """)

        @Option(help: "The reference from `mlsec monitor profile`.") var reference: String
        @OptionGroup var input: ModelInput
        @Option(help: "CSV rows to check (or digits / digits-train / digits-test).") var data: String
        @Option(name: .customLong("label-column"), help: "A label column to leave out of the features.") var labelColumn: String?
        @Option(name: .customLong("psi-threshold"), help: "PSI at which a feature or the predictions drift.") var psiThreshold = 0.25
        @Option(name: .customLong("ks-p-value"), help: "Significance of the KS and chi-square tests.") var ksPValue = 0.01
        @Option(help: "text or json.") var format: OutputFormat = .text

        func run() async throws {
            let bytes = try ReadOnlyFile.readAll(reference, maxBytes: MonitorReference.maxFileBytes, what: "monitor reference")
            let ref = try MonitorReference(bytes: bytes, context: reference)
            let model = try await input.load()
            try ref.checkBinding(modelDigest: model.parameterDigest, inputSize: model.inputSize, classCount: model.outputSize)
            let dataset = try MonitorCommand.loadFeatures(data, labelColumn: labelColumn, model: model)
            guard dataset.count >= 1 else { throw MLSecError.usage("\(data) has no rows") }
            let predicted = try MonitorCommand.predictions(model, rows: dataset.features, count: dataset.count)
            var settings = MonitorSettings()
            settings.window = dataset.count
            settings.checkEvery = dataset.count
            settings.psiThreshold = psiThreshold
            settings.predictionPSIThreshold = psiThreshold
            settings.ksPValue = ksPValue
            let monitor = ModelMonitor(reference: ref, settings: settings)
            let ood = monitor.oodScores(dataset.features, count: dataset.count)
            let observation = monitor.observe(caller: "check", rows: dataset.features, outputs: predicted.outputs, count: dataset.count,
                                              probabilities: model.endsWithSoftmax)
            guard let snapshot = observation.driftCheck else { throw MLSecError.usage("\(data) has no rows to compare") }
            let report = monitor.settle(snapshot).report
            let flagged = ood.filter { $0 > ref.oodThreshold }.count
            switch format {
            case .json:
                printJSON(.object([
                    ("rows", .int(report.rows)), ("drifting", .array(report.drifting.map { .string($0.name) })),
                    ("prediction", .object([
                        ("psi", decimal(report.predictionPSI)), ("chi_square", decimal(report.predictionChiSquare)),
                        ("p_value", .number("\(report.predictionPValue)")), ("shifted", .bool(report.predictionShift)),
                    ])),
                    ("ood", .object([("flagged", .int(flagged)), ("threshold", decimal(ref.oodThreshold)),
                                     ("rate", decimal(Double(flagged) / Double(report.rows)))])),
                    ("features", .array(report.features.map { f in
                        .object([("name", .string(f.name)), ("psi", decimal(f.psi)), ("ks", decimal(f.ks)), ("p_value", .number("\(f.pValue)")),
                                 ("drifting", .bool(f.drifting))])
                    })),
                ]))
            case .text:
                print(report.summary)
                print("out of distribution: \(flagged) of \(report.rows) rows (Mahalanobis distance over \(String(format: "%.3f", ref.oodThreshold)))")
                let worst = report.features.sorted { $0.psi > $1.psi }.prefix(10)
                print("feature                    PSI      KS   p-value  drift")
                for f in worst {
                    print(String(f.name.prefix(24)).padding(toLength: 24, withPad: " ", startingAt: 0)
                        + String(format: " %7.3f %7.3f %9.2e  ", f.psi, f.ks, f.pValue) + (f.drifting ? "yes" : "no"))
                }
            }
            if !report.drifting.isEmpty || report.predictionShift { throw ExitCode(1) }
        }
    }
}
