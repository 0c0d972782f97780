// PrivacyLedger: the privacy budget of each dataset and every release that spent it, in SQLite, with each spend
// (and each refusal) also appended to an MLSec audit log so that the ledger is tamper-evident.

import Foundation
import GRDB
import MLSecAudit
import MLSecCore

/// A dataset's budget and what has been spent from it (basic composition: epsilons and deltas add up, a valid
/// bound for any mix of mechanisms).
public struct PrivacyBudget: Sendable, Equatable {
    public var dataset: String
    public var epsilonBudget: Double
    public var deltaBudget: Double
    public var spentEpsilon: Double
    public var spentDelta: Double
    public var remainingEpsilon: Double { max(0, epsilonBudget - spentEpsilon) }
    public var remainingDelta: Double { max(0, deltaBudget - spentDelta) }
}

/// One release to record.
public struct PrivacySpend: Sendable {
    public var actor: String
    public var mechanism: String
    public var query: String
    public var epsilon: Double
    public var delta: Double

    public init(actor: String, mechanism: String, query: String, epsilon: Double, delta: Double) {
        self.actor = actor
        self.mechanism = mechanism
        self.query = query
        self.epsilon = epsilon
        self.delta = delta
    }
}

/// The ledger. Spending is one SQLite write transaction (read the budget, check, append the audit entry, insert),
/// so concurrent releases, in this process or others, cannot overspend, and no spend commits without its audit
/// entry; the spend is recorded before any noise is drawn. The audit log is reopened inside the transaction, whose
/// lock serializes every writer of the ledger (another process may have appended since).
public final class PrivacyLedger: Sendable {
    let database: DatabaseQueue
    public let path: String
    var auditPath: String { path + ".audit" }

