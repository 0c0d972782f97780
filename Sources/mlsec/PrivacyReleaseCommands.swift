// PrivacyReleaseCommands: `mlsec privacy release` (a noisy count, sum or mean from a CSV file, paid from a
// dataset's budget in the ledger) and `mlsec privacy budget` (show or set that budget).

import ArgumentParser
import Foundation
import MLSecCore
import MLSecPrivacy

struct PrivacyRelease: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Release a differentially private count, sum or mean of a CSV column, paid from the dataset's budget.",
        discussion: """
            Each row is one person's contribution (add-or-remove neighbours). Sums and means clamp every value into \
            --bounds; a mean spends half of epsilon (and delta) on a noisy sum and half on a noisy count. Without \
            --delta the noise is a discrete Laplace (pure epsilon-DP), with it a discrete Gaussian; values are snapped \
            to a power-of-two grid and the rounding is charged to the sensitivity. The spend is recorded in the ledger \
            (and its audit log) before any noise is drawn; a release the budget cannot cover exits 1 and prints \
            nothing. With --group-by each group's rows are disjoint, so all groups together cost one release; the \
            group names themselves come from the data and are published as they are.

            Examples:
              mlsec privacy budget --ledger ledger.db --dataset patients \\
                --set-epsilon 2 --set-delta 1e-6
              mlsec privacy release --data patients.csv --query mean --column age \\
                --bounds 0,100 --epsilon 0.5 --ledger ledger.db --dataset patients
            """)

    @Option(help: "The CSV file (a header row).") var data: String
    @Option(help: "count, sum or mean.") var query: String
    @Option(help: "The column to count, sum or average.") var column: String
    @Option(help: "The epsilon this release spends.") var epsilon: Double
    @Option(help: "The delta this release spends (Gaussian noise); 0 or absent: Laplace noise.") var delta: Double = 0
    @Option(help: "L,U: each value is clamped into [L, U] (sum and mean).") var bounds: String?
    @Option(name: .customLong("group-by"), help: "A column whose values split the rows into groups.") var groupBy: String?
    @Option(help: "The privacy ledger (SQLite; created if missing).") var ledger: String
    @Option(help: "The dataset's name in the ledger.") var dataset: String
    @Option(help: "Who releases (recorded in the ledger and the audit log).") var actor: String = ProcessInfo.processInfo.environment["USER"] ?? "cli"

    func run() async throws {
        guard let kind = PrivateQuery.Kind(rawValue: query) else { throw ValidationError("--query must be count, sum or mean") }
        var range: ClosedRange<Double>?
        if let bounds {
            let parts = bounds.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, parts[0] <= parts[1] else { throw ValidationError("--bounds must be L,U with L <= U") }
            range = parts[0]...parts[1]
        }
        let privateQuery = try PrivateQuery(kind: kind, bounds: range, epsilon: epsilon, delta: delta)
        let table = try CSVTable.read(path: data)
        let valueColumn = try table.column(column)
        var groups: [(String, [Int])] = [("", Array(table.rows.indices))]
        if let groupBy {
            let g = try table.column(groupBy)
            var byName: [String: [Int]] = [:]
            for (i, row) in table.rows.enumerated() { byName[row[g], default: []].append(i) }
            groups = byName.sorted { $0.key < $1.key }
        }
        let values = try groups.map { (name, rows) in (name, kind == .count ? rows.map { _ in 1.0 } : try table.numbers(valueColumn, rows: rows)) }
        let mechanisms = try privateQuery.mechanisms()
        let mechanism = (mechanisms.sum ?? mechanisms.count)?.kind.rawValue ?? "none"
        // Paid before any noise is drawn.
        let budget = try PrivacyLedger(path: ledger).spend(
            PrivacySpend(actor: actor, mechanism: mechanism, query: privateQuery.describe(column: column, groupBy: groupBy),
                         epsilon: epsilon, delta: delta), dataset: dataset)
        var sampler = ExactSampler()
        var members: [(String, JSONValue)] = []
        if groupBy != nil {
            var released: [(String, JSONValue)] = []
            for (name, column) in values { released.append((name, .double(try privateQuery.release(column, using: &sampler)))) }
            members.append(("values", .object(released)))
        } else {
            members.append(("value", .double(try privateQuery.release(values[0].1, using: &sampler))))
        }
        members += [("mechanism", .string(mechanism)), ("epsilon", .double(epsilon)), ("delta", .double(delta)),
                    ("remaining_epsilon", .double(budget.remainingEpsilon))]
        printJSON(.object(members))
    }
}

struct PrivacyBudgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budget",
        abstract: "Show a dataset's privacy budget and what was spent, or set the budget.",
        discussion: """
            Spends compose by adding epsilons and deltas (basic composition). Lowering a budget below what was \
            already spent is refused.

            Examples:
              mlsec privacy budget --ledger ledger.db --dataset patients \\
                --set-epsilon 2 --set-delta 1e-6
              mlsec privacy budget --ledger ledger.db --dataset patients
            """)

    @Option(help: "The privacy ledger (SQLite; created if missing).") var ledger: String
    @Option(help: "The dataset's name in the ledger.") var dataset: String
    @Option(name: .customLong("set-epsilon"), help: "Set the dataset's epsilon budget.") var setEpsilon: Double?
    @Option(name: .customLong("set-delta"), help: "Set the dataset's delta budget (with --set-epsilon; default 0).") var setDelta: Double?
    @Option(help: "Who sets the budget (recorded in the audit log).") var actor: String = ProcessInfo.processInfo.environment["USER"] ?? "cli"

    func validate() throws {
        if setDelta != nil, setEpsilon == nil { throw ValidationError("--set-delta needs --set-epsilon") }
    }

    func run() async throws {
        let store = try PrivacyLedger(path: ledger)
        let budget = if let setEpsilon {
            try store.setBudget(dataset: dataset, epsilon: setEpsilon, delta: setDelta ?? 0, actor: actor)
        } else {
            try store.budget(dataset: dataset)
        }
        printJSON(.object([
            ("dataset", .string(budget.dataset)), ("epsilon_budget", .double(budget.epsilonBudget)),
            ("delta_budget", .double(budget.deltaBudget)), ("spent_epsilon", .double(budget.spentEpsilon)),
            ("spent_delta", .double(budget.spentDelta)), ("remaining_epsilon", .double(budget.remainingEpsilon)),
        ]))
    }
}
