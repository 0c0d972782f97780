// Each gateway control alone: the GCRA limiter (injected clock), scopes, API keys, request validation,
// output validation, receipts and the configuration file.

import Foundation
import GRDB
import HTTPTypes
import MLSecAudit
import MLSecCore
import MLSecEngine
import MLSecGateway
import MLSecIntegrity
import Synchronization
import Testing
import MLSecDeploy
import MLSecReceipts
import MLSecStores
import MLSecAccess
import NIOCore
import NIOPosix

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    let now = Mutex(1000.0)
    func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
    func set(_ value: Double) { now.withLock { $0 = value } }
    var read: @Sendable () -> Double { { [self] in now.withLock { $0 } } }
}

@Suite("rate limiter (GCRA)")
struct RateLimiterTests {
    @Test("a burst is admitted at once, then the steady rate; refill restores the burst")
    func burstAndRefill() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let limit = RateLimit(requestsPerSecond: 10, burst: 5)
        let first = (0..<8).map { _ in limiter.check(key: "k", limit: limit).allowed }
        #expect(first == [true, true, true, true, true, false, false, false])
        let denied = limiter.check(key: "k", limit: limit)
        #expect(!denied.allowed && denied.retryAfter > 0 && denied.retryAfter <= 0.1 + 1e-6)
        clock.advance(0.1)
        #expect(limiter.check(key: "k", limit: limit).allowed)
        #expect(!limiter.check(key: "k", limit: limit).allowed)
        clock.advance(10)
        #expect((0..<5).allSatisfy { _ in limiter.check(key: "k", limit: limit).allowed })
        // Other keys are independent.
        #expect(limiter.check(key: "other", limit: limit).allowed)
    }

    @Test("steady rate over time: at most rate x time + burst admitted")
    func steadyRate() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let limit = RateLimit(requestsPerSecond: 50, burst: 100)
        var admitted = 0
        for _ in 0..<10_000 {  // 1,000 requests per second offered for 10 s
            if limiter.check(key: "k", limit: limit).allowed { admitted += 1 }
            clock.advance(0.001)
        }
        #expect(admitted >= 50 * 10 + 100 - 2 && admitted <= 50 * 10 + 100 + 1)
    }

    @Test("costs above one use more of the budget; a cost above the burst is never admitted")
    func costs() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let limit = RateLimit(requestsPerSecond: 10, burst: 10)
        #expect(limiter.check(key: "k", limit: limit, cost: 8).allowed)
        #expect(!limiter.check(key: "k", limit: limit, cost: 3).allowed)
        #expect(limiter.check(key: "k", limit: limit, cost: 2).allowed)
        #expect(!limiter.check(key: "fresh", limit: limit, cost: 11).allowed)
    }

    @Test("a clock going backwards grants nothing extra")
    func clockBackwards() {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let limit = RateLimit(requestsPerSecond: 1, burst: 2)
        #expect(limiter.check(key: "k", limit: limit).allowed)
        #expect(limiter.check(key: "k", limit: limit).allowed)
        clock.set(500)
        #expect(!limiter.check(key: "k", limit: limit).allowed)
    }

    @Test("concurrent clients never get more than the burst at one instant")
    func contention() async {
        let clock = ManualClock()
        let limiter = RateLimiter(clock: clock.read)
        let limit = RateLimit(requestsPerSecond: 1, burst: 100)
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<500).filter { _ in limiter.check(key: "shared", limit: limit).allowed }.count }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted == 100)
    }
}

@Suite("authorization and API keys")
struct AuthorizationTests {
    @Test("model scopes: exact names and * patterns; deny by default")
    func scopes() {
        let p = Principal(id: "k", role: Role.builtIn["inference"]!, models: ["digits", "team-a/*"], rateLimit: nil)
        #expect(p.canSee(model: "digits") && p.canSee(model: "team-a/resnet"))
        #expect(!p.canSee(model: "digits2") && !p.canSee(model: "team-b/x"))
        #expect(!Principal(id: "k", role: Role.builtIn["admin"]!, models: [], rateLimit: nil).canSee(model: "digits"))
        #expect(p.may(.infer) && !p.may(.manageKeys))
        #expect(!Role.builtIn["auditor"]!.permissions.contains(.infer))
    }

