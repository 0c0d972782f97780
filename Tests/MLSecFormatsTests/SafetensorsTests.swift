// Tests of the safetensors reader and writer: round trips, Python interop, exact conversions, hostile files.

import Foundation
import MLSecCore
import MLSecFormats
import Testing

// MARK: - Helpers

/// The 8 little-endian bytes of `value`.
private func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

/// A safetensors file with `header` as its JSON and `data` as its data buffer.
private func stFile(_ header: String, data: [UInt8] = []) -> [UInt8] {
    let json = Array(header.utf8)
    return le64(UInt64(json.count)) + json + data
}

/// A header entry for one tensor.
private func entry(_ name: String, _ dtype: String, _ shape: String, _ begin: Int, _ end: Int) -> String {
    #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
}

/// A fresh empty directory for one test.
private func temporaryDirectory() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-st-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

private func fixturePath(_ name: String) throws -> String {
    let url = try #require(
        Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures"))
    return url.path
}

private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// One hostile input and the error it must produce.
struct HostileCase: Sendable, CustomTestStringConvertible {
    var label: String
    var bytes: [UInt8]
    var code: MLSecError.Code
    /// Fragments the error message must contain.
    var fragments: [String]
    var limits = SafetensorsLimits()

    var testDescription: String { label }
}

private let f32x2 = [UInt8](repeating: 0, count: 8)

