// The SQLite-backed audit log: appends, proofs against the in-memory tree, reopening, tampering, checkpoints.

import Foundation
import MLSecAudit
import MLSecCore
import Testing

private func temporaryLog() throws -> (String, () -> Void) {
    let dir = NSTemporaryDirectory() + "mlsec-audit-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return ("\(dir)/audit.db", { try? FileManager.default.removeItem(atPath: dir) })
}

@Suite("audit log")
struct AuditLogTests {
    @Test("appends in batches; roots and proofs match the in-memory tree at every size; reopening keeps state")
    func appendsAndProofs() throws {
        let (path, cleanup) = try temporaryLog()
        defer { cleanup() }
        var reference = InMemoryMerkleTree()
        do {
            let log = try AuditLog(path: path)
            #expect(log.size == 0)
            #expect(try log.root().root == MerkleHash.emptyRoot)
            var next: UInt64 = 0
            for batch in [1, 2, 5, 17, 64, 3] {
                let entries = (0..<batch).map { i in Array("entry \(next + UInt64(i))".utf8) }
                let range = try log.append(entries)
                #expect(range == next..<(next + UInt64(batch)))
                for e in entries { reference.append(leafHash: MerkleHash.leaf(e)) }
                next += UInt64(batch)
            }
        }
        let log = try AuditLog(path: path, create: false)
        #expect(log.size == 92)
        let builder = MerkleProofBuilder(reader: reference)
        for n in UInt64(1)...92 {
            #expect(try log.root(size: n).root == builder.root(size: n))
        }
        for (m, n) in [(0, 1), (5, 92), (91, 92), (63, 64), (64, 92), (40, 77)] as [(UInt64, UInt64)] {
            let (_, proof) = try log.inclusionProof(index: m, size: n)
            #expect(proof == (try builder.inclusionProof(index: m, size: n)))
            try MerkleVerifier.verifyInclusion(
                index: m, size: n, leafHash: MerkleHash.leaf(try log.entry(at: m)), proof: proof, root: try log.root(size: n).root)
            if m > 0 {
                let c = try log.consistencyProof(from: m, to: n)
                #expect(c == (try builder.consistencyProof(from: m, to: n)))
            }
        }
        let report = try log.verify()
        let whole = try log.root().root
        #expect(report.size == 92 && report.root == whole)
        // More appends after reopening continue the same tree.
        try log.append([Array("late".utf8)])
        reference.append(leafHash: MerkleHash.leaf(Array("late".utf8)))
        #expect(try log.root().root == (try MerkleProofBuilder(reader: reference).root(size: 93)))
        #expect(throws: MLSecError.self) { _ = try log.inclusionProof(index: 93) }
        #expect(throws: MLSecError.self) { _ = try log.root(size: 94) }
        #expect(throws: MLSecError.self) { try log.append([[UInt8](repeating: 1, count: AuditLog.maxEntryBytes + 1)]) }
    }

