// WatermarkCommand: `mlsec watermark embed|verify|robustness`: prove that a model found elsewhere is yours.

import ArgumentParser
import Crypto
import Foundation
import MLSecCore
import MLSecEngine
import MLSecWatermark

enum WatermarkMethodName: String, ExpressibleByArgument, CaseIterable { case weights, triggers }

/// Reads a watermark key file.
func readWatermarkKey(_ path: String) throws -> WatermarkKey {
    try WatermarkKey(bytes: try ReadOnlyFile.readAll(path, maxBytes: WatermarkKey.maxFileBytes, what: "watermark key"), context: path)
}

/// The verdict's JSON: the rate under its method's name, the p-value, the threshold and the verdict.
func watermarkVerdictJSON(_ verdict: WatermarkKey.Verdict, key: WatermarkKey) -> [(String, JSONValue)] {
    let rateName: String
    if case .weights = key.method { rateName = "bit_error_rate" } else { rateName = "match_rate" }
    return [
        (rateName, decimal(verdict.rate)), ("p_value", .number(String(format: "%.6g", verdict.pValue))),
        ("threshold", decimal(verdict.threshold)), ("verdict", .string(verdict.watermarked ? "watermarked" : "not-watermarked")),
    ]
}

struct WatermarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watermark", abstract: "Embed a watermark in a model, and verify it in a suspect model.",
        discussion: """
            Examples:
              mlsec watermark embed --model ./digits-mlp --data digits-train \\
                  --label-column label --bits 64 --key-out owner.key \\
                  --out ./digits-marked
              mlsec watermark verify --model ./suspect --key owner.key
              mlsec watermark robustness --model ./digits-marked --key owner.key \\
                  --data digits-train --label-column label
            """,
        subcommands: [Embed.self, Verify.self, Robustness.self])

    struct Embed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "embed",
            abstract: "Fine-tune a model with a secret watermark; write the key (mode 0600) and the watermarked model.",
            discussion: """
                --method weights (default; Uchida et al.) embeds --bits bits in the weights of --layer (default: the \
                largest weight matrix) through a regularizer with a secret Gaussian projection; verify reads the \
                weights. --method triggers (Adi et al.) teaches the model --triggers secret noise inputs with random \
                labels; verify only asks for predictions, also from a live endpoint. Either way the key's decision \
                rule is calibrated on independently trained models (--reference-models, or --calibration-models \
                trained here): a claim needs a p-value at most --false-claim-probability. --seed makes the key \
                reproducible (tests); without it the key comes from the system's CSPRNG. Keep the key secret, and \
                record its digest (printed as key_digest) in your audit log at once: that entry is your proof of \
                priority.
                Example:
                  mlsec watermark embed --model ./digits-mlp --data digits-train \\
                      --label-column label --bits 64 --key-out owner.key \\
                      --out ./digits-marked
                """)

        @OptionGroup var input: ModelInput
        @Option(help: "Training data (CSV or digits / digits-train).") var data: String
        @Option(name: .customLong("label-column"), help: "The label column.") var labelColumn: String
        @Option(help: "weights or triggers.") var method: WatermarkMethodName = .weights
        @Option(help: "Bits to embed (weights).") var bits = 64
        @Option(help: "Weight matrix to hold the bits (weights).") var layer: String?
        @Option(help: "Regularizer strength lambda (weights).") var strength: Float = 0.01
        @Option(help: "Trigger inputs (triggers).") var triggers = 100
        @Option(name: .customLong("trigger-repeats"), help: "Copies of the trigger set mixed into each epoch (triggers).") var triggerRepeats = 2
        @Option(help: "Fine-tuning epochs (default 10 for weights, 50 for triggers).") var epochs: Int?
        @Option(name: .customLong("learning-rate"), help: "Adam learning rate.") var learningRate: Float = 0.001
        @Option(help: "Seed of the key and the fine-tuning (default: random).") var seed: UInt64?
        @Option(name: .customLong("reference-models"), parsing: .upToNextOption, help: "Independently trained models to calibrate on.")
        var referenceModels: [String] = []
        @Option(name: .customLong("calibration-models"), help: "Without --reference-models: independent models to train.") var calibrationModels = 4
        @Option(name: .customLong("calibration-epochs"), help: "Epochs of each of those.") var calibrationEpochs = 30
        @Option(name: .customLong("false-claim-probability"), help: "Largest p-value of a claim.") var falseClaimProbability = 1e-6
        @Option(name: .customLong("key-out"), help: "Where to write the secret key (JSON, mode 0600).") var keyOut: String
        @Option(help: "Output model directory.") var out: String
        @Flag(help: "Overwrite --out and --key-out.") var force = false

        func run() async throws {
            try refuseExistingModel(at: out, force: force)
            if !force, FileStatus.exists(keyOut) { throw MLSecError(.alreadyExists, "\(keyOut) exists; pass --force to overwrite it") }
            var model = try await input.load()
            let dataset = try loadDataset(data, labelColumn: labelColumn)
            let references = try referenceModels.map { try ModelStore.load(directory: $0) }
            let before = try Trainer.evaluate(model, on: dataset).accuracy
            let kind: EmbeddingSettings.Kind = method == .weights
                ? .weights(bits: bits, layer: layer, strength: strength) : .triggers(count: triggers, repeats: triggerRepeats)
            var random = SystemRandomNumberGenerator()
            let settings = EmbeddingSettings(kind: kind, seed: seed ?? random.next(), epochs: epochs ?? (method == .weights ? 10 : 50), learningRate: learningRate,
                                             referenceModels: references, calibrationModels: calibrationModels,
                                             calibrationEpochs: calibrationEpochs, falseClaimProbability: falseClaimProbability)
            let key = try await WatermarkEmbedding.embed(into: &model, data: dataset, settings: settings, createdAt: RFC3339.now())
            let keyBytes = Array((JSONWriter.string(key.json, options: .init(pretty: true)) + "\n").utf8)
            try AtomicFile.write(keyBytes, to: keyOut, mode: 0o600, overwrite: true)
            try ModelStore.save(model, to: out)
            let check = try await key.verify(model)
            printJSON(.object([
                ("out", .string(out)), ("key", .string(keyOut)), ("key_digest", .string("sha256:" + Hex.encode(SHA256.hash(data: keyBytes)))),
                ("method", .string(method.rawValue)), ("size", .int(key.size)),
                ("accuracy_before", decimal(before)), ("accuracy_after", decimal(try Trainer.evaluate(model, on: dataset).accuracy)),
                ("chance_rate", decimal(key.chanceRate)), ("calibration_rates", .array(key.calibrationRates.map(decimal))),
            ] + watermarkVerdictJSON(check, key: key)))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check a suspect model for a watermark: exit 0 watermarked, 1 not, 2 when it cannot judge.",
            discussion: """
                Prints bit_error_rate (weights) or match_rate (triggers), p_value (the probability that a model \
                trained independently, at the chance rate measured when the key was made, does as well), threshold \
                and verdict. A trigger key also verifies through a live KServe V2 endpoint (--target, --api-key).
                Examples:
                  mlsec watermark verify --model ./suspect --key owner.key
                  mlsec watermark verify --key owner-triggers.key --model ./digits-marked \\
                      --target https://api.example.com/v2/models/digits --api-key "$KEY"
                """)

        @OptionGroup var input: ModelInput
        @Option(help: "The watermark key from `mlsec watermark embed`.") var key: String
        @Option(help: "A trigger key: verify through this KServe V2 endpoint (base URL or .../v2/models/NAME).") var target: String?
        @Option(name: .customLong("api-key"), help: "API key for --target.") var apiKey: String?
        @Option(name: .customLong("ca-certificate"), help: "PEM CA certificate for --target's TLS.") var caCertificate: String?

        func run() async throws {
            let watermark = try readWatermarkKey(key)
            let model = try await input.load()
            let verdict: WatermarkKey.Verdict
            if let target {
                guard let apiKey else { throw MLSecError.usage("--target needs --api-key") }
                let oracle = try V2LabelOracle(target: target, apiKey: apiKey, spec: model.spec, batchSize: 64, caCertificate: caCertificate)
                do {
                    verdict = try await watermark.verify(oracle)
                    await oracle.shutdown()
                } catch {
                    await oracle.shutdown()
                    throw error
                }
            } else {
                verdict = try await watermark.verify(model)
            }
            printJSON(.object(watermarkVerdictJSON(verdict, key: watermark)))
            if !verdict.watermarked { throw ExitCode(1) }
        }
    }
}
