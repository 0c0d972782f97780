// V2RequestDecoder: reads a KServe V2 JSON inference request in one pass, writing tensor numbers straight into a
// Float buffer and refusing them as soon as there are more than the model could accept (no document tree).

import MLSecCore

/// The fields of a V2 request as read: small members as parsed JSON values, tensor data as floats.
struct V2RequestFields {
    struct Input {
        var name: JSONValue?
        var datatype: JSONValue?
        var shape: JSONValue?
        var parameters: JSONValue?
        var data: [Float]?
    }

    var id: JSONValue?
    var inputs: [Input]?
    var parameters: JSONValue?
    var outputs: JSONValue?
}

/// A one-pass reader of the request JSON. Everything but `inputs[].data` is a small value (at most
/// `maxMemberBytes`), checked by the strict `JSONParser`; `data` is nested arrays of numbers (depth 4 at most)
/// appended to a Float array that may hold `maxValues` numbers, so memory stays a small multiple of the largest
/// tensor the model accepts whatever the body holds.
struct V2RequestDecoder {
    static let maxMemberBytes = 64 << 10
    static let memberLimits = JSONParser.Limits(maxDepth: 8, maxStringBytes: 4096, maxContainerCount: 4096, maxNumberLength: 64)

    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxValues: Int
    private var i = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, maxValues: Int) {
        self.bytes = bytes
        self.maxValues = maxValues
    }

    /// Reads the whole document; `inputs` may have one member (a second is refused as soon as it starts).
    mutating func decode() throws(GatewayError) -> V2RequestFields {
        var fields = V2RequestFields()
        try object { (key, decoder) throws(GatewayError) in
            switch key {
            case "id": fields.id = try decoder.member()
            case "parameters": fields.parameters = try decoder.member()
            case "outputs": fields.outputs = try decoder.member()
            case "inputs":
                var inputs: [V2RequestFields.Input] = []
                try decoder.array { (decoder) throws(GatewayError) in
                    guard inputs.isEmpty else { throw .badRequest("the request must have exactly one input") }
                    inputs.append(try decoder.input())
                }
                fields.inputs = inputs
            default:
                throw .badRequest("unknown request field \"\(key.prefix(40))\"")
            }
        }
        skipWhitespace()
        guard i == bytes.count else { throw fail("text after the request object") }
        return fields
    }

    private mutating func input() throws(GatewayError) -> V2RequestFields.Input {
        var input = V2RequestFields.Input()
        try object { (key, decoder) throws(GatewayError) in
            switch key {
            case "name": input.name = try decoder.member()
            case "datatype": input.datatype = try decoder.member()
            case "shape": input.shape = try decoder.member()
            case "parameters": input.parameters = try decoder.member()
            case "data":
                var values: [Float] = []
                values.reserveCapacity(min(decoder.maxValues, 4096))
                try decoder.tensor(into: &values, depth: 0)
                input.data = values
            default:
                _ = try decoder.member()  // other members (V2 allows extensions) are read and bounded, not used
            }
        }
        return input
    }

    // MARK: structure

    private func fail(_ why: String) -> GatewayError {
        .badRequest("the request is not valid JSON: \(why) at byte \(i)")
    }

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func expect(_ byte: UInt8) throws(GatewayError) {
        skipWhitespace()
        guard i < bytes.count, bytes[i] == byte else { throw fail("expected '\(Character(Unicode.Scalar(byte)))'") }
        i += 1
    }

    /// `{ "key": value, ... }`, each value read by `body`; duplicate keys are refused.
    private mutating func object(_ body: (String, inout V2RequestDecoder) throws(GatewayError) -> Void) throws(GatewayError) {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return }
        var seen: Set<String> = []
        while true {
            skipWhitespace()
            let start = i
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            try skipString()
            guard case .string(let key)? = try? JSONParser(limits: Self.memberLimits).parse(Array(bytes[start..<i]), context: "key") else {
                throw fail("invalid member name")
            }
            guard seen.insert(key).inserted else { throw fail("duplicate member \"\(key.prefix(40))\"") }
            try expect(UInt8(ascii: ":"))
            try body(key, &self)
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            guard bytes[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            i += 1
            return
        }
    }

    /// `[ element, ... ]`, each element read by `body`.
    private mutating func array(_ body: (inout V2RequestDecoder) throws(GatewayError) -> Void) throws(GatewayError) {
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return }
        while true {
            try body(&self)
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            guard bytes[i] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            i += 1
            return
        }
    }

    /// A small value of any type: its extent is found, then the strict parser reads it.
    private mutating func member() throws(GatewayError) -> JSONValue {
        skipWhitespace()
        let start = i
        guard i < bytes.count else { throw fail("expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            var depth = 0
            repeat {
                guard i < bytes.count else { throw fail("unterminated value") }
                guard i - start <= Self.maxMemberBytes else { throw fail("a member is over \(Self.maxMemberBytes) bytes") }
                switch bytes[i] {
                case UInt8(ascii: "\""): try skipString(); continue
                case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
                default: break
                }
                i += 1
            } while depth > 0
        default:
            while i < bytes.count, !Self.delimiters.contains(bytes[i]), i - start <= 64 { i += 1 }
        }
        guard i > start, i - start <= Self.maxMemberBytes else { throw fail("a member is empty or over \(Self.maxMemberBytes) bytes") }
        do {
            return try JSONParser(limits: Self.memberLimits).parse(Array(bytes[start..<i]), context: "member")
        } catch {
            throw .badRequest("the request is not valid JSON: \((error as? MLSecError)?.message ?? "invalid value") (member at byte \(start))")
        }
    }

    private static let delimiters: Set<UInt8> = [UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x0A, 0x0D, 0x09]

    /// Moves past a string starting at `i` (its content is checked by the strict parser when it is used).
    private mutating func skipString() throws(GatewayError) {
        i += 1
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\""): i += 1; return
            case UInt8(ascii: "\\"): i += 2
            default: i += 1
            }
        }
        throw fail("unterminated string")
    }

    // MARK: tensor data

    /// A number or nested arrays of numbers (depth below 4), appended to `values` (at most `maxValues`).
    private mutating func tensor(into values: inout [Float], depth: Int) throws(GatewayError) {
        skipWhitespace()
        guard i < bytes.count else { throw fail("unterminated data") }
        if bytes[i] == UInt8(ascii: "[") {
            guard depth < 4 else { throw .badRequest("input data is nested too deeply") }
            try array { (decoder) throws(GatewayError) in try decoder.tensor(into: &values, depth: depth + 1) }
            return
        }
        guard values.count < maxValues else { throw .badRequest("the input has more values than its shape allows") }
        values.append(try number())
    }

    /// A JSON number (RFC 8259 grammar, at most 64 characters) as the nearest Float.
    private mutating func number() throws(GatewayError) -> Float {
        let start = i
        func digit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        func digits() -> Int {
            let first = i
            while i < bytes.count, digit(bytes[i]) { i += 1 }
            return i - first
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, digit(bytes[i]) else { throw .badRequest("input data must be numbers (FP32) (byte \(start))") }
        let leadingZero = bytes[i] == UInt8(ascii: "0")
        guard !(digits() > 1 && leadingZero) else { throw fail("a number has a leading zero") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { throw fail("a number has no digits after its point") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw fail("a number has no exponent digits") }
        }
        guard i - start <= 64, let value = InferenceCodec.decimalFloat(UnsafeBufferPointer(rebasing: bytes[start..<i])) else {
            throw fail("invalid number")
        }
        return value
    }
}
