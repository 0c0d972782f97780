// RFC 6962 / RFC 9162 conformance: transparency-dev hash, tree and proof vectors, and signed-note vectors.

import Foundation
import MLSecAudit
import MLSecCore
import Testing

enum AuditVectors {
    static let document: JSONValue? = {
        guard let url = Bundle.module.url(forResource: "vectors", withExtension: "json", subdirectory: "Vectors"),
            let data = FileManager.default.contents(atPath: url.path)
        else { return nil }
        return try? JSONParser().parse([UInt8](data), context: "vectors.json")
    }()

    static func probes(_ key: String) -> [JSONValue] { document?[key]?.arrayValue ?? [] }

    static func hex(_ text: String?) -> [UInt8] { text.flatMap(Hex.decode) ?? [] }

    /// Base64 fields of the probes (null or missing gives empty bytes, as Go's []byte(nil)).
    static func b64(_ value: JSONValue?) -> [UInt8] { value?.stringValue.flatMap(Base64.decode) ?? [] }

    static func number(_ value: JSONValue?) -> UInt64 {
        if case .number(let text)? = value, let n = UInt64(text) { return n }
        return 0
    }
}

/// A probe with a readable name for the test report.
struct Probe: CustomStringConvertible, Sendable {
    let value: JSONValue
    var description: String { value["source_path"]?.stringValue ?? "?" }
}

@Suite("RFC 6962 Merkle vectors")
struct MerkleVectorTests {
    @Test("hash primitives: empty root, empty leaf, a leaf, a node")
    func primitives() throws {
        let p = try #require(AuditVectors.document?["hash_primitives"])
        #expect(MerkleHash.emptyRoot == AuditVectors.hex(p["empty_root"]?.stringValue))
        #expect(MerkleHash.leaf([UInt8]()) == AuditVectors.hex(p["empty_leaf"]?.stringValue))
        #expect(MerkleHash.leaf(Array("L123456".utf8)) == AuditVectors.hex(p["leaf_L123456"]?.stringValue))
        #expect(MerkleHash.node(Array("N123".utf8), Array("N456".utf8)) == AuditVectors.hex(p["node_N123_N456"]?.stringValue))
    }

    @Test("the reference tree: every node and every root of sizes 0-8, and proofs that verify")
    func referenceTree() throws {
        let t = try #require(AuditVectors.document?["reference_tree"])
        let leaves = (t["leaf_inputs_hex"]?.arrayValue ?? []).map { AuditVectors.hex($0.stringValue) }
        let roots = (t["root_hashes_hex_by_size"]?.arrayValue ?? []).map { AuditVectors.hex($0.stringValue) }
        let levels = (t["node_hashes_hex_by_level"]?.arrayValue ?? []).map { $0.arrayValue?.map { AuditVectors.hex($0.stringValue) } ?? [] }
        #expect(leaves.count == 8 && roots.count == 9)
        var tree = InMemoryMerkleTree()
        let builder = { MerkleProofBuilder(reader: tree) }
        #expect(try builder().root(size: 0) == roots[0])
        for (i, leaf) in leaves.enumerated() {
            tree.append(leafHash: MerkleHash.leaf(leaf))
            #expect(try builder().root(size: UInt64(i + 1)) == roots[i + 1], "root of size \(i + 1)")
        }
        for (level, hashes) in levels.enumerated() {
            for (index, hash) in hashes.enumerated() {
                #expect(try tree.node(level: level, index: UInt64(index)) == hash, "node \(level)/\(index)")
            }
        }
        for n in 1...8 {
            for m in 0..<n {
                let proof = try builder().inclusionProof(index: UInt64(m), size: UInt64(n))
                try MerkleVerifier.verifyInclusion(
                    index: UInt64(m), size: UInt64(n), leafHash: MerkleHash.leaf(leaves[m]), proof: proof, root: roots[n])
            }
            for m in 1...n {
                let proof = try builder().consistencyProof(from: UInt64(m), to: UInt64(n))
                try MerkleVerifier.verifyConsistency(
                    size1: UInt64(m), size2: UInt64(n), proof: proof, root1: roots[m], root2: roots[n])
            }
        }
    }

