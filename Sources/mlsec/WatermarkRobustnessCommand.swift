// WatermarkRobustnessCommand: `mlsec watermark robustness`: the standard removal attacks against a watermarked model,
// with the watermark's verdict and the model's accuracy after each.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecWatermark

extension WatermarkCommand {
    struct Robustness: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "robustness",
            abstract: "Run the removal attacks a thief would try and show whether the watermark survives each.",
            discussion: """
                Fine-tuning on half of --data for 10 epochs at learning rates 0.001 and 0.01, magnitude pruning of \
                20, 50 and 80% of the weights, Gaussian weight noise of 0.1 standard deviation per tensor. With \
                --fingerprint instead of --key, the conferrable fingerprint is matched after each attack, and \
                distillation into a fresh model (hard labels on --data, 100 epochs) is added. Accuracy is \
                measured on --test-data (default --data). --format table prints a table; json (default) one object.
                Examples:
                  mlsec watermark robustness --model ./digits-marked \\
                      --key owner.key --data digits-train --label-column label \\
                      --test-data digits-test --format table
                  mlsec watermark robustness --model ./digits-mlp \\
                      --fingerprint digits-mlp.fp.json --data digits-train \\
                      --label-column label --test-data digits-test
                """)

        @OptionGroup var input: ModelInput
        @Option(help: "The watermark key.") var key: String?
        @Option(help: "A fingerprint from `mlsec fingerprint create` (instead of --key).") var fingerprint: String?
        @Option(help: "The thief's data for fine-tuning (CSV or digits / digits-train).") var data: String
        @Option(name: .customLong("label-column"), help: "The label column.") var labelColumn: String
        @Option(name: .customLong("test-data"), help: "Data to measure accuracy on (default --data).") var testData: String?
        @Option(help: "json or table.") var format: PredictFormatTable = .json
        @Option(help: "Seed of the attacks.") var seed: UInt64 = 0

        func validate() throws {
            guard (key == nil) != (fingerprint == nil) else { throw ValidationError("give either --key or --fingerprint") }
        }

        /// One row of the table: the attack, the attacked model's accuracy, and the mark's reading.
        private struct Row {
            var attack: String
            var accuracy: Double
            var rate: Double
            var pValue: Double?
            var threshold: Double
            var claimed: Bool
            var fields: [(String, JSONValue)]
        }

        func run() async throws {
            let model = try await input.load()
            let dataset = try loadDataset(data, labelColumn: labelColumn)
            let test = try testData.map { try loadDataset($0, labelColumn: labelColumn) } ?? dataset
            let judge: (Model) async throws -> Row
            let rateName: String
            let positive: (String, String)
            if let key {
                let watermark = try readWatermarkKey(key)
                if case .weights = watermark.method { rateName = "bit errors" } else { rateName = "trigger match" }
                positive = ("watermarked", "not-watermarked")
                judge = { attacked in
                    let verdict = try await watermark.verify(attacked)
                    return Row(attack: "", accuracy: 0, rate: verdict.rate, pValue: verdict.pValue, threshold: verdict.threshold,
                               claimed: verdict.watermarked, fields: watermarkVerdictJSON(verdict, key: watermark))
                }
            } else {
                let path = fingerprint ?? ""
                let bytes = try ReadOnlyFile.readAll(path, maxBytes: ConferrableFingerprint.maxFileBytes, what: "fingerprint file")
                let fp = try ConferrableFingerprint(bytes: bytes, context: path)
                rateName = "match rate"
                positive = ("copy", "independent")
                judge = { attacked in
                    let result = try await fp.match(oracle: ModelOracle(model: attacked))
                    return Row(attack: "", accuracy: 0, rate: result.matchRate, pValue: nil, threshold: result.threshold,
                               claimed: result.verdict == "copy",
                               fields: [("match_rate", decimal(result.matchRate)), ("threshold", decimal(result.threshold)),
                                        ("verdict", .string(result.verdict))])
                }
            }
            var rows: [Row] = []
            let attacks: [RemovalAttack?] = [nil] + RemovalAttack.standard(includeDistillation: fingerprint != nil)
            for attack in attacks {
                let attacked = try attack.map { try $0.apply(to: model, data: dataset, seed: seed) } ?? model
                var row = try await judge(attacked)
                row.attack = attack?.name ?? "none"
                row.accuracy = try Trainer.evaluate(attacked, on: test).accuracy
                rows.append(row)
            }
            switch format {
            case .json:
                printJSON(.object([("rows", .array(rows.map { row in
                    .object([("attack", .string(row.attack)), ("accuracy", decimal(row.accuracy))] + row.fields)
                }))]))
            case .table:
                print("attack                                 accuracy  \(rateName.padding(toLength: 13, withPad: " ", startingAt: 0)) "
                    + "p-value     verdict")
                for row in rows {
                    let p = row.pValue.map { String(format: "%-11.3g ", $0) } ?? "-           "
                    print(row.attack.padding(toLength: 38, withPad: " ", startingAt: 0) + " "
                        + String(format: "%8.4f  %13.4f ", row.accuracy, row.rate) + p + (row.claimed ? positive.0 : positive.1))
                }
            }
        }
    }
}

enum PredictFormatTable: String, ExpressibleByArgument, CaseIterable { case json, table }