    @Test("API keys: stored as hashes, checked in constant time, revocable, expiring")
    func keys() async throws {
        let store = try await APIKeyStore(backend: try SQLiteKeyBackend(database: try DatabaseQueue()))
        let (record, key) = try await store.create(name: "a", role: "inference", models: ["digits"])
        #expect(key.hasPrefix("mlsec_\(record.id)_") && key.utf8.count == 6 + 12 + 1 + 43)
        guard case .success(let found) = store.authenticate(key) else { Issue.record("valid key refused"); return }
        #expect(found.id == record.id)
        #expect(!String(decoding: JSONWriter.bytes(record.json), as: UTF8.self).contains(key))
        var tampered = Array(key)
        tampered[tampered.count - 1] = tampered.last == "A" ? "B" : "A"
        if case .success = store.authenticate(String(tampered)) { Issue.record("tampered key accepted") }
        if case .success = store.authenticate("mlsec_000000000000_" + String(repeating: "A", count: 43)) { Issue.record("unknown key accepted") }
        if case .success = store.authenticate("Bearer nonsense") { Issue.record("malformed key accepted") }
        try await store.revoke(id: record.id)
        if case .success = store.authenticate(key) { Issue.record("revoked key accepted") }
        let (_, expiring) = try await store.create(name: "b", role: "inference", models: ["digits"], expiresAt: Date().addingTimeInterval(60))
        if case .failure = store.authenticate(expiring) { Issue.record("fresh key refused") }
        if case .success = store.authenticate(expiring, now: Date().addingTimeInterval(120)) { Issue.record("expired key accepted") }
        // A key without model patterns could call nothing: refused at creation, naming the field.
        await #expect { _ = try await store.create(name: "c", role: "inference", models: []) } throws: { error in
            (error as? MLSecError)?.message.contains("models") ?? false
        }
    }

    @Test("a stored key record that cannot be decoded refuses its key (never 'no expiry' or 'no quota')",
          arguments: [
              "expires_at = 'next tuesday'", "policy = '{\"quota\": {\"daily_requests\": \"many\"}}'", "policy = '{not json'",
              "models = '\"digits\"'", "revoked = 'no'", "rps = 'fast'", "secret_hash = x'00'", "rps = 5, burst = NULL",
              "policy = '{\"max_concurrent\": -1}'", "policy = '{\"other\": 1}'",
          ])
    func unreadableRecords(corruption: String) async throws {
        let database = try DatabaseQueue()
        let writer = try await APIKeyStore(backend: try SQLiteKeyBackend(database: database))
        let (record, key) = try await writer.create(name: "a", role: "inference", models: ["digits"], quota: QuotaLimits(dailyRequests: 5))
        try await database.write { db in try db.execute(sql: "UPDATE api_keys SET \(corruption), version = version + 1 WHERE id = ?", arguments: [record.id]) }
        let reader = try await APIKeyStore(backend: try SQLiteKeyBackend(database: database))
        #expect(reader.unreadable.map(\.id) == [record.id])
        guard case .failure(let refusal) = reader.authenticate(key) else { Issue.record("a key with an unreadable record was accepted"); return }
        // (A damaged hash cannot match any key: it is refused before its record is looked at.)
        let expected: APIKeyStore.Refusal = corruption.hasPrefix("secret_hash") ? .mismatch : .unreadable
        #expect(refusal.reason == expected && (expected == .mismatch || refusal.detail.contains(record.id)))
        // A running store sees the corruption at its next refresh and reports it.
        if case .failure = writer.authenticate(key) { Issue.record("the key was refused before the corruption was read") }
        #expect(try await writer.refresh().map(\.id) == [record.id])
        if case .success = writer.authenticate(key) { Issue.record("a refreshed store accepted an unreadable record") }
    }
}

/// A shared key backend whose database can be switched off.
final class SwitchableKeyBackend: APIKeyBackend {
    private let state = Mutex<(records: [APIKeyRecord], down: Bool)>(([], false))
    var isShared: Bool { true }
    func setDown(_ down: Bool) { state.withLock { $0.down = down } }

