// The one-pass V2 request decoder: same values as a strict parse, every malformed document refused with where,
// tensor numbers refused as soon as there are more than the largest batch could hold.

import Foundation
import HTTPTypes
import MLSecCore
import MLSecGateway
import Testing

@Suite("V2 request decoding, one pass")
struct V2RequestDecoderTests {
    static let values = (0..<64).map { Float($0) / 64 }
    static var data: String { "[" + values.map { "\($0)" }.joined(separator: ",") + "]" }

    func parse(_ text: String, maxBatch: Int = 8) throws(GatewayError) -> InferenceRequest {
        // A throwing helper cannot build the model with typed throws; the model is valid.
        let model: LoadedModel
        do { model = try ValidationTests.model() } catch { fatalError("test model: \(error)") }
        return try InferenceCodec.parse(Array(text.utf8), headerLength: nil, model: model, maxBatch: maxBatch)
    }

    @Test("member order, whitespace, nesting, escaped names and exponents read as a strict parser would")
    func equivalentForms() throws {
        let forms = [
            #"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":\#(Self.data)}]}"#,
            #"{"inputs":[{"data":\#(Self.data),"datatype":"FP32","shape":[1,64],"name":"input"}]}"#,
            " \n{ \"id\" : \"r1\" ,\t\"inputs\" : [ { \"name\" : \"input\" , \"shape\" : [ 1 , 64 ] , \"datatype\" : \"FP32\" , \"data\" : [ [ "
                + Self.values.map { "\($0)" }.joined(separator: " , ") + " ] ] } ] } \r\n",
            #"{"inputs":[{"\u006eame":"input","shape":[1,64],"datatype":"FP\u0033\u0032","\u0064ata":\#(Self.data)}]}"#,
            #"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","x-extension":{"a":[1,2,"]"]},"data":\#(Self.data)}]}"#,
        ]
        for form in forms {
            let parsed = try parse(form)
            #expect(parsed.values == Self.values && parsed.batch == 1, "\(form.prefix(80))")
        }
        let exponents = "[" + Self.values.map { String(format: "%.6e", $0) }.joined(separator: ",") + "]"
        let parsed = try parse(#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":\#(exponents)}]}"#)
        #expect(parsed.values == Self.values.map { Float(String(format: "%.6e", $0))! })
        #expect(try parse(#"{"id":"r1","inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":\#(Self.data)}]}"#).id == "r1")
    }

    @Test("malformed documents are 400s that say what and where", arguments: [
        #"{"#, #"[]"#, #"{"inputs":[{"data":[1,]}]}"#, #"{"inputs":[{"data":[01]}]}"#, #"{"inputs":[{"data":[1.]}]}"#,
        #"{"inputs":[{"data":[-]}]}"#, #"{"inputs":[{"data":[1e]}]}"#, #"{"inputs":[{"data":[+1]}]}"#,
        #"{"inputs":[{"data":[.5]}]}"#, #"{"inputs":[{"data":[NaN]}]}"#, #"{"inputs":[],"inputs":[]}"#,
        #"{"inputs":[]} x"#, #"{"inputs":[{"name":"in"#, #"{"inputs":[{"name":"\x"}]}"#, #"{"inputs" [] }"#,
        #"{"inputs":[{"name":"input"},{"name":"input"}]}"#, #"{"exec":"rm -rf /"}"#, #"{"inputs":[{"data":[[[[[1]]]]]}]}"#,
        #"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":["x"]}]}"#, #"{"inputs":[{"shape":[1,}]}"#,
    ])
    func malformed(text: String) {
        do {
            _ = try parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.status == .badRequest && !error.message.isEmpty)
        }
    }

    @Test("tensor numbers beyond the largest batch are refused while reading, before the shape is even seen")
    func tooManyValues() {
        let many = "[" + Array(repeating: "0.5", count: 200_000).joined(separator: ",") + "]"
        do {
            _ = try parse(#"{"inputs":[{"data":\#(many),"name":"input","shape":[1,64],"datatype":"FP32"}]}"#, maxBatch: 8)
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains("more values than its shape allows"), "\(error.message)")
        }
    }

    @Test("a member other than the tensor data is bounded in size")
    func largeMember() {
        let big = "[" + Array(repeating: "1", count: 40_000).joined(separator: ",") + "]"
        do {
            _ = try parse(#"{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","x":\#(big),"data":\#(Self.data)}]}"#)
            Issue.record("accepted")
        } catch {
            #expect(error.message.contains("bytes"), "\(error.message)")
        }
    }
}
