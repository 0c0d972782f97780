// PrivateTraining: `mlsec train --dp ...`, DP-SGD (MLSecPrivacy) behind the train command's options.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecPrivacy

/// The train command's DP-SGD options (all of them require `--dp`, and `--dp` requires all but the noise multiplier).
struct PrivateTrainingOptions: ParsableArguments {
    @Flag(help: "Train with DP-SGD (Poisson sampling, per-example clipping, Gaussian noise; see docs/privacy.md).")
    var dp = false

    @Option(name: .customLong("target-epsilon"), help: "DP: the epsilon the run may spend at --delta (never exceeded).")
    var targetEpsilon: Double?

    @Option(help: "DP: delta, in (0, 1).")
    var delta: Double?

    @Option(name: .customLong("clip-norm"), help: "DP: per-example gradient L2 clip norm C.")
    var clipNorm: Double?

    @Option(name: .customLong("sample-rate"), help: "DP: probability q that an example joins a batch (Poisson); an epoch is round(1/q) steps.")
    var sampleRate: Double?

    @Option(name: .customLong("noise-multiplier"),
            help: "DP: noise standard deviation over C (default: the smallest that keeps --epochs within --target-epsilon).")
    var noiseMultiplier: Double?

    func validate() throws {
        let dpOnly: [(String, Bool)] = [
            ("--target-epsilon", targetEpsilon != nil), ("--delta", delta != nil), ("--clip-norm", clipNorm != nil),
            ("--sample-rate", sampleRate != nil), ("--noise-multiplier", noiseMultiplier != nil),
        ]
        guard dp else {
            if let given = dpOnly.first(where: \.1) { throw ValidationError("\(given.0) applies only to --dp training") }
            return
        }
        let missing = dpOnly.dropLast().filter { !$0.1 }.map(\.0)
        guard missing.isEmpty else { throw ValidationError("--dp requires \(missing.joined(separator: ", "))") }
        if let targetEpsilon, !(targetEpsilon > 0 && targetEpsilon.isFinite) {
            throw ValidationError("--target-epsilon must be a positive number")
        }
        if let delta, !(delta > 0 && delta < 1) { throw ValidationError("--delta must be in (0, 1)") }
        if let clipNorm, !(clipNorm > 0 && clipNorm.isFinite) { throw ValidationError("--clip-norm must be a positive number") }
        if let sampleRate, !(sampleRate > 0 && sampleRate <= 1) { throw ValidationError("--sample-rate must be in (0, 1]") }
        if let noiseMultiplier, !(noiseMultiplier > 0 && noiseMultiplier.isFinite) {
            throw ValidationError("--noise-multiplier must be a positive number")
        }
    }

    /// The library options for `epochs` (validated: `--dp` and its required options are present).
    func options(epochs: Int, optimizer: OptimizerKind?, learningRate: Float?, momentum: Float) throws -> DPSGDOptions {
        guard let targetEpsilon, let delta, let clipNorm, let sampleRate else {
            throw MLSecError.usage("--dp requires --target-epsilon, --delta, --clip-norm and --sample-rate")
        }
        let options = DPSGDOptions(
            epochs: epochs, sampleRate: sampleRate, clipNorm: clipNorm, targetEpsilon: targetEpsilon, delta: delta,
            noiseMultiplier: noiseMultiplier, optimizer: optimizer ?? .sgd,
            learningRate: learningRate ?? (optimizer == .adam ? 0.001 : DPSGD.defaultLearningRate), momentum: momentum)
        try options.validate()
        return options
    }

    /// Runs DP-SGD on `model`, saves it to `out` and prints the summary.
    func train(_ model: inout Model, on dataset: Dataset, epochs: Int, optimizer: OptimizerKind?, learningRate: Float?,
               momentum: Float, out: String) throws {
        let options = try options(epochs: epochs, optimizer: optimizer, learningRate: learningRate, momentum: momentum)
        let summary = try DPSGD.train(&model, on: dataset, options: options) { epoch, spent in
            if Terminal.stderrIsTerminal {
                Terminal.note(String(format: "epoch %d/%d  epsilon %.4f", epoch, epochs, spent))
            }
        }
        if summary.stoppedEarly {
            Terminal.warning(
                "stopped after \(summary.steps) of \(summary.plannedSteps) steps: one more would spend more than epsilon \(options.targetEpsilon)")
        }
        try ModelStore.save(model, to: out)
        printJSON(.object([
            ("out", .string(out)), ("epochs", .int(epochs)), ("examples", .int(dataset.count)),
            // Loss and accuracy on the training data are not differentially private: not printed.
            ("final_loss", .null), ("training_accuracy", .null),
            ("seconds", .number(String(format: "%.3f", summary.seconds))),
            ("examples_per_second", .number(String(format: "%.1f", summary.examplesPerSecond))),
            ("parameters", .int(model.parameterCount)),
            ("epsilon", .double(summary.epsilon)), ("delta", .double(summary.delta)),
            ("noise_multiplier", .double(summary.noiseMultiplier)), ("steps", .int(summary.steps)),
            ("planned_steps", .int(summary.plannedSteps)), ("stopped_early", .bool(summary.stoppedEarly)),
            ("sample_rate", .double(summary.sampleRate)), ("clip_norm", .double(summary.clipNorm)),
            ("order", .double(summary.order)), ("accountant", .string("rdp")),
        ]))
    }
}
