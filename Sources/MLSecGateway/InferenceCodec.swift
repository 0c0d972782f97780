// InferenceCodec: KServe V2 inference requests and responses, JSON tensors and the binary tensor extension.

import MLSecCore
import HTTPTypes

/// A parsed inference request.
public struct InferenceRequest: Sendable {
    public var id: String?
    public var batch: Int
    public var values: [Float]
    /// Whether the client asked for binary output.
    public var binaryOutput: Bool
}

/// Parses and validates V2 requests against a model's declared input, and encodes responses.
public enum InferenceCodec {
    static let parserLimits = JSONParser.Limits(maxDepth: 8, maxStringBytes: 4096, maxContainerCount: 1 << 22, maxNumberLength: 64)

    /// Parses a request body (`headerLength` is the Inference-Header-Content-Length, when given).
    public static func parse(_ body: [UInt8], headerLength: Int?, model: LoadedModel, maxBatch: Int) throws(GatewayError) -> InferenceRequest {
        let jsonEnd: Int
        if let headerLength {
            guard headerLength >= 0, headerLength <= body.count else {
                throw .badRequest("Inference-Header-Content-Length \(headerLength) is larger than the body (\(body.count) bytes)")
            }
            jsonEnd = headerLength
        } else {
            jsonEnd = body.count
        }
        // One pass, no tree: tensor numbers go straight into floats, at most what the largest batch could hold.
        let rowElements = model.input.shape.dropFirst().reduce(1, *)
        let maxValues = maxBatch.multipliedReportingOverflow(by: rowElements)
        let fields = try body.withUnsafeBufferPointer { (all) throws(GatewayError) -> V2RequestFields in
            var decoder = V2RequestDecoder(UnsafeBufferPointer(rebasing: all[..<jsonEnd]),
                                           maxValues: maxValues.overflow ? Int.max : maxValues.partialValue)
            return try decoder.decode()
        }
        let id = fields.id?.stringValue
        guard let inputs = fields.inputs, inputs.count == 1 else {
            throw .badRequest("the request must have exactly one input, \"\(model.input.name)\"")
        }
        let input = inputs[0]
        guard input.name?.stringValue == model.input.name else {
            throw .badRequest("unknown input \"\((input.name?.stringValue ?? "").prefix(40))\"; the model's input is \"\(model.input.name)\"")
        }
        guard input.datatype?.stringValue == model.input.datatype else {
            throw .badRequest("input \(model.input.name) must have datatype \(model.input.datatype)")
        }
        guard let shapeValues = input.shape?.arrayValue, shapeValues.count == model.input.shape.count else {
            throw .badRequest("input \(model.input.name) must have shape [batch, \(model.input.shape.dropFirst().map(String.init).joined(separator: ", "))]")
        }
        var shape: [Int] = []
        for value in shapeValues {
            guard let n = value.integerValue, n >= 0, n <= 1 << 24 else { throw .badRequest("input shape entries must be small non-negative integers") }
            shape.append(n)
        }
        guard Array(shape.dropFirst()) == Array(model.input.shape.dropFirst()) else {
            throw .badRequest("input \(model.input.name) has shape \(shape); expected [batch, \(model.input.shape.dropFirst().map(String.init).joined(separator: ", "))]")
        }
        let batch = shape[0]
        guard batch >= 1, batch <= maxBatch else { throw .badRequest("batch size \(batch) is outside 1...\(maxBatch)") }
        let count = shape.reduce(1, *)
        var values: [Float] = []
        if let size = input.parameters?["binary_data_size"]?.integerValue {
            guard size == count * 4, jsonEnd + size <= body.count else {
                throw .badRequest("binary_data_size \(size) does not match \(count) FP32 values or the body")
            }
            guard input.data == nil else { throw .badRequest("an input has either data or binary_data_size") }
            guard jsonEnd + size == body.count else { throw .badRequest("the body has bytes after the binary tensor data") }
            values.reserveCapacity(count)
            body.withUnsafeBytes { raw in
                for i in 0..<count {
                    values.append(Float(bitPattern: raw.loadUnaligned(fromByteOffset: jsonEnd + 4 * i, as: UInt32.self).littleEndian))
                }
            }
        } else {
            guard jsonEnd == body.count else { throw .badRequest("binary data without binary_data_size") }
            guard let data = input.data else { throw .badRequest("input \(model.input.name) has no data") }
            guard data.count == count else {
                throw .badRequest("input \(model.input.name) has \(data.count) values; its shape \(shape) needs \(count)")
            }
            values = data
        }
        for (i, v) in values.enumerated() {
            guard v.isFinite else { throw .badRequest("input value \(i) is not finite") }
            if let range = model.input.range, !range.contains(v) {
                throw .badRequest("input value \(i) (\(v)) is outside the declared range \(range.lowerBound)...\(range.upperBound)")
            }
        }
        var binaryOutput = fields.parameters?["binary_data_output"]?.boolValue ?? false
        if let outputs = fields.outputs?.arrayValue {
            for output in outputs {
                guard output["name"]?.stringValue == model.output.name else {
                    throw .badRequest("unknown output \"\((output["name"]?.stringValue ?? "").prefix(40))\"")
                }
                if let binary = output["parameters"]?["binary_data"]?.boolValue { binaryOutput = binary }
            }
        }
        return InferenceRequest(id: id, batch: batch, values: values, binaryOutput: binaryOutput)
    }

    private static func flatten(_ value: JSONValue, into values: inout [Float], limit: Int, depth: Int) throws(GatewayError) {
        switch value {
        case .number(let text):
            guard values.count < limit else { throw .badRequest("the input has more values than its shape allows") }
            guard let v = decimalFloat(text) else { throw .badRequest("input value \"\(text.prefix(20))\" is not a number") }
            values.append(v)
        case .array(let items):
            guard depth < 4 else { throw .badRequest("input data is nested too deeply") }
            for item in items { try flatten(item, into: &values, limit: limit, depth: depth + 1) }
        default:
            throw .badRequest("input data must be numbers (FP32)")
        }
    }

