// PrivacyCommand: `mlsec privacy`, the differential-privacy command group, and the options its accounting
// subcommands share. Each subcommand lives in its own file.

import ArgumentParser
import MLSecCore
import MLSecPrivacy

struct PrivacyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacy",
        abstract: "Differential privacy: account for DP-SGD runs, calibrate noise, release statistics from a budget.",
        discussion: """
            Conventions: add-or-remove-one neighbouring; the noise multiplier is the noise standard deviation \
            divided by the L2 sensitivity (the clip norm); every record joins a batch with probability \
            --sample-rate (Poisson sampling). See docs/privacy.md.

            Examples:
              mlsec privacy epsilon --noise-multiplier 1 --sample-rate 0.01 \\
                  --steps 10000 --delta 1e-5
              mlsec privacy calibrate --target-epsilon 3 --sample-rate 0.01 \\
                  --steps 10000 --delta 1e-5 --accountant pld
            """,
        subcommands: [PrivacyEpsilon.self, PrivacyCalibrate.self, PrivacyRelease.self, PrivacyBudgetCommand.self]
    )
}

enum AccountantOption: String, ExpressibleByArgument, CaseIterable {
    case rdp, pld
}

extension RDPAccountant.FractionalOrders: ExpressibleByArgument {}

/// The run being accounted: sampling rate, steps, δ and the accountant (shared by `epsilon` and `calibrate`).
struct PrivacyRunOptions: ParsableArguments {
    @Option(name: .customLong("sample-rate"), help: "Probability q that a record is in a batch, in (0, 1].")
    var sampleRate: Double

    @Option(help: "Number of steps (noisy releases), at least 1.")
    var steps: Int

    @Option(help: "Target delta, in (0, 1).")
    var delta: Double

    @Option(help: "Accountant: rdp (Renyi DP, 156 orders) or pld (privacy loss distribution, tighter, slower).")
    var accountant: AccountantOption = .rdp

    @Option(name: .customLong("fractional-orders"),
            help: "RDP at fractional orders: exact (MLSec's guarantee) or dp-accounting (its 0.6.0 series, looser).")
    var fractionalOrders: RDPAccountant.FractionalOrders = .exact

    func validate() throws {
        guard sampleRate > 0, sampleRate <= 1 else { throw ValidationError("--sample-rate must be in (0, 1]") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard delta > 0, delta < 1 else { throw ValidationError("--delta must be in (0, 1)") }
    }
}

extension JSONValue {
    /// A double as JSON: the shortest text that reads back to the same value; null when not finite.
    static func double(_ value: Double) -> JSONValue {
        value.isFinite ? .number("\(value)") : .null
    }
}
