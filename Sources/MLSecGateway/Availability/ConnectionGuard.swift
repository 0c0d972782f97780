// ConnectionGuard: per-connection defences below the router: a cap on connections per client address, a deadline
// for each request head, and a body deadline that grows with a minimum transfer rate (slowloris and slow bodies).

import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Connection-level limits (the configuration's `limits`).
public struct ConnectionLimits: Sendable, Equatable {
    /// A connection that sends and receives nothing for this long is closed (`idle_timeout_ms`).
    public var idleTimeout: Duration = .seconds(10)
    /// A request head must be complete this long after its first byte arrived (`header_timeout_ms`); with TLS the
    /// handshake counts too.
    public var headerTimeout: Duration = .seconds(5)
    /// A request body must be complete `bodyTimeout` after its head, plus one second for every
    /// `minBodyBytesPerSecond` bytes received (`body_timeout_ms`, `min_body_bytes_per_second`), as Apache's
    /// mod_reqtimeout does: a client that trickles its body is closed, a slow but steady upload is not.
    public var bodyTimeout: Duration = .seconds(10)
    public var minBodyBytesPerSecond = 65_536
    /// Open connections allowed from one client address (IPv6: one /64); more are closed at once
    /// (`max_connections_per_address`).
    public var maxPerAddress = 64

    public init() {}
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Open connections by client address, shared by every connection of one server.
public final class ConnectionTable: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let refusals = Atomic(0)
    private let timeouts = Atomic(0)
    let limits: ConnectionLimits

    public init(limits: ConnectionLimits) { self.limits = limits }

    /// Connections closed because their address had too many open, and requests closed for being too slow.
    public var statistics: (refused: Int, timedOut: Int) {
        (refusals.load(ordering: .relaxed), timeouts.load(ordering: .relaxed))
    }

    func open(_ address: String) -> Bool {
        let admitted = counts.withLock { counts in
            let n = counts[address, default: 0]
            guard n < limits.maxPerAddress else { return false }
            counts[address] = n + 1
            return true
        }
        if !admitted { refusals.add(1, ordering: .relaxed) }
        return admitted
    }

    func close(_ address: String) {
        counts.withLock { counts in
            let n = counts[address, default: 0] - 1
            counts[address] = n > 0 ? n : nil
        }
    }

    func timedOut() { timeouts.add(1, ordering: .relaxed) }
}

/// Wraps a child channel (plain or TLS) so that the guard sees the connection first.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let table: ConnectionTable

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(table: table, logger: logger), position: .first)
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// First in the pipeline: counts the connection against its address and starts the head deadline when the first
/// byte of a request arrives. `RequestTiming`, after the HTTP codec, tells it where requests begin and end.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Phase { case idle, head, body, responding }

    private let table: ConnectionTable
    private let logger: Logger
    private var address: String?
    private var refused = false
    private(set) var phase = Phase.idle
    private var deadline: Scheduled<Void>?
    private var bodyStart = NIODeadline.now()
    private var bodyBytes = 0
    /// The response ended before the request did (an early refusal): the connection is idle once the body is in.
    private var answered = false
    private var context: ChannelHandlerContext?

    init(table: ConnectionTable, logger: Logger) {
        self.table = table
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard address == nil, !refused else { return }
        // IPv6 clients count per /64 (what one host can hold), as failed authentications do.
        let key = FailedAuthentications.addressKey(context.channel.remoteAddress?.ipAddress)
        if table.open(key) {
            address = key
        } else {
            refused = true
            logger.warning("connection refused: too many open from one address",
                           metadata: ["address": "\(key)", "limit": "\(table.limits.maxPerAddress)"])
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.execute { bound.value.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
        deadline?.cancel()
        self.context = nil
    }

    private func release() {
        if let address { table.close(address) }
        address = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        if phase == .idle {
            phase = .head
            schedule(after: table.limits.headerTimeout.nanoseconds, reason: "request head not complete in time")
        }
        context.fireChannelRead(data)
    }

    // Called by RequestTiming, on the same event loop.

    func headReceived() {
        deadline?.cancel()
        phase = .body
        answered = false
        bodyStart = .now()
        bodyBytes = 0
        scheduleBodyDeadline()
    }

    func bodyReceived(_ count: Int) {
        if phase == .body { bodyBytes += count }
    }

    func requestEnded() {
        guard phase == .body else { return }
        deadline?.cancel()
        phase = answered ? .idle : .responding
        answered = false
    }

    func responseEnded() {
        if phase == .responding { phase = .idle } else if phase == .body { answered = true }
    }

    /// The body may take `bodyTimeout` plus a second per `minBodyBytesPerSecond` received so far.
    private func scheduleBodyDeadline() {
        let limits = table.limits
        let allowance = limits.bodyTimeout.nanoseconds + Int64(min(bodyBytes, 1 << 30)) * 1_000_000_000 / Int64(max(1, limits.minBodyBytesPerSecond))
        let end = bodyStart + .nanoseconds(allowance)
        guard end > .now() else { return expire("request body slower than the minimum rate") }
        guard let loop = context?.eventLoop else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        deadline = loop.scheduleTask(deadline: end) {
            guard bound.value.phase == .body else { return }
            bound.value.scheduleBodyDeadline()
        }
    }

    private func schedule(after nanoseconds: Int64, reason: String) {
        deadline?.cancel()
        guard let loop = context?.eventLoop else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        deadline = loop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            guard bound.value.phase == .head else { return }
            bound.value.expire(reason)
        }
    }

    private func expire(_ reason: String) {
        guard let context else { return }
        table.timedOut()
        logger.info("connection closed: \(reason)", metadata: ["address": "\(address ?? "unknown")"])
        context.close(promise: nil)
    }
}

/// After the HTTP codec: reports request heads, body bytes and ends, and response ends, to the connection's guard.
final class RequestTiming: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var connection: ConnectionGuard?

    func handlerAdded(context: ChannelHandlerContext) {
        connection = try? context.pipeline.syncOperations.handler(type: ConnectionGuard.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: connection?.headReceived()
        case .body(let buffer): connection?.bodyReceived(buffer.readableBytes)
        case .end: connection?.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { connection?.responseEnded() }
        context.write(data, promise: promise)
    }
}
