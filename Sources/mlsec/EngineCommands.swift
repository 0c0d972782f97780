// EngineCommands: `mlsec predict`, `evaluate`, `train` and `model prune` over the native engine.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecRobustness

extension OptimizerKind: ExpressibleByArgument {}

enum PredictFormat: String, ExpressibleByArgument, CaseIterable { case json, csv }

/// Loads `--data`: `digits`, `digits-train`, `digits-test` or a CSV path.
func loadDataset(_ name: String, labelColumn: String?) throws -> Dataset {
    if let digits = Digits.named(name) {
        if labelColumn != nil, labelColumn != "label" {
            throw MLSecError.usage("the bundled digits data names its label column \"label\"")
        }
        return digits
    }
    return try Dataset.csv(path: name, labelColumn: labelColumn)
}

/// Refuses to write a model into `directory` when it already holds one (plain or encrypted files), unless `force`.
func refuseExistingModel(at directory: String, force: Bool) throws {
    guard !force else { return }
    for file in [ModelStore.specFile, ModelStore.weightsFile].flatMap({ [$0, "\($0).age"] }) where FileStatus.exists("\(directory)/\(file)") {
        throw MLSecError(.alreadyExists, "\(directory) already holds a model (\(file)); pass --force to overwrite it, or choose another --out")
    }
}

/// Shortest round-tripping text of a finite float, valid in JSON and CSV.
func formatFloat(_ v: Float) throws -> String {
    guard v.isFinite else { throw MLSecError(.verificationFailed, "the model produced a NaN or infinite output") }
    return "\(v)"
}

struct PredictCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a model over CSV rows and print the raw outputs of its last layer.",
        discussion: """
            Examples:
              mlsec predict --model ./digits-mlp --data digits-test --label-column label
              mlsec predict --model ./digits-mlp --data inputs.csv --format csv
              mlsec predict --model ./digits-mlp --signature digits.sig \\
                  --public-key publisher.pub --data inputs.csv
            """)

    @OptionGroup var input: ModelInput
    @Option(help: "CSV file with a header row, or digits / digits-train / digits-test.") var data: String
    @Option(name: .customLong("label-column"), help: "Column to leave out of the features.") var labelColumn: String?
    @Option(help: "Output: json or csv.") var format: PredictFormat = .json

    func run() async throws {
        let m = try await input.load()
        let dataset = try loadDataset(data, labelColumn: labelColumn)
        let outputs = try Predictor.outputs(m, data: dataset)
        let width = m.outputSize
        var text = ""
        switch format {
        case .json:
            text = "{\"outputs\": ["
            for r in 0..<dataset.count {
                if r > 0 { text += ", " }
                text += "[" + (try outputs[r * width..<(r + 1) * width].map(formatFloat)).joined(separator: ", ") + "]"
            }
            text += "]}"
        case .csv:
            text = (0..<width).map { "\(m.spec.output.name)\($0)" }.joined(separator: ",")
            for r in 0..<dataset.count {
                text += "\n" + (try outputs[r * width..<(r + 1) * width].map(formatFloat)).joined(separator: ",")
            }
        }
        print(text)
    }
}

