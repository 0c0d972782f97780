// Dataset manifests: record splitting, the edit script, proofs, and hostile manifests.

import Foundation
import MLSecAudit
import MLSecCore
import MLSecData
import MLSecIntegrity
import Testing

@Suite struct DatasetManifestTests {
    func hashes(_ values: [Int]) -> [[UInt8]] { values.map { MerkleHash.leaf(Array(String($0).utf8)) } }

    @Test func editScriptNamesChangesAdditionsAndRemovals() {
        let old = hashes(Array(0..<20))
        var new = old
        new[3] = hashes([100])[0]
        new.remove(at: 10)
        new.insert(hashes([200])[0], at: 15)
        let diff = RecordDiff.between(signed: old, current: new)
        #expect(diff.changed == [3] && diff.removed == [10] && diff.added == [15])
        #expect(RecordDiff.between(signed: old, current: old).isEmpty)
        #expect(RecordDiff.between(signed: [], current: hashes([1, 2])).added == [0, 1])
        #expect(RecordDiff.between(signed: hashes([1, 2]), current: []).removed == [0, 1])
    }

    @Test func csvRowsKeepQuotedNewlinesAndTheHeaderIsNoRecord() throws {
        let dir = NSTemporaryDirectory() + "mlsec-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write("h1,h2\n1,\"a\nb\"\n2,c\n3,\"say \"\"hi\"\"\"", to: "\(dir)/d.csv")
        let manifest = try DatasetManifest.measure(path: "\(dir)/d.csv")
        #expect(manifest.recordCount == 3 && manifest.files[0].headerSHA256 != nil)
        #expect(manifest.leaves[0] == MerkleHash.leaf(Array("1,\"a\nb\"\n".utf8)))
        #expect(manifest.leaves[2] == MerkleHash.leaf(Array("3,\"say \"\"hi\"\"\"".utf8)))
        try AtomicFile.write("h\n\"open\n", to: "\(dir)/bad.csv")
        #expect(throws: MLSecError.self) { try DatasetManifest.measure(path: "\(dir)/bad.csv") }
    }

    @Test func signedManifestsRoundTripAndProveRecords() async throws {
        let dir = NSTemporaryDirectory() + "mlsec-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write("x\n" + (0..<37).map { "\($0)\n" }.joined(), to: "\(dir)/d.csv")
        let key = ModelSigningKey.generate(.p256)
        let (bundle, manifest) = try DatasetSignature.sign(path: "\(dir)/d.csv", key: key)
        let trust = ModelTrust.publicKey(key.publicKey)
        let signed = try await DatasetSignature.authenticate(bundle, trust: trust, context: "m")
        #expect(signed == manifest)
        for record in [0, 17, 36] {
            let proof = try DatasetSignature.prove(record: record, path: "\(dir)/d.csv", signed: signed)
            try DatasetSignature.check(try RecordProof(bytes: JSONWriter.bytes(proof.json), context: "p"), signed: signed)
            #expect(proof.recordBytes == Array("\(record)\n".utf8))
        }
        var wrong = try DatasetSignature.prove(record: 5, path: "\(dir)/d.csv", signed: signed)
        wrong.record = 6
        #expect(throws: MLSecError.self) { try DatasetSignature.check(wrong, signed: signed) }
        // A statement whose leaves do not give its root is refused.
        var statement = manifest.statement
        if case .object(var members) = statement, let i = members.firstIndex(where: { $0.0 == "predicate" }),
           case .object(var predicate) = members[i].1, let j = predicate.firstIndex(where: { $0.0 == "merkle_root" }) {
            predicate[j].1 = .string(String(repeating: "0", count: 64))
            members[i].1 = .object(predicate)
            statement = .object(members)
        }
        #expect(throws: MLSecError.self) { try DatasetManifest(statement: statement, context: "m") }
    }
}