    /// Opens (or creates, mode 0600) the ledger at `path`; its audit log is `path` + ".audit".
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            chmod(path, 0o600)
            try database.write { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS privacy_datasets (
                      name TEXT PRIMARY KEY, epsilon_budget REAL NOT NULL, delta_budget REAL NOT NULL, created_at TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS privacy_releases (
                      id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL REFERENCES privacy_datasets(name),
                      actor TEXT NOT NULL, time TEXT NOT NULL, mechanism TEXT NOT NULL, query TEXT NOT NULL,
                      epsilon REAL NOT NULL CHECK (epsilon >= 0), delta REAL NOT NULL CHECK (delta >= 0));
                    """)
            }
        } catch {
            throw MLSecError.io("cannot open the privacy ledger \(path): \(error)")
        }
        _ = try AuditLog(path: path + ".audit")
        chmod(path + ".audit", 0o600)
    }

    /// Sets (or changes) a dataset's budget; lowering it below what was spent is refused.
    public func setBudget(dataset: String, epsilon: Double, delta: Double, actor: String) throws -> PrivacyBudget {
        guard epsilon > 0, epsilon.isFinite, delta >= 0, delta < 1, !dataset.isEmpty, dataset.utf8.count <= 200 else {
            throw MLSecError.usage("a budget needs a dataset name (1-200 bytes), epsilon > 0 and 0 <= delta < 1")
        }
        let budget = try database.write { db -> PrivacyBudget in
            let spent = try Self.spent(db, dataset)
            guard spent.0 <= epsilon, spent.1 <= delta else {
                throw MLSecError.usage("dataset \(dataset) has already spent epsilon \(spent.0), delta \(spent.1): a budget below that is refused")
            }
            try db.execute(sql: """
                INSERT INTO privacy_datasets (name, epsilon_budget, delta_budget, created_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET epsilon_budget = excluded.epsilon_budget, delta_budget = excluded.delta_budget
                """, arguments: [dataset, epsilon, delta, RFC3339.now()])
            try record(actor: actor, dataset: dataset, decision: .allow, reason: "budget set to epsilon \(epsilon), delta \(delta)")
            return PrivacyBudget(dataset: dataset, epsilonBudget: epsilon, deltaBudget: delta, spentEpsilon: spent.0, spentDelta: spent.1)
        }
        return budget
    }

    /// The budget of `dataset`; an unknown dataset is an error (a release needs a budget first).
    public func budget(dataset: String) throws -> PrivacyBudget {
        try database.read { db in try Self.budget(db, dataset) }
    }

    /// Records `spend` if the dataset's budget covers it, and returns the budget after it; refuses (and audits
    /// the refusal) otherwise. Call it before drawing any noise.
    public func spend(_ spend: PrivacySpend, dataset: String) throws -> PrivacyBudget {
        guard spend.epsilon >= 0, spend.delta >= 0, spend.epsilon.isFinite else { throw MLSecError.usage("a spend must be finite and non-negative") }
        let outcome: Result<PrivacyBudget, MLSecError> = try database.write { db in
            var budget = try Self.budget(db, dataset)
            let tolerance = 1e-12
            guard budget.spentEpsilon + spend.epsilon <= budget.epsilonBudget + tolerance,
                budget.spentDelta + spend.delta <= budget.deltaBudget + tolerance
            else {
                let error = MLSecError.verificationFailed(
                    "the release needs epsilon \(spend.epsilon), delta \(spend.delta) but dataset \(dataset) has epsilon "
                        + "\(budget.remainingEpsilon), delta \(budget.remainingDelta) left; nothing was released")
                try record(actor: spend.actor, dataset: dataset, decision: .deny, reason: "\(spend.query) refused: \(error.message)")
                return .failure(error)
            }
            try db.execute(sql: """
                INSERT INTO privacy_releases (dataset, actor, time, mechanism, query, epsilon, delta) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [dataset, spend.actor, RFC3339.now(), spend.mechanism, spend.query, spend.epsilon, spend.delta])
            budget.spentEpsilon += spend.epsilon
            budget.spentDelta += spend.delta
            try record(actor: spend.actor, dataset: dataset, decision: .allow,
                       reason: "\(spend.query) via \(spend.mechanism): spent epsilon \(spend.epsilon), delta \(spend.delta); remaining epsilon \(budget.remainingEpsilon)")
            return .success(budget)
        }
        return try outcome.get()
    }

    /// Appends to the ledger's audit log; called inside a write transaction of the ledger (the lock that orders
    /// every writer), on a log opened afresh so that appends by other processes are seen.
    private func record(actor: String, dataset: String, decision: AuditEvent.Decision, reason: String) throws {
        let event = AuditEvent(actor: actor, action: "privacy.spend", resource: "datasets/\(dataset)", decision: decision, reason: reason)
        _ = try AuditLog(path: auditPath).append([event.canonicalBytes])
    }

    static func spent(_ db: Database, _ dataset: String) throws -> (Double, Double) {
        let row = try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(epsilon), 0), COALESCE(SUM(delta), 0) FROM privacy_releases WHERE dataset = ?",
                                   arguments: [dataset])
        guard let row, let e = row[0] as Double?, let d = row[1] as Double? else {
            throw MLSecError.malformed("the privacy ledger cannot be read; it refuses every release")
        }
        return (e, d)
    }

    static func budget(_ db: Database, _ dataset: String) throws -> PrivacyBudget {
        guard let row = try Row.fetchOne(db, sql: "SELECT epsilon_budget, delta_budget FROM privacy_datasets WHERE name = ?", arguments: [dataset]),
            let epsilon = row[0] as Double?, let delta = row[1] as Double?
        else {
            throw MLSecError.usage("dataset \(dataset) has no budget in this ledger; set one with `mlsec privacy budget --set-epsilon E --set-delta D`")
        }
        let spent = try spent(db, dataset)
        return PrivacyBudget(dataset: dataset, epsilonBudget: epsilon, deltaBudget: delta, spentEpsilon: spent.0, spentDelta: spent.1)
    }
}
