// mlsec-gateway-baseline: the benchmark's yardstick, a bare Hummingbird V2 JSON infer endpoint with no
// security (no TLS, authentication, limits, validation beyond decoding, receipts or audit), serving the same
// model with the same engine as `mlsec serve`. Codable with Foundation's JSONDecoder/JSONEncoder, as a
// first Hummingbird server would be written. Benchmarks/gateway/bench.py runs it beside nginx and MLSec.
//
// Usage: mlsec-gateway-baseline MODEL_DIR PORT   (binds 127.0.0.1 only)

import Foundation
import Hummingbird
import MLSecEngine

struct V2Tensor: Codable {
    var name: String
    var shape: [Int]
    var datatype: String
    var data: [Float]
}

struct V2Request: Decodable {
    var inputs: [V2Tensor]
}

struct V2Response: Encodable {
    var model_name: String
    var outputs: [V2Tensor]
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: mlsec-gateway-baseline MODEL_DIR PORT\n".utf8))
    exit(2)
}
let model = try ModelStore.load(directory: arguments[1])
let router = Router()
router.post("/v2/models/:model/infer") { request, context -> Response in
    let decoded = try await request.decode(as: V2Request.self, context: context)
    guard let input = decoded.inputs.first, input.shape.count == 2 else { throw HTTPError(.badRequest) }
    let output = try model.forward(try model.inputTensor(rows: input.data, count: input.shape[0]))
    let body = try JSONEncoder().encode(V2Response(
        model_name: "digits",
        outputs: [V2Tensor(name: "output", shape: [input.shape[0], output.data.count / input.shape[0]], datatype: "FP32", data: output.data)]))
    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
}
router.get("/v2/health/live") { _, _ in "{\"live\":true}" }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
FileHandle.standardOutput.write(Data("baseline listening on http://127.0.0.1:\(port)\n".utf8))
try await app.runService()
