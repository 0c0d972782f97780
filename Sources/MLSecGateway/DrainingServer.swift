// DrainingServer: the HTTP server as the service group runs it: the drain logged, a listen failure said plainly.

import Foundation
import Logging
import MLSecCore
import NIOCore
import ServiceLifecycle
import Synchronization

/// Wraps the gateway's application service: when a graceful shutdown starts (SIGTERM, SIGINT) it logs that
/// the server is draining and, once the server has stopped, whether every in-flight request finished or the
/// grace period cut them off. A port that cannot be bound is one `MLSecError.usage` saying what to do,
/// instead of the socket call's error.
public struct DrainingServer<Server: Service>: Service {
    let server: Server
    let host: String
    let port: Int
    /// What to do about the port, e.g. "choose another with --port".
    let portHint: String
    let grace: Duration
    let logger: Logger

    public init(_ server: Server, host: String, port: Int, portHint: String, grace: Duration, logger: Logger) {
        self.server = server
        self.host = host
        self.port = port
        self.portHint = portHint
        self.grace = grace
        self.logger = logger
    }

    public func run() async throws {
        let drainStarted = Mutex<ContinuousClock.Instant?>(nil)
        let (logger, grace) = (self.logger, self.grace)
        do {
            try await withGracefulShutdownHandler {
                try await server.run()
            } onGracefulShutdown: {
                drainStarted.withLock { $0 = ContinuousClock.now }
                logger.notice("draining: no new connections; in-flight requests have \(grace.components.seconds) s to finish",
                              metadata: ["grace_seconds": "\(grace.components.seconds)"])
            }
        } catch let error as IOError {
            throw listenError(error) ?? error
        }
        guard let start = drainStarted.withLock({ $0 }) else { return }
        let elapsed = (ContinuousClock.now - start).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        if Task.isCancelled {
            logger.warning("drain ended by the grace period: requests still in flight were cancelled",
                           metadata: ["seconds": "\(String(format: "%.2f", seconds))"])
        } else {
            logger.notice("drained: every in-flight request finished", metadata: ["seconds": "\(String(format: "%.2f", seconds))"])
        }
    }

    /// The failure to listen, said plainly (nil for other errors).
    func listenError(_ error: IOError) -> MLSecError? {
        switch error.errnoCode {
        case EADDRINUSE:
            return .usage("port \(port) is in use; \(portHint)")
        case EACCES:
            return .usage("port \(port) needs privileges this process does not have (ports below 1024 need CAP_NET_BIND_SERVICE); \(portHint)")
        case EADDRNOTAVAIL:
            return .usage("cannot listen on \(host): the address is not one of this machine's")
        default:
            return nil
        }
    }
}
