// The model registry: round trips through SQLite, stage transitions (illegal ones refused), audit entries,
// records that cannot be read refused, and the tensor-level diff of two versions.

import Foundation
import GRDB
import MLSecAudit
import MLSecIntegrity
import MLSecCore
import MLSecDeploy
import MLSecEngine
import Testing

@Suite("model registry")
struct ModelRegistryTests {
    static func registry(_ directory: String) throws -> (ModelRegistry, SQLiteAuditStore) {
        let audit = try SQLiteAuditStore(path: "\(directory)/registry-audit.db")
        return (ModelRegistry(store: try SQLiteRegistryStore(directory: directory), audit: audit), audit)
    }

    @Test func registersWhatThePipelineFoundAndKeepsItAcrossOpens() async throws {
        let model = try SignedModel()
        let (registry, audit) = try Self.registry(model.directory)
        let record = try await registry.register(model.location(), facts: .init(evaluations: ["accuracy": 0.97], datasets: ["train": "sha256:00"]),
                                                 by: "test")
        #expect(record.stage == .staging)
        #expect(record.manifestDigest.hasPrefix("sha256:") && record.signer.hasPrefix("key:sha256:"))
        #expect(record.scanVerdict == "clean" && record.files.keys.sorted() == ["model.json", "weights.safetensors"])
        let reopened = try SQLiteRegistryStore(directory: model.directory)
        let stored = try #require(try await reopened.version(name: "digits", version: "1"))
        #expect(stored.manifestDigest == record.manifestDigest && stored.signer == record.signer && stored.files == record.files)
        #expect(stored.evaluations == ["accuracy": 0.97] && stored.datasets == ["train": "sha256:00"] && stored.stage == .staging)
        #expect(abs(stored.createdAt.timeIntervalSince(record.createdAt)) < 0.001)
        #expect(try await audit.currentSize() == 1)
        await #expect(throws: MLSecError.self) { try await registry.register(model.location(), facts: .init(), by: "test") }
    }

    @Test func stagesMoveOnlyAlongAllowedTransitions() async throws {
        let model = try SignedModel()
        let (registry, audit) = try Self.registry(model.directory)
        _ = try await registry.register(model.location(), facts: .init(), by: "test")
        try await registry.changeStage(name: "digits", version: "1", to: .production, by: "ops", reason: "release")
        try await registry.changeStage(name: "digits", version: "1", to: .archived, by: "ops", reason: "replaced")
        await #expect(throws: MLSecError.self) {
            try await registry.changeStage(name: "digits", version: "1", to: .production, by: "ops", reason: "archived cannot go live")
        }
        try await registry.changeStage(name: "digits", version: "1", to: .revoked, by: "sec", reason: "key leaked")
        for stage in ModelStage.allCases {
            await #expect(throws: MLSecError.self) { try await registry.changeStage(name: "digits", version: "1", to: stage, by: "x", reason: "final") }
        }
        let record = try #require(try await registry.store.version(name: "digits", version: "1"))
        #expect(record.stage == .revoked && record.stageChangedBy == "sec" && record.stageReason == "key leaked")
        #expect(try await registry.store.revoked() == [RegistryKey(name: "digits", version: "1")])
        #expect(try await audit.currentSize() == 4)
        await #expect(throws: MLSecError.self) { try await registry.changeStage(name: "digits", version: "9", to: .production, by: "x", reason: "") }
    }

    @Test func aRecordEditedByHandIsRefused() async throws {
        let model = try SignedModel()
        let (registry, _) = try Self.registry(model.directory)
        _ = try await registry.register(model.location(), facts: .init(), by: "test")
        // The stage column says production while the record says staging: the row is refused, not trusted.
        let raw = try DatabaseQueue(path: "\(model.directory)/registry.db")
        try await raw.write { try $0.execute(sql: "UPDATE model_versions SET stage = 'production'") }
        await #expect(throws: MLSecError.self) { try await registry.store.version(name: "digits", version: "1") }
        try await raw.write { try $0.execute(sql: "UPDATE model_versions SET stage = 'staging', record = '{\"name\": 1}'") }
        await #expect(throws: MLSecError.self) { try await registry.store.version(name: "digits", version: "1") }
    }

    @Test func diffNamesTheChangedTensorsAndHowMuch() async throws {
        let model = try SignedModel()
        let (registry, _) = try Self.registry(model.directory)
        let first = try await registry.register(model.location(), facts: .init(), by: "test")
        // Version 2: the same model with the last layer's bias moved.
        let second = try Self.secondVersion(of: model)
        let record = try await registry.register(second, facts: .init(), by: "test")
        let diff = try VersionDiff.compare(first, record)
        let changed = try #require(diff.tensors).filter { $0.status == "changed" }
        #expect(changed.count == 1)
        #expect(abs((changed.first?.maxAbsoluteDifference ?? 0) - 0.5) < 1e-6)
        #expect(diff.files.first { $0.path == "weights.safetensors" }?.status == "changed")
        #expect(diff.files.first { $0.path == "model.json" }?.status == "unchanged")
    }

    /// Version 2 of `model`: the same weights with one bias vector moved by 0.5, signed with a fresh key.
    static func secondVersion(of model: SignedModel) throws -> ModelLocation {
        let directory = "\(model.directory)/v2"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var weights = model.signed.weights
        let bias = try #require(weights.keys.filter { $0.hasSuffix("bias") }.sorted().last)
        weights[bias] = try Tensor(shape: weights[bias]?.shape ?? [], data: (weights[bias]?.data ?? []).map { $0 + 0.5 })
        try ModelStore.save(try Model(spec: model.signed.spec, weights: weights), to: directory)
        let key = ModelSigningKey.generate(.p256)
        try AtomicFile.write(key.publicKey.pemRepresentation, to: "\(directory).pub")
        let result = try ModelSigner(identity: .key(key)).sign(modelPath: directory, options: SigningOptions())
        try AtomicFile.write(result.bundle.fileBytes, to: "\(directory).sig")
        return ModelLocation(name: "digits", version: "2", path: directory, signature: "\(directory).sig", publicKeys: ["\(directory).pub"])
    }
}