private let hostileCases: [HostileCase] = [
    // Length prefix.
    HostileCase(label: "shorter than 8 bytes", bytes: [1, 2, 3], code: .malformed, fragments: ["3 bytes", "8-byte"]),
    HostileCase(label: "empty file", bytes: [], code: .malformed, fragments: ["0 bytes", "8-byte"]),
    HostileCase(label: "header length 0", bytes: le64(0) + Array("{}".utf8), code: .malformed,
                fragments: ["header length of 0"]),
    HostileCase(label: "header length 2^63", bytes: le64(1 << 63) + Array("{}".utf8), code: .limitExceeded,
                fragments: ["9223372036854775808", "limit"]),
    HostileCase(label: "header length 2^64-1", bytes: le64(.max) + Array("{}".utf8), code: .limitExceeded,
                fragments: ["18446744073709551615"]),
    HostileCase(label: "header over a custom limit", bytes: stFile("{}" + String(repeating: " ", count: 198)),
                code: .limitExceeded, fragments: ["200", "100-byte limit"],
                limits: SafetensorsLimits(maxHeaderBytes: 100)),
    HostileCase(label: "header beyond end of file", bytes: le64(100) + Array("{}".utf8), code: .malformed,
                fragments: ["100-byte header", "beyond the end", "10-byte file"]),
    HostileCase(label: "file over maxFileBytes", bytes: stFile("{}      ", data: Array(repeating: 0, count: 9)),
                code: .limitExceeded, fragments: ["25 bytes", "16-byte limit"],
                limits: SafetensorsLimits(maxFileBytes: 16)),
    // JSON structure.
    HostileCase(label: "invalid JSON", bytes: stFile(#"{"a":"#), code: .malformed, fragments: ["not valid JSON"]),
    HostileCase(label: "NUL padding", bytes: stFile("{}\0\0"), code: .malformed, fragments: ["not valid JSON"]),
    HostileCase(label: "invalid UTF-8 in a name", bytes: le64(6) + [0x7b, 0x22, 0xff, 0x22, 0x3a, 0x7d],
                code: .malformed, fragments: ["not valid JSON"]),
    HostileCase(label: "not an object", bytes: stFile("[]"), code: .malformed, fragments: ["not a JSON object"]),
    HostileCase(label: "duplicate tensor names",
                bytes: stFile("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("a", "F32", "[2]", 0, 8) + "}",
                              data: f32x2),
                code: .malformed, fragments: ["duplicate key", "\"a\""]),
    HostileCase(label: "entry not an object", bytes: stFile(#"{"w":1}"#), code: .malformed,
                fragments: ["tensor \"w\"", "not a JSON object"]),
    HostileCase(label: "deep nesting", bytes: stFile(#"{"__metadata__":{"a":[[[[[[[[[[]]]]]]]]]]}}"#),
                code: .malformed, fragments: ["nesting deeper"]),
    // dtype.
    HostileCase(label: "unknown dtype",
                bytes: stFile("{" + entry("w", "F128", "[1]", 0, 16) + "}", data: f32x2 + f32x2),
                code: .unsupported, fragments: ["tensor \"w\"", "unsupported dtype", "F128"]),
    HostileCase(label: "complex dtype", bytes: stFile("{" + entry("w", "C64", "[1]", 0, 8) + "}", data: f32x2),
                code: .unsupported, fragments: ["C64"]),
    HostileCase(label: "dtype not a string", bytes: stFile(#"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#),
                code: .malformed, fragments: ["tensor \"w\"", "dtype", "not a string"]),
    HostileCase(label: "missing dtype", bytes: stFile(#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#),
                code: .malformed, fragments: ["tensor \"w\"", "no \"dtype\""]),
    // Shape.
    HostileCase(label: "missing shape", bytes: stFile(#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#),
                code: .malformed, fragments: ["no \"shape\""]),
    HostileCase(label: "shape not an array", bytes: stFile(#"{"w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}"#),
                code: .malformed, fragments: ["\"shape\" that is not an array"]),
    HostileCase(label: "negative shape", bytes: stFile("{" + entry("w", "F32", "[-1]", 0, 4) + "}"),
                code: .malformed, fragments: ["tensor \"w\"", "negative shape entry 0", "-1"]),
    HostileCase(label: "negative zero shape", bytes: stFile("{" + entry("w", "F32", "[-0]", 0, 0) + "}"),
                code: .malformed, fragments: ["negative shape entry 0"]),
    HostileCase(label: "fractional shape", bytes: stFile("{" + entry("w", "F32", "[1,1.5]", 0, 4) + "}"),
                code: .malformed, fragments: ["shape entry 1", "not an integer", "1.5"]),
    HostileCase(label: "float-written shape",
                bytes: stFile("{" + entry("w", "F32", "[1.0]", 0, 4) + "}", data: [0, 0, 0, 0]),
                code: .malformed, fragments: ["not an integer", "1.0"]),
    HostileCase(label: "exponent shape",
                bytes: stFile("{" + entry("w", "F32", "[1e0]", 0, 4) + "}", data: [0, 0, 0, 0]),
                code: .malformed, fragments: ["not an integer"]),
    HostileCase(label: "string shape", bytes: stFile("{" + entry("w", "F32", #"["1"]"#, 0, 4) + "}"),
                code: .malformed, fragments: ["shape entry 0", "not a number"]),
    HostileCase(label: "shape entry too large",
                bytes: stFile("{" + entry("w", "F32", "[99999999999999999999]", 0, 4) + "}"),
                code: .malformed, fragments: ["too large"]),
    HostileCase(label: "rank over limit",
                bytes: stFile("{" + entry("w", "F32", "[" + Array(repeating: "1", count: 17).joined(separator: ",")
                                          + "]", 0, 4) + "}", data: [0, 0, 0, 0]),
                code: .limitExceeded, fragments: ["tensor \"w\"", "rank 17", "16"]),
    HostileCase(label: "shape [2^62, 2^62]",
                bytes: stFile("{" + entry("w", "F32", "[4611686018427387904,4611686018427387904]", 0, 4) + "}",
                              data: [0, 0, 0, 0]),
                code: .malformed, fragments: ["tensor \"w\"", "overflows"]),
    HostileCase(label: "byte size overflow", bytes: stFile("{" + entry("w", "F64", "[2305843009213693952]", 0, 8) + "}",
                                                           data: f32x2),
                code: .malformed, fragments: ["tensor \"w\"", "F64", "byte size overflows"]),
    HostileCase(label: "size mismatch", bytes: stFile("{" + entry("w", "F32", "[3]", 0, 8) + "}", data: f32x2),
                code: .malformed, fragments: ["tensor \"w\"", "needs 12 bytes", "[0, 8]", "span 8 bytes"]),
    // data_offsets.
    HostileCase(label: "missing data_offsets", bytes: stFile(#"{"w":{"dtype":"F32","shape":[1]}}"#),
                code: .malformed, fragments: ["no \"data_offsets\""]),
    HostileCase(label: "one offset", bytes: stFile(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#),
                code: .malformed, fragments: ["two integers"]),
    HostileCase(label: "three offsets", bytes: stFile(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#),
                code: .malformed, fragments: ["two integers"]),
    HostileCase(label: "negative offset", bytes: stFile("{" + entry("w", "F32", "[1]", -4, 0) + "}"),
                code: .malformed, fragments: ["negative data_offsets begin"]),
    HostileCase(label: "string offset", bytes: stFile(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":["0",4]}}"#),
                code: .malformed, fragments: ["data_offsets begin", "not a number"]),
    HostileCase(label: "begin after end", bytes: stFile("{" + entry("w", "F32", "[1]", 8, 4) + "}", data: f32x2),
                code: .malformed, fragments: ["tensor \"w\"", "[8, 4]", "begin after end"]),
    HostileCase(label: "huge end", bytes: stFile("{" + entry("w", "U8", "[9223372036854775807]", 0, Int.max) + "}"),
                code: .malformed, fragments: ["tensor \"w\"", "beyond the 0-byte data buffer"]),
    HostileCase(label: "end beyond data", bytes: stFile("{" + entry("w", "F32", "[2]", 0, 8) + "}", data: [0, 0, 0, 0]),
                code: .malformed, fragments: ["tensor \"w\"", "[0, 8]", "beyond the 4-byte data buffer"]),
    // Layout.
    HostileCase(label: "overlap",
                bytes: stFile("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}",
                              data: f32x2 + [0, 0, 0, 0]),
                code: .malformed, fragments: ["tensor \"b\"", "[4, 12]", "overlap", "tensor \"a\" [0, 8]"]),
    HostileCase(label: "same range twice",
                bytes: stFile("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 0, 8) + "}",
                              data: f32x2),
                code: .malformed, fragments: ["overlap"]),
    HostileCase(label: "empty tensor inside another",
                bytes: stFile("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[0]", 4, 4) + "}",
                              data: f32x2),
                code: .malformed, fragments: ["tensor \"b\"", "overlap"]),
    HostileCase(label: "gap between tensors",
                bytes: stFile("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}",
                              data: f32x2 + [0, 0, 0, 0]),
                code: .malformed, fragments: ["gap", "[4, 8)", "tensor \"a\"", "tensor \"b\""]),
    HostileCase(label: "gap at start", bytes: stFile("{" + entry("a", "F32", "[1]", 4, 8) + "}", data: f32x2),
                code: .malformed, fragments: ["gap", "[0, 4)", "start"]),
    HostileCase(label: "trailing data", bytes: stFile("{" + entry("a", "F32", "[1]", 0, 4) + "}", data: f32x2),
                code: .malformed, fragments: ["trailing data", "8 bytes", "only 4"]),
    HostileCase(label: "data without tensors", bytes: stFile("{}", data: [1]),
                code: .malformed, fragments: ["trailing data", "1 bytes"]),
    HostileCase(label: "too many tensors",
                bytes: stFile("{" + (0..<3).map { entry("t\($0)", "U8", "[1]", $0, $0 + 1) }.joined(separator: ",")
                              + "}", data: [1, 2, 3]),
                code: .limitExceeded, fragments: ["3 tensors", "limit of 2"], limits: SafetensorsLimits(maxTensors: 2)),
    // Metadata.
    HostileCase(label: "metadata not an object", bytes: stFile(#"{"__metadata__":["a"]}"#),
                code: .malformed, fragments: ["__metadata__", "not a JSON object"]),
    HostileCase(label: "metadata value not a string", bytes: stFile(#"{"__metadata__":{"k":1}}"#),
                code: .malformed, fragments: ["__metadata__", "\"k\"", "not a string"]),
    HostileCase(label: "metadata value null", bytes: stFile(#"{"__metadata__":{"k":null}}"#),
                code: .malformed, fragments: ["\"k\"", "not a string"]),
]

// MARK: - Tests

@Suite struct SafetensorsTests {
    // MARK: Hostile files

    @Test(arguments: hostileCases)
    func rejectsHostileBuffer(_ hostile: HostileCase) {
        let error = #expect(throws: MLSecError.self) {
            try SafetensorsFile(bytes: hostile.bytes, limits: hostile.limits)
        }
        #expect(error?.code == hostile.code, "\(error?.message ?? "")")
        for fragment in hostile.fragments {
            #expect(error?.message.contains(fragment) == true, "\"\(error?.message ?? "")\" lacks \"\(fragment)\"")
        }
    }

    @Test(arguments: hostileCases)
    func rejectsHostileFile(_ hostile: HostileCase) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors"
        try AtomicFile.write(hostile.bytes, to: path)
        let error = #expect(throws: MLSecError.self) { try SafetensorsFile(path: path, limits: hostile.limits) }
        #expect(error?.code == hostile.code, "\(error?.message ?? "")")
        #expect(error?.message.contains(path) == true, "\(error?.message ?? "") does not name the file")
        for fragment in hostile.fragments {
            #expect(error?.message.contains(fragment) == true, "\"\(error?.message ?? "")\" lacks \"\(fragment)\"")
        }
    }

    @Test func headerInitValidatesWithoutIO() throws {
        let json = Array(("{" + entry("b", "F32", "[1]", 4, 8) + "," + entry("a", "F32", "[1]", 0, 4) + "}").utf8)
        let header = try SafetensorsHeader(headerJSON: json, dataByteCount: 8)
        #expect(header.tensors.map(\.name) == ["a", "b"])
        #expect(header.headerByteCount == json.count)
        #expect(header.dataStart == 8 + json.count)
        #expect(header.dataByteCount == 8)
        #expect(header.tensor(named: "b")?.dataRange == 4..<8)
        #expect(header.tensor(named: "c") == nil)

        let negative = #expect(throws: MLSecError.self) { try SafetensorsHeader(headerJSON: json, dataByteCount: -1) }
        #expect(negative?.code == .malformed)
        let empty = #expect(throws: MLSecError.self) { try SafetensorsHeader(headerJSON: [], dataByteCount: 0) }
        #expect(empty?.code == .malformed)
        let short = #expect(throws: MLSecError.self) { try SafetensorsHeader(headerJSON: json, dataByteCount: 7) }
        #expect(short?.message.contains("beyond the 7-byte data buffer") == true)
    }

    @Test func escapesControlCharactersInNames() {
        let bytes = stFile(#"{"\u001b[2Jevil\u0007":{"dtype":"Q8","shape":[],"data_offsets":[0,1]}}"#, data: [0])
        let error = #expect(throws: MLSecError.self) { try SafetensorsFile(bytes: bytes) }
        #expect(error?.code == .unsupported)
        #expect(error?.message.contains("\\u{1b}[2Jevil\\u{7}") == true)
        #expect(error?.message.unicodeScalars.contains { $0.value < 0x20 } == false)
    }

    @Test func emptyTensorListIsValid() throws {
        for header in ["{}", "{}      ", " {} ", #"{"__metadata__":{"a":"b"}}"#] {
            let file = try SafetensorsFile(bytes: stFile(header))
            #expect(file.header.tensors.isEmpty)
            #expect(file.header.dataByteCount == 0)
        }
        #expect(try SafetensorsFile(bytes: stFile(#"{"__metadata__":{"a":"b"}}"#)).header.metadata == ["a": "b"])
    }

    @Test func refusesDirectoriesAndMissingFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notFile = #expect(throws: MLSecError.self) { try SafetensorsFile(path: directory) }
        #expect(notFile?.code == .io)
        let missing = #expect(throws: MLSecError.self) { try SafetensorsFile(path: directory + "/absent") }
        #expect(missing?.code == .io)
    }

    @Test func fileTruncatedAfterOpenIsAnIOError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/m.safetensors"
        try SafetensorsWriter.write([("a", [2], [1, 2]), ("b", [1000], Array(repeating: 3, count: 1000))], to: path)
        let file = try SafetensorsFile(path: path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(file.header.dataStart + 100))
        try handle.close()
        #expect(try file.floats("a") == [1, 2])
        let error = #expect(throws: MLSecError.self) { try file.floats("b") }
        #expect(error?.code == .io)
        #expect(error?.message.contains("changed while it was read") == true)
    }

    @Test func unknownTensorNameIsAUsageError() throws {
        let file = try SafetensorsFile(bytes: SafetensorsWriter.encode([("a", [1], [1])]))
        let error = #expect(throws: MLSecError.self) { try file.floats("b") }
        #expect(error?.code == .usage)
        #expect(error?.message.contains("\"b\"") == true)
        #expect(throws: MLSecError.self) { try file.rawBytes("b") }
    }

    // MARK: Writer

    @Test func roundTripsThroughBytesAndFiles() throws {
        let weights: [Float] = (0..<300).map { Float($0) * 0.37 - 20 }
        let specials: [Float] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, -.greatestFiniteMagnitude,
                                 .nan, Float(bitPattern: 0x7fa0_0001), Float(bitPattern: 0xffc1_2345)]
        let tensors: [(name: String, shape: [Int], values: [Float])] = [
            ("z.weight", [3, 100], weights), ("a.specials", [9], specials), ("scalar", [], [42]),
            ("empty", [0, 5], []), ("é名", [1, 1, 1], [1.5]),
        ]
        let metadata = ["format": "pt", "quote\"and\\slash": "line\nbreak", "ünï": "cødé"]
        let bytes = try SafetensorsWriter.encode(tensors, metadata: metadata)

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/model.safetensors"
        try SafetensorsWriter.write(tensors, metadata: metadata, to: path)
        #expect(try ReadOnlyFile.readAll(path, maxBytes: 1 << 20) == bytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["model.safetensors"])

        for file in [try SafetensorsFile(bytes: bytes), try SafetensorsFile(path: path)] {
            #expect(file.header.metadata == metadata)
            // Data is laid out in the order given; the empty tensor sits at the end with the last one.
            #expect(file.header.tensors.map(\.name) == ["z.weight", "a.specials", "scalar", "empty", "é名"])
            #expect(file.header.dataStart % 8 == 0)
            for tensor in tensors {
                let info = try #require(file.header.tensor(named: tensor.name))
                #expect(info.dtype == .f32)
                #expect(info.shape == tensor.shape)
                #expect(info.elementCount == tensor.values.count)
                #expect(bits(try file.floats(tensor.name)) == bits(tensor.values))
                #expect(try file.rawBytes(tensor.name).count == tensor.values.count * 4)
            }
        }
    }

    @Test func writerOutputIsExactAndSorted() throws {
        let bytes = try SafetensorsWriter.encode([("b", [2], [1, -2]), ("a", [], [0.5])], metadata: ["k": "v"])
        let json = #"{"__metadata__":{"k":"v"},"a":{"data_offsets":[8,12],"dtype":"F32","shape":[]},"#
            + #""b":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}}"#
        let padded = json + String(repeating: " ", count: (8 - json.utf8.count % 8) % 8)
        let expected = le64(UInt64(padded.utf8.count)) + Array(padded.utf8)
            + [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f]
        #expect(bytes == expected)
        #expect(try SafetensorsWriter.encode([]) == le64(8) + Array("{}      ".utf8))
    }

    @Test func writerRejectsInvalidTensors() {
        let cases: [[(name: String, shape: [Int], values: [Float])]] = [
            [("a", [3], [1, 2])], [("a", [-1], [])], [("a", [1], [1]), ("a", [1], [2])],
            [("__metadata__", [1], [1])], [("a", [Int.max, 4], [])],
        ]
        for tensors in cases {
            let error = #expect(throws: MLSecError.self) { try SafetensorsWriter.encode(tensors) }
            #expect(error?.code == .usage)
        }
    }

    @Test func writeReplacesAnExistingFileAtomically() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/m.safetensors"
        try SafetensorsWriter.write([("a", [1], [1])], to: path)
        try SafetensorsWriter.write([("a", [2], [3, 4])], to: path)
        #expect(try SafetensorsFile(path: path).floats("a") == [3, 4])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["m.safetensors"])
    }

    @Test func concurrentReadsFromOneFile() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/m.safetensors"
        let tensors = (0..<16).map { i in (name: "t\(i)", shape: [64], values: (0..<64).map { Float(i * 64 + $0) }) }
        try SafetensorsWriter.write(tensors, to: path)
        let file = try SafetensorsFile(path: path)
        let ok = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<16 {
                group.addTask { try file.floats("t\(i)") == (0..<64).map { Float(i * 64 + $0) } }
            }
            return try await group.reduce(true) { $0 && $1 }
        }
        #expect(ok)
    }

    // MARK: Python interop

    /// numpy's float32 values for the tensors of the fixtures (printed by Fixtures/make_fixtures.py).
    enum Expected {
        static let weight: [UInt32] = [0xBF000000, 0xBE800000, 0x00000000, 0x3E800000, 0x3F000000, 0x3F400000]
        static let half: [UInt32] = [
            0x00000000, 0x80000000, 0x33800000, 0xB3800000, 0x387FC000, 0x38800000, 0x3F800000, 0xBF800000,
            0x3EAAA000, 0x477FE000, 0xC77FE000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F802000, 0xFFC00000,
            0x3A468000, 0x38000000,
        ]
        static let double: [UInt32] = [0x3EAAAAAB, 0x8002B8E6, 0x7F800000, 0x80000000, 0x7F7FFFFF, 0x40490FDB]
        static let long: [UInt32] = [0x00000000, 0xBF800000, 0x5A000000, 0xDF000000, 0x5F000000, 0x4B800000]
        static let bf16: [UInt32] = [
            0x00000000, 0x80000000, 0x00010000, 0x807F0000, 0x00800000, 0x3F800000, 0xC0A00000, 0x40490000,
            0x7F7F0000, 0xFF7F0000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F810000,
        ]
        static let i32: [UInt32] = [0xCF000000, 0x4F000000, 0x4CEB79A3]
    }

    @Test func readsPythonWrittenMixedFile() throws {
        let path = try fixturePath("python_mixed")
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: 1 << 20)
        for file in [try SafetensorsFile(path: path), try SafetensorsFile(bytes: bytes)] {
            let header = file.header
            #expect(header.metadata == ["format": "np", "note": "made by make_fixtures.py"])
            #expect(Set(header.tensors.map(\.name)) == ["weight", "half", "double", "long", "scalar", "empty"])
            #expect(header.tensor(named: "weight")?.shape == [2, 3])
            #expect(header.tensor(named: "weight")?.dtype == .f32)
            #expect(header.tensor(named: "half")?.dtype == .f16)
            #expect(header.tensor(named: "double")?.dtype == .f64)
            #expect(header.tensor(named: "long")?.dtype == .i64)
            #expect(header.tensor(named: "long")?.shape == [3, 2])
            #expect(header.tensor(named: "scalar")?.shape == [])
            #expect(header.tensor(named: "empty")?.shape == [0, 4])
            let offsets = header.tensors.map(\.dataRange.lowerBound)
            #expect(offsets == offsets.sorted())

            #expect(bits(try file.floats("weight")) == Expected.weight)
            #expect(bits(try file.floats("half")) == Expected.half)
            #expect(bits(try file.floats("double")) == Expected.double)
            #expect(bits(try file.floats("long")) == Expected.long)
            #expect(try file.floats("scalar") == [7.5])
            #expect(try file.floats("empty") == [])
            #expect(try file.rawBytes("empty") == [])
            // Raw bytes are the stored little-endian values.
            let raw = try file.rawBytes("long")
            #expect(raw.count == 48)
            #expect(Array(raw[8..<16]) == [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        }
    }

    @Test func readsPythonWrittenBFloat16File() throws {
        let file = try SafetensorsFile(path: try fixturePath("python_bf16"))
        #expect(file.header.metadata.isEmpty)
        #expect(file.header.tensor(named: "bf16")?.dtype == .bf16)
        #expect(file.header.tensor(named: "bf16")?.shape == [2, 7])
        #expect(bits(try file.floats("bf16")) == Expected.bf16)
        #expect(file.header.tensor(named: "i32")?.dtype == .i32)
        #expect(bits(try file.floats("i32")) == Expected.i32)
    }

    // MARK: Conversions

    #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    @Test func halfConversionMatchesFloat16ForAllBitPatterns() {
        var mismatches: [UInt16] = []
        for pattern in 0...UInt16.max {
            let ours = SafetensorsDType.float(fromHalfBits: pattern)
            let reference = Float(Float16(bitPattern: pattern))
            let same = reference.isNaN
                ? ours.isNaN && ours.sign == reference.sign : ours.bitPattern == reference.bitPattern
            if !same { mismatches.append(pattern) }
        }
        #expect(mismatches.isEmpty, "half bit patterns converted wrongly, first: \(mismatches.prefix(8))")
    }
    #endif

    @Test func halfAndBFloat16ConversionsMatchTheirDefinition() {
        // value = (-1)^s × 2^(e - bias) × (1 + m / 2^p), or 2^(1 - bias) × m / 2^p when e == 0, computed in Double.
        func reference(_ pattern: UInt16, exponentBits: Int, mantissaBits: Int) -> Double {
            let bias = (1 << (exponentBits - 1)) - 1
            let sign: Double = pattern & 0x8000 != 0 ? -1 : 1
            let e = Int(pattern >> mantissaBits) & ((1 << exponentBits) - 1)
            let m = Double(Int(pattern) & ((1 << mantissaBits) - 1))
            if e == (1 << exponentBits) - 1 { return m == 0 ? sign * .infinity : .nan }
            if e == 0 { return sign * m / Double(1 << mantissaBits) * pow(2.0, Double(1 - bias)) }
            return sign * (1 + m / Double(1 << mantissaBits)) * pow(2.0, Double(e - bias))
        }
        var mismatches = 0
        for pattern in 0...UInt16.max {
            let cases: [(Float, Double)] = [
                (SafetensorsDType.float(fromHalfBits: pattern), reference(pattern, exponentBits: 5, mantissaBits: 10)),
                (SafetensorsDType.float(fromBFloat16Bits: pattern),
                 reference(pattern, exponentBits: 8, mantissaBits: 7)),
            ]
            for (ours, expected) in cases {
                if expected.isNaN ? !ours.isNaN : (Double(ours) != expected || ours.sign != Float(expected).sign) {
                    mismatches += 1
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func float8Conversions() {
        let e4m3: [(UInt8, Float)] = [
            (0x00, 0), (0x80, -0.0), (0x01, 0x1p-9), (0x07, 7 * 0x1p-9), (0x08, 0x1p-6), (0x38, 1), (0xB8, -1),
            (0x7E, 448), (0xFE, -448), (0x77, 240), (0x3C, 1.5),
        ]
        for (pattern, value) in e4m3 {
            #expect(SafetensorsDType.float(fromF8E4M3Bits: pattern).bitPattern == value.bitPattern)
        }
        #expect(SafetensorsDType.float(fromF8E4M3Bits: 0x7F).isNaN)
        #expect(SafetensorsDType.float(fromF8E4M3Bits: 0xFF).isNaN)
        let e5m2: [(UInt8, Float)] = [
            (0x00, 0), (0x80, -0.0), (0x01, 0x1p-16), (0x04, 0x1p-14), (0x3C, 1), (0x7B, 57344), (0x7C, .infinity),
            (0xFC, -.infinity),
        ]
        for (pattern, value) in e5m2 {
            #expect(SafetensorsDType.float(fromF8E5M2Bits: pattern).bitPattern == value.bitPattern)
        }
        #expect(SafetensorsDType.float(fromF8E5M2Bits: 0x7D).isNaN)
    }

    @Test func readsEveryDType() throws {
        let header = "{" + [
            entry("i8", "I8", "[2]", 0, 2), entry("u8", "U8", "[2]", 2, 4), entry("bool", "BOOL", "[3]", 4, 7),
            entry("e4", "F8_E4M3", "[1]", 7, 8), entry("i16", "I16", "[2]", 8, 12), entry("u16", "U16", "[2]", 12, 16),
            entry("u32", "U32", "[1]", 16, 20), entry("u64", "U64", "[1]", 20, 28),
            entry("e5", "F8_E5M2", "[1]", 28, 29),
            entry("f16", "F16", "[1]", 29, 31), entry("bf", "BF16", "[1]", 31, 33),
        ].joined(separator: ",") + "}"
        let data: [UInt8] = [0x80, 0x7f, 0x00, 0xff, 0x00, 0x01, 0x02, 0x7e, 0x00, 0x80, 0xff, 0x7f, 0x00, 0x80, 0xff,
                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3c,
                             0x00, 0x3c, 0x80, 0x3f]
        let file = try SafetensorsFile(bytes: stFile(header, data: data))
        #expect(file.header.tensors.count == 11)
        #expect(try file.floats("i8") == [-128, 127])
        #expect(try file.floats("u8") == [0, 255])
        #expect(try file.floats("bool") == [0, 1, 1])
        #expect(try file.floats("e4") == [448])
        #expect(try file.floats("i16") == [-32768, 32767])
        #expect(try file.floats("u16") == [32768, 65535])
        #expect(try file.floats("u32") == [4_294_967_296])
        #expect(try file.floats("u64") == [0x1p64])
        #expect(try file.floats("e5") == [1])
        #expect(try file.floats("f16") == [1])
        #expect(try file.floats("bf") == [1])
        #expect(try file.rawBytes("u16") == [0x00, 0x80, 0xff, 0xff])
        for dtype in SafetensorsDType.allCases {
            #expect([1, 2, 4, 8].contains(dtype.byteCount))
        }
    }

    @Test func readsLargeTensorsInChunks() throws {
        // More than one 64 KiB conversion chunk of F16.
        let count = 100_000
        var data: [UInt8] = []
        for i in 0..<count {
            let half = UInt16(truncatingIfNeeded: i) & 0x7bff
            data.append(UInt8(truncatingIfNeeded: half))
            data.append(UInt8(truncatingIfNeeded: half >> 8))
        }
        let bytes = stFile("{" + entry("h", "F16", "[\(count)]", 0, count * 2) + "}", data: data)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/h.safetensors"
        try AtomicFile.write(bytes, to: path)
        let values = try SafetensorsFile(path: path).floats("h")
        #expect(values.count == count)
        let expected = (0..<count).map { SafetensorsDType.float(fromHalfBits: UInt16(truncatingIfNeeded: $0) & 0x7bff) }
        #expect(bits(values) == bits(expected))
    }
}
