// DatasetSignature: signs a dataset manifest as a Sigstore bundle (DSSE around an in-toto statement, the model-signing
// format), verifies data against it naming each changed, added or removed record, and proves single records.

import MLSecAudit
import MLSecCore
import MLSecIntegrity

/// What `verify` found.
public struct DatasetVerification: Sendable {
    public var signed: DatasetManifest
    public var current: DatasetManifest
    public var records: RecordDiff
    /// Files added, removed, or whose CSV header changed (paths).
    public var addedFiles: [String]
    public var removedFiles: [String]
    public var changedHeaders: [String]

    public var isVerified: Bool { records.isEmpty && addedFiles.isEmpty && removedFiles.isEmpty && changedHeaders.isEmpty }
}

/// An inclusion proof that one record was in a signed dataset.
public struct RecordProof: Sendable, Equatable {
    public var record: Int
    public var treeSize: Int
    public var leafHash: [UInt8]
    public var path: [[UInt8]]
    /// The record's bytes (so that the proof shows what it proves); nil when left out.
    public var recordBytes: [UInt8]?

    public var json: JSONValue {
        .object([
            ("format", .string("mlsec-record-proof")), ("version", .int(1)), ("record", .int(record)), ("tree_size", .int(treeSize)),
            ("leaf_hash", .string(Hex.encode(leafHash))), ("proof", .array(path.map { .string(Hex.encode($0)) })),
            ("record_base64", recordBytes.map { .string(Base64.encode($0)) } ?? .null),
        ])
    }

    public init(record: Int, treeSize: Int, leafHash: [UInt8], path: [[UInt8]], recordBytes: [UInt8]?) {
        self.record = record
        self.treeSize = treeSize
        self.leafHash = leafHash
        self.path = path
        self.recordBytes = recordBytes
    }

    public init(bytes: [UInt8], context: String) throws {
        guard bytes.count <= 80 << 20 else { throw MLSecError.limitExceeded("\(context) is over 80 MiB") }
        let json = try JSONParser(limits: .init(maxDepth: 4, maxStringBytes: 64 << 20, maxContainerCount: 128)).parse(bytes, context: context)
        guard json["format"]?.stringValue == "mlsec-record-proof", json["version"]?.integerValue == 1,
              let record = json["record"]?.integerValue, let size = json["tree_size"]?.integerValue, record >= 0, record < size,
              let leafText = json["leaf_hash"]?.stringValue, let leaf = Hex.decode(leafText), leaf.count == 32,
              let proof = json["proof"]?.arrayValue, proof.count <= 64
        else { throw MLSecError.malformed("\(context) is not an MLSec record proof (format mlsec-record-proof, version 1)") }
        let path = try proof.map { value -> [UInt8] in
            guard let text = value.stringValue, let h = Hex.decode(text), h.count == 32 else {
                throw MLSecError.malformed("\(context): a proof hash is not 64 hex digits")
            }
            return h
        }
        var bytes: [UInt8]?
        if let text = json["record_base64"]?.stringValue {
            guard let decoded = Base64.decode(text) else { throw MLSecError.malformed("\(context): record_base64 is not Base64") }
            bytes = decoded
        }
        self.init(record: record, treeSize: size, leafHash: leaf, path: path, recordBytes: bytes)
    }
}

public enum DatasetSignature {
    /// Measures `path` and signs its manifest with `key`.
    public static func sign(path: String, key: ModelSigningKey, chunkSize: Int = 1 << 20) throws -> (bundle: SignatureBundle, manifest: DatasetManifest) {
        let manifest = try DatasetManifest.measure(path: path, chunkSize: chunkSize)
        var bundle = SignatureBundle(material: .publicKey(hint: key.publicKey.hint), payload: JSONWriter.bytes(manifest.statement), signature: [])
        bundle.signature = try key.sign(bundle.signedBytes)
        return (bundle, manifest)
    }

