// Tests of signing and verification through the library: every key type, methods, tampering, hostile trees.

import Foundation
import MLSecCore
import MLSecIntegrity
import Testing

@Suite struct SigningTests {
    @Test(arguments: SignatureAlgorithm.allCases)
    func signsAndVerifiesWithEveryKeyType(_ algorithm: SignatureAlgorithm) async throws {
        let model = try TestModel.make()
        defer { model.remove() }
        let key = ModelSigningKey.generate(algorithm)
        let reloaded = try ModelSigningKey(pem: key.pemRepresentation)
        #expect(reloaded.publicKey.spki == key.publicKey.spki)
        let signer = try ModelSigner(identity: .key(reloaded))
        let result = try signer.sign(modelPath: model.root, options: SigningOptions())
        let bundle = try SignatureBundle(fileBytes: result.bundle.fileBytes)
        let publicKey = try ModelVerifyingKey(pem: key.publicKey.pemRepresentation)
        let report = try await ModelVerifier(trust: .publicKey(publicKey)).verify(modelPath: model.root, bundle: bundle)
        #expect(report.isVerified)
        #expect(report.filesChecked == 5)
        let other = ModelSigningKey.generate(algorithm).publicKey
        await #expect(throws: MLSecError.self) {
            try await ModelVerifier(trust: .publicKey(other)).verify(modelPath: model.root, bundle: bundle)
        }
    }

    @Test(arguments: [
        (Serialization.Method.files, ModelHashAlgorithm.sha256), (.files, .blake2b), (.files, .blake3),
        (.shards(shardSize: 1_000_000), .sha256), (.shards(shardSize: 4096), .blake2b),
    ])
    func detectsAFlippedByte(_ method: Serialization.Method, _ hash: ModelHashAlgorithm) async throws {
        let model = try TestModel.make()
        defer { model.remove() }
        let key = ModelSigningKey.generate(.p256)
        let result = try ModelSigner(identity: .key(key)).sign(
            modelPath: model.root, options: SigningOptions(method: method, hash: hash))
        var bytes = TestModel.counterBytes("weights.bin", 2_500_000)
        bytes[1_500_000] ^= 1
        try model.write("weights.bin", bytes: bytes)
        let report = try await ModelVerifier(trust: .publicKey(key.publicKey)).verify(
            modelPath: model.root, bundle: result.bundle)
        let modified = report.changes.modified
        let verified = report.isVerified
        #expect(modified == ["weights.bin"])
        #expect(!verified)
    }

    @Test func shardsRecordEmptyFiles() throws {
        let model = try TestModel.make()
        defer { model.remove() }
        let result = try ModelSigner(identity: .key(.generate(.p256))).sign(
            modelPath: model.root, options: SigningOptions(method: .shards(shardSize: 1_000_000)))
        #expect(result.manifest.emptyFiles == ["sub/empty.bin"])
        #expect(result.manifest.items.map(\.name).prefix(4) == [
            "config.json:0:59", "sub/layer1.bin:0:1000000", "sub/layer1.bin:1000000:1048576", "sub-notes.txt:0:67",
        ])
    }

    @Test func fileChangedAfterTheWalkIsAnError() throws {
        let model = try TestModel.make(["a.bin": 100_000])
        defer { model.remove() }
        let tree = try ModelTree(path: model.root)
        try model.write("a.bin", bytes: [UInt8](repeating: 1, count: 100_001))
        let error = #expect(throws: MLSecError.self) {
            try ModelHasher().hash(files: tree.files, serialization: Serialization(method: .files, hash: .sha256),
                                   modelName: "m")
        }
        #expect(error?.message.contains("changed while") == true)
    }

    @Test func blake3ShardsAreRefused() throws {
        let model = try TestModel.make(["a.bin": 10])
        defer { model.remove() }
        #expect(throws: MLSecError.self) {
            try ModelSigner(identity: .key(.generate(.p256))).sign(
                modelPath: model.root, options: SigningOptions(method: .shards(shardSize: 4096), hash: .blake3))
        }
    }

    @Test func hashIsIndependentOfThreadCountAndReadSize() throws {
        let model = try TestModel.make(["a.bin": 3_000_001, "b.bin": 17, "c/d.bin": 1_048_576])
        defer { model.remove() }
        let tree = try ModelTree(path: model.root)
        for hash in ModelHashAlgorithm.allCases {
            let s = Serialization(method: .files, hash: hash)
            let one = try ModelHasher(workerCount: 1, readSize: 4096).hash(files: tree.files, serialization: s, modelName: "m")
            let many = try ModelHasher(workerCount: 8).hash(files: tree.files, serialization: s, modelName: "m")
            #expect(one.manifest.items == many.manifest.items)
            #expect(one.manifest.items.first?.digest == hash.hash(TestModel.counterBytes("a.bin", 3_000_001)))
        }
    }

    @Test func keyHintIsTheSHA256OfThePEM() throws {
        let pem = """
            -----BEGIN PUBLIC KEY-----
            MCowBQYDK2VwAyEA2TSZdXRbuqDGCXJjqUORupCTJ2Mdo0GCg4jjvAdabng=
            -----END PUBLIC KEY-----

            """
        let key = try ModelVerifyingKey(pem: pem)
        #expect(key.algorithm == .ed25519)
        #expect(key.pemRepresentation == pem)
        #expect(key.hint == ModelHashAlgorithm.sha256.hash(Array(pem.utf8)).map { String(format: "%02x", $0) }.joined())
    }

    @Test func privateKeyDescriptionHidesTheKey() {
        let key = ModelSigningKey.generate(.p256)
        #expect(String(describing: key) == "ModelSigningKey(p256)")
    }
}
