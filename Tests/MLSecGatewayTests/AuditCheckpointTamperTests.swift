// Checking a log against a checkpoint recomputes the tree from the entries (issue 16): an entry whose data was
// edited in place fails `verify(against:)` as it fails `verify`, in SQLite and in PostgreSQL. Also the paged
// entry reads that `mlsec audit list` uses.

import Foundation
import GRDB
import Logging
import MLSecAudit
import MLSecCore
import MLSecStores
import PostgresNIO
import Testing

private let postgresURL = ProcessInfo.processInfo.environment["MLSEC_TEST_POSTGRES_URL"]

/// The scenario both stores run: 30 entries, a checkpoint of them, 10 more, then one tampering.
enum CheckpointTamperScenario {
    static let entries: [[UInt8]] = (0..<40).map { Array("entry \($0)".utf8) }
    static let forged = Array("entry X".utf8)

    /// (index edited, whether its stored leaf hash is rewritten to match, what both checks must name)
    static let cases: [(index: Int, withLeafHash: Bool, fragment: String)] = [
        (17, false, "entry 17"),  // inside the checkpoint: the stored tree still gives its root
        (35, false, "entry 35"),  // after the checkpoint
        (17, true, "entries 16...17"),  // data and leaf hash rewritten: the stored node above catches it
    ]

    /// Fills `store`, checks a clean log against the checkpoint, applies `tamper`, then expects both checks
    /// to fail naming `fragment`.
    static func run(_ store: any AuditStore, fragment: String, tamper: () async throws -> Void) async throws {
        _ = try await store.append(Array(entries[..<30]))
        let signer = try NoteSigner.generate(name: "test/audit")
        let checkpoint = try Checkpoint.open(try await store.checkpoint(origin: "test/audit", signer: signer), verifiers: [signer.verifier])
        _ = try await store.append(Array(entries[30...]))
        let clean = try await store.verify(against: checkpoint)
        #expect(clean.checkpointSize == 30 && clean.logSize == 40 && clean.consistencyProofChecked)
        #expect(clean.logRoot == (try await store.root(size: nil).root))
        try await tamper()
        // The stored tree still gives the checkpoint's root: a check that trusted it passed (the bug).
        #expect(try await store.root(size: 30).root == checkpoint.root)
        await expectFailure(fragment) { _ = try await store.verify(progress: nil) }
        await expectFailure(fragment) { _ = try await store.verify(against: checkpoint) }
        await expectFailure(fragment) { try await store.verifyConsistency(with: checkpoint) }
    }

    static func expectFailure(_ fragment: String, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("tampering not detected (expected \(fragment))")
        } catch let error as MLSecError {
            #expect(error.code == .verificationFailed && error.message.contains(fragment), "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// Paged reads: in order, bounded, empty past the end.
    static func checkPaging(_ store: any AuditStore) async throws {
        let page = try await store.entries(from: 5, limit: 7)
        #expect(page.map(\.index) == Array(5..<12))
        #expect(page.map(\.data) == Array(entries[5..<12]))
        #expect(try await store.entries(from: 35, limit: 100).map(\.index) == Array(35..<40))
        #expect(try await store.entries(from: 40, limit: 10).isEmpty)
        #expect(try await store.entries(from: 0, limit: 0).isEmpty)
    }
}

private func temporaryDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "mlsec-audit-cp-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite("checkpoints against SQLite logs recompute the tree")
struct SQLiteCheckpointTamperTests {
    @Test("an entry edited in the file fails verify and verify-checkpoint alike", arguments: 0..<CheckpointTamperScenario.cases.count)
    func editedEntry(_ number: Int) async throws {
        let (index, withLeafHash, fragment) = CheckpointTamperScenario.cases[number]
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/audit.db"
        let store = try SQLiteAuditStore(path: path)
        try await CheckpointTamperScenario.run(store, fragment: fragment) {
            let forged = Data(CheckpointTamperScenario.forged)
            let leaf = Data(MerkleHash.leaf(CheckpointTamperScenario.forged))
            try DatabaseQueue(path: path).write { db in
                if withLeafHash {
                    try db.execute(sql: "UPDATE entries SET data = ?, leaf_hash = ? WHERE idx = ?", arguments: [forged, leaf, index])
                } else {
                    try db.execute(sql: "UPDATE entries SET data = ? WHERE idx = ?", arguments: [forged, index])
                }
            }
        }
    }