    @Test("checkpoints: signed notes that verify, and consistency with the log that grew since")
    func checkpoints() async throws {
        let (path, cleanup) = try temporaryLog()
        defer { cleanup() }
        let log = try SQLiteAuditStore(path: path)
        _ = try await log.append((0..<10).map { [UInt8($0)] })
        let signer = try NoteSigner.generate(name: "mlsec.example/audit")
        let note = try await log.checkpoint(origin: "mlsec.example/audit", signer: signer)
        let checkpoint = try Checkpoint.open(note, verifiers: [signer.verifier])
        #expect(checkpoint.size == 10 && checkpoint.origin == "mlsec.example/audit")
        _ = try await log.append((10..<25).map { [UInt8($0)] })
        #expect(try await log.verifyConsistency(with: checkpoint) == 25)
        var forged = checkpoint
        forged.root[0] ^= 1
        await #expect(throws: MLSecError.self) { _ = try await log.verifyConsistency(with: forged) }
        forged = checkpoint
        forged.size = 26
        await #expect(throws: MLSecError.self) { _ = try await log.verifyConsistency(with: forged) }
        #expect(throws: MLSecError.self) {
            _ = try Checkpoint.open(note.replacingOccurrences(of: "\n10\n", with: "\n11\n"), verifiers: [signer.verifier])
        }
    }

    @Test("the right edge: restored from stored nodes it continues the same tree; a missing node is named")
    func rightEdge() throws {
        var reference = InMemoryMerkleTree()
        var edge = MerkleRightEdge()
        for i in 0..<37 {
            let leaf = MerkleHash.leaf([UInt8(i)])
            let completed = edge.append(leafHash: leaf)
            reference.append(leafHash: leaf)
            for node in completed { #expect(try reference.node(level: node.level, index: node.index) == node.hash) }
            #expect(edge.root() == (try MerkleProofBuilder(reader: reference).root(size: UInt64(i + 1))))
        }
        var restored = try MerkleRightEdge(size: 37) { level, index in try reference.node(level: level, index: index) }
        #expect(restored == edge)
        _ = restored.append(leafHash: MerkleHash.leaf([99]))
        #expect(restored.size == 38)
        #expect(throws: MLSecError.self) { _ = try MerkleRightEdge(size: 37) { _, _ in nil } }
    }

    @Test("audit events: the closed schema, canonical bytes, and refusal of unknown fields and bad digests")
    func events() throws {
        let event = AuditEvent(
            time: "2026-11-29T08:00:00Z", actor: "key:3f9a", action: "infer", resource: "models/digits", decision: .deny,
            reason: "rate limited", modelDigest: "sha256:" + String(repeating: "ab", count: 32))
        #expect(String(decoding: event.canonicalBytes, as: UTF8.self)
                == #"{"action":"infer","actor":"key:3f9a","decision":"deny","model_digest":"sha256:abababababababababababababababababababababababababababababababab","reason":"rate limited","resource":"models/digits","time":"2026-11-29T08:00:00Z"}"#)
        #expect(try AuditEvent(json: event.json) == event)
        let full = AuditEvent(
            time: "2026-11-29T08:00:00.123Z", actor: "key:\"quoted\"\\", action: "infer", resource: "models/d\u{e9}/1", decision: .allow,
            reason: "batch 1", requestID: "r1", requestDigest: "sha256:" + String(repeating: "01", count: 32),
            modelDigest: "sha256:" + String(repeating: "ab", count: 32), receiptDigest: "sha256:" + String(repeating: "cd", count: 32))
        #expect(full.canonicalBytes == JSONWriter.canonical(full.json), "the direct writer must produce canonical JSON")
        #expect(try AuditEvent(json: try JSONParser().parse(full.canonicalBytes)) == full)
        for bad in [
            #"{"time":"2026-11-29T08:00:00Z","actor":"a","action":"b","resource":"c","decision":"allow","input":"x"}"#,
            #"{"time":"yesterday","actor":"a","action":"b","resource":"c","decision":"allow"}"#,
            #"{"time":"2026-11-29T08:00:00Z","actor":"a","action":"b","resource":"c","decision":"maybe"}"#,
            #"{"time":"2026-11-29T08:00:00Z","actor":"a","action":"b","resource":"c","decision":"allow","model_digest":"md5:00"}"#,
            #"{"time":"2026-11-29T08:00:00Z","actor":"","action":"b","resource":"c","decision":"allow"}"#,
        ] {
            #expect(throws: MLSecError.self) { _ = try AuditEvent(json: try JSONParser().parse(Array(bad.utf8))) }
        }
    }

    @Test("free-text fields are bounded in bytes and stripped of control characters, so every event meets the schema")
    func boundedFields() throws {
        let hostile = String(repeating: "é\u{7}\n\r\u{85}\u{2028}x\u{1b}[31m", count: 400) + "🙂"
        let event = AuditEvent(actor: hostile, action: "infer", resource: hostile, decision: .deny, reason: hostile, requestID: hostile)
        for field in [event.actor, event.resource, event.reason ?? "", event.requestID ?? ""] {
            #expect(field.utf8.count <= AuditEvent.maxFieldBytes && field.hasSuffix("…"))
            #expect(!field.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) || $0.value == 0x2028 })
        }
        #expect(try AuditEvent(json: try JSONParser().parse(event.canonicalBytes)) == event)
        #expect(AuditEvent.bounded("plain reason") == "plain reason")
        #expect(AuditEvent.bounded(String(repeating: "€", count: 600)).utf8.count <= AuditEvent.maxFieldBytes)
    }
}
