// UpstreamPool: a model served by upstream V2 servers: health checks, least-outstanding balancing, a breaker
// per upstream, retries within a budget, timeouts, TLS or mTLS.

import AsyncHTTPClient
import Foundation
import HTTPTypes
import Logging
import MLSecCore
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// One upstream server, from the configuration only (never from a request: no SSRF).
public struct UpstreamEndpoint: Sendable, Equatable {
    /// `http://host:port` or `https://host:port` (no path, query or credentials).
    public var url: String
    /// PEM CA certificates to trust for `https` (default: the system's).
    public var caFile: String?
    /// PEM client certificate and key for mutual TLS.
    public var clientCertificate: String?
    public var clientKey: String?
    /// A file holding the bearer token the gateway presents to this upstream (e.g. an mlsec API key).
    public var bearerTokenFile: String?

    public init(url: String, caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil,
                bearerTokenFile: String? = nil) {
        self.url = url
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.bearerTokenFile = bearerTokenFile
    }

    /// Checks the URL shape: scheme http or https, a host, an optional port, nothing else.
    static func validate(_ url: String) throws {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, ["http", "https"].contains(scheme),
            let host = parts.host, !host.isEmpty, parts.user == nil, parts.password == nil, parts.query == nil, parts.fragment == nil,
            parts.path.isEmpty || parts.path == "/"
        else { throw MLSecError.malformed("upstream url \(url.prefix(100)) must be http(s)://host[:port] with nothing after it") }
    }

    /// Whether credentials may travel to `url`: TLS, or plain HTTP that stays on this machine.
    static func isTLSOrLoopback(_ url: String) -> Bool {
        guard let parts = URLComponents(string: url) else { return false }
        if parts.scheme == "https" { return true }
        return ["127.0.0.1", "::1", "[::1]", "localhost"].contains(parts.host ?? "")
    }
}

/// How the pool behaves (from the model's configuration).
public struct UpstreamPolicy: Sendable, Equatable {
    public var timeout = Duration.seconds(5)
    public var maxAttempts = 2
    public var healthInterval = Duration.seconds(2)
    public var failureThreshold = 5
    public var openSeconds = 5.0
    public init() {}
}

/// Why an upstream call failed, and whether another upstream may be tried.
struct UpstreamFailure: Error {
    var message: String
    var retryable: Bool
}

public final class UpstreamPool: Sendable {
    public struct Member: Sendable {
        public let endpoint: UpstreamEndpoint
        let token: String?
        let tls: TLSConfiguration?
        public internal(set) var healthy = true
        public internal(set) var outstanding = 0
        var breaker: CircuitBreaker
        var healthFailures = 0
    }

    public let model: String
    public let policy: UpstreamPolicy
    private let members: Mutex<[Member]>
    private let budget = Mutex(RetryBudget())
    private let rotation = Atomic<Int>(0)
    private let clock: @Sendable () -> Double
    private let healthTask = Mutex<Task<Void, Never>?>(nil)
    static let maxResponseBytes = 8 << 20

    /// One client for every upstream call: redirects are never followed (an upstream cannot send the gateway
    /// elsewhere), TLS is set per request. It lives as long as the process.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(30))
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(model: String, endpoints: [UpstreamEndpoint], policy: UpstreamPolicy,
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) throws {
        guard !endpoints.isEmpty else { throw MLSecError.usage("model \(model): upstreams is empty") }
        self.model = model
        self.policy = policy
        self.clock = clock
        members = Mutex(try endpoints.map { endpoint in
            try UpstreamEndpoint.validate(endpoint.url)
            var tls: TLSConfiguration?
            if endpoint.url.hasPrefix("https://") {
                var configuration = TLSConfiguration.makeClientConfiguration()
                configuration.minimumTLSVersion = .tlsv12
                if let ca = endpoint.caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) }
                if let certificate = endpoint.clientCertificate, let key = endpoint.clientKey {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                }
                tls = configuration
            }
            let token = try endpoint.bearerTokenFile.map { path in
                String(decoding: try ReadOnlyFile.readAll(path, maxBytes: 4096, what: "upstream token"), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return Member(endpoint: endpoint, token: token, tls: tls,
                          breaker: CircuitBreaker(failureThreshold: policy.failureThreshold, openSeconds: policy.openSeconds))
        })
    }

    /// A snapshot for metrics and tests.
    public var status: [Member] { members.withLock { $0 } }

