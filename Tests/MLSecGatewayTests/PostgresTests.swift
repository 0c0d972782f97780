// The state replicas share, against a real PostgreSQL server (scripts/test.sh starts a private one and sets
// MLSEC_TEST_POSTGRES_URL): rate limits (exact bursts, all-or-nothing, racing replicas, one combined limit, fail
// closed), quotas, one audit log appended to by two replicas, API keys and roles seen by every replica.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import MLSecGateway
import PostgresNIO
import Testing
import MLSecDeploy
import MLSecReceipts
import MLSecStores
import MLSecAccess

private let postgresURL = ProcessInfo.processInfo.environment["MLSEC_TEST_POSTGRES_URL"]

/// A logger for the pools: connection retries against a server that is down on purpose are not news.
private var quiet: Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

// Skipped only outside CI when no server is configured; under CI a missing server fails these tests.
@Suite("PostgreSQL rate-limit state",
       .enabled(if: postgresURL != nil || ProcessInfo.processInfo.environment["CI"] != nil, "needs MLSEC_TEST_POSTGRES_URL (scripts/test.sh)"),
       .serialized)
struct PostgresRateLimiterTests {
    static func limiter() async throws -> PostgresRateLimiter {
        try await PostgresRateLimiter(database: try MLSecStores.PostgresDatabase(url: postgresURL ?? "", logger: quiet))
    }

    static func key(_ name: String) -> String { "\(name)-\(UUID().uuidString)" }

    @Test("a burst admits exactly B; several limits are charged all-or-nothing")
    func burstAndAllOrNothing() async throws {
        let limiter = try await Self.limiter()
        let slow = RateLimit(requestsPerSecond: 0.001, burst: 5)
        let key = Self.key("burst")
        var pattern = ""
        for _ in 0..<10 { pattern += try await limiter.decide([RateLimiter.Item(key: key, limit: slow)])[0].allowed ? "1" : "0" }
        #expect(pattern == "1111100000")
        let a = RateLimiter.Item(key: Self.key("a"), limit: RateLimit(requestsPerSecond: 0.001, burst: 100), cost: 8)
        let b = RateLimiter.Item(key: Self.key("b"), limit: RateLimit(requestsPerSecond: 0.001, burst: 10), cost: 8)
        #expect(try await limiter.decide([a, b]).allSatisfy { $0.allowed })
        let refused = try await limiter.decide([a, b])
        #expect(refused[0].allowed && !refused[1].allowed && refused[1].retryAfter > 1000)
        // Nothing was charged to a by the refusal: 100 - 8 = 92 left = 11 more batches of 8.
        var admitted = 0
        for _ in 0..<12 where try await limiter.decide([a])[0].allowed { admitted += 1 }
        #expect(admitted == 11)
    }

