// MonitorBenchmark: `mlsec bench monitor`, what inference monitoring adds to one request, in process, on the
// digits inputs: the query-pattern admission, the out-of-distribution score, the window and query-pattern
// update, the extraction budget (input hash, seen set, GCRA), and the window comparison amortised over the rows
// between comparisons.

import ArgumentParser
import Foundation
import MLSecAccess
import MLSecCore
import MLSecData
import MLSecEngine
import MLSecGateway

struct MonitorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Inference monitoring: nanoseconds each step adds to a one-row request (the goal: 10 microseconds in all).",
        discussion: """
            Benchmarks/monitoring/bench.py adds the end-to-end comparison (the gateway with and without a monitor).

            Example:
              mlsec bench monitor --requests 100000 --repeats 5
            """)

    @Option(help: "One-row requests per repetition.") var requests: Int = 100_000
    @Option(help: "Repetitions (median reported).") var repeats: Int = 5
    @Option(help: "Distinct callers the requests come from, in turn.") var callers: Int = 100
    @Option(help: "The monitor's window (rows).") var window: Int = 500
    @Option(name: .customLong("check-every"), help: "Rows between window comparisons.") var checkEvery: Int = 100

    func run() async throws {
        guard (1000...10_000_000).contains(requests), (1...50).contains(repeats), (1...100_000).contains(callers),
              (20...100_000).contains(window), (1...100_000).contains(checkEvery)
        else { throw MLSecError.usage("requests 1000...10000000, repeats 1...50, callers 1...100000, window 20...100000, check-every 1...100000") }
        let train = Digits.dataset(.train), test = Digits.dataset(.test)
        guard let labels = train.labels, let testLabels = test.labels else { throw MLSecError.usage("the digits data has no labels") }
        let reference = try MonitorReference.build(rows: train.features, count: train.count, featureNames: train.featureNames,
                                                   predictions: labels, classCount: 10, modelDigest: "bench")
        var settings = MonitorSettings()
        settings.window = window
        settings.checkEvery = checkEvery
        let d = train.featureCount
        let rows = (0..<test.count).map { Array(test.features[($0 * d)..<(($0 + 1) * d)]) }
        // Softmax-like answers: 0.91 on the label.
        let outputs = testLabels.map { label in (0..<10).map { $0 == label ? Float(0.91) : Float(0.01) } }
        let names = (0..<callers).map { "key:bench\($0)" }
        let principals = names.map { Principal(id: $0, role: Role(name: "partner", permissions: [.infer]), models: ["*"], rateLimit: nil) }
        let budget = try ExtractionPolicy(json: .object([("budget", .object([("distinct_inputs", .int(10_000_000)),
                                                                             ("window_seconds", .int(3600))]))]), context: "bench").budget
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        var admission: [Double] = [], ood: [Double] = [], observe: [Double] = [], extraction: [Double] = [], comparison: [Double] = []
        var comparisons = 0
        for _ in 0..<repeats {
            let monitor = GatewayMonitor(policy: MonitorPolicy(reference: "bench"), monitor: ModelMonitor(reference: reference, settings: settings),
                                         probabilities: true)
            let budgets = ExtractionBudgets(), limiter = RateLimiter()
            var t = (admission: Duration.zero, ood: Duration.zero, observe: Duration.zero, extraction: Duration.zero, compare: Duration.zero)
            var checks = 0
            var flagged = 0
            let clock = ContinuousClock()
            for i in 0..<requests {
                let r = i % rows.count, caller = i % callers
                var start = clock.now
                if monitor.admission(caller: names[caller]) != .admitted { flagged += 1 }
                var end = clock.now
                t.admission += end - start
                start = end
                if let budget {
                    try await budgets.charge(principals[caller], model: "digits", rows: rows[r], count: 1, budget: budget, factor: nil, limiter: limiter)
                }
                end = clock.now
                t.extraction += end - start
                start = end
                flagged += monitor.screen(rows: rows[r], count: 1).flagged
                end = clock.now
                t.ood += end - start
                start = end
                let observation = monitor.observe(caller: names[caller], rows: rows[r], outputs: outputs[r], count: 1)
                end = clock.now
                t.observe += end - start
                if let check = observation.driftCheck {
                    start = clock.now
                    _ = monitor.compare(check)
                    t.compare += clock.now - start
                    checks += 1
                }
            }
            func ns(_ duration: Duration) -> Double { Double(duration / .nanoseconds(1)) / Double(requests) }
            admission.append(ns(t.admission))
            extraction.append(ns(t.extraction))
            ood.append(ns(t.ood))
            observe.append(ns(t.observe))
            comparison.append(Double(t.compare / .microseconds(1)) / Double(max(checks, 1)))
            comparisons = checks
            _ = flagged
        }
        let perRequest = median(admission) + median(extraction) + median(ood) + median(observe)
        let amortised = median(comparison) * 1000 / Double(checkEvery)
        printJSON(.object([
            ("requests", .int(requests)), ("repeats", .int(repeats)), ("callers", .int(callers)), ("features", .int(d)),
            ("window", .int(window)), ("check_every", .int(checkEvery)),
            ("admission_ns", decimal(median(admission))), ("extraction_budget_ns", decimal(median(extraction))),
            ("ood_score_ns", decimal(median(ood))), ("observe_ns", decimal(median(observe))),
            ("per_request_ns", decimal(perRequest)),
            ("comparisons", .int(comparisons)), ("comparison_us", decimal(median(comparison))),
            ("comparison_amortised_ns", decimal(amortised)), ("total_ns", decimal(perRequest + amortised)),
        ]))
    }
}