    /// Starts the active health checks (GET /v2/health/ready on each upstream every `healthInterval`).
    public func startHealthChecks() {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                await self.checkHealth()
                try? await Task.sleep(for: self.policy.healthInterval)
            }
        }
        healthTask.withLock { $0 = task }
    }

    /// Stops the health checks (the pool is being replaced).
    public func stop() { healthTask.withLock { $0?.cancel() } }

    func checkHealth() async {
        let snapshot = members.withLock { $0 }
        for (index, member) in snapshot.enumerated() {
            let ok: Bool
            do {
                let response = try await send(member, method: .GET, path: "/v2/health/ready", body: nil, timeout: .seconds(1))
                ok = response.status == .ok
            } catch {
                ok = false
            }
            members.withLock { members in
                guard index < members.count else { return }
                if ok {
                    members[index].healthFailures = 0
                    members[index].healthy = true
                } else {
                    members[index].healthFailures += 1
                    if members[index].healthFailures >= 2 { members[index].healthy = false }
                }
            }
        }
    }

    /// The healthy upstream with the fewest requests in flight whose breaker lets a request through, or nil.
    private func pick(excluding tried: Set<Int>) -> Int? {
        let now = clock()
        let start = rotation.wrappingAdd(1, ordering: .relaxed).oldValue
        return members.withLock { members -> Int? in
            let count = members.count
            let order = (0..<count).map { (start + $0) % count }.filter { !tried.contains($0) && members[$0].healthy }
            let ranked = order.sorted { members[$0].outstanding < members[$1].outstanding }
            for index in ranked where members[index].breaker.allows(now: now) {
                members[index].outstanding += 1
                return index
            }
            return nil
        }
    }

    private func finish(_ index: Int, success: Bool) {
        let now = clock()
        members.withLock { members in
            members[index].outstanding = max(0, members[index].outstanding - 1)
            if success { members[index].breaker.recordSuccess() } else { members[index].breaker.recordFailure(now: now) }
        }
    }

    private func send(_ member: Member, method: HTTPMethod, path: String, body: [UInt8]?, timeout: Duration) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: member.endpoint.url.trimmingSuffix("/") + path)
        request.method = method
        request.tlsConfiguration = member.tls
        if let token = member.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        return try await Self.client.execute(request, timeout: .nanoseconds(nanoseconds))
    }

    /// POSTs `body` to `path` on one upstream after another (least outstanding first) until one answers 200,
    /// within `maxAttempts` and the retry budget. Returns the response body (capped) and the upstream's URL.
    /// - Throws: `GatewayError` 503 when no upstream is available, 502 when they fail.
    func post(path: String, body: [UInt8]) async throws(GatewayError) -> (body: [UInt8], upstream: String) {
        budget.withLock { $0.recordRequest(now: clock()) }
        var tried = Set<Int>()
        var lastFailure = "no upstream is healthy"
        for attempt in 0..<max(1, policy.maxAttempts) {
            if attempt > 0, !budget.withLock({ $0.withdraw(now: clock()) }) {
                lastFailure += "; the retry budget is spent"
                break
            }
            guard let index = pick(excluding: tried) else { break }
            tried.insert(index)
            let member = members.withLock { $0[index] }
            do {
                let response = try await send(member, method: .POST, path: path, body: body, timeout: policy.timeout)
                var collected = try await response.body.collect(upTo: Self.maxResponseBytes)
                let bytes = collected.readBytes(length: collected.readableBytes) ?? []
                guard response.status == .ok else {
                    let retryable = response.status.code >= 500 || response.status == .tooManyRequests
                    finish(index, success: !retryable)
                    lastFailure = "upstream \(member.endpoint.url) answered \(response.status.code)"
                    if retryable { continue }
                    throw UpstreamFailure(message: lastFailure, retryable: false)
                }
                finish(index, success: true)
                return (bytes, member.endpoint.url)
            } catch let failure as UpstreamFailure {
                throw GatewayError(.badGateway, "the model's upstream refused the request", auditReason: failure.message)
            } catch {
                finish(index, success: false)
                lastFailure = "upstream \(member.endpoint.url): \(readable(error, limit: 160))"
            }
        }
        throw GatewayError(.serviceUnavailable, "the model's upstreams are unavailable; retry later", headers: [.retryAfter: "1"],
                           auditReason: lastFailure)
    }

    /// GETs the model's V2 metadata from the first upstream that answers (at load, to learn the tensors).
    func metadata(upstreamModel: String) async throws -> JSONValue {
        var failures: [String] = []
        for member in members.withLock({ $0 }) {
            do {
                let response = try await send(member, method: .GET, path: "/v2/models/\(upstreamModel)", body: nil, timeout: policy.timeout)
                var collected = try await response.body.collect(upTo: 1 << 20)
                let bytes = collected.readBytes(length: collected.readableBytes) ?? []
                guard response.status == .ok else {
                    failures.append("\(member.endpoint.url): \(response.status.code)")
                    continue
                }
                return try JSONParser(limits: .init(maxDepth: 8, maxStringBytes: 4096, maxContainerCount: 1024))
                    .parse(bytes, context: "upstream metadata")
            } catch {
                failures.append("\(member.endpoint.url): \(readable(error, limit: 120))")
            }
        }
        throw MLSecError.io("model \(model): no upstream answered its metadata (\(failures.joined(separator: "; ")))")
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