    @Test("two replicas racing on one key never over-admit")
    func replicasRace() async throws {
        let first = try await Self.limiter()
        let second = try await Self.limiter()
        let item = RateLimiter.Item(key: Self.key("race"), limit: RateLimit(requestsPerSecond: 0.001, burst: 40))
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<16 {
                group.addTask {
                    var count = 0
                    for _ in 0..<10 where try await (i % 2 == 0 ? first : second).decide([item])[0].allowed { count += 1 }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(admitted == 40, "160 attempts, burst 40")
    }

    @Test("two replicas enforce one combined steady rate: burst + rate x time, on an injected clock")
    func combinedRate() async throws {
        let clock = ManualClock()
        let database = try MLSecStores.PostgresDatabase(url: postgresURL ?? "", logger: quiet)
        let replicas = [try await PostgresRateLimiter(database: database, clock: clock.read),
                        try await PostgresRateLimiter(database: database, clock: clock.read)]
        let limit = RateLimit(requestsPerSecond: 200, burst: 10)
        let item = RateLimiter.Item(key: Self.key("steady"), limit: limit)
        var admitted = 0
        // Two simulated seconds in 5 ms steps; each step both replicas try three times (twice the rate).
        for _ in 0..<400 {
            for i in 0..<6 where try await replicas[i % 2].decide([item])[0].allowed { admitted += 1 }
            clock.advance(0.005)
        }
        // The burst at once, then one admission per 5 ms step (the last step's refill is not yet used).
        #expect(admitted == 10 + 399, "admitted \(admitted)")
    }

    @Test("quotas shared by two replicas: each sees the other's usage after its next save, and counts add up")
    func sharedQuotas() async throws {
        let database = try MLSecStores.PostgresDatabase(url: postgresURL ?? "", logger: quiet)
        let store = try await PostgresQuotaStore(database: database)
        let other = try await PostgresQuotaStore(database: try MLSecStores.PostgresDatabase(url: postgresURL ?? "", logger: quiet))
        let replicaA = QuotaTracker(store: store)
        let replicaB = QuotaTracker(store: other)
        let key = Self.key("quota")
        let limits = QuotaLimits(dailyRequests: 100)
        try await replicaB.admit(key: key, limits: limits, elements: 1)
        try await replicaB.save()
        for _ in 0..<59 { try await replicaA.admit(key: key, limits: limits, elements: 1) }
        try await replicaA.save()
        try await replicaB.save()  // B reads the totals back: 60 used
        var admittedByB = 0
        while admittedByB < 200 {
            do {
                try await replicaB.admit(key: key, limits: limits, elements: 1)
                admittedByB += 1
            } catch {
                break
            }
        }
        #expect(admittedByB == 40, "B admits only what is left of the shared budget")
        try await replicaB.save()
        try await replicaA.save()
        #expect(replicaA.usage(key: key).day.requests == 100)
    }

    @Test("an unreachable server is an error within the deadline (the gateway then fails closed)")
    func unreachable() async throws {
        let database = try MLSecStores.PostgresDatabase(url: "postgres://mlsec@127.0.0.1:9/postgres?sslmode=disable", timeout: .milliseconds(500),
                                            logger: quiet)
        let start = ContinuousClock.now
        await #expect(throws: (any Error).self) { _ = try await PostgresRateLimiter(database: database) }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("TLS is required off loopback and verifies the server name by default; disable is refused there")
    func tlsPolicy() throws {
        #expect(throws: (any Error).self) {
            _ = try MLSecStores.PostgresDatabase(url: "postgres://mlsec@db.example.com/postgres?sslmode=disable", logger: quiet)
        }
        #expect(throws: (any Error).self) { _ = try MLSecStores.PostgresDatabase(url: "mysql://x@127.0.0.1/db", logger: quiet) }
        // The server's certificate name is checked unless the URL asks otherwise.
        #expect(try MLSecStores.PostgresDatabase(url: "postgres://mlsec@db.example.com/postgres", logger: quiet).sslMode == "verify-full")
        #expect(try MLSecStores.PostgresDatabase(url: "postgres://mlsec@db.example.com/postgres?sslmode=require", logger: quiet).sslMode == "require")
        #expect(throws: (any Error).self) {
            _ = try MLSecStores.PostgresDatabase(url: "postgres://mlsec@db.example.com/postgres?sslmode=prefer", logger: quiet)
        }
    }
}

/// A database of its own on the test server (the audit log is one per database), dropped by nobody: the
/// server is private to the test run.
private func freshDatabase() async throws -> MLSecStores.PostgresDatabase {
    let admin = try MLSecStores.PostgresDatabase(url: postgresURL ?? "", logger: quiet)
    let name = "mlsec_test_\(UInt64.random(in: 0...UInt64.max))"
    _ = try await admin.withDeadline { try await admin.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) }
    guard var parts = URLComponents(string: postgresURL ?? "") else { throw MLSecError.usage("bad MLSEC_TEST_POSTGRES_URL") }
    parts.path = "/\(name)"
    return try MLSecStores.PostgresDatabase(url: parts.string ?? "", logger: quiet)
}

@Suite("PostgreSQL audit log, keys and roles",
       .enabled(if: postgresURL != nil || ProcessInfo.processInfo.environment["CI"] != nil, "needs MLSEC_TEST_POSTGRES_URL (scripts/test.sh)"),
       .serialized)
