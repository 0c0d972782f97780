// DetectorCommand: `mlsec detector calibrate|check`: the feature-squeezing detector of adversarial inputs.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecRobustness

struct DetectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detector",
        abstract: "Calibrate and check the feature-squeezing detector of adversarial inputs.",
        discussion: """
            Examples:
              mlsec detector calibrate --model ./digits-mlp --data holdout.csv \\
                  --label-column label --false-positive-rate 0.05 \\
                  --out ./digits-mlp/detector.json
              mlsec detector check --detector ./digits-mlp/detector.json \\
                  --model ./digits-mlp --data inputs.csv
            """,
        subcommands: [Calibrate.self, Check.self])

    struct Calibrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "calibrate",
            abstract: "Set the detector's threshold so that it flags at most the given fraction of clean rows.",
            discussion: """
                The score of an input is the largest L1 distance between the model's softmax output on it and on \
                squeezed copies. Calibration makes PGD examples from the rows (--attack-eps, --attack-norm) and \
                chooses the squeezers (one or two of: quantisation to 2-17 levels, 2x2 or 3x3 median filters for \
                images) that catch most of them at the threshold that flags --false-positive-rate of the clean \
                rows. Calibrate on data the model did not train on: on its training rows, clean scores are lower \
                and the real false-positive rate ends higher. The detector file records the threshold and a digest \
                of the model's weights: it refuses any other model. Keep it in the model directory before signing, \
                so the signature covers it.
                Example:
                  mlsec detector calibrate --model ./digits-mlp --data holdout.csv \\
                      --label-column label --false-positive-rate 0.05 \\
                      --out ./digits-mlp/detector.json
                """)

        @OptionGroup var input: ModelInput
        @Option(help: "Clean CSV rows (or digits / digits-train / digits-test).") var data: String
        @Option(name: .customLong("label-column"), help: "A label column to leave out of the features.") var labelColumn: String?
        @Option(name: .customLong("false-positive-rate"), help: "Most fraction of clean rows flagged, in (0, 1).") var falsePositiveRate: Double
        @Option(name: .customLong("attack-eps"), help: "Budget of the PGD examples the squeezers are chosen against (default 0.1 of the input range).")
        var attackEps: Float?
        @Option(name: .customLong("attack-norm"), help: "Their norm: inf (default) or 2.") var attackNorm: Norm = .infinity
        @Option(help: "Where to write the detector (JSON).") var out: String
        @Flag(help: "Overwrite --out.") var force = false

        func run() async throws {
            guard falsePositiveRate > 0, falsePositiveRate < 1 else { throw MLSecError.usage("--false-positive-rate must be in (0, 1)") }
            if !force, FileStatus.exists(out) { throw MLSecError(.alreadyExists, "\(out) exists; pass --force to overwrite it") }
            let model = try await input.load()
            let dataset = try loadDataset(data, labelColumn: labelColumn)
            guard dataset.featureCount == model.inputSize else {
                throw MLSecError.malformed("\(data) has \(dataset.featureCount) feature columns, the model takes \(model.inputSize)")
            }
            let range = try InputRange(spec: model.spec)
            let attack = try GradientAttack.pgd(norm: attackNorm, epsilon: attackEps ?? 0.1 * (range.isBounded ? range.width : 1), steps: 20)
            let detector = try FeatureSqueezingDetector.calibrate(model, rows: dataset.features, count: dataset.count,
                                                                  falsePositiveRate: falsePositiveRate, modelDigest: model.parameterDigest,
                                                                  against: attack)
            try AtomicFile.write(JSONWriter.string(detector.json, options: .init(pretty: true)) + "\n", to: out, overwrite: true)
            printJSON(.object([
                ("out", .string(out)), ("threshold", .number("\(detector.threshold)")),
                ("false_positive_rate", decimal(detector.observedFalsePositiveRate)),
                ("target_false_positive_rate", .number("\(falsePositiveRate)")), ("examples", .int(dataset.count)),
                ("squeezers", .array(detector.squeezers.map(\.json))), ("model_digest", .string(detector.modelDigest)),
                ("selection_detection_rate", detector.selectionDetectionRate.map(decimal) ?? .null),
            ]))
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Score rows with a calibrated detector: how many it flags as adversarial.",
            discussion: """
                Prints the number and rate of flagged rows and the score of each (with --scores). Exit 0 when \
                none is flagged, 1 when some are (a negative verdict, as a scan that finds something).
                Example:
                  mlsec detector check --detector ./digits-mlp/detector.json \\
                      --model ./digits-mlp --data inputs.csv
                """)

        @Option(help: "The detector file from `mlsec detector calibrate`.") var detector: String
        @OptionGroup var input: ModelInput
        @Option(help: "CSV rows to check (or digits / digits-train / digits-test).") var data: String
        @Option(name: .customLong("label-column"), help: "A label column to leave out of the features.") var labelColumn: String?
        @Flag(help: "Also print each row's score and flag.") var scores = false

        func run() async throws {
            let bytes = try ReadOnlyFile.readAll(detector, maxBytes: FeatureSqueezingDetector.maxFileBytes, what: "detector file")
            let squeezing = try FeatureSqueezingDetector(bytes: bytes, context: detector)
            let model = try await input.load()
            try squeezing.checkBinding(modelDigest: model.parameterDigest)
            let dataset = try loadDataset(data, labelColumn: labelColumn)
            guard dataset.featureCount == model.inputSize else {
                throw MLSecError.malformed("\(data) has \(dataset.featureCount) feature columns, the model takes \(model.inputSize)")
            }
            let result = try squeezing.check(model, rows: dataset.features, count: dataset.count)
            let flagged = result.flagged.filter { $0 }.count
            var fields: [(String, JSONValue)] = [
                ("flagged", .int(flagged)), ("n", .int(dataset.count)), ("flag_rate", decimal(Double(flagged) / Double(dataset.count))),
                ("threshold", .number("\(squeezing.threshold)")),
            ]
            if scores {
                fields.append(("rows", .array(zip(result.scores, result.flagged).map { s, f in
                    .object([("score", decimal(s)), ("flagged", .bool(f))])
                })))
            }
            printJSON(.object(fields))
            if flagged > 0 { throw ExitCode(1) }
        }
    }
}
