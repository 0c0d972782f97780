// GatewayContext: the per-request state the middleware chain fills in (request id, principal, timing).

import Hummingbird
import Logging
import NIOCore
import MLSecAccess

/// Request context of the gateway.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// A random id, echoed in the `X-Request-Id` response header and in logs.
    public var requestID = ""
    /// Who is calling, once authentication succeeded.
    public var principal: Principal?
    /// Set by the handler: the audit event fields it knows (resource, model digest, receipt).
    public var auditResource = ""
    /// The connection, for the TLS client certificate (mutual TLS).
    public let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
