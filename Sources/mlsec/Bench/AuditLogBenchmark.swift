// AuditLogBenchmark: durable append throughput and proof latency of the audit log, with a same-run baseline.

import Foundation
import GRDB
import MLSecAudit
import MLSecCore

/// Measures the audit log: appends per second with durable batches (against a baseline that stores the same
/// entries in SQLite with the same durability but no Merkle tree), and the time of inclusion and consistency
/// proofs once the log holds `proofSize` entries.
enum AuditLogBenchmark {
    struct Result: Sendable {
        var batch: Int
        var appendsPerSecond: Double
        var baselinePerSecond: Double
        var proofSize: UInt64
        var buildSeconds: Double
        var inclusionMicroseconds: Double
        var consistencyMicroseconds: Double
    }

    /// A small audit-event-sized entry (about 150 bytes of canonical JSON).
    static func entry(_ i: UInt64) -> [UInt8] {
        Array(#"{"action":"infer","actor":"key:3f9a0c1d","decision":"allow","resource":"models/digits/versions/1","time":"2026-11-29T08:00:00.000Z","request_id":"\#(i)"}"#.utf8)
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        return s.isEmpty ? 0 : s[s.count / 2]
    }

    /// Runs the benchmark in `directory` (files are removed afterwards).
    static func run(
        directory: String, appendEntries: Int, batch: Int, proofSize: UInt64, proofs: Int,
        progress: (String) -> Void
    ) throws -> Result {
        let logPath = "\(directory)/bench-audit.db"
        let basePath = "\(directory)/bench-baseline.db"
        for p in [logPath, basePath] {
            for suffix in ["", "-wal", "-shm"] { unlink(p + suffix) }
        }
        defer {
            for p in [logPath, basePath] {
                for suffix in ["", "-wal", "-shm"] { unlink(p + suffix) }
            }
        }
        // Baseline: the same entries, same batches, same durability, no tree.
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let baseline = try DatabaseQueue(path: basePath, configuration: configuration)
        try baseline.write { db in try db.execute(sql: "CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)") }
        var start = now()
        var i: UInt64 = 0
        while i < UInt64(appendEntries) {
            let count = min(UInt64(batch), UInt64(appendEntries) - i)
            try baseline.write { db in
                let insert = try db.cachedStatement(sql: "INSERT INTO entries (idx, data) VALUES (?, ?)")
                for j in i..<(i + count) { try insert.execute(arguments: [Int64(j), Data(entry(j))]) }
            }
            i += count
        }
        let baselineRate = Double(appendEntries) / (now() - start)
        progress("baseline: \(Int(baselineRate)) entries/s")

        let log = try AuditLog(path: logPath)
        start = now()
        i = 0
        while i < UInt64(appendEntries) {
            let count = min(UInt64(batch), UInt64(appendEntries) - i)
            try log.append((i..<(i + count)).map(entry))
            i += count
        }
        let appendRate = Double(appendEntries) / (now() - start)
        progress("audit log: \(Int(appendRate)) entries/s")

        // Grow to proofSize with large batches, then time proofs.
        start = now()
        while i < proofSize {
            let count = min(100_000, proofSize - i)
            try log.append((i..<(i + count)).map(entry))
            i += count
            if i % 1_000_000 == 0 { progress("grown to \(i) entries") }
        }
        let buildSeconds = now() - start
        var generator = SystemRandomNumberGenerator()
        var inclusion: [Double] = []
        var consistency: [Double] = []
        for _ in 0..<proofs {
            let index = UInt64.random(in: 0..<proofSize, using: &generator)
            var t = now()
            _ = try log.inclusionProof(index: index, size: proofSize)
            inclusion.append(now() - t)
            let from = UInt64.random(in: 1...proofSize, using: &generator)
            t = now()
            _ = try log.consistencyProof(from: from, to: proofSize)
            consistency.append(now() - t)
        }
        return Result(
            batch: batch, appendsPerSecond: appendRate, baselinePerSecond: baselineRate, proofSize: proofSize,
            buildSeconds: buildSeconds, inclusionMicroseconds: median(inclusion) * 1e6,
            consistencyMicroseconds: median(consistency) * 1e6)
    }
}