    private static let exactPowersOfTen: [Float] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10]

    /// A JSON number literal as the nearest FP32 value. Fast path (Clinger): a literal without exponent whose
    /// digits form an integer below 2^24 with at most 10 fraction digits is one exact Float divided by an
    /// exact power of ten, a single correctly rounded IEEE division. Anything else goes to `Float(String)`.
    public static func decimalFloat(_ text: String) -> Float? {
        Array(text.utf8).withUnsafeBufferPointer { decimalFloat($0) }
    }

    /// The same, for a literal's UTF-8 bytes (the request decoder's numbers).
    static func decimalFloat(_ literal: UnsafeBufferPointer<UInt8>) -> Float? {
        var mantissa: UInt32 = 0
        var fractionDigits = 0
        var negative = false
        var afterPoint = false
        func standard() -> Float? { Float(String(decoding: literal, as: UTF8.self)) }
        for byte in literal {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                mantissa = mantissa * 10 + UInt32(byte - UInt8(ascii: "0"))
                guard mantissa < 1 << 24 else { return standard() }
                if afterPoint { fractionDigits += 1 }
            case UInt8(ascii: "."): afterPoint = true
            case UInt8(ascii: "-"): negative = true
            default: return standard()  // exponent
            }
        }
        guard fractionDigits < exactPowersOfTen.count else { return standard() }
        let magnitude = Float(mantissa) / exactPowersOfTen[fractionDigits]
        return negative ? -magnitude : magnitude
    }

    /// The request the gateway sends upstream: rebuilt from the validated values (never the client's bytes,
    /// so parser differences between the gateway and the upstream cannot be exploited).
    static func upstreamRequest(_ values: [Float], batch: Int, model: LoadedModel) -> [UInt8] {
        JSONWriter.bytes(.object([
            ("inputs", .array([.object([
                ("name", .string(model.input.name)), ("shape", .array([.int(batch), .int(model.input.shape[1])])),
                ("datatype", .string("FP32")), ("data", .array(values.map { .number(String($0)) })),
            ])])),
            ("outputs", .array([.object([("name", .string(model.output.name))])])),
        ]))
    }

    /// The output values of an upstream's V2 JSON response (hostile input: size- and depth-limited, the declared
    /// output only, the expected shape). A bad answer is a 502.
    static func upstreamOutput(_ body: [UInt8], batch: Int, model: LoadedModel) throws(GatewayError) -> [Float] {
        func bad(_ why: String) -> GatewayError {
            GatewayError(.badGateway, "the model's upstream sent an invalid answer", auditReason: "upstream answer: \(why)")
        }
        let document: JSONValue
        do {
            document = try JSONParser(limits: parserLimits).parse(body, context: "upstream response")
        } catch {
            throw bad("not JSON")
        }
        guard let outputs = document["outputs"]?.arrayValue,
            let output = outputs.first(where: { $0["name"]?.stringValue == model.output.name })
        else { throw bad("no output \(model.output.name)") }
        let width = model.output.shape[1]
        guard output["shape"]?.arrayValue?.compactMap(\.integerValue) == [batch, width] else { throw bad("wrong shape") }
        guard let data = output["data"] else { throw bad("no data") }
        var values: [Float] = []
        values.reserveCapacity(batch * width)
        try flatten(data, into: &values, limit: batch * width, depth: 0)
        guard values.count == batch * width else { throw bad("\(values.count) values") }
        return values
    }

    /// Checks an output: finite values, the declared shape, and probability rows for softmax models.
    public static func validateOutput(_ values: [Float], batch: Int, model: LoadedModel) throws(GatewayError) {
        let width = model.output.shape[1]
        guard values.count == batch * width, values.allSatisfy(\.isFinite) else {
            throw GatewayError(.internalServerError, "the model produced an invalid output", auditReason: "output validation failed: shape or non-finite")
        }
        if model.endsWithSoftmax {
            for row in 0..<batch {
                let sum = values[(row * width)..<((row + 1) * width)].reduce(0, +)
                guard abs(sum - 1) < 1e-3, values[(row * width)..<((row + 1) * width)].allSatisfy({ $0 >= 0 }) else {
                    throw GatewayError(.internalServerError, "the model produced an invalid output", auditReason: "output validation failed: softmax row \(row) sums to \(sum)")
                }
            }
        }
    }

    /// Encodes a response: JSON, or a JSON header followed by raw FP32 bytes (binary extension).
    public static func encode(_ values: [Float], batch: Int, request: InferenceRequest, model: LoadedModel) -> (body: [UInt8], headerLength: Int?) {
        var output: [(String, JSONValue)] = [
            ("name", .string(model.output.name)), ("datatype", .string("FP32")),
            ("shape", .array([.int(batch), .int(model.output.shape[1])])),
        ]
        if request.binaryOutput {
            output.append(("parameters", .object([("binary_data_size", .int(values.count * 4))])))
        } else {
            output.append(("data", .array(values.map { .number(String($0)) })))
        }
        var members: [(String, JSONValue)] = [("model_name", .string(model.name)), ("model_version", .string(model.version))]
        if let id = request.id { members.append(("id", .string(id))) }
        members.append(("outputs", .array([.object(output)])))
        var body = JSONWriter.bytes(.object(members))
        guard request.binaryOutput else { return (body, nil) }
        let headerLength = body.count
        body.reserveCapacity(headerLength + values.count * 4)
        for v in values {
            withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) }
        }
        return (body, headerLength)
    }
}
