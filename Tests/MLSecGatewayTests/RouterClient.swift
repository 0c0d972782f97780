// RouterClient: sends one request through a gateway router in process (the whole middleware chain, no socket).

import HTTPTypes
import Hummingbird
import Logging
import MLSecGateway
import NIOCore
import NIOEmbedded

enum RouterClient {
    /// Collects a response body.
    private struct Collector: ResponseBodyWriter {
        let sink: ByteBufferBox
        mutating func write(_ buffer: ByteBuffer) async throws { sink.buffer.writeImmutableBuffer(buffer) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    private final class ByteBufferBox: @unchecked Sendable { var buffer = ByteBuffer() }

    static func send(_ responder: any HTTPResponder<GatewayContext>, _ method: HTTPRequest.Method, _ path: String,
                     key: String? = nil, body: [UInt8]? = nil, headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        var fields = headers
        if let key { fields[.authorization] = "Bearer \(key)" }
        if body != nil, fields[.contentType] == nil { fields[.contentType] = "application/json" }
        let head = HTTPRequest(method: method, scheme: "http", authority: "127.0.0.1", path: path, headerFields: fields)
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: body ?? [])))
        let context = GatewayContext(source: ApplicationRequestContextSource(channel: EmbeddedChannel(), logger: Logger(label: "test")))
        let response = try await responder.respond(to: request, context: context)
        let box = ByteBufferBox()
        try await response.body.write(Collector(sink: box))
        return (response.status, response.headers, Array(box.buffer.readableBytesView))
    }
}