    @Test("inclusion probes: the expected outcome, and happy-path proofs match ours byte for byte",
          arguments: AuditVectors.probes("inclusion_probes").map(Probe.init))
    func inclusion(_ probe: Probe) throws {
        let p = probe.value
        let proof = (p["proof"]?.arrayValue ?? []).map { AuditVectors.b64($0) }
        var error: MerkleVerifier.Failure?
        do {
            try MerkleVerifier.verifyInclusion(
                index: AuditVectors.number(p["leafIdx"]), size: AuditVectors.number(p["treeSize"]),
                leafHash: AuditVectors.b64(p["leafHash"]), proof: proof, root: AuditVectors.b64(p["root"]))
        } catch let failure {
            error = failure
        }
        #expect((error != nil) == (p["wantErr"]?.boolValue ?? false), "\(probe): \(String(describing: error))")
    }

    @Test("consistency probes: the expected outcome", arguments: AuditVectors.probes("consistency_probes").map(Probe.init))
    func consistency(_ probe: Probe) throws {
        let p = probe.value
        let proof = (p["proof"]?.arrayValue ?? []).map { AuditVectors.b64($0) }
        var error: MerkleVerifier.Failure?
        do {
            try MerkleVerifier.verifyConsistency(
                size1: AuditVectors.number(p["size1"]), size2: AuditVectors.number(p["size2"]), proof: proof,
                root1: AuditVectors.b64(p["root1"]), root2: AuditVectors.b64(p["root2"]))
        } catch let failure {
            error = failure
        }
        #expect((error != nil) == (p["wantErr"]?.boolValue ?? false), "\(probe): \(String(describing: error))")
    }

    @Test("every proof of every tree up to 64 leaves verifies; every one-bit flip is rejected")
    func exhaustive() throws {
        var tree = InMemoryMerkleTree()
        var roots: [[UInt8]] = [MerkleHash.emptyRoot]
        for i in 0..<64 {
            tree.append(leafHash: MerkleHash.leaf([UInt8(i)]))
            roots.append(try MerkleProofBuilder(reader: tree).root(size: UInt64(i + 1)))
        }
        #expect(Hex.encode(roots[64]) == "4433a69f32158463382405ec957c31b8bc89a1f08964b920f6cf53dc13098cb3")
        let builder = MerkleProofBuilder(reader: tree)
        for n in UInt64(1)...64 {
            for m in UInt64(0)..<n {
                let proof = try builder.inclusionProof(index: m, size: n)
                let leaf = MerkleHash.leaf([UInt8(m)])
                try MerkleVerifier.verifyInclusion(index: m, size: n, leafHash: leaf, proof: proof, root: roots[Int(n)])
                if !proof.isEmpty, m % 7 == 0 {
                    var bad = proof
                    bad[bad.count / 2][Int(m) % 32] ^= 0x10
                    #expect(throws: MerkleVerifier.Failure.self) {
                        try MerkleVerifier.verifyInclusion(index: m, size: n, leafHash: leaf, proof: bad, root: roots[Int(n)])
                    }
                }
                let c = try builder.consistencyProof(from: m + 1, to: n)
                try MerkleVerifier.verifyConsistency(size1: m + 1, size2: n, proof: c, root1: roots[Int(m + 1)], root2: roots[Int(n)])
            }
        }
    }

    @Test("signed-note vectors: the Go sumdb/note and C2SP examples verify; re-signing reproduces the signature")
    func notes() throws {
        let vectors = AuditVectors.probes("signed_note_vectors")
        #expect(vectors.count == 2)
        for v in vectors {
            let verifier = try NoteVerifier(encoded: v["vkey"]?.stringValue ?? "")
            let note = v["signed_note"]?.stringValue ?? ""
            let text = try NoteVerifier.open(note, verifiers: [verifier])
            #expect(note.hasPrefix(text))
            if let skey = v["skey_TEST_ONLY"]?.stringValue {
                let signer = try NoteSigner(encoded: skey)
                #expect(signer.verifier == verifier)
                #expect(try signer.sign(text) == note)
            }
            // One changed letter fails; a note for an unknown key is not verified.
            let tampered = note.replacingOccurrences(of: "is", with: "iz")
            #expect(throws: MLSecError.self) { _ = try NoteVerifier.open(tampered, verifiers: [verifier]) }
            let stranger = try NoteSigner.generate(name: "someone.else").verifier
            #expect(throws: MLSecError.self) { _ = try NoteVerifier.open(note, verifiers: [stranger]) }
        }
    }
}
