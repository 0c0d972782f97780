// Tests of the strict JSON parser and the deterministic writer.

import MLSecCore
import Testing

@Suite struct JSONTests {
    let parser = JSONParser()

    func parse(_ text: String) throws -> JSONValue { try parser.parse(Array(text.utf8)) }

    @Test func parsesNestedDocumentsInOrder() throws {
        let value = try parse(#"{"b": [1, 2.5, -3e2, true, false, null], "a": {"x": "y\n\u00e9\ud83d\ude00"}}"#)
        #expect(value.objectValue?.map(\.0) == ["b", "a"])
        #expect(value["a"]?["x"]?.stringValue == "y\né😀")
        #expect(value["b"]?.arrayValue?.count == 6)
    }

    @Test(arguments: [
        #"{"a": 1, "a": 2}"#, "[1,]", "{", "01", "1.", "-", "\"\\x\"", "\"\u{01}\"", "[1] 2", "\"\\ud800\"",
        "\"\\udc00\"", "tru", "{\"a\" 1}", "", "nul",
    ])
    func rejectsInvalidDocuments(_ text: String) {
        #expect(throws: MLSecError.self) { try parse(text) }
    }

    @Test func rejectsDeepNestingWithoutRecursingForever() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: MLSecError.self) { try parse(deep) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: MLSecError.self) { try parser.parse([0x22, 0xff, 0xfe, 0x22]) }
    }

    @Test func integerValueAcceptsProtobufFloats() throws {
        #expect(try parse("1000000000.0").integerValue == 1_000_000_000)
        #expect(try parse("1e9").integerValue == 1_000_000_000)
        #expect(try parse("1000000000").integerValue == 1_000_000_000)
        #expect(try parse("1.5").integerValue == nil)
        #expect(try parse("1e400").integerValue == nil)
    }

    @Test func canonicalFormSortsKeysAndKeepsSlashes() {
        let value = JSONValue.object([("b", .string("a/b")), ("a", .int(1)), ("c", .string("q\"\\\u{07}"))])
        #expect(String(decoding: JSONWriter.canonical(value), as: UTF8.self) == #"{"a":1,"b":"a/b","c":"q\"\\\u0007"}"#)
    }

    @Test func writerRoundTrips() throws {
        let text = #"{"k":[1,"two",{"three":null}],"é":true}"#
        let value = try parse(text)
        #expect(JSONWriter.string(value) == text)
        #expect(try parse(JSONWriter.string(value, options: .init(pretty: true))) == value)
    }
}
