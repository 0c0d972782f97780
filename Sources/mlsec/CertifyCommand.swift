// CertifyCommand: `mlsec certify`: randomized smoothing certificates (Cohen et al. 2019) over labelled rows.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecEngine
import MLSecRobustness

struct CertifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certify",
        abstract: "Certify L2 robustness by randomized smoothing: certified accuracy at each radius.",
        discussion: """
            For each row: the top class of the model under Gaussian noise of --sigma from 100 samples, its \
            probability bounded below (Clopper-Pearson, level 1 - alpha) from --samples fresh samples; abstain \
            when the bound is under 1/2, else certify radius sigma * PhiInverse(bound). Certified accuracy at r is \
            the fraction of rows certified with the right class and a radius of at least r. Noise comes from a \
            generator seeded with --seed, so runs repeat exactly.
            Example:
              mlsec certify --model ./digits-mlp --data digits-test \\
                  --label-column label --sigma 0.25 --samples 1000
            """)

    @OptionGroup var input: ModelInput
    @Option(help: "CSV file with a header row, or digits / digits-train / digits-test.") var data: String
    @Option(name: .customLong("label-column"), help: "The label column.") var labelColumn: String
    @Option(help: "Standard deviation of the Gaussian noise.") var sigma: Float
    @Option(help: "Noisy samples per row that estimate the top class's probability.") var samples: Int
    @Option(help: "The certificate holds with probability 1 - alpha.") var alpha: Double = 0.001
    @Option(name: .customLong("selection-samples"), help: "Noisy samples per row that select the top class.") var selectionSamples = 100
    @Option(help: "Seed of the noise.") var seed: UInt64 = 0

    func run() async throws {
        let smoothing = try RandomizedSmoothing(sigma: sigma, samples: samples, selectionSamples: selectionSamples, alpha: alpha, seed: seed)
        let model = try await input.load()
        let data = try LabelledRows(data: self.data, labelColumn: labelColumn, model: model)
        let start = ContinuousClock.now
        let certificates = try smoothing.certify(model, rows: data.rows, count: data.count)
        let seconds = Double((ContinuousClock.now - start) / .microseconds(1)) / 1e6
        let radii = RandomizedSmoothing.reportedRadii
        let accuracy = RandomizedSmoothing.certifiedAccuracy(certificates, labels: data.labels, radii: radii)
        let abstained = Double(certificates.filter { $0.prediction == nil }.count) / Double(data.count)
        let certified = certificates.filter { $0.prediction != nil }
        let meanRadius = certified.isEmpty ? 0 : certified.reduce(0) { $0 + $1.radius } / Double(certified.count)
        printJSON(.object([
            ("certified_accuracy", .object(zip(radii, accuracy).map { (radiusKey($0), decimal($1)) })),
            ("abstain_rate", decimal(abstained)),
            ("mean_radius", decimal(meanRadius)),
            ("sigma", .number("\(sigma)")), ("samples", .int(samples)), ("alpha", .number("\(alpha)")), ("n", .int(data.count)),
            ("examples_per_second", .number(String(format: "%.1f", seconds > 0 ? Double(data.count) / seconds : 0))),
        ]))
    }
}

/// "0.0", "0.25", "0.5", "1.0": a radius as a JSON key.
func radiusKey(_ r: Double) -> String {
    var text = String(format: "%.2f", r)
    while text.hasSuffix("0"), !text.hasSuffix(".0") { text.removeLast() }
    return text
}
