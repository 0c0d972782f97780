// GatewayError: an HTTP error of the gateway, rendered as KServe V2's {"error": "..."} body.

import Hummingbird
import MLSecCore
import HTTPTypes

/// An error answered to the client with a status and a message that reveals nothing internal.
public struct GatewayError: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    /// Extra response headers (Retry-After, RateLimit, WWW-Authenticate).
    public var headers: HTTPFields
    /// The audit decision this error records.
    public var auditReason: String
    /// Set once the control that raised it wrote its audit entry (so it is not recorded twice).
    public var audited = false

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:], auditReason: String? = nil) {
        self.status = status
        self.message = message
        self.headers = headers
        self.auditReason = auditReason ?? message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        GatewayResponse.json(.object([("error", .string(message))]), status: status, headers: headers)
    }

    static func badRequest(_ message: String) -> GatewayError { GatewayError(.badRequest, message) }
    static let unauthenticated = GatewayError(
        .unauthorized, "authentication required", headers: [.wwwAuthenticate: "Bearer"], auditReason: "unauthenticated")
    static func notFound(_ what: String) -> GatewayError { GatewayError(.notFound, "\(what) not found") }
    static func forbidden(_ reason: String) -> GatewayError { GatewayError(.forbidden, "forbidden", auditReason: reason) }
    /// 503 with `Retry-After: 1`: a control could not decide (its state is unreachable), so it refuses.
    static func unavailable(_ message: String) -> GatewayError {
        GatewayError(.serviceUnavailable, message, headers: [.retryAfter: "1"])
    }
}

/// Helpers to build responses with JSON bodies.
enum GatewayResponse {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        bytes(JSONWriter.bytes(value), status: status, contentType: "application/json", headers: headers)
    }

    static func bytes(_ body: [UInt8], status: HTTPResponse.Status = .ok, contentType: String, headers: HTTPFields = [:])
        -> Response
    {
        var fields = headers
        fields[.contentType] = contentType
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
