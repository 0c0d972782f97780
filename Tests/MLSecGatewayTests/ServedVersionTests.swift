// A deploy is recorded where the gateway keeps its state: a SIGHUP reload and a restart serve the deployed
// version; a recorded version that cannot be served stops the start and the reload (no silent fallback);
// another replica follows the record; a record that cannot be written leaves everything unchanged (503).

import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import Logging
import MLSecAccess
import MLSecAudit
import MLSecCore
import MLSecDeploy
import MLSecGateway
import MLSecIntegrity
import MLSecStores
import Synchronization
import Testing

/// A store whose writes fail, as a database that went down.
private final class DownServedVersionStore: ServedVersionStore {
    func load() async throws -> [String: ServedVersion] { [:] }
    func record(_ served: ServedVersion) async throws { throw MLSecError.io("the database is down") }
    func forget(model: String) async throws -> Bool { throw MLSecError.io("the database is down") }
}

/// The demo's state with version 2 of digits signed by the demo publisher.
private struct Demo {
    let dir: String
    let configuration: GatewayConfiguration
    static let deployTwo = Array(#"{"version": "2"}"#.utf8)

    init() async throws {
        dir = NSTemporaryDirectory() + "mlsec-served-\(UUID().uuidString)"
        configuration = try await DemoSetup.prepare(stateDirectory: dir, port: 0, log: { _ in })
        try FileManager.default.copyItem(atPath: "\(dir)/models/digits/1", toPath: "\(dir)/models/digits/2")
        let publisher = try ModelSigningKey(pem: try String(contentsOfFile: "\(dir)/publisher.pem", encoding: .utf8))
        var options = SigningOptions()
        options.modelIdentity = SignedModelIdentity(name: "digits", version: "2")
        let signed = try ModelSigner(identity: .key(publisher)).sign(modelPath: "\(dir)/models/digits/2", options: options)
        try AtomicFile.write(signed.bundle.fileBytes, to: "\(dir)/models/digits-2.sig", mode: 0o644, overwrite: true)
    }

    /// A gateway "process" over the state directory's `gateway.db` (keys and served versions) and its own audit log.
    func start(_ name: String, served: (any ServedVersionStore)? = nil) async throws -> GatewayServices {
        let stores = GatewayStores(keys: try await StateStores.keyStore(stateDirectory: dir),
                                   audit: try SQLiteAuditStore(path: "\(dir)/audit-\(name).db"),
                                   servedVersions: try served ?? SQLiteServedVersionStore(directory: dir))
        return try await GatewayStartup.services(configuration, stores: stores)
    }

    func maintenance(_ services: GatewayServices) -> GatewayMaintenance {
        let configuration = self.configuration
        return GatewayMaintenance(services: services, configuration: configuration,
                                  source: ConfigurationSource(name: "test") { configuration }, logger: Logger(label: "test"))
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: dir) }
}

@Suite("deployed versions survive reloads and restarts")
struct ServedVersionTests {
    @Test("a deploy is recorded (version, deployer, digest); SIGHUP reload and a restart serve it")
    func deploySurvivesReloadAndRestart() async throws {
        let demo = try await Demo()
        defer { demo.cleanUp() }
        let services = try await demo.start("first")
        let admin = try await services.keys.create(name: "admin", role: "admin", models: ["*"])
        let responder = Gateway.router(services: services).buildResponder()
        let (status, _, _) = try await RouterClient.send(responder, .put, "/admin/models/digits", key: admin.1, body: Demo.deployTwo)
        #expect(status == .ok)
        let record = try #require(try await SQLiteServedVersionStore(directory: demo.dir).load()["digits"])
        #expect(record.version == "2" && record.configuredVersion == "1" && record.deployedBy == "key:\(admin.0.id)")
        #expect(record.digest == services.models["digits"]?.digest)

        await demo.maintenance(services).reload()
        #expect(services.models["digits"]?.version == "2", "SIGHUP went back to the configured version")

        let restarted = try await demo.start("second")
        #expect(restarted.models["digits"]?.version == "2", "a restart went back to the configured version")
        #expect(restarted.models["digits"]?.digest == record.digest)
    }