    private func check() throws { if state.withLock({ $0.down }) { throw MLSecError.io("the database is down") } }
    func changes(since version: Int64?) async throws -> (records: [APIKeyRecord], version: Int64) {
        try check()
        let records = state.withLock { $0.records }
        return (Array(records.dropFirst(Int(version ?? 0))), Int64(records.count))
    }
    func insert(_ record: APIKeyRecord) async throws {
        try check()
        state.withLock { $0.records.append(record) }
    }
    func revoke(id: String) async throws -> Bool { try check(); return false }
    func loadUsage(windows: [String]) async throws -> [QuotaTracker.Counter: QuotaTracker.Usage] { try check(); return [:] }
    func addUsage(_ deltas: [QuotaTracker.Counter: QuotaTracker.Usage]) async throws { try check() }
}

@Suite("shared key cache")
struct SharedKeyCacheTests {
    @Test("a shared key cache that cannot be refreshed fails closed after its staleness limit, and recovers")
    func failsClosed() async throws {
        let backend = SwitchableKeyBackend()
        let start = ContinuousClock.now
        let elapsed = Mutex(Duration.zero)
        let store = try await APIKeyStore(backend: backend, maxStaleness: .milliseconds(300), clock: { start + elapsed.withLock { $0 } })
        let (_, key) = try await store.create(name: "a", role: "inference", models: ["digits"])
        guard case .success = store.authenticate(key) else { Issue.record("fresh key refused"); return }
        backend.setDown(true)
        await #expect(throws: MLSecError.self) { try await store.refresh() }
        elapsed.withLock { $0 = .milliseconds(299) }
        guard case .success = store.authenticate(key) else { Issue.record("refused before the staleness limit"); return }
        elapsed.withLock { $0 = .milliseconds(301) }
        guard case .failure(let refusal) = store.authenticate(key) else { Issue.record("a stale cache accepted a key"); return }
        #expect(refusal.reason == .unavailable)
        backend.setDown(false)
        try await store.refresh()
        guard case .success = store.authenticate(key) else { Issue.record("not recovered after a refresh"); return }
    }
}

