// AttackCommand: `mlsec attack`: FGSM, PGD, Carlini-Wagner L2 or HopSkipJump over labelled rows, locally or
// (HopSkipJump) against a live KServe V2 endpoint; prints accuracy before and after and the perturbation sizes.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecRobustness
import Synchronization

enum AttackKind: String, ExpressibleByArgument, CaseIterable {
    case fgsm, pgd, cw, hopskipjump
}

struct AttackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attack",
        abstract: "Attack a model with adversarial examples and report its accuracy under attack.",
        discussion: """
            fgsm and pgd are white-box (the model's gradients; L-inf or L2, clipped to the model's declared \
            input range); cw (Carlini-Wagner L2) and hopskipjump (label-only) look for the smallest perturbation \
            and count an example as broken when it is within --eps. hopskipjump also runs against a live KServe \
            V2 endpoint with --target and --api-key, within --max-queries predictions per example, waiting out \
            429 answers. Prints clean_accuracy, adversarial_accuracy, mean_perturbation_linf, mean_perturbation_l2, \
            examples_per_second and queries.
            Examples:
              mlsec attack --model ./digits-mlp --data digits-test \\
                  --label-column label --attack pgd --norm inf --eps 0.1
              mlsec attack --model ./digits-mlp --data digits-test \\
                  --label-column label --attack fgsm --norm 2 --eps 0.5 \\
                  --out adversarial.csv
              mlsec attack --model ./digits-mlp --data digits-test \\
                  --label-column label --attack hopskipjump --norm 2 --eps 1 \\
                  --max-queries 2000 --target http://127.0.0.1:8000 \\
                  --api-key "$KEY"
            """)

    @OptionGroup var input: ModelInput
    @Option(help: "CSV file with a header row, or digits / digits-train / digits-test.") var data: String
    @Option(name: .customLong("label-column"), help: "The label column.") var labelColumn: String
    @Option(help: "fgsm, pgd, cw or hopskipjump.") var attack: AttackKind
    @Option(help: "Norm of the budget: inf or 2 (cw: 2).") var norm: Norm
    @Option(help: "Perturbation budget in that norm.") var eps: Float
    @Option(help: "PGD iterations (default 40) or CW optimisation steps (default 100); HopSkipJump iterations (default 50).") var steps: Int?
    @Option(name: .customLong("step-size"), help: "PGD step size (default 2.5 * eps / steps).") var stepSize: Float?
    @Flag(name: .customLong("random-start"), help: "PGD: start from a random point in the eps ball.") var randomStart = false
    @Option(help: "Seed of random starts and HopSkipJump's draws.") var seed: UInt64 = 0
    @Option(name: .customLong("max-queries"), help: "HopSkipJump: most predictions per example (default 10000).") var maxQueries: Int?
    @Option(help: "HopSkipJump against a live KServe V2 endpoint: base URL or .../v2/models/NAME.") var target: String?
    @Option(name: .customLong("api-key"), help: "API key for --target (sent as Authorization: Bearer).") var apiKey: String?
    @Option(name: .customLong("ca-certificate"), help: "PEM CA certificate that --target's TLS certificate must chain to.") var caCertificate: String?
    @Option(name: .customLong("batch-size"), help: "HopSkipJump with --target: most rows per request (default 64, the gateway's max_batch).") var batchSize: Int = 64
    @Option(help: "Write the attacked rows (with the label column) to this CSV file.") var out: String?

    func validate() throws {
        guard eps.isFinite, eps >= 0 else { throw ValidationError("--eps must be a finite number >= 0") }
        if attack == .cw, norm != .l2 { throw ValidationError("cw is the Carlini-Wagner L2 attack: use --norm 2") }
        if target != nil, attack != .hopskipjump {
            throw ValidationError("--target is for the black-box attack (hopskipjump); \(attack.rawValue) needs the model's gradients")
        }
        if (target == nil) != (apiKey == nil) { throw ValidationError("--target and --api-key go together") }
        if let steps, !(1...100_000).contains(steps) { throw ValidationError("--steps must be 1...100000") }
        if let stepSize, !(stepSize > 0 && stepSize.isFinite) { throw ValidationError("--step-size must be positive") }
        if let maxQueries, !(1...100_000_000).contains(maxQueries) { throw ValidationError("--max-queries must be 1...100000000") }
        if stepSize != nil || randomStart, attack != .pgd { throw ValidationError("--step-size and --random-start are PGD options") }
        if maxQueries != nil, attack != .hopskipjump { throw ValidationError("--max-queries is a hopskipjump option") }
        if !(1...4096).contains(batchSize) { throw ValidationError("--batch-size must be 1...4096") }
    }

    func evasionAttack() throws -> EvasionAttack {
        switch attack {
        case .fgsm: return .gradient(try .fgsm(norm: norm, epsilon: eps))
        case .pgd:
            return .gradient(try .pgd(norm: norm, epsilon: eps, steps: steps ?? 40, stepSize: stepSize, randomStart: randomStart, seed: seed))
        case .cw: return .carliniWagner(try CarliniWagnerL2(steps: steps ?? 100), epsilon: eps)
        case .hopskipjump:
            let cores = ProcessInfo.processInfo.activeProcessorCount
            return .hopSkipJump(try HopSkipJump(norm: norm, maxIterations: steps ?? 50, maxQueries: maxQueries ?? 10_000, seed: seed),
                                epsilon: eps, concurrency: target == nil ? max(1, cores) : 4)
        }
    }

    func run() async throws {
        let model = try await input.load()
        let data = try LabelledRows(data: self.data, labelColumn: labelColumn, model: model)
        var oracle: V2LabelOracle?
        if let target, let apiKey {
            oracle = try V2LabelOracle(target: target, apiKey: apiKey, spec: model.spec, batchSize: batchSize, caCertificate: caCertificate)
        }
        let outcome: EvasionAttack.Outcome
        do {
            outcome = try await evasionAttack().run(model: model, oracle: oracle, rows: data.rows, labels: data.labels)
            await oracle?.shutdown()
        } catch {
            await oracle?.shutdown()
            throw error
        }
        if let out { try data.writeCSV(outcome.adversarial, labelColumn: labelColumn, to: out) }
        if let oracle, oracle.throttled.load(ordering: .relaxed) > 0 {
            Terminal.note("the endpoint answered 429 or 503 \(oracle.throttled.load(ordering: .relaxed)) times; each was waited out")
        }
        var fields: [(String, JSONValue)] = [
            ("clean_accuracy", decimal(outcome.cleanAccuracy)), ("adversarial_accuracy", decimal(outcome.adversarialAccuracy)),
            ("mean_perturbation_linf", decimal(outcome.meanPerturbationLinf)),
            ("mean_perturbation_l2", decimal(outcome.meanPerturbationL2)),
            ("examples_per_second", .number(String(format: "%.1f", outcome.seconds > 0 ? Double(data.count) / outcome.seconds : 0))),
            ("queries", .int(outcome.queries)),
            ("attack", .string(attack.rawValue)), ("norm", .string(norm.rawValue)), ("eps", .number("\(eps)")), ("n", .int(data.count)),
        ]
        if let oracle { fields.append(("throttled", .int(oracle.throttled.load(ordering: .relaxed)))) }
        printJSON(.object(fields))
    }
}