struct EvaluateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Accuracy (argmax == label) of a model on labelled CSV rows.",
        discussion: "Example:\n  mlsec evaluate --model ./digits-mlp --data digits-test --label-column label")

    @OptionGroup var input: ModelInput
    @Option(help: "CSV file or digits / digits-train / digits-test.") var data: String
    @Option(name: .customLong("label-column"), help: "The label column.") var labelColumn: String

    func run() async throws {
        let m = try await input.load()
        let dataset = try loadDataset(data, labelColumn: labelColumn)
        let result = try Trainer.evaluate(m, on: dataset)
        printJSON(.object([
            ("accuracy", .number(String(format: "%.6f", result.accuracy))), ("n", .int(dataset.count)),
            ("loss", .number(String(format: "%.6f", result.loss))), ("model", .string(m.spec.name)),
        ]))
    }
}

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model with softmax cross-entropy and write a model directory.",
        discussion: """
            Examples:
              mlsec train --data digits-train --label-column label \\
                  --architecture mlp:64-128-10 --epochs 100 --out ./digits-mlp
              mlsec train --data more.csv --label-column label --init ./digits-mlp \\
                  --epochs 5 --out ./digits-mlp-tuned
              mlsec train --data digits-train --label-column label \\
                  --architecture mlp:64-128-10 --epochs 30 --dp --target-epsilon 3 \\
                  --delta 1e-5 --clip-norm 1 --sample-rate 0.0435 --out ./digits-dp
              mlsec train --data digits-train --label-column label \\
                  --architecture mlp:64-128-10 --epochs 100 \\
                  --adversarial pgd --eps 0.1 --out ./digits-robust
            """)

    @Option(help: "CSV file or digits / digits-train / digits-test.") var data: String
    @Option(name: .customLong("label-column"), help: "The label column.") var labelColumn: String
    @Option(help: "mlp:IN-H-...-OUT (e.g. mlp:64-128-10), logreg:IN-OUT, or a model.json file.") var architecture: String?
    @Option(help: "Continue training an existing model directory (fine-tuning).") var `init`: String?
    @Option(help: "Passes over the data.") var epochs: Int
    @Option(name: .customLong("batch-size"), help: "Examples per step (default 32; not with --dp).") var batchSize: Int?
    @Option(help: "sgd or adam (default adam; sgd with --dp).") var optimizer: OptimizerKind?
    @Option(name: .customLong("learning-rate"), help: "Step size (default 0.001 for adam, 0.1 for sgd, 0.25 for sgd with --dp).") var learningRate: Float?
    @Option(help: "SGD momentum, in [0, 1).") var momentum: Float = 0
    @Option(help: "Seed for initialisation and shuffling (with --dp, initialisation only).") var seed: UInt64 = 0
    @Option(help: "Output model directory.") var out: String
    @Flag(help: "Overwrite a model already in --out.") var force = false
    @OptionGroup(title: "Differential privacy") var privacy: PrivateTrainingOptions
    @OptionGroup(title: "Adversarial training") var adversarial: AdversarialTrainingFlags

    func validate() throws {
        if architecture == nil, `init` == nil { throw ValidationError("give --architecture or --init") }
        if epochs < 1 || epochs > 1_000_000 { throw ValidationError("--epochs must be 1...1000000") }
        if let batchSize, batchSize < 1 || batchSize > 1 << 16 { throw ValidationError("--batch-size must be 1...65536") }
        if privacy.dp, batchSize != nil {
            throw ValidationError("--batch-size does not apply with --dp: batches are Poisson-sampled with --sample-rate")
        }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) { throw ValidationError("--learning-rate must be positive") }
        if privacy.dp, adversarial.adversarial != nil { throw ValidationError("--dp and --adversarial cannot be combined yet") }
        if !(momentum >= 0 && momentum < 1) { throw ValidationError("--momentum must be in [0, 1)") }
    }

    /// A named form (`mlp:...`, `logreg:...`) or a model.json file; anything else says which forms there are.
    func architectureSpec(_ text: String) throws -> ModelSpec {
        guard FileStatus.exists(text), !text.hasPrefix("mlp:"), !text.hasPrefix("logreg:") else { return try Architecture.spec(from: text) }
        return try ModelSpec(json: try ReadOnlyFile.readAll(text, maxBytes: 1 << 20, what: "model.json"), context: text)
    }

    func run() async throws {
        try refuseExistingModel(at: out, force: force)
        if let architecture { _ = try architectureSpec(architecture) }  // a bad --architecture fails before the data is read
        let dataset = try loadDataset(data, labelColumn: labelColumn)
        var model: Model
        if let initDirectory = `init` {
            model = try ModelStore.load(directory: initDirectory)
            if let architecture {
                let wanted = try architectureSpec(architecture)
                guard wanted.layers.map(\.layer) == model.spec.layers.map(\.layer),
                      wanted.input.featureShape == model.spec.input.featureShape,
                      wanted.output.featureShape == model.spec.output.featureShape
                else { throw MLSecError.usage("--architecture does not match the model given with --init") }
            }
        } else if let architecture {
            let spec = try architectureSpec(architecture)
            model = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: seed))
        } else {
            throw MLSecError.usage("give --architecture or --init")
        }
        if privacy.dp {
            try privacy.train(&model, on: dataset, epochs: epochs, optimizer: optimizer, learningRate: learningRate,
                              momentum: momentum, out: out)
            return
        }
        let options = TrainingOptions(epochs: epochs, batchSize: batchSize ?? 32, optimizer: optimizer ?? .adam,
                                      learningRate: learningRate, seed: seed, momentum: momentum)
        let progress: (Int, Float, Double) -> Void = { epoch, loss, accuracy in
            if Terminal.stderrIsTerminal {
                Terminal.note(String(format: "epoch %d/%d  loss %.4f  accuracy %.4f", epoch, epochs, loss, accuracy))
            }
        }
        let summary = if let adversarialOptions = try adversarial.options(seed: seed) {
            try AdversarialTraining.train(&model, on: dataset, options: options, adversarial: adversarialOptions, onEpoch: progress)
        } else {
            try Trainer.train(&model, on: dataset, options: options, onEpoch: progress)
        }
        try ModelStore.save(model, to: out)
        printJSON(.object([
            ("out", .string(out)), ("epochs", .int(summary.epochs)), ("examples", .int(dataset.count)),
            ("final_loss", .number(String(format: "%.6f", summary.finalLoss))),
            ("training_accuracy", .number(String(format: "%.6f", summary.trainingAccuracy))),
            ("seconds", .number(String(format: "%.3f", summary.seconds))),
            ("examples_per_second", .number(String(format: "%.1f", summary.examplesPerSecond))),
            ("parameters", .int(model.parameterCount)),
        ]))
    }
}

struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Operations on model directories.",
        discussion: "Example:\n  mlsec model prune --model ./digits-mlp --fraction 0.5 --out ./pruned",
        subcommands: [Prune.self])

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Zero the smallest-magnitude fraction of the weights (biases kept).",
            discussion: "Example:\n  mlsec model prune --model ./digits-mlp --fraction 0.5 --out ./pruned")

        @OptionGroup var input: ModelInput
        @Option(help: "Fraction of weights to zero, 0...1.") var fraction: Double
        @Option(help: "Output model directory.") var out: String
        @Flag(help: "Overwrite a model already in --out.") var force = false

        func run() async throws {
            try refuseExistingModel(at: out, force: force)
            var m = try await input.load()
            let zeroed = try m.prune(fraction: fraction)
            try ModelStore.save(m, to: out)
            printJSON(.object([("out", .string(out)), ("zeroed", .int(zeroed)), ("parameters", .int(m.parameterCount))]))
        }
    }
}