@Suite("request and output validation, receipts")
struct ValidationTests {
    static func model() throws -> LoadedModel {
        let spec = try Architecture.spec(from: "mlp:64-16-10")
        let m = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: 1))
        return LoadedModel(name: "digits", version: "1", digest: "sha256:" + String(repeating: "0", count: 64), model: m,
                           input: ServedTensor(name: "input", datatype: "FP32", shape: [-1, 64], range: 0...1),
                           output: ServedTensor(name: "output", datatype: "FP32", shape: [-1, 10], range: nil),
                           endsWithSoftmax: true)
    }

    /// A model whose last layer really is a softmax.
    static func softmaxModel() throws -> LoadedModel {
        var spec = try Architecture.spec(from: "mlp:64-16-10")
        spec.layers.append(LayerSpec(.softmax))
        let m = try Model(spec: spec, weights: try Architecture.initialWeights(for: spec, seed: 1))
        return LoadedModel(name: "digits", version: "1", digest: "sha256:" + String(repeating: "0", count: 64), model: m,
                           input: ServedTensor(name: "input", datatype: "FP32", shape: [-1, 64], range: 0...1),
                           output: ServedTensor(name: "output", datatype: "FP32", shape: [-1, 10], range: nil),
                           endsWithSoftmax: m.endsWithSoftmax)
    }

    static func body(_ data: String, shape: String = "[1,64]", datatype: String = "FP32", extra: String = "") -> [UInt8] {
        Array(#"{"inputs":[{"name":"input","shape":\#(shape),"datatype":"\#(datatype)","data":\#(data)}]\#(extra)}"#.utf8)
    }

    @Test("valid JSON and binary requests parse to the same values")
    func valid() throws {
        let model = try Self.model()
        let values = (0..<64).map { Float($0) / 64 }
        let json = try InferenceCodec.parse(Self.body("[" + values.map { "\($0)" }.joined(separator: ",") + "]"), headerLength: nil, model: model, maxBatch: 8)
        #expect(json.values == values && json.batch == 1 && !json.binaryOutput)
        var header = Array(#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","parameters":{"binary_data_size":256}}],"outputs":[{"name":"output","parameters":{"binary_data":true}}]}"#.utf8)
        let headerLength = header.count
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { header += $0 } }
        let binary = try InferenceCodec.parse(header, headerLength: headerLength, model: model, maxBatch: 8)
        #expect(binary.values == values && binary.binaryOutput)
        let nested = try InferenceCodec.parse(Self.body("[[" + values.map { "\($0)" }.joined(separator: ",") + "]]"), headerLength: nil, model: model, maxBatch: 8)
        #expect(nested.values == values)
    }

    @Test("the fast decimal path gives exactly Float(String) for every literal shape")
    func decimalFloat() {
        var generator = SystemRandomNumberGenerator()
        var literals = ["0", "-0", "1", "0.5", "0.4375", "16777215", "16777216", "16777217", "0.1", "0.0000000001",
                        "0.00000000001", "123456.789", "-3.4028235e38", "1e-45", "2.5E+3", "9.999999999", "0.30000001192092896"]
        for _ in 0..<20_000 {
            let digits = Int.random(in: 1...12, using: &generator)
            var text = String(UInt64.random(in: 0..<UInt64(pow(10, Double(digits))), using: &generator))
            let point = Int.random(in: 0...text.count, using: &generator)
            if point < text.count { text.insert(contentsOf: point == 0 ? "0." : ".", at: text.index(text.startIndex, offsetBy: point)) }
            literals.append(Bool.random(using: &generator) ? "-" + text : text)
        }
        for literal in literals {
            let fast = InferenceCodec.decimalFloat(literal)
            let reference = Float(literal)
            #expect(fast?.bitPattern == reference?.bitPattern, "\(literal): \(String(describing: fast)) vs \(String(describing: reference))")
        }
    }

    @Test("invalid requests are 400 with a message naming the problem", arguments: [
        (#"[1]"#, "[1,64]", "FP32", "needs 64"),
        (#"[2]"#, "[1,63]", "FP32", "shape"),
        (#"["x"]"#, "[1,64]", "FP32", "numbers"),
        (#"[0.5]"#, "[1,64]", "INT8", "datatype"),
        (#"[0.5]"#, "[9,64]", "FP32", "batch size"),
        (#"[0.5]"#, "[0,64]", "FP32", "batch size"),
    ])
    func invalid(data: String, shape: String, datatype: String, expected: String) throws {
        let model = try Self.model()
        do {
            _ = try InferenceCodec.parse(Self.body(data, shape: shape, datatype: datatype), headerLength: nil, model: model, maxBatch: 8)
            Issue.record("accepted")
        } catch {
            #expect(error.status == .badRequest && error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("out-of-range and non-finite values, unknown fields, bad binary sizes are refused")
    func hostile() throws {
        let model = try Self.model()
        let over = "[" + Array(repeating: "0.5", count: 63).joined(separator: ",") + ",1.5]"
        #expect(throws: GatewayError.self) { _ = try InferenceCodec.parse(Self.body(over), headerLength: nil, model: model, maxBatch: 8) }
        let ok = "[" + Array(repeating: "0.5", count: 64).joined(separator: ",") + "]"
        #expect(throws: GatewayError.self) { _ = try InferenceCodec.parse(Self.body(ok, extra: #","exec":"rm -rf /""#), headerLength: nil, model: model, maxBatch: 8) }
        var header = Array(#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","parameters":{"binary_data_size":256}}]}"#.utf8)
        let length = header.count
        for i in 0..<64 { withUnsafeBytes(of: (i == 3 ? Float.nan : 0.5).bitPattern.littleEndian) { header += $0 } }
        #expect(throws: GatewayError.self) { _ = try InferenceCodec.parse(header, headerLength: length, model: model, maxBatch: 8) }
        #expect(throws: GatewayError.self) { _ = try InferenceCodec.parse(Array(header.dropLast()), headerLength: length, model: model, maxBatch: 8) }
        #expect(throws: GatewayError.self) { _ = try InferenceCodec.parse(header, headerLength: header.count + 1, model: model, maxBatch: 8) }
        let deep = String(repeating: "[", count: 50) + String(repeating: "]", count: 50)
        #expect(throws: GatewayError.self) { _ = try InferenceCodec.parse(Self.body(deep), headerLength: nil, model: model, maxBatch: 8) }
    }

    @Test("output validation: non-finite values and softmax rows that do not sum to one are 500s")
    func outputs() throws {
        let model = try Self.model()
        let good = [Float](repeating: 0.1, count: 10)
        try InferenceCodec.validateOutput(good, batch: 1, model: model)
        var bad = good
        bad[2] = .infinity
        #expect(throws: GatewayError.self) { try InferenceCodec.validateOutput(bad, batch: 1, model: model) }
        #expect(throws: GatewayError.self) { try InferenceCodec.validateOutput([Float](repeating: 0.5, count: 10), batch: 1, model: model) }
        #expect(throws: GatewayError.self) { try InferenceCodec.validateOutput(good, batch: 2, model: model) }
    }

    @Test("receipts: sign, encode, parse, verify; any change is refused")
    func receipts() throws {
        let key = ModelSigningKey.generate(.ed25519)
        let signer = ReceiptSigner(key: key)
        let request = Array("request".utf8)
        let response = Array("response/with/slashes".utf8)
        let model = try Self.model()
        let receipt = try signer.issue(model: model.name, version: model.version, digest: model.digest, request: request, response: response)
        let parsed = try Receipt(encoded: receipt.encoded)
        #expect(parsed == receipt)
        try parsed.verify(with: key.publicKey, request: request, response: response)
        #expect(throws: MLSecError.self) { try parsed.verify(with: key.publicKey, request: Array("other".utf8)) }
        #expect(throws: MLSecError.self) { try parsed.verify(with: ModelSigningKey.generate(.ed25519).publicKey) }
        var forged = parsed
        forged.fields["model_version"] = "2"
        #expect(throws: MLSecError.self) { try forged.verify(with: key.publicKey) }
        #expect(throws: MLSecError.self) { _ = try Receipt(encoded: "not base64 !") }
        // Malleability: the same signed fields in another encoding (key order, whitespace, base64 padding)
        // would verify but not match the digest the audit log recorded: only the canonical encoding is a receipt.
        let canonical = Base64.decodeURL(receipt.encoded) ?? []
        let object = try JSONParser().parse(canonical).objectValue ?? []
        let reordered = JSONWriter.bytes(.object(object.reversed()))
        let spaced = Array(String(decoding: canonical, as: UTF8.self).replacingOccurrences(of: ",", with: ", ").utf8)
        for variant in [Base64.encodeURL(reordered), Base64.encodeURL(spaced), receipt.encoded + "=="] {
            #expect(throws: MLSecError.self) { _ = try Receipt(encoded: variant) }
        }
        #expect(try Receipt(encoded: receipt.encoded) == receipt)
    }

    @Test("the documented example configuration (docs/gateway.example.json) parses with every section")
    func exampleConfiguration() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/gateway.example.json").standardized.path
        let c = try GatewayConfiguration(path: path)
        #expect(c.listen.port == 8443 && c.listen.certificate != nil && c.listen.clientCA != nil && c.listen.minimumTLSVersion == "1.3")
        #expect(c.jwt?.audience == "mlsec-gateway" && c.corsOrigins == ["https://console.example.com"])
        #expect(c.clientCertificates["batch-scorer.internal"]?.role == "inference")
        #expect(c.principalLimits["inference"]?.rateLimit?.burst == 40 && c.principalLimits["inference"]?.maxConcurrent == 8)
        #expect(c.models.count == 1 && c.models[0].location.identities.count == 1 && c.models[0].inputRange == 0...1)
        #expect(c.models[0].detector?.action == .flag)
        #expect(c.models[0].monitor?.oodAction == .flag && c.models[0].monitor?.queryAction == .refuse)
        #expect(c.extractionDefense["inference"]?.topK == 3 && c.extractionDefense["inference"]?.budget?.distinctInputs == 5000)
        #expect(c.stateDirectory == "/var/lib/mlsec" && c.roles["reader"]?.permissions == [.readMetadata])
        #expect(c.deployPolicy?.hasSuffix("docs/deploy-policy.example.json") == true)
        let policy = try DeployPolicy(path: c.deployPolicy ?? "")
        #expect(policy.rules(for: "digits").count == 2 && policy.rules(for: "fraud").count == 1)
    }

    @Test("the configuration file: safe defaults, unknown keys refused, paths resolved")
    func configuration() throws {
        let dir = NSTemporaryDirectory() + "mlsec-gw-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write(#"{"state_dir": "state", "roles": {"reader": ["read_metadata"]}, "models": [{"name": "m", "path": "m", "signature": "m.sig", "public_keys": ["k.pub"], "input_range": [0, 1]}]}"#, to: "\(dir)/g.json")
        let c = try GatewayConfiguration(path: "\(dir)/g.json")
        #expect(c.listen.host == "127.0.0.1" && c.listen.port == 8443 && !c.listen.allowPlaintext)
        #expect(c.stateDirectory.hasSuffix("/state") && c.models[0].location.path.hasPrefix("/"))
        #expect(c.roles["reader"]?.permissions == [.readMetadata] && c.maxBodyBytes == 8 << 20)
        try AtomicFile.write(#"{"state_dir": "s", "tls": {"certificate": "c", "privat_key": "k"}}"#, to: "\(dir)/bad.json")
        #expect(throws: MLSecError.self) { _ = try GatewayConfiguration(path: "\(dir)/bad.json") }
    }

    @Test("a bearer token is sent to upstreams only over TLS or to a loopback address")
    func upstreamTokensNeedTLS() throws {
        let dir = NSTemporaryDirectory() + "mlsec-gw-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func configuration(_ url: String) throws -> GatewayConfiguration {
            try AtomicFile.write(#"{"state_dir": "s", "models": [{"name": "m", "upstreams": [{"url": "\#(url)", "bearer_token_file": "t"}]}]}"#,
                                 to: "\(dir)/u.json")
            return try GatewayConfiguration(path: "\(dir)/u.json")
        }
        #expect { _ = try configuration("http://10.1.2.3:8000") } throws: { error in
            (error as? MLSecError)?.message.contains("only over TLS") ?? false
        }
        #expect(try configuration("https://10.1.2.3:8443").models[0].upstreams[0].bearerTokenFile != nil)
        #expect(try configuration("http://127.0.0.1:8000").models[0].upstreams.count == 1)
    }
}

@Suite("audit recorder")
struct AuditRecorderTests {
    static func event(_ i: Int) -> AuditEvent {
        AuditEvent(actor: "key:test", action: "infer", resource: "models/digits", decision: .allow, reason: "event \(i)")
    }

    @Test("request durability: every record returns once its entry is in the log; concurrent callers share commits",
          arguments: [AuditDurability.request, .batch])
    func durability(mode: AuditDurability) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-recorder-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try AuditLog(path: "\(directory)/audit.db")
        let recorder = AuditRecorder(store: SQLiteAuditStore(log: log), durability: mode, maxQueued: 50)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 { group.addTask { try await recorder.record(Self.event(i)) } }
            try await group.waitForAll()
        }
        if mode == .request { #expect(log.size == 200) }
        try await recorder.drain()
        #expect(log.size == 200)
        var reasons = Set<String>()
        for index in 0..<log.size {
            let event = try AuditEvent(json: try JSONParser().parse(try log.entry(at: index)))
            reasons.insert(event.reason ?? "")
        }
        #expect(reasons == Set((0..<200).map { "event \($0)" }), "each event exactly once")
        _ = try log.verify()
    }

    @Test("request durability: callers on an event loop are resumed on that loop, after their entries are in the log")
    func resumesOnTheCallersLoop() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-recorder-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let log = try AuditLog(path: "\(directory)/audit.db")
        let recorder = AuditRecorder(store: SQLiteAuditStore(log: log), durability: .request, maxQueued: 50,
                                     currentLoop: { loop })
        // The loop is kept busy: a caller resumed on it cannot return before the loop is released.
        let release = DispatchSemaphore(value: 0)
        loop.execute { release.wait() }
        let returned = ReturnCounter()
        let callers = Task {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for i in 0..<20 {
                    tasks.addTask {
                        try await recorder.record(Self.event(i))
                        returned.count.add(1, ordering: .relaxed)
                    }
                }
                try await tasks.waitForAll()
            }
        }
        var polls = 0
        while log.size < 20, polls < 10_000 {
            polls += 1
            try await Task.sleep(for: .milliseconds(1))  // the writer thread's progress, bounded at 10 s
        }
        #expect(log.size == 20, "every entry committed")
        #expect(returned.count.load(ordering: .relaxed) == 0, "no caller returned while its loop was busy")
        release.signal()
        try await callers.value
        #expect(returned.count.load(ordering: .relaxed) == 20)
        try await group.shutdownGracefully()
    }

    final class ReturnCounter: Sendable {
        let count = Atomic<Int>(0)
    }
}
