// PrivacyCalibrateCommand: `mlsec privacy calibrate`, the noise multiplier that keeps a run within a target ε.

import ArgumentParser
import MLSecCore
import MLSecPrivacy

struct PrivacyCalibrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Print the smallest noise multiplier whose epsilon at DELTA stays within --target-epsilon.",
        discussion: """
            Prints {"noise_multiplier": s, "epsilon": e} with e <= the target (Brent's method, then s is nudged \
            up until the accountant proves e <= target).

            Examples:
              mlsec privacy calibrate --target-epsilon 3 --sample-rate 0.01 \\
                  --steps 10000 --delta 1e-5
              mlsec privacy calibrate --target-epsilon 3 --sample-rate 0.01 \\
                  --steps 10000 --delta 1e-5 --accountant pld
            """
    )

    @Option(name: .customLong("target-epsilon"), help: "The epsilon not to exceed, > 0.")
    var targetEpsilon: Double

    @OptionGroup var run: PrivacyRunOptions

    func validate() throws {
        guard targetEpsilon > 0, targetEpsilon.isFinite else {
            throw ValidationError("--target-epsilon must be a positive number")
        }
    }

    func run() async throws {
        let result: NoiseCalibration.Result
        switch run.accountant {
        case .rdp:
            result = try NoiseCalibration.rdp(targetEpsilon: targetEpsilon, delta: run.delta,
                                              sampleRate: run.sampleRate, steps: run.steps,
                                              fractionalOrders: run.fractionalOrders)
        case .pld:
            result = try NoiseCalibration.pld(targetEpsilon: targetEpsilon, delta: run.delta,
                                              sampleRate: run.sampleRate, steps: run.steps)
        }
        printJSON(.object([("noise_multiplier", .double(result.noiseMultiplier)), ("epsilon", .double(result.epsilon))]))
    }
}
