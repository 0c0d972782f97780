// PrivacyEpsilonCommand: `mlsec privacy epsilon`, the (ε, δ) of a Poisson-sampled Gaussian run.

import ArgumentParser
import MLSecCore
import MLSecPrivacy

struct PrivacyEpsilon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epsilon",
        abstract: "Print the epsilon of STEPS steps of the Poisson-sampled Gaussian at DELTA.",
        discussion: """
            Prints {"epsilon": e, "order": a} with the RDP accountant (a: the Renyi order that gives e) and \
            {"epsilon": e} with the PLD accountant.

            Examples:
              mlsec privacy epsilon --noise-multiplier 1 --sample-rate 0.01 \\
                  --steps 10000 --delta 1e-5
              mlsec privacy epsilon --noise-multiplier 1 --sample-rate 0.01 \\
                  --steps 10000 --delta 1e-5 --accountant pld
            """
    )

    @Option(name: .customLong("noise-multiplier"), help: "Noise standard deviation over the L2 sensitivity, > 0.")
    var noiseMultiplier: Double

    @OptionGroup var run: PrivacyRunOptions

    @Flag(name: .customLong("per-order"), help: "Also print the composed RDP at every order (RDP only).")
    var perOrder = false

    func validate() throws {
        guard noiseMultiplier > 0, noiseMultiplier.isFinite else {
            throw ValidationError("--noise-multiplier must be a positive number")
        }
        if perOrder, run.accountant != .rdp { throw ValidationError("--per-order applies only to --accountant rdp") }
    }

    func run() async throws {
        let mechanism = try PoissonSampledGaussian(noiseMultiplier: noiseMultiplier, sampleRate: run.sampleRate)
        switch run.accountant {
        case .rdp:
            var accountant = try RDPAccountant(fractionalOrders: run.fractionalOrders)
            try accountant.compose(mechanism, steps: run.steps)
            let bound = try accountant.epsilonAndOrder(delta: run.delta)
            var members: [(String, JSONValue)] = [("epsilon", .double(bound.value)), ("order", .double(bound.order))]
            if perOrder {
                members.append(("orders", .array(accountant.orders.map { .double($0) })))
                members.append(("rdp", .array(accountant.rdp.map { .double($0) })))
            }
            printJSON(.object(members))
        case .pld:
            var accountant = try PLDAccountant()
            try accountant.compose(mechanism, steps: run.steps)
            printJSON(.object([("epsilon", .double(try accountant.epsilon(delta: run.delta)))]))
        }
    }
}
