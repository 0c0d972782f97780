// The privacy ledger: budgets, spends refused before any noise when they would overspend, concurrent releases
// that cannot overspend, and every spend and refusal in the ledger's audit log.

import Foundation
import MLSecAudit
import MLSecCore
import MLSecPrivacy
import Testing

@Suite("privacy ledger and queries")
struct LedgerTests {
    func temporaryLedger() throws -> (PrivacyLedger, String) {
        let path = NSTemporaryDirectory() + "mlsec-ledger-\(UUID().uuidString).db"
        return (try PrivacyLedger(path: path), path)
    }

    func spend(_ epsilon: Double, delta: Double = 0) -> PrivacySpend {
        PrivacySpend(actor: "test", mechanism: "discrete_laplace", query: "count(x)", epsilon: epsilon, delta: delta)
    }

    @Test("a release the budget cannot cover is refused and recorded as refused; the budget is unchanged")
    func refusesOverspend() throws {
        let (ledger, path) = try temporaryLedger()
        #expect(throws: MLSecError.self) { _ = try ledger.budget(dataset: "patients") }  // no budget yet
        _ = try ledger.setBudget(dataset: "patients", epsilon: 1, delta: 1e-6, actor: "admin")
        let after = try ledger.spend(spend(0.6), dataset: "patients")
        #expect(abs(after.remainingEpsilon - 0.4) < 1e-12)
        #expect(throws: MLSecError.self) { _ = try ledger.spend(spend(0.5), dataset: "patients") }
        #expect(throws: MLSecError.self) { _ = try ledger.spend(spend(0.1, delta: 1e-5), dataset: "patients") }
        #expect(abs(try ledger.budget(dataset: "patients").spentEpsilon - 0.6) < 1e-12)
        #expect(throws: MLSecError.self) { _ = try ledger.setBudget(dataset: "patients", epsilon: 0.5, delta: 1e-6, actor: "admin") }
        // Every decision is in the audit log, which verifies.
        let audit = try AuditLog(path: path + ".audit")
        #expect(audit.size == 4)  // the budget, the spend, two refusals (a refused budget change is a usage error)
        _ = try audit.verify()
    }

    @Test("concurrent releases cannot overspend: 40 racing spends of 0.1 against a budget of 1 admit exactly 10")
    func racingReleases() async throws {
        let (ledger, path) = try temporaryLedger()
        _ = try ledger.setBudget(dataset: "d", epsilon: 1, delta: 0, actor: "admin")
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    // Separate ledger handles, as separate processes would have.
                    guard let own = try? PrivacyLedger(path: path) else { return false }
                    return (try? own.spend(PrivacySpend(actor: "t", mechanism: "m", query: "q", epsilon: 0.1, delta: 0), dataset: "d")) != nil
                }
            }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
        #expect(admitted == 10)
        #expect(abs(try ledger.budget(dataset: "d").spentEpsilon - 1.0) < 1e-9)
    }

    @Test("count, sum and mean over bounded contributions; a mean splits its budget between sum and count")
    func queries() throws {
        var sampler = ExactSampler(generator: SplitMix64(state: 5))
        let values = (0..<2000).map { Double($0 % 100) }  // mean 49.5
        let mean = try PrivateQuery(kind: .mean, bounds: 0...100, epsilon: 2, delta: 0)
        let (sum, count) = try mean.mechanisms()
        #expect(sum?.epsilon == 1 && count?.epsilon == 1)
        let released = try mean.release(values, using: &sampler)
        #expect(abs(released - 49.5) < 2)
        let noisyCount = try PrivateQuery(kind: .count, bounds: nil, epsilon: 1, delta: 0).release(values, using: &sampler)
        #expect(noisyCount == noisyCount.rounded() && abs(noisyCount - 2000) < 30)
        let clamped = try PrivateQuery(kind: .sum, bounds: 0...10, epsilon: 1, delta: 1e-6).release([1000, 5], using: &sampler)
        #expect(abs(clamped - 15) < 200)  // 1000 clamped to 10
        #expect(throws: MLSecError.self) { _ = try PrivateQuery(kind: .sum, bounds: nil, epsilon: 1, delta: 0) }
    }

    @Test("CSV tables: quoting, a header, numbers named by row when wrong")
    func csv() throws {
        let table = try CSVTable.parse(Array("name,age,city\n\"Smith, J\",41,\"New \"\"York\"\"\"\nLee,x,Oslo\n".utf8), context: "t.csv")
        #expect(table.columns == ["name", "age", "city"] && table.rows[0] == ["Smith, J", "41", "New \"York\""])
        #expect(throws: MLSecError.self) { _ = try table.numbers(try table.column("age")) }
        #expect(throws: MLSecError.self) { _ = try CSVTable.parse(Array("a,b\n1\n".utf8), context: "t.csv") }
    }
}
