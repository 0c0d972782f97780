// CORSMiddleware: cross-origin access only for configured origins (off by default), preflights answered early.

import HTTPTypes
import Hummingbird

/// Browsers may call the gateway only from `allowedOrigins` (exact match). Preflight requests (OPTIONS with
/// `Access-Control-Request-Method`) from those origins get 204 before authentication; other origins get no
/// CORS headers at all, so browsers refuse the response.
struct GatewayCORSMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let allowedOrigins: Set<String>

    static let origin = HTTPField.Name("Origin")!
    static let requestMethod = HTTPField.Name("Access-Control-Request-Method")!
    static let allowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!
    static let allowMethods = HTTPField.Name("Access-Control-Allow-Methods")!
    static let allowHeaders = HTTPField.Name("Access-Control-Allow-Headers")!
    static let exposeHeaders = HTTPField.Name("Access-Control-Expose-Headers")!
    static let maxAge = HTTPField.Name("Access-Control-Max-Age")!
    static let vary = HTTPField.Name("Vary")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[Self.origin], allowedOrigins.contains(origin) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers[Self.requestMethod] != nil {
            return Response(status: .noContent, headers: [
                Self.allowOrigin: origin, Self.vary: "Origin", Self.allowMethods: "GET, POST, DELETE",
                Self.allowHeaders: "Authorization, Content-Type, Inference-Header-Content-Length", Self.maxAge: "600",
            ])
        }
        var response = try await next(request, context)
        response.headers[Self.allowOrigin] = origin
        response.headers[Self.vary] = "Origin"
        response.headers[Self.exposeHeaders] = "MLSec-Receipt, Inference-Header-Content-Length, RateLimit, RateLimit-Policy, Retry-After, X-Request-Id"
        return response
    }
}