    @Test("a recorded version whose files are gone stops the start and the reload, naming the model and the version; a reset serves the configured one")
    func unloadableRecordRefuses() async throws {
        let demo = try await Demo()
        defer { demo.cleanUp() }
        let services = try await demo.start("first")
        let admin = try await services.keys.create(name: "admin", role: "admin", models: ["*"]).1
        let responder = Gateway.router(services: services).buildResponder()
        #expect(try await RouterClient.send(responder, .put, "/admin/models/digits", key: admin, body: Demo.deployTwo).0 == .ok)
        try FileManager.default.removeItem(atPath: "\(demo.dir)/models/digits/2")

        await demo.maintenance(services).reload()
        #expect(services.models["digits"]?.version == "2", "a failed reload changed the served model")
        do {
            _ = try await demo.start("second")
            Issue.record("the gateway started although the deployed version cannot be loaded")
        } catch let error as MLSecError {
            #expect(error.message.contains("model digits") && error.message.contains("version 2"), "\(error.message)")
            #expect(error.message.contains("mlsec deployments reset"), "\(error.message)")
        }
        #expect(try await SQLiteServedVersionStore(directory: demo.dir).forget(model: "digits"))
        #expect(try await demo.start("third").models["digits"]?.version == "1")
    }

    @Test("files that changed after the deploy (another digest) are refused, never served")
    func digestPinned() async throws {
        let demo = try await Demo()
        defer { demo.cleanUp() }
        let stale = ServedVersion(model: "digits", version: "2", configuredVersion: "1", deployedBy: "key:test", deployedAt: Date(),
                                  digest: "sha256:" + String(repeating: "0", count: 64))
        do {
            _ = try await demo.start("first", served: InMemoryServedVersionStore([stale]))
            Issue.record("version 2 was served with another digest than its deploy recorded")
        } catch let error as MLSecError {
            #expect(error.code == .verificationFailed && error.message.contains("changed after the deploy"), "\(error.message)")
        }
    }

    @Test("the configuration wins once it names another version than it did at the deploy")
    func configurationEditedAfterDeploy() throws {
        let template = ModelSource(name: "digits", version: "1", path: "/m/digits/{version}", signature: "/m/digits-{version}.sig",
                                   publicKeys: [])
        let record = ServedVersion(model: "digits", version: "2", configuredVersion: "1", deployedBy: "key:a", deployedAt: Date(),
                                   digest: "sha256:00")
        #expect(ServedVersions.choose([template], records: ["digits": record]).first?.version == "2")
        var edited = template
        edited.location.version = "3"
        let choice = try #require(ServedVersions.choose([edited], records: ["digits": record]).first)
        #expect(choice.version == "3" && choice.deploy == nil && choice.overridden == record)
        #expect(choice.summary.contains("configuration changed from version 1 to 3"))
        // A path without {version} serves its configured version whatever is recorded.
        let fixed = ModelSource(name: "digits", version: "1", path: "/m/digits/1", signature: "/m/digits-1.sig", publicKeys: [])
        #expect(ServedVersions.choose([fixed], records: ["digits": record]).first?.version == "1")
    }

    @Test("a record that cannot be written: 503, the served version unchanged")
    func recordFailureChangesNothing() async throws {
        let demo = try await Demo()
        defer { demo.cleanUp() }
        let services = try await demo.start("first", served: DownServedVersionStore())
        let admin = try await services.keys.create(name: "admin", role: "admin", models: ["*"]).1
        let responder = Gateway.router(services: services).buildResponder()
        let (status, _, _) = try await RouterClient.send(responder, .put, "/admin/models/digits", key: admin, body: Demo.deployTwo)
        #expect(status == .serviceUnavailable)
        #expect(services.models["digits"]?.version == "1")
    }

