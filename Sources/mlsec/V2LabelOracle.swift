// V2LabelOracle: a KServe V2 inference endpoint (MLSec's gateway or any other) as a label-only oracle for
// black-box attacks: batches within the server's limit, waits out 429s as Retry-After says, counts what it asks.

import AsyncHTTPClient
import Foundation
import MLSecCore
import MLSecEngine
import MLSecRobustness
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Predicted labels from `POST {base}/v2/models/{model}/infer`, FP32 rows under the model's input name.
final class V2LabelOracle: LabelOracle, Sendable {
    let inputSize: Int
    private let url: String
    private let apiKey: String
    private let inputName: String
    private let featureShape: [Int]
    private let batchSize: Int
    private let client: HTTPClient
    /// 429 answers waited out, and rows asked for.
    let throttled = Atomic<Int>(0)
    let rowsAsked = Atomic<Int>(0)
    static let maxResponseBytes = 16 << 20
    static let maxWaits = 600

    /// `target` is a base URL (the model name comes from the model's spec) or a full `.../v2/models/NAME` URL.
    init(target: String, apiKey: String, spec: ModelSpec, batchSize: Int, caCertificate: String?) throws {
        var base = target
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw MLSecError.usage("--target must be an http:// or https:// URL, got \"\(target.prefix(80))\"")
        }
        if !base.contains("/v2/models/") { base += "/v2/models/\(spec.name)" }
        url = base + "/infer"
        self.apiKey = apiKey
        inputName = spec.input.name
        featureShape = spec.input.featureShape
        inputSize = featureShape.reduce(1, *)
        self.batchSize = batchSize
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
        if let caCertificate {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caCertificate))
            tls.minimumTLSVersion = .tlsv12
            configuration.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async { try? await client.shutdown() }

    func labels(_ rows: [Float], count: Int) async throws -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(count)
        var start = 0
        while start < count {
            let n = min(batchSize, count - start)
            result += try await batch(Array(rows[start * inputSize..<(start + n) * inputSize]), count: n)
            start += n
        }
        return result
    }

    private func batch(_ rows: [Float], count: Int) async throws -> [Int] {
        var body = "{\"inputs\":[{\"name\":" + JSONWriter.string(.string(inputName)) + ",\"shape\":["
        body += ([count] + featureShape).map(String.init).joined(separator: ",") + "],\"datatype\":\"FP32\",\"data\":["
        body += rows.map { "\($0)" }.joined(separator: ",") + "]}]}"
        for _ in 0...Self.maxWaits {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await client.execute(request, timeout: .seconds(60))
            var collected = try await response.body.collect(upTo: Self.maxResponseBytes)
            let bytes = collected.readBytes(length: collected.readableBytes) ?? []
            if response.status == .tooManyRequests || response.status == .serviceUnavailable {
                throttled.add(1, ordering: .relaxed)
                let wait = response.headers.first(name: "Retry-After").flatMap(Double.init) ?? 1
                try await Task.sleep(for: .milliseconds(Int(min(max(wait, 0.05), 60) * 1000)))
                continue
            }
            guard response.status == .ok else {
                let text = String(decoding: bytes.prefix(300), as: UTF8.self)
                throw MLSecError(.verificationFailed, "\(url) answered \(response.status.code): \(text)")
            }
            rowsAsked.add(count, ordering: .relaxed)
            return try Self.labels(fromResponse: bytes, count: count, context: url)
        }
        throw MLSecError(.verificationFailed, "\(url) kept answering 429 after \(Self.maxWaits) waits")
    }

    /// The argmax of each row of the first output of a V2 response.
    static func labels(fromResponse bytes: [UInt8], count: Int, context: String) throws -> [Int] {
        let json = try JSONParser(limits: .init(maxDepth: 16, maxStringBytes: 1 << 16, maxContainerCount: 1 << 22)).parse(bytes, context: context)
        guard let output = json["outputs"]?.arrayValue?.first, let data = output["data"]?.arrayValue, !data.isEmpty,
              data.count % count == 0
        else { throw MLSecError.malformed("\(context): the response has no outputs[0].data with \(count) rows") }
        let width = data.count / count
        var labels: [Int] = []
        for r in 0..<count {
            var best = 0, bestValue = -Double.infinity
            for j in 0..<width {
                guard case .number(let text) = data[r * width + j], let v = Double(text) else {
                    throw MLSecError.malformed("\(context): outputs[0].data holds a value that is not a number")
                }
                if v > bestValue { best = j; bestValue = v }
            }
            labels.append(best)
        }
        return labels
    }
}
