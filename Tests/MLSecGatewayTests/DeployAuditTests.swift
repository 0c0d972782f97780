// A deploy is audited before the new version is served: when the audit log cannot take the entry, the served
// model does not change and the caller gets 503.

import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import MLSecAccess
import MLSecAudit
import MLSecCore
import MLSecDeploy
import MLSecGateway
import MLSecIntegrity
import MLSecStores
import Synchronization
import Testing

/// A SQLite audit log that can be made to fail, as a database that goes down.
final class SwitchableAuditStore: AuditStore {
    let inner: SQLiteAuditStore
    let failing = Atomic(false)
    init(_ inner: SQLiteAuditStore) { self.inner = inner }
    private func check() throws { if failing.load(ordering: .relaxed) { throw MLSecError.io("the audit database is down") } }
    var location: String { inner.location }
    func append(_ entries: [[UInt8]]) async throws -> Range<UInt64> { try check(); return try await inner.append(entries) }
    func currentSize() async throws -> UInt64 { try await inner.currentSize() }
    func root(size: UInt64?) async throws -> (size: UInt64, root: [UInt8]) { try await inner.root(size: size) }
    func inclusionProof(index: UInt64, size: UInt64?) async throws -> (size: UInt64, proof: [[UInt8]]) {
        try await inner.inclusionProof(index: index, size: size)
    }
    func consistencyProof(from: UInt64, to: UInt64) async throws -> [[UInt8]] { try await inner.consistencyProof(from: from, to: to) }
    func entry(at index: UInt64) async throws -> [UInt8] { try await inner.entry(at: index) }
    func verify(progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport { try await inner.verify(progress: progress) }
}

@Suite("deploys are audited before they are served")
struct DeployAuditTests {
    @Test("an audit log that cannot take the deploy's entry leaves the served version unchanged (503); once it can, the deploy goes through")
    func auditedBeforeInstall() async throws {
        let dir = NSTemporaryDirectory() + "mlsec-deploy-audit-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let configuration = try await DemoSetup.prepare(stateDirectory: dir, port: 0, log: { _ in })
        // Version 2: the same weights, signed by the publisher as digits version 2.
        try FileManager.default.copyItem(atPath: "\(dir)/models/digits/1", toPath: "\(dir)/models/digits/2")
        let publisher = try ModelSigningKey(pem: try String(contentsOfFile: "\(dir)/publisher.pem", encoding: .utf8))
        var options = SigningOptions()
        options.modelIdentity = SignedModelIdentity(name: "digits", version: "2")
        let signed = try ModelSigner(identity: .key(publisher)).sign(modelPath: "\(dir)/models/digits/2", options: options)
        try AtomicFile.write(signed.bundle.fileBytes, to: "\(dir)/models/digits-2.sig", mode: 0o644, overwrite: true)

        let audit = SwitchableAuditStore(try SQLiteAuditStore(path: "\(dir)/audit.db"))
        let keys = try await APIKeyStore(backend: try SQLiteKeyBackend(database: try DatabaseQueue()))
        let services = try await GatewayStartup.services(configuration, stores: GatewayStores(keys: keys, audit: audit))
        let admin = try await keys.create(name: "admin", role: "admin", models: ["*"]).1
        let responder = Gateway.router(services: services).buildResponder()
        let deploy = Array(#"{"version": "2"}"#.utf8)

        audit.failing.store(true, ordering: .relaxed)
        let (status, _, _) = try await RouterClient.send(responder, .put, "/admin/models/digits", key: admin, body: deploy)
        #expect(status == .serviceUnavailable)
        #expect(services.models["digits"]?.version == "1", "the new version went live without its audit entry")

        audit.failing.store(false, ordering: .relaxed)
        let (again, _, _) = try await RouterClient.send(responder, .put, "/admin/models/digits", key: admin, body: deploy)
        #expect(again == .ok)
        #expect(services.models["digits"]?.version == "2")
    }
}