struct PostgresSharedStateTests {
    @Test("two replicas append concurrently to one log: consecutive indexes, every entry once, the same roots and proofs as SQLite")
    func auditLogFromTwoReplicas() async throws {
        let database = try await freshDatabase()
        let replicas = [try await PostgresAuditStore(database: database), try await PostgresAuditStore(database: database)]
        let ranges = try await withThrowingTaskGroup(of: [Range<UInt64>].self) { group in
            for r in 0..<2 {
                group.addTask {
                    var ranges: [Range<UInt64>] = []
                    for batch in 0..<20 {
                        let entries = (0..<(1 + (batch * 7 + r) % 9)).map { Array("replica \(r) batch \(batch) entry \($0)".utf8) }
                        ranges.append(try await replicas[r].append(entries))
                    }
                    return ranges
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let size = try await replicas[0].currentSize()
        #expect(ranges.reduce(0) { $0 + $1.count } == Int(size))
        #expect(Set(ranges.flatMap { $0.map { $0 } }).count == Int(size), "no index given twice")
        // The same entries in the same order in SQLite give the same tree.
        let dir = NSTemporaryDirectory() + "mlsec-pgaudit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sqlite = try SQLiteAuditStore(path: "\(dir)/audit.db")
        var entries: [[UInt8]] = []
        for i in 0..<size { entries.append(try await replicas[1].entry(at: i)) }
        _ = try await sqlite.append(entries)
        #expect(Set(entries.map { String(decoding: $0, as: UTF8.self) }).count == entries.count, "every entry once")
        for n in [1, 2, 3, 7, 8, 64, size / 2, size] as [UInt64] where n <= size {
            #expect(try await replicas[0].root(size: n).root == (try await sqlite.root(size: n).root))
            #expect(try await replicas[1].inclusionProof(index: n - 1, size: size).proof
                    == (try await sqlite.inclusionProof(index: n - 1, size: size).proof))
            #expect(try await replicas[0].consistencyProof(from: n, to: size) == (try await sqlite.consistencyProof(from: n, to: size)))
        }
        let report = try await replicas[1].verify(progress: nil)
        let sqliteRoot = try await sqlite.root(size: nil).root
        #expect(report.size == size && report.root == sqliteRoot)
        // A checkpoint from one replica, checked against the log the other one grew.
        let signer = try NoteSigner.generate(name: "test/audit")
        let checkpoint = try Checkpoint.open(try await replicas[0].checkpoint(origin: "test/audit", signer: signer), verifiers: [signer.verifier])
        _ = try await replicas[1].append([Array("later".utf8)])
        #expect(try await replicas[0].verifyConsistency(with: checkpoint) == size + 1)
        await #expect(throws: MLSecError.self) { _ = try await replicas[0].append([[UInt8](repeating: 0, count: AuditEntryLimits.maxEntryBytes + 1)]) }
    }

    @Test("tampering with the PostgreSQL log is named: a modified entry, a forged node, a deleted entry")
    func auditLogTampering() async throws {
        let database = try await freshDatabase()
        let log = try await PostgresAuditStore(database: database)
        _ = try await log.append((0..<40).map { Array("entry \($0)".utf8) })
        _ = try await log.verify(progress: nil)
        func expectFailure(_ sql: String, _ fragment: String) async throws {
            let fresh = try await freshCopy(of: database, sql: sql)
            do {
                _ = try await fresh.verify(progress: nil)
                Issue.record("tampering not detected: \(sql)")
            } catch let error as MLSecError {
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
        // Each case on its own database, so that the cases do not mask each other.
        try await expectFailure("UPDATE mlsec_audit_entries SET data = 'entry X'::bytea WHERE idx = 17", "entry 17")
        try await expectFailure(
            "UPDATE mlsec_audit_entries SET data = 'entry X'::bytea, leaf_hash = sha256('\\x00'::bytea || 'entry X'::bytea) WHERE idx = 17",
            "entries 16...17")
        try await expectFailure("DELETE FROM mlsec_audit_entries WHERE idx = 39", "records 40 entries but holds 39")
    }

    /// A new database holding the same 40 entries, then `sql` applied to it.
    private func freshCopy(of database: MLSecStores.PostgresDatabase, sql: String) async throws -> PostgresAuditStore {
        let copyDatabase = try await freshDatabase()
        let copy = try await PostgresAuditStore(database: copyDatabase)
        _ = try await copy.append((0..<40).map { Array("entry \($0)".utf8) })
        _ = try await copyDatabase.withDeadline { try await copyDatabase.client.query(PostgresQuery(unsafeSQL: sql)) }
        return copy
    }

    @Test("keys: created on one replica, usable on the other after its refresh; revoked there, refused here")
    func keysAcrossReplicas() async throws {
        let database = try await freshDatabase()
        let a = try await APIKeyStore(backend: try await PostgresKeyBackend(database: database))
        let b = try await APIKeyStore(backend: try await PostgresKeyBackend(database: database))
        let (record, key) = try await a.create(name: "shared", role: "inference", models: ["digits"],
                                               rateLimit: RateLimit(requestsPerSecond: 5, burst: 10), quota: QuotaLimits(dailyRequests: 7), maxConcurrent: 3)
        if case .success = b.authenticate(key) { Issue.record("B knew the key before refreshing") }
        try await b.refresh()
        guard case .success(let seen) = b.authenticate(key) else { Issue.record("B refused a key A created"); return }
        #expect(seen == record, "every attribute survives the database")
        #expect(try await b.revoke(id: record.id)?.id == record.id)
        #expect(try await b.revoke(id: "000000000000") == nil)
        if case .success = a.authenticate(key) {} else { Issue.record("A refused before its refresh (it may lag by a second)") }
        try await a.refresh()
        guard case .failure(let refusal) = a.authenticate(key) else { Issue.record("A accepted a key revoked on B"); return }
        #expect(refusal.reason == .revoked)
        // Many keys created by both at once: no change is missed by a refresh.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 { group.addTask { _ = try await (i % 2 == 0 ? a : b).create(name: "k\(i)", role: "inference", models: ["*"]) } }
            try await group.waitForAll()
        }
        try await a.refresh()
        try await b.refresh()
        #expect(a.list().count == 41 && b.list().count == 41)
    }

    @Test("roles: the set one replica publishes is the set every replica loads")
    func rolesAcrossReplicas() async throws {
        let database = try await freshDatabase()
        let a = try await PostgresRoleStore(database: database)
        let b = try await PostgresRoleStore(database: database)
        var roles = Role.builtIn
        roles["reader"] = Role(name: "reader", permissions: [.readMetadata])
        roles["ops"] = Role(name: "ops", permissions: [.readAudit, .manageKeys])
        roles["nothing"] = Role(name: "nothing", permissions: [])
        try await a.publish(roles)
        let loaded = try await b.load()
        #expect(loaded == roles.filter { Role.builtIn[$0.key] == nil })
        let book = RoleBook(Role.builtIn)
        book.replaceCustom(loaded)
        #expect(book["ops"]?.permissions == [.readAudit, .manageKeys] && book["admin"] == Role.builtIn["admin"])
        try await b.publish(Role.builtIn)  // the newest configuration has no custom roles
        #expect(try await a.load().isEmpty)
    }
}