    /// The authenticated manifest of `bundle`.
    public static func authenticate(_ bundle: SignatureBundle, trust: ModelTrust, context: String) async throws -> DatasetManifest {
        try DatasetManifest(statement: try await ModelVerifier(trust: trust).authenticateStatement(bundle), context: context)
    }

    /// Authenticates `bundle`, measures `path` again and compares record by record.
    public static func verify(path: String, bundle: SignatureBundle, trust: ModelTrust, context: String) async throws -> DatasetVerification {
        let signed = try await authenticate(bundle, trust: trust, context: context)
        let current = try DatasetManifest.measure(path: path, chunkSize: signed.chunkSize)
        let signedPaths = Set(signed.files.map(\.path)), currentPaths = Set(current.files.map(\.path))
        let headers = Dictionary(signed.files.map { ($0.path, $0.headerSHA256) }, uniquingKeysWith: { a, _ in a })
        return DatasetVerification(
            signed: signed, current: current, records: RecordDiff.between(signed: signed.leaves, current: current.leaves),
            addedFiles: current.files.map(\.path).filter { !signedPaths.contains($0) },
            removedFiles: signed.files.map(\.path).filter { !currentPaths.contains($0) },
            changedHeaders: current.files.filter { f in signedPaths.contains(f.path) && headers[f.path] != f.headerSHA256 }.map(\.path))
    }

    /// An inclusion proof of record `index` of the signed dataset, from the data at `path` (which must still hold that
    /// record unchanged).
    public static func prove(record index: Int, path: String, signed: DatasetManifest) throws -> RecordProof {
        guard index >= 0, index < signed.recordCount else {
            throw MLSecError.usage("record \(index) is not in the signed dataset (0..<\(signed.recordCount))")
        }
        let current = try DatasetManifest.measure(path: path, chunkSize: signed.chunkSize)
        guard index < current.recordCount, current.leaves[index] == signed.leaves[index] else {
            throw MLSecError.verificationFailed("record \(index) of the data is not the signed record \(index): it changed or moved")
        }
        var tree = InMemoryMerkleTree()
        for leaf in signed.leaves { tree.append(leafHash: leaf) }
        let proof = try MerkleProofBuilder(reader: tree).inclusionProof(index: UInt64(index), size: tree.size)
        return RecordProof(record: index, treeSize: signed.recordCount, leafHash: signed.leaves[index], path: proof,
                           recordBytes: try recordBytes(index, path: path, manifest: current))
    }

    /// Checks `proof` against the signed root (and, when the proof carries the record, its bytes against the leaf).
    public static func check(_ proof: RecordProof, signed: DatasetManifest) throws {
        guard proof.treeSize == signed.recordCount else {
            throw MLSecError.verificationFailed("the proof is for a dataset of \(proof.treeSize) records, the manifest signs \(signed.recordCount)")
        }
        if let bytes = proof.recordBytes, MerkleHash.leaf(bytes) != proof.leafHash {
            throw MLSecError.verificationFailed("the record's bytes do not hash to the proof's leaf")
        }
        do {
            try MerkleVerifier.verifyInclusion(index: UInt64(proof.record), size: UInt64(proof.treeSize), leafHash: proof.leafHash,
                                               proof: proof.path, root: signed.root)
        } catch {
            throw MLSecError.verificationFailed("record \(proof.record) is not in the signed dataset: \(error)")
        }
    }

    /// The bytes of record `index` (re-read from its file).
    static func recordBytes(_ index: Int, path: String, manifest: DatasetManifest) throws -> [UInt8]? {
        guard let file = manifest.files.first(where: { index >= $0.firstRecord && index < $0.firstRecord + $0.records }) else { return nil }
        let full = file.path == "." ? path : path + "/" + file.path
        return try RecordSplitter.split(path: full, kind: file.kind, chunkSize: manifest.chunkSize, recordLimit: RecordSplitter.maxRecords,
                                        capture: index - file.firstRecord).captured
    }
}