    @Test("a replica follows a deploy recorded by another, and a reset; a version it cannot load leaves its model alone")
    func replicaFollows() async throws {
        let demo = try await Demo()
        defer { demo.cleanUp() }
        let shared = InMemoryServedVersionStore()
        let first = try await demo.start("first", served: shared)
        let second = try await demo.start("second", served: shared)
        let clock = SteppedClock()
        let follower = ServedVersionFollower(services: second, logger: Logger(label: "test"), retryInterval: .seconds(30), now: clock.now)
        #expect(await follower.refresh().isEmpty)

        let admin = try await first.keys.create(name: "admin", role: "admin", models: ["*"]).1
        let responder = Gateway.router(services: first).buildResponder()
        #expect(try await RouterClient.send(responder, .put, "/admin/models/digits", key: admin, body: Demo.deployTwo).0 == .ok)
        #expect(await follower.refresh() == ["digits"])
        #expect(second.models["digits"]?.version == "2" && second.models["digits"]?.digest == first.models["digits"]?.digest)
        #expect(await follower.refresh().isEmpty, "an unchanged record loaded the model again")

        // A record this replica cannot load (its files are not here): it keeps serving version 2, then tries again later.
        var missing = try #require(try await shared.load()["digits"])
        missing.version = "9"
        try await shared.record(missing)
        #expect(await follower.refresh().isEmpty)
        #expect(second.models["digits"]?.version == "2")
        clock.advance(by: .seconds(31))
        #expect(await follower.refresh().isEmpty)

        #expect(try await shared.forget(model: "digits"))
        #expect(await follower.refresh() == ["digits"])
        #expect(second.models["digits"]?.version == "1")
    }
}

/// A clock the test moves by hand.
private final class SteppedClock: Sendable {
    private let offset = Mutex<Duration>(.zero)
    private let start = ContinuousClock.now
    var now: @Sendable () -> ContinuousClock.Instant { { [self] in start + offset.withLock { $0 } } }
    func advance(by duration: Duration) { offset.withLock { $0 += duration } }
}

// Skipped only outside CI when no server is configured (scripts/test.sh starts one and sets the URL).
@Suite("served versions in PostgreSQL",
       .enabled(if: ProcessInfo.processInfo.environment["MLSEC_TEST_POSTGRES_URL"] != nil
                    || ProcessInfo.processInfo.environment["CI"] != nil, "needs MLSEC_TEST_POSTGRES_URL (scripts/test.sh)"))
struct PostgresServedVersionTests {
    @Test("one replica records, another reads it back; a newer deploy replaces it; a reset forgets it")
    func sharedByReplicas() async throws {
        let url = ProcessInfo.processInfo.environment["MLSEC_TEST_POSTGRES_URL"] ?? ""
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let first = try await PostgresServedVersionStore(database: try MLSecStores.PostgresDatabase(url: url, logger: quiet))
        let second = try await PostgresServedVersionStore(database: try MLSecStores.PostgresDatabase(url: url, logger: quiet))
        let model = "digits-\(UUID().uuidString)"
        let at = Date(timeIntervalSince1970: 1_800_000_000.25)
        var record = ServedVersion(model: model, version: "2", configuredVersion: "1", deployedBy: "key:abc", deployedAt: at,
                                   digest: "sha256:" + String(repeating: "a", count: 64))
        try await first.record(record)
        #expect(try await second.load()[model] == record)
        record.version = "3"
        record.deployedBy = "jwt:ops"
        try await second.record(record)
        let read = try #require(try await first.load()[model])
        #expect(read.version == "3" && read.deployedBy == "jwt:ops" && abs(read.deployedAt.timeIntervalSince(at)) < 0.001)
        #expect(try await first.forget(model: model))
        #expect(try await second.load()[model] == nil)
        #expect(try await second.forget(model: model) == false)
    }
}
