// FingerprintCommand: `mlsec fingerprint create|match|compare`: the conferrable-example fingerprint of a model (made
// once, matched against a local model or a live KServe V2 endpoint) and the white-box weight-space comparison.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecWatermark

struct FingerprintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fingerprint",
        abstract: "Fingerprint a model and tell its copies from independently trained models.",
        discussion: """
            Exit codes of match and compare: 0 the suspect is a copy, 1 it is independent, 2 an error.
            Examples:
              mlsec fingerprint create --model ./digits-mlp --data digits-train \\
                  --label-column label --out digits-mlp.fp.json \\
                  --reference-models ./ref1 ./ref2 ./ref3 ./ref4
              mlsec fingerprint match --fingerprint digits-mlp.fp.json \\
                  --model ./suspect
              mlsec fingerprint match --fingerprint digits-mlp.fp.json \\
                  --target http://127.0.0.1:8000 --api-key "$KEY"
              mlsec fingerprint compare --model ./digits-mlp --suspect ./suspect \\
                  --reference-models ./ref1 ./ref2
            """,
        subcommands: [Create.self, Match.self, Compare.self])

    /// Loads plain model directories given by path (references, suspects).
    static func loadModels(_ directories: [String]) throws -> [(name: String, model: Model)] {
        try directories.map { (name: $0, model: try ModelStore.load(directory: $0)) }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Make a conferrable-example fingerprint of a model (written with mode 0600).",
            discussion: """
                Makes surrogate copies of the model (fine-tuning half the data at learning rates 0.001 and 0.01, \
                magnitude pruning, hard-label distillation on noisy queries), perturbs data rows so that the model \
                and its copies give one new label while the reference models (trained independently, for the same \
                task) give another, and keeps the --count most conferrable. The threshold is set midway between the \
                match rates of the weight-derived copies (fine-tuned, pruned, noised) and the references that took \
                no part in the optimisation: give four or more references so that every fourth can be held out. \
                Distilled copies are recorded too; they match above independent models on average, but not reliably \
                above the threshold. The file records the inputs, the model's labels, the threshold and both \
                calibration distributions, and the digest of the model's weights.
                Example:
                  mlsec fingerprint create --model ./digits-mlp --data digits-train \\
                      --label-column label --out digits-mlp.fp.json \\
                      --reference-models ./ref1 ./ref2 ./ref3 ./ref4
                """)

        @OptionGroup var input: ModelInput
        @Option(help: "CSV rows the fingerprint starts from (or digits / digits-train / digits-test).") var data: String
        @Option(name: .customLong("label-column"), help: "A label column to leave out of the features (used to fine-tune the copies).")
        var labelColumn: String?
        @Option(name: .customLong("reference-models"), parsing: .upToNextOption,
                help: "Directories of models trained independently for the same task (four or more recommended).")
        var referenceModels: [String]
        @Option(help: "Where to write the fingerprint (JSON).") var out: String
        @Option(help: "Fingerprint inputs kept.") var count = 100
        @Option(help: "Data rows optimised into candidates (at least --count).") var candidates = 1000
        @Option(help: "L-inf perturbation budget as a fraction of the input range.") var epsilon: Float = 0.25
        @Option(help: "Seed of the copies, the rows chosen and the target labels.") var seed: UInt64 = 0
        @Flag(help: "Overwrite --out.") var force = false

        func validate() throws {
            guard !referenceModels.isEmpty else { throw ValidationError("give --reference-models: one or more independently trained models") }
            guard (1...Fingerprinting.maxInputs).contains(count) else { throw ValidationError("--count must be 1...\(Fingerprinting.maxInputs)") }
            guard candidates >= count, candidates <= 100_000 else { throw ValidationError("--candidates must be --count...100000") }
            guard epsilon > 0, epsilon <= 1 else { throw ValidationError("--epsilon must be in (0, 1]") }
        }

        func run() async throws {
            if !force, FileStatus.exists(out) { throw MLSecError(.alreadyExists, "\(out) exists; pass --force to overwrite it") }
            let start = ContinuousClock.now
            let model = try await input.load()
            let dataset = try loadDataset(data, labelColumn: labelColumn)
            guard dataset.featureCount == model.inputSize else {
                throw MLSecError.malformed("\(data) has \(dataset.featureCount) feature columns, the model takes \(model.inputSize)")
            }
            let references = try FingerprintCommand.loadModels(referenceModels)
            var options = ConferrableFingerprint.Options()
            options.count = count
            options.candidates = candidates
            options.epsilon = epsilon
            options.seed = seed
            let fingerprint = try ConferrableFingerprint.create(model: model, data: dataset, references: references, options: options) {
                Terminal.note($0)
            }
            try AtomicFile.write(fingerprint.fileBytes, to: out, mode: 0o600, overwrite: true)
            let calibration = fingerprint.calibration
            if !calibration.referencesHeldOut {
                Terminal.warning("fewer than four references: the threshold is calibrated on the references the inputs were optimised "
                    + "against, whose match rates are optimistic; give four or more")
            }
            if !calibration.separated {
                Terminal.warning("the held-out fine-tuned/pruned copies and references overlap: this fingerprint does not separate them (see calibration)")
            }
            func rates(_ list: [ConferrableFingerprint.Rate]) -> JSONValue {
                .array(list.map { .object([("name", .string($0.name)), ("match_rate", decimal($0.matchRate)), ("distilled", .bool($0.distilled))]) })
            }
            let seconds = Double((ContinuousClock.now - start) / .milliseconds(1)) / 1000
            printJSON(.object([
                ("out", .string(out)), ("n", .int(fingerprint.count)), ("threshold", decimal(fingerprint.threshold)),
                ("separated", .bool(calibration.separated)), ("references_held_out", .bool(calibration.referencesHeldOut)),
                ("calibration_copies", rates(calibration.copies)), ("calibration_references", rates(calibration.references)),
                ("mean_conferrability", decimal(calibration.meanConferrability)), ("candidates", .int(calibration.candidates)),
                ("model_digest", .string(fingerprint.modelDigest)), ("seconds", .number(String(format: "%.1f", seconds))),
            ]))
        }
    }

    struct Match: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "match",
            abstract: "Match a suspect model, local or behind a KServe V2 endpoint, against a fingerprint.",
            discussion: """
                Asks the suspect for its labels of the fingerprint's inputs and prints match_rate, threshold, \
                verdict (copy or independent), matches and n. Exit 0 for copy, 1 for independent, 2 on errors.
                Examples:
                  mlsec fingerprint match --fingerprint digits-mlp.fp.json \\
                      --model ./suspect
                  mlsec fingerprint match --fingerprint digits-mlp.fp.json \\
                      --target https://models.example.com --api-key "$KEY" \\
                      --ca-certificate ca.pem
                """)

        @Option(help: "The fingerprint file from `mlsec fingerprint create`.") var fingerprint: String
        @Option(help: "A suspect model directory.") var model: String?
        @Option(help: "A suspect KServe V2 endpoint: base URL (the fingerprint's model name is used) or .../v2/models/NAME.")
        var target: String?
        @Option(name: .customLong("api-key"), help: "API key for --target (sent as Authorization: Bearer).") var apiKey: String?
        @Option(name: .customLong("ca-certificate"), help: "PEM CA certificate that --target's TLS certificate must chain to.")
        var caCertificate: String?
        @Option(name: .customLong("batch-size"), help: "Most rows per request to --target (default 64).") var batchSize = 64

        func validate() throws {
            guard (model == nil) != (target == nil) else { throw ValidationError("give either --model or --target") }
            if (target == nil) != (apiKey == nil) { throw ValidationError("--target and --api-key go together") }
            if caCertificate != nil, target == nil { throw ValidationError("--ca-certificate goes with --target") }
            if !(1...4096).contains(batchSize) { throw ValidationError("--batch-size must be 1...4096") }
        }

        func run() async throws {
            let bytes = try ReadOnlyFile.readAll(fingerprint, maxBytes: ConferrableFingerprint.maxFileBytes, what: "fingerprint file")
            let fp = try ConferrableFingerprint(bytes: bytes, context: fingerprint)
            let result: ConferrableFingerprint.Match
            var identical: Bool?
            if let model {
                let suspect = try ModelStore.load(directory: model)
                identical = suspect.parameterDigest == fp.modelDigest
                result = try await fp.match(oracle: ModelOracle(model: suspect))
            } else if let target, let apiKey {
                let spec = ModelSpec(name: fp.modelName, input: TensorSpec(name: fp.inputName, shape: [-1] + fp.inputShape),
                                     output: TensorSpec(name: "output", shape: [-1, fp.classCount]), layers: [])
                let oracle = try V2LabelOracle(target: target, apiKey: apiKey, spec: spec, batchSize: batchSize, caCertificate: caCertificate)
                do {
                    result = try await fp.match(oracle: oracle)
                    await oracle.shutdown()
                } catch let error as MLSecError {
                    await oracle.shutdown()
                    // An endpoint that refuses is an error (exit 2), not a verdict.
                    throw error.code == .verificationFailed ? MLSecError.io(error.message) : error
                } catch {
                    await oracle.shutdown()
                    throw MLSecError.io("\(target): \(error)")
                }
            } else {
                throw MLSecError.usage("give either --model or --target")
            }
            var fields: [(String, JSONValue)] = [
                ("match_rate", decimal(result.matchRate)), ("threshold", decimal(result.threshold)),
                ("verdict", .string(result.verdict)), ("matches", .int(result.matches)), ("n", .int(result.n)),
            ]
            if let identical { fields.append(("identical_weights", .bool(identical))) }
            printJSON(.object(fields))
            if !result.isCopy { throw ExitCode(1) }
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare",
            abstract: "Compare two models' weights, whatever the order of their hidden units (white-box).",
            discussion: """
                Matches the hidden units of the two models layer by layer on their incoming weights (Hungarian \
                algorithm on cosine similarity) and prints similarity (1 for the same weights in any unit order), \
                threshold and verdict. With --reference-models (independently trained, same architecture) the \
                threshold is midway between the most similar reference and 1; without, \
                \(WeightFingerprint.defaultThreshold). Fine-tuned and pruned copies keep their weights; a distilled \
                copy does not, and only the conferrable fingerprint (`match`) can claim it. \
                Exit 0 for copy, 1 for independent, 2 on errors.
                Example:
                  mlsec fingerprint compare --model ./digits-mlp --suspect ./suspect \\
                      --reference-models ./ref1 ./ref2

                """)

        @Option(help: "Your model directory.") var model: String
        @Option(help: "The suspect model directory (same architecture).") var suspect: String
        @Option(name: .customLong("reference-models"), parsing: .upToNextOption,
                help: "Independently trained models of the same architecture that calibrate the threshold.")
        var referenceModels: [String] = []

        func run() async throws {
            let mine = try ModelStore.load(directory: model)
            let other = try ModelStore.load(directory: suspect)
            let comparison = try WeightFingerprint.compare(mine, other)
            let references = try FingerprintCommand.loadModels(referenceModels).map {
                (name: $0.name, similarity: try WeightFingerprint.compare(mine, $0.model).similarity)
            }
            let threshold = WeightFingerprint.threshold(referenceSimilarities: references.map(\.similarity))
            let copy = comparison.similarity >= threshold
            printJSON(.object([
                ("similarity", decimal(comparison.similarity)), ("threshold", decimal(threshold)),
                ("verdict", .string(copy ? "copy" : "independent")), ("layers", .array(comparison.layers.map(decimal))),
                ("threshold_source", .string(references.isEmpty ? "default" : "references")),
                ("references", .array(references.map { .object([("name", .string($0.name)), ("similarity", decimal($0.similarity))]) })),
            ]))
            if !copy { throw ExitCode(1) }
        }
    }
}