    @Test("a store without its own single-pass check (the protocol's default) catches the edit too")
    func defaultImplementation() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // SwitchableAuditStore forwards only the protocol's other requirements: paging and the prefix root
        // come from the default implementations.
        try await CheckpointTamperScenario.checkPagingAfterFill(SwitchableAuditStore(try SQLiteAuditStore(path: "\(dir)/a.db")))
        let path = "\(dir)/b.db"
        try await CheckpointTamperScenario.run(SwitchableAuditStore(try SQLiteAuditStore(path: path)), fragment: "entry 17") {
            try DatabaseQueue(path: path).write { db in
                try db.execute(sql: "UPDATE entries SET data = X'00' WHERE idx = 17")
            }
        }
    }

    @Test("edge sizes: a checkpoint of the whole log and of the empty log; paged reads")
    func edges() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SQLiteAuditStore(path: "\(dir)/audit.db")
        let signer = try NoteSigner.generate(name: "test/audit")
        let empty = try Checkpoint.open(try await store.checkpoint(origin: "test/audit", signer: signer), verifiers: [signer.verifier])
        _ = try await store.append(CheckpointTamperScenario.entries)
        let whole = try Checkpoint.open(try await store.checkpoint(origin: "test/audit", signer: signer), verifiers: [signer.verifier])
        let fromEmpty = try await store.verify(against: empty)
        #expect(fromEmpty.logSize == 40 && !fromEmpty.consistencyProofChecked)
        let fromWhole = try await store.verify(against: whole)
        #expect(fromWhole.logSize == 40 && fromWhole.logRoot == whole.root && !fromWhole.consistencyProofChecked)
        var longer = whole
        longer.size = 41
        await CheckpointTamperScenario.expectFailure("entries were removed") { _ = try await store.verify(against: longer) }
        try await CheckpointTamperScenario.checkPaging(store)
    }
}

extension CheckpointTamperScenario {
    /// Fills an empty store with the 40 entries and checks paged reads.
    static func checkPagingAfterFill(_ store: any AuditStore) async throws {
        _ = try await store.append(entries)
        try await checkPaging(store)
    }
}

private var quiet: Logger {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}

/// A database of its own on the test server (the audit log is one per database).
private func freshDatabase() async throws -> MLSecStores.PostgresDatabase {
    let admin = try MLSecStores.PostgresDatabase(url: postgresURL ?? "", logger: quiet)
    let name = "mlsec_test_\(UInt64.random(in: 0...UInt64.max))"
    _ = try await admin.withDeadline { try await admin.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) }
    guard var parts = URLComponents(string: postgresURL ?? "") else { throw MLSecError.usage("bad MLSEC_TEST_POSTGRES_URL") }
    parts.path = "/\(name)"
    return try MLSecStores.PostgresDatabase(url: parts.string ?? "", logger: quiet)
}

// Skipped only outside CI when no server is configured; under CI a missing server fails these tests.
@Suite("checkpoints against PostgreSQL logs recompute the tree",
       .enabled(if: postgresURL != nil || ProcessInfo.processInfo.environment["CI"] != nil, "needs MLSEC_TEST_POSTGRES_URL (scripts/test.sh)"))
struct PostgresCheckpointTamperTests {
    @Test("an entry edited in the database fails verify and verify-checkpoint alike", arguments: 0..<CheckpointTamperScenario.cases.count)
    func editedEntry(_ number: Int) async throws {
        let (index, withLeafHash, fragment) = CheckpointTamperScenario.cases[number]
        let database = try await freshDatabase()
        let store = try await PostgresAuditStore(database: database)
        let sql = withLeafHash
            ? "UPDATE mlsec_audit_entries SET data = 'entry X'::bytea, leaf_hash = sha256('\\x00'::bytea || 'entry X'::bytea) WHERE idx = \(index)"
            : "UPDATE mlsec_audit_entries SET data = 'entry X'::bytea WHERE idx = \(index)"
        try await CheckpointTamperScenario.run(store, fragment: fragment) {
            _ = try await database.withDeadline { try await database.client.query(PostgresQuery(unsafeSQL: sql)) }
        }
        try await CheckpointTamperScenario.checkPaging(store)
    }
}
