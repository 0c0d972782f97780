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
                20, 50 and 80% of the weights, Gaussian weight noise of 0.1 standard deviation per tensor. Accuracy \
                is measured on --test-data (default --data). --format table prints a table; json (default) one object.
                Example:
                  mlsec watermark robustness --model ./digits-marked \\
                      --key owner.key --data digits-train --label-column label \\
                      --test-data digits-test --format table
                """)

        @OptionGroup var input: ModelInput
        @Option(help: "The watermark key.") var key: String
        @Option(help: "The thief's data for fine-tuning (CSV or digits / digits-train).") var data: String
        @Option(name: .customLong("label-column"), help: "The label column.") var labelColumn: String
        @Option(name: .customLong("test-data"), help: "Data to measure accuracy on (default --data).") var testData: String?
        @Option(help: "json or table.") var format: PredictFormatTable = .json
        @Option(help: "Seed of the attacks.") var seed: UInt64 = 0

        func run() async throws {
            let watermark = try readWatermarkKey(key)
            let model = try await input.load()
            let dataset = try loadDataset(data, labelColumn: labelColumn)
            let test = try testData.map { try loadDataset($0, labelColumn: labelColumn) } ?? dataset
            var rows: [(String, Double, WatermarkKey.Verdict)] = [("none", try Trainer.evaluate(model, on: test).accuracy, try await watermark.verify(model))]
            for attack in RemovalAttack.standard(includeDistillation: false) {
                let attacked = try attack.apply(to: model, data: dataset, seed: seed)
                rows.append((attack.name, try Trainer.evaluate(attacked, on: test).accuracy, try await watermark.verify(attacked)))
            }
            switch format {
            case .json:
                printJSON(.object([("rows", .array(rows.map { name, accuracy, verdict in
                    .object([("attack", .string(name)), ("accuracy", decimal(accuracy))] + watermarkVerdictJSON(verdict, key: watermark))
                }))]))
            case .table:
                let rateName: String
                if case .weights = watermark.method { rateName = "bit errors" } else { rateName = "trigger match" }
                print("attack                                 accuracy  \(rateName.padding(toLength: 13, withPad: " ", startingAt: 0)) p-value     verdict")
                for (name, accuracy, verdict) in rows {
                    print(name.padding(toLength: 38, withPad: " ", startingAt: 0) + " "
                        + String(format: "%8.4f  %13.4f %-11.3g ", accuracy, verdict.rate, verdict.pValue)
                        + (verdict.watermarked ? "watermarked" : "not-watermarked"))
                }
            }
        }
    }
}

enum PredictFormatTable: String, ExpressibleByArgument, CaseIterable { case json, table }
