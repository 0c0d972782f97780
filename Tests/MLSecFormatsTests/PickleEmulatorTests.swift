// Tests of the static pickle emulator: CPython fixtures for protocols 0-5, attack patterns, hostile and huge input.

import Foundation
import MLSecCore
import MLSecFormats
import Testing

// MARK: - Helpers

/// Assembles a pickle byte by byte and remembers where each opcode starts.
private struct PickleAssembler {
    var bytes: [UInt8] = []

    /// Appends `op` and its raw argument bytes; returns the opcode's offset.
    @discardableResult
    mutating func op(_ op: PickleOpcode, _ argument: [UInt8] = []) -> Int {
        let offset = bytes.count
        bytes.append(op.rawValue)
        bytes += argument
        return offset
    }

    /// Appends `op` followed by text lines (each gets its newline); returns the opcode's offset.
    @discardableResult
    mutating func op(_ op: PickleOpcode, lines: String...) -> Int {
        self.op(op, lines.flatMap { Array($0.utf8) + [0x0A] })
    }

    @discardableResult
    mutating func global(_ module: String, _ name: String) -> Int { op(.global, lines: module, name) }

    @discardableResult
    mutating func shortUnicode(_ text: String) -> Int {
        let utf8 = Array(text.utf8)
        return op(.shortBinUnicode, [UInt8(utf8.count)] + utf8)
    }

    @discardableResult
    mutating func binUnicode(_ text: String) -> Int {
        let utf8 = Array(text.utf8)
        return op(.binUnicode, le32(UInt32(utf8.count)) + utf8)
    }

    @discardableResult
    mutating func shortBinString(_ text: String) -> Int {
        let utf8 = Array(text.utf8)
        return op(.shortBinString, [UInt8(utf8.count)] + utf8)
    }

    @discardableResult
    mutating func int1(_ value: UInt8) -> Int { op(.binInt1, [value]) }

    mutating func raw(_ more: [UInt8]) { bytes += more }
}

private func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
private func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) } }
private func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

private func callable(_ module: String, _ name: String) -> PickleCallable { PickleCallable(module: module, name: name) }

private func analyze(_ bytes: [UInt8], limits: PickleLimits = .init()) -> PickleAnalysis {
    PickleEmulator(limits: limits).analyze(bytes: bytes)
}

/// The events of one kind.
private func events(_ analysis: PickleAnalysis, _ kind: PickleEvent.Kind) -> [PickleEvent] {
    analysis.events.filter { $0.kind == kind }
}

/// A compact, comparable form of an event.
private func summary(_ event: PickleEvent) -> String {
    "\(event.offset) \(event.opcode) \(event.kind.rawValue) \(event.callable?.qualifiedName ?? "-")"
        + (event.detail.map { " | \($0)" } ?? "")
}

private func fixturePath(_ name: String) throws -> String {
    let url = try #require(
        Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/pickle"),
        "missing fixture \(name)")
    return url.path
}

private func fixtureBytes(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: try fixturePath(name))))
}

/// A fresh empty directory for one test.
private func temporaryDirectory() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-pickle-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

/// A source that does not know its length, to exercise the generic path and the protocol's defaults.
private struct StreamingSource: PickleByteSource {
    let bytes: [UInt8]
    var index = 0

    var position: Int { index }
    var remainingCount: Int? { nil }
    var readError: MLSecError? { nil }

    mutating func readByte() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        for i in 0..<buffer.count {
            guard let byte = readByte() else { return false }
            buffer[i] = byte
        }
        return true
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= bytes.count - index else {
            index = bytes.count
            return false
        }
        index += count
        return true
    }

    mutating func readLine(into buffer: UnsafeMutableRawBufferPointer) -> (kept: Int, length: Int)? {
        var length = 0
        while let byte = readByte() {
            if byte == 0x0A { return (min(length, buffer.count), length) }
            if length < buffer.count { buffer[length] = byte }
            length += 1
        }
        return nil
    }
}

/// A long stream that is mostly a run of zero bytes it never stores, and that counts the bytes it hands out.
private struct SparseSource: PickleByteSource {
    let head: [UInt8]
    let gap: Int
    let tail: [UInt8]
    var index = 0
    private(set) var bytesDelivered = 0

    init(head: [UInt8], gap: Int, tail: [UInt8]) {
        self.head = head
        self.gap = gap
        self.tail = tail
    }

    var length: Int { head.count + gap + tail.count }
    var position: Int { index }
    var remainingCount: Int? { length - index }
    var readError: MLSecError? { nil }

    mutating func readByte() -> UInt8? {
        guard index < length else { return nil }
        defer { index += 1 }
        bytesDelivered += 1
        if index < head.count { return head[index] }
        if index < head.count + gap { return 0 }
        return tail[index - head.count - gap]
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        for i in 0..<buffer.count {
            guard let byte = readByte() else { return false }
            buffer[i] = byte
        }
        return true
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= length - index else {
            index = length
            return false
        }
        index += count
        return true
    }

    mutating func readLine(into buffer: UnsafeMutableRawBufferPointer) -> (kept: Int, length: Int)? {
        var length = 0
        while let byte = readByte() {
            if byte == 0x0A { return (min(length, buffer.count), length) }
            if length < buffer.count { buffer[length] = byte }
            length += 1
        }
        return nil
    }
}

/// What must match between two analyses of the same bytes.
private func fingerprint(_ analysis: PickleAnalysis) -> [String] {
    analysis.events.map(summary) + analysis.issues.map(\.description) + [
        "callables \(analysis.callables.map(\.qualifiedName).sorted())",
        "protocols \(analysis.protocols) pickles \(analysis.pickleCount)",
        "after STOP \(String(describing: analysis.dataAfterStopOffset))",
        "trailing \(analysis.trailingBytes) pids \(analysis.persistentIDCount) opcodes \(analysis.opcodeCount)",
        "histogram \(analysis.opcodeHistogram.sorted { $0.key < $1.key })",
    ]
}

// MARK: - CPython fixtures

@Suite("Pickle emulator: CPython fixtures")
struct PickleFixtureTests {
    static let fixtures = [
        "rich_p0.pkl", "rich_p1.pkl", "rich_p2.pkl", "rich_p3.pkl", "rich_p4.pkl", "rich_p5.pkl",
        "persistent_p0.pkl", "persistent_p2.pkl", "extensions_p2.pkl", "out_of_band_p5.pkl", "echo_p2.pkl",
    ]

    /// expected.json: what CPython's pickletools sees in each fixture.
    static func expected() throws -> JSONValue {
        try JSONParser().parse(try fixtureBytes("expected.json"), context: "expected.json")
    }

    @Test("opcode counts and imports match CPython's pickletools", arguments: fixtures)
    func matchesPickletools(name: String) throws {
        let entry = try #require(try Self.expected()[name])
        let analysis = try PickleEmulator().analyze(path: try fixturePath(name))
        #expect(analysis.issues.isEmpty, "\(analysis.issues)")
        #expect(analysis.isWellFormed)
        #expect(analysis.pickleCount == 1)
        #expect(analysis.dataAfterStopOffset == nil)
        #expect(analysis.trailingBytes == 0)

        var histogram: [String: Int] = [:]
        for (op, value) in try #require(entry["histogram"]?.objectValue) {
            let count = value.integerValue
            #expect(count != nil, "expected.json: \(name) \(op)")
            histogram[op] = count ?? -1
        }
        #expect(analysis.opcodeHistogram == histogram)
        #expect(analysis.opcodeCount == histogram.values.reduce(0, +))

        var imports: [String] = []
        for item in try #require(entry["imports"]?.arrayValue) {
            let fields = try #require(item.arrayValue)
            let offset = try #require(fields[0].integerValue)
            let opcode = try #require(fields[1].stringValue)
            let module = try #require(fields[2].stringValue)
            let name = try #require(fields[3].stringValue)
            imports.append("\(offset) \(opcode) \(module).\(name)")
        }
        let found = events(analysis, .importGlobal).map {
            "\($0.offset) \($0.opcode) \($0.callable?.qualifiedName ?? "?")"
        }
        #expect(found == imports)
    }

    @Test("the protocol of each fixture is reported (PROTO exists from protocol 2)", arguments: 0...5)
    func protocols(version: Int) throws {
        let analysis = try PickleEmulator().analyze(path: try fixturePath("rich_p\(version).pkl"))
        #expect(analysis.protocols == [version >= 2 ? version : 0])
    }

    @Test("file, memory, raw-buffer, tiny-block and unknown-length sources agree", arguments: fixtures)
    func sourcesAgree(name: String) throws {
        let bytes = try fixtureBytes(name)
        let emulator = PickleEmulator()
        let reference = fingerprint(try emulator.analyze(path: try fixturePath(name)))
        #expect(fingerprint(emulator.analyze(bytes: bytes)) == reference)
        let viaBuffer = bytes.withUnsafeBytes { emulator.analyze(buffer: $0) }
        #expect(fingerprint(viaBuffer) == reference)
        for blockSize in [16, 17, 61] {
            let file = try ReadOnlyFile(path: try fixturePath(name))
            var source = try PickleFileSource(file: file, blockSize: blockSize)
            #expect(fingerprint(emulator.analyze(&source)) == reference, "block size \(blockSize)")
        }
        var streaming = StreamingSource(bytes: bytes)
        #expect(fingerprint(emulator.analyze(&streaming)) == reference)
    }

    @Test("every opcode of protocols 0-5 runs at least once across fixtures and hand-made pickles")
    func everyOpcodeCovered() throws {
        var seen = Set<String>()
        for name in Self.fixtures {
            seen.formUnion(try PickleEmulator().analyze(path: try fixturePath(name)).opcodeHistogram.keys)
        }
        let extra = PickleEmulator().analyze(bytes: Self.remainingOpcodes())
        #expect(extra.issues.isEmpty, "\(extra.issues)")
        seen.formUnion(extra.opcodeHistogram.keys)
        #expect(PickleOpcode.allCases.count == 68)
        #expect(seen == Set(PickleOpcode.allCases.map(\.name)))
    }

    /// The opcodes CPython 3's pickler never writes: INST, OBJ, DUP, the protocol 0-2 byte strings, and the
    /// 8-byte-length forms (only used past 4 GiB).
    static func remainingOpcodes() -> [UInt8] {
        var p = PickleAssembler()
        p.op(.mark)
        p.op(.string, lines: "'quoted \\x41\\n'")
        p.op(.binString, le32(3) + Array("abc".utf8))
        p.shortBinString("short")
        p.op(.binUnicode8, le64(4) + Array("text".utf8))
        p.op(.binBytes8, le64(5) + [1, 2, 3, 4, 5])
        p.op(.dup)
        p.op(.inst, lines: "collections", "OrderedDict")
        p.op(.mark)
        p.global("collections", "OrderedDict")
        p.op(.obj)
        p.op(.tuple2)
        p.op(.stop)
        return p.bytes
    }

    @Test("the classic payload written by CPython: os.system('echo harmless') as posix.system")
    func echoFixture() throws {
        let analysis = try PickleEmulator().analyze(path: try fixturePath("echo_p2.pkl"))
        #expect(analysis.callables == [callable("posix", "system")])
        let calls = events(analysis, .call)
        #expect(calls.count == 1)
        #expect(calls.first?.callable == callable("posix", "system"))
        #expect(calls.first?.opcode == "REDUCE")
        #expect(calls.first?.detail == "args=('echo harmless',)")
    }

    @Test("extension codes from copyreg are reported as ext imports")
    func extensionFixture() throws {
        let analysis = try PickleEmulator().analyze(path: try fixturePath("extensions_p2.pkl"))
        let codes = events(analysis, .extensionCode)
        #expect(codes.map(\.opcode) == ["EXT1", "EXT2", "EXT4"])
        #expect(codes.map(\.detail) == ["ext code 1", "ext code 4660", "ext code 74565"])
        #expect(analysis.callables == [callable("ext", "1"), callable("ext", "4660"), callable("ext", "74565")])
    }

    @Test("persistent ids written by CPython (text and binary)")
    func persistentFixtures() throws {
        let text = try PickleEmulator().analyze(path: try fixturePath("persistent_p0.pkl"))
        #expect(text.persistentIDCount == 2)
        #expect(events(text, .persistentID).map(\.opcode) == ["PERSID", "PERSID"])
        #expect(events(text, .persistentID).compactMap(\.detail) == ["'storage-0'", "'storage-1'"])

        let binary = try PickleEmulator().analyze(path: try fixturePath("persistent_p2.pkl"))
        #expect(binary.persistentIDCount == 2)
        #expect(
            events(binary, .persistentID).compactMap(\.detail) == [
                "('storage', 'FloatStorage', '0', 'cpu', 4)", "('storage', 'FloatStorage', '1', 'cpu', 4)",
            ])
    }

    @Test("rich pickles import only what CPython's pickler needs for builtin types and the script's classes")
    func richCallables() throws {
        let p0 = try PickleEmulator().analyze(path: try fixturePath("rich_p0.pkl"))
        #expect(
            p0.callables == [
                callable("__builtin__", "bytes"), callable("_codecs", "encode"), callable("__builtin__", "bytearray"),
                callable("__builtin__", "set"), callable("__builtin__", "frozenset"),
                callable("copy_reg", "_reconstructor"), callable("__main__", "Point"),
                callable("__builtin__", "object"), callable("__main__", "Slotted"),
                callable("__main__", "WithKeywords"),
            ])
        let p5 = try PickleEmulator().analyze(path: try fixturePath("rich_p5.pkl"))
        #expect(
            p5.callables == [
                callable("__main__", "Point"), callable("__main__", "Slotted"), callable("__main__", "WithKeywords"),
            ])
        #expect(events(p5, .newObject).map(\.opcode).sorted() == ["NEWOBJ", "NEWOBJ", "NEWOBJ_EX"])
        let keywords = events(p5, .newObject).first { $0.opcode == "NEWOBJ_EX" }
        #expect(keywords?.callable == callable("__main__", "WithKeywords"))
        #expect(keywords?.detail == "args=(5,) kwargs={'scale': 2}")
        #expect(
            events(p5, .build).map { $0.callable?.qualifiedName ?? "?" } == [
                "__main__.Point", "__main__.Slotted", "__main__.WithKeywords",
            ])
        #expect(events(p5, .build).first?.detail == "state={'x': 1, 'y': 2}")
    }
}

// MARK: - Attack patterns

@Suite("Pickle emulator: attack patterns")
struct PickleAttackTests {
    @Test("os.system through GLOBAL and REDUCE (protocol 0)")
    func globalReduce() {
        var p = PickleAssembler()
        let global = p.global("os", "system")
        p.op(.mark)
        p.op(.string, lines: "'echo pwned'")
        p.op(.tuple)
        let reduce = p.op(.reduce)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(analysis.callables == [callable("os", "system")])
        #expect(
            analysis.events.map(summary) == [
                "\(global) GLOBAL import os.system",
                "\(reduce) REDUCE call os.system | args=('echo pwned',)",
            ])
        #expect(analysis.protocols == [0])
    }

    @Test("os.system through STACK_GLOBAL with module and name memoized and fetched back")
    func stackGlobalThroughMemo() {
        var p = PickleAssembler()
        p.op(.proto, [4])
        p.shortUnicode("os")
        p.op(.binPut, [0])
        p.shortUnicode("system")
        p.op(.longBinPut, le32(70_000))
        p.op(.pop)
        p.op(.pop)
        p.op(.binGet, [0])
        p.op(.longBinGet, le32(70_000))
        let stackGlobal = p.op(.stackGlobal)
        p.shortUnicode("echo pwned")
        p.op(.tuple1)
        let reduce = p.op(.reduce)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed, "\(analysis.issues)")
        #expect(analysis.callables == [callable("os", "system")])
        #expect(
            analysis.events.map(summary) == [
                "\(stackGlobal) STACK_GLOBAL import os.system",
                "\(reduce) REDUCE call os.system | args=('echo pwned',)",
            ])
    }

    @Test("STACK_GLOBAL with names longer than 7 bytes and in text memo slots")
    func stackGlobalLongNames() {
        var p = PickleAssembler()
        p.op(.proto, [4])
        p.binUnicode("subprocess")
        p.op(.put, lines: "12")
        p.op(.pop)
        p.op(.get, lines: "12")
        p.op(.unicode, lines: "check_output")
        let stackGlobal = p.op(.stackGlobal)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed, "\(analysis.issues)")
        #expect(analysis.events.map(summary) == ["\(stackGlobal) STACK_GLOBAL import subprocess.check_output"])
    }

    @Test("INST imports and calls the class with the items after the mark")
    func inst() {
        var p = PickleAssembler()
        p.op(.mark)
        p.op(.string, lines: "'echo pwned'")
        let inst = p.op(.inst, lines: "os", "system")
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(
            analysis.events.map(summary) == [
                "\(inst) INST import os.system",
                "\(inst) INST call os.system | args=('echo pwned',)",
            ])
    }

    @Test("OBJ calls the callable just above the mark")
    func obj() {
        var p = PickleAssembler()
        p.op(.mark)
        let global = p.global("subprocess", "Popen")
        p.shortBinString("ls")
        let obj = p.op(.obj)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(
            analysis.events.map(summary) == [
                "\(global) GLOBAL import subprocess.Popen",
                "\(obj) OBJ call subprocess.Popen | args=('ls',)",
            ])
    }

    @Test("NEWOBJ calls cls.__new__ with a list argument, shown in the detail")
    func newObj() {
        var p = PickleAssembler()
        p.op(.proto, [2])
        p.global("subprocess", "Popen")
        p.op(.emptyList)
        p.op(.mark)
        p.binUnicode("rm")
        p.binUnicode("-rf")
        p.op(.appends)
        p.op(.tuple1)
        let newObj = p.op(.newObj)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        let new = events(analysis, .newObject)
        #expect(new.map(summary) == ["\(newObj) NEWOBJ new subprocess.Popen | args=(['rm', '-rf'],)"])
    }

    @Test("BUILD applies state through the class's __setstate__ and is reported on that class")
    func build() {
        var p = PickleAssembler()
        p.op(.proto, [2])
        p.global("evil", "Gadget")
        p.op(.emptyTuple)
        p.op(.newObj)
        p.op(.emptyDict)
        p.shortBinString("command")
        p.shortBinString("id")
        p.op(.setItem)
        let build = p.op(.build)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(events(analysis, .build).map(summary) == ["\(build) BUILD build evil.Gadget | state={'command': 'id'}"])
        #expect(events(analysis, .newObject).first?.detail == "args=()")
    }

    @Test("EXT1, EXT2 and EXT4 record the code as an ext import; calling it is a call of that import")
    func extensionCodes() {
        var p = PickleAssembler()
        p.op(.proto, [2])
        let ext1 = p.op(.ext1, [7])
        p.op(.pop)
        let ext2 = p.op(.ext2, le16(0x1234))
        p.op(.pop)
        let ext4 = p.op(.ext4, le32(0x7FFF_FFFF))
        p.shortBinString("arg")
        p.op(.tuple1)
        let reduce = p.op(.reduce)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(
            analysis.events.map(summary) == [
                "\(ext1) EXT1 extension ext.7 | ext code 7",
                "\(ext2) EXT2 extension ext.4660 | ext code 4660",
                "\(ext4) EXT4 extension ext.2147483647 | ext code 2147483647",
                "\(reduce) REDUCE call ext.2147483647 | args=('arg',)",
            ])
        #expect(analysis.callables == [callable("ext", "7"), callable("ext", "4660"), callable("ext", "2147483647")])
    }

    @Test("getattr chains: getattr(getattr(os.path, 'a'), 'b') and then calling the result")
    func getattrChain() {
        var p = PickleAssembler()
        let outer = p.global("builtins", "getattr")
        p.op(.mark)
        let inner = p.global("builtins", "getattr")
        p.op(.mark)
        let osPath = p.global("os", "path")
        p.op(.string, lines: "'a'")
        p.op(.tuple)
        let firstCall = p.op(.reduce)
        p.op(.string, lines: "'b'")
        p.op(.tuple)
        let secondCall = p.op(.reduce)
        p.op(.mark)
        p.op(.string, lines: "'echo pwned'")
        p.op(.tuple)
        let thirdCall = p.op(.reduce)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed, "\(analysis.issues)")
        #expect(analysis.callables == [callable("builtins", "getattr"), callable("os", "path")])
        #expect(
            analysis.events.map(summary) == [
                "\(outer) GLOBAL import builtins.getattr",
                "\(inner) GLOBAL import builtins.getattr",
                "\(osPath) GLOBAL import os.path",
                "\(firstCall) REDUCE call builtins.getattr | args=(global(os, path), 'a')",
                "\(secondCall) REDUCE call builtins.getattr | args=(result(of: builtins.getattr), 'b')",
                "\(thirdCall) REDUCE call - | callable=result(of: builtins.getattr) args=('echo pwned',)",
            ])
    }

    @Test("builtins.eval and dotted names are recorded exactly as written")
    func evalAndDottedNames() {
        var p = PickleAssembler()
        p.global("builtins", "eval")
        p.op(.pop)
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.op(.pop)
        p.global("os", "path.join")
        p.op(.mark)
        p.op(.unicode, lines: "\\u0061")
        p.op(.tuple)
        p.op(.reduce)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(
            analysis.callables == [
                callable("builtins", "eval"), callable("torch._utils", "_rebuild_tensor_v2"),
                callable("os", "path.join"),
            ])
        #expect(callable("os", "path.join").qualifiedName == "os.path.join")
        #expect(events(analysis, .call).first?.detail == "args=('a',)")
    }

    @Test("a second, malicious pickle after STOP is emulated and flagged")
    func dataAfterStop() {
        var p = PickleAssembler()
        p.op(.proto, [2])
        p.op(.none)
        p.op(.stop)
        let second = p.bytes.count
        p.op(.proto, [4])
        p.shortUnicode("os")
        p.shortUnicode("system")
        let stackGlobal = p.op(.stackGlobal)
        p.shortUnicode("id")
        p.op(.tuple1)
        let reduce = p.op(.reduce)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(analysis.pickleCount == 2)
        #expect(analysis.protocols == [2, 4])
        #expect(analysis.dataAfterStopOffset == second)
        #expect(analysis.trailingBytes == 0)
        #expect(analysis.callables == [callable("os", "system")])
        #expect(
            analysis.events.map(summary) == [
                "\(stackGlobal) STACK_GLOBAL import os.system", "\(reduce) REDUCE call os.system | args=('id',)",
            ])
    }

    @Test("a second pickle may use the first one's memo, as one Unpickler reading both does")
    func memoAcrossPickles() {
        var p = PickleAssembler()
        p.shortBinString("posix")
        p.op(.binPut, [1])
        p.op(.stop)
        p.op(.binGet, [1])
        p.shortBinString("system")
        let stackGlobal = p.op(.stackGlobal)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(analysis.events.map(summary) == ["\(stackGlobal) STACK_GLOBAL import posix.system"])
    }

    @Test("non-pickle bytes after STOP are trailing data, not a problem")
    func trailingData() {
        let bytes: [UInt8] = [PickleOpcode.none.rawValue, PickleOpcode.stop.rawValue, 0x00, 0xFF, 0x10, 0x20]
        let analysis = analyze(bytes)
        #expect(analysis.isWellFormed)
        #expect(analysis.pickleCount == 1)
        #expect(analysis.dataAfterStopOffset == 2)
        #expect(analysis.trailingBytes == 4)

        // Tensor-like data that starts with valid opcodes but imports nothing is also trailing data.
        let tensorish: [UInt8] = [0x4E, 0x2E] + [0x28, 0x4B, 0x01, 0x00, 0x00, 0x80]
        let second = analyze(tensorish)
        #expect(second.isWellFormed)
        #expect(second.trailingBytes == 6)
        #expect(second.protocols == [0])
    }

    @Test("tensor data after STOP that happens to read as GLOBAL of a non-name is trailing data")
    func trailingDataThatLooksLikeGlobal() {
        // A legacy PyTorch file: pickles, then raw storages, the first starting with its element count (99 = 'c').
        var p = PickleAssembler()
        p.op(.proto, [2])
        let global = p.global("collections", "OrderedDict")
        p.op(.stop)
        let end = p.bytes.count
        p.raw(le64(99) + [0x3F, 0x80, 0x0A, 0x00, 0x00, 0x0A, 0x52, 0x00, 0x00, 0x80])
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed, "\(analysis.issues)")
        #expect(analysis.pickleCount == 1)
        #expect(analysis.dataAfterStopOffset == end)
        #expect(analysis.trailingBytes == 18)
        #expect(analysis.events.map(summary) == ["\(global) GLOBAL import collections.OrderedDict"])
        #expect(analysis.callables == [callable("collections", "OrderedDict")])
    }

    @Test("a broken pickle after STOP that imports before failing is reported, with its import")
    func brokenSecondPickleThatImports() {
        var p = PickleAssembler()
        p.op(.none)
        p.op(.stop)
        let global = p.global("os", "system")
        p.op(.mark)
        p.shortBinString("id")
        p.op(.tuple)
        let reduce = p.op(.reduce)
        let bad = p.bytes.count
        p.raw([0xFF])
        let analysis = analyze(p.bytes)
        #expect(!analysis.isWellFormed)
        #expect(analysis.issues.map(\.offset) == [bad])
        #expect(analysis.trailingBytes == 0)
        #expect(analysis.events.map(\.offset) == [global, reduce])
        #expect(analysis.pickleCount == 1)
        #expect(analysis.protocols == [0, 0])
        #expect(analysis.dataAfterStopOffset == 2)
    }

    @Test("STACK_GLOBAL on values that are not strings is an unresolved import")
    func unresolvedStackGlobal() {
        var p = PickleAssembler()
        p.op(.proto, [4])
        p.int1(1)
        p.int1(2)
        let first = p.op(.stackGlobal)
        p.op(.emptyTuple)
        let call = p.op(.reduce)
        p.op(.pop)
        // Module and name computed at load time: getattr(os, 'sep') could be a str.
        p.global("builtins", "getattr")
        p.global("os", "sep")
        p.shortUnicode("join")
        p.op(.tuple2)
        p.op(.reduce)
        p.shortUnicode("name")
        let second = p.op(.stackGlobal)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        let unresolved = events(analysis, .unresolvedGlobal)
        #expect(
            unresolved.map(summary) == [
                "\(first) STACK_GLOBAL unresolved-import - | module=1 name=2",
                "\(second) STACK_GLOBAL unresolved-import - | module=result(of: builtins.getattr) name='name'",
            ])
        #expect(events(analysis, .call).first.map(summary) == "\(call) REDUCE call - | callable=global(?) args=()")
        #expect(!analysis.callables.contains { $0.module == "1" })
    }

    @Test("PERSID and BINPERSID count persistent ids and record their shape")
    func persistentIDs() {
        var p = PickleAssembler()
        let text = p.op(.persID, lines: "tensor-0")
        p.op(.pop)
        p.op(.mark)
        p.shortBinString("storage")
        p.global("torch", "HalfStorage")
        p.shortBinString("1")
        p.op(.tuple)
        let binary = p.op(.binPersID)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(analysis.persistentIDCount == 2)
        #expect(
            events(analysis, .persistentID).map(summary) == [
                "\(text) PERSID persistent-id - | 'tensor-0'",
                "\(binary) BINPERSID persistent-id - | ('storage', global(torch, HalfStorage), '1')",
            ])
    }

    @Test("a PyTorch-like state dict: OrderedDict, _rebuild_tensor_v2 and a storage persistent id")
    func pytorchLike() {
        var p = PickleAssembler()
        p.op(.proto, [2])
        p.global("collections", "OrderedDict")
        p.op(.emptyTuple)
        let orderedDict = p.op(.reduce)
        p.op(.binPut, [0])
        p.binUnicode("weight")
        let rebuild = p.global("torch._utils", "_rebuild_tensor_v2")
        p.op(.mark)
        p.op(.mark)
        p.binUnicode("storage")
        let floatStorage = p.global("torch", "FloatStorage")
        p.binUnicode("0")
        p.binUnicode("cpu")
        p.int1(4)
        p.op(.tuple)
        let persistent = p.op(.binPersID)
        p.int1(0)
        p.int1(4)
        p.op(.tuple1)
        p.int1(1)
        p.op(.tuple1)
        p.op(.newFalse)
        p.global("collections", "OrderedDict")
        p.op(.emptyTuple)
        let hooks = p.op(.reduce)
        p.op(.tuple)
        let tensor = p.op(.reduce)
        let setItem = p.op(.setItem)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed, "\(analysis.issues)")
        #expect(
            analysis.callables == [
                callable("collections", "OrderedDict"), callable("torch._utils", "_rebuild_tensor_v2"),
                callable("torch", "FloatStorage"),
            ])
        #expect(analysis.persistentIDCount == 1)
        #expect(
            events(analysis, .persistentID).map(summary) == [
                "\(persistent) BINPERSID persistent-id - | ('storage', global(torch, FloatStorage), '0', 'cpu', 4)"
            ])
        #expect(events(analysis, .importGlobal).map(\.offset).contains(floatStorage))
        #expect(
            events(analysis, .call).map(summary) == [
                "\(orderedDict) REDUCE call collections.OrderedDict | args=()",
                "\(hooks) REDUCE call collections.OrderedDict | args=()",
                "\(tensor) REDUCE call torch._utils._rebuild_tensor_v2 | args=(persistent(#1), 0, (4,), (1,), False, "
                    + "result(of: collections.OrderedDict))",
                "\(setItem) SETITEM call collections.OrderedDict | method=__setitem__ items=1",
            ])
        #expect(events(analysis, .importGlobal).first { $0.offset == rebuild }?.callable?.module == "torch._utils")
    }

    @Test("APPENDS, SETITEMS and ADDITEMS on objects made by a callable are method calls on it")
    func methodCallsOnObjects() {
        var p = PickleAssembler()
        p.op(.proto, [4])
        p.global("evil", "Hooked")
        p.op(.emptyTuple)
        p.op(.reduce)
        p.op(.mark)
        p.int1(1)
        let appends = p.op(.appends)
        p.op(.mark)
        p.int1(2)
        let addItems = p.op(.addItems)
        p.int1(3)
        let append = p.op(.append)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(
            events(analysis, .call).dropFirst().map(summary) == [
                "\(appends) APPENDS call evil.Hooked | method=extend items=1",
                "\(addItems) ADDITEMS call evil.Hooked | method=add items=1",
                "\(append) APPEND call evil.Hooked | method=append items=1",
            ])
    }

    @Test("recursive containers and long strings are described within bounds")
    func boundedDetails() {
        var p = PickleAssembler()
        p.global("os", "system")
        p.op(.emptyList)
        p.op(.binPut, [0])
        p.op(.binGet, [0])
        p.op(.append)
        p.binUnicode(String(repeating: "x", count: 10_000))
        p.op(.tuple2)
        let reduce = p.op(.reduce)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        let detail = events(analysis, .call).first?.detail
        #expect(events(analysis, .call).first?.offset == reduce)
        #expect((detail?.count ?? 1000) <= 200)
        #expect(detail?.hasPrefix("args=([[[list(1 item)]]], 'xxxx") == true, "\(String(describing: detail))")
        #expect(detail?.hasSuffix("...'(10000 bytes))") == true, "\(String(describing: detail))")
    }

    @Test("a pickle stored inside a larger file is analysed in place, with offsets from its start")
    func fileRange() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/archive.bin"
        var p = PickleAssembler()
        p.op(.proto, [2])
        let global = p.global("os", "system")
        p.op(.stop)
        let junk = [UInt8](repeating: 0xFF, count: 1000)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(junk + p.bytes + junk)))
        let file = try ReadOnlyFile(path: path)
        var source = try PickleFileSource(file: file, offset: junk.count, length: p.bytes.count)
        let analysis = PickleEmulator().analyze(&source)
        #expect(analysis.isWellFormed)
        #expect(analysis.events.map(summary) == ["\(global) GLOBAL import os.system"])
        #expect(throws: MLSecError.self) { try PickleFileSource(file: file, offset: 1500, length: 1000) }
    }
}

// MARK: - Malformed input

@Suite("Pickle emulator: malformed input")
struct PickleMalformedTests {
    /// One hostile input and where the emulator must stop.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let offset: Int
        let message: String
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        let stop = PickleOpcode.stop.rawValue
        var cases: [Case] = [
            Case(name: "empty stream", bytes: [], offset: 0, message: "empty stream"),
            Case(name: "unknown opcode first", bytes: [0xFF], offset: 0, message: "unknown opcode 0xFF"),
            Case(name: "unknown opcode later", bytes: [0x4E, 0x00, stop], offset: 1, message: "unknown opcode 0x00"),
            Case(name: "no STOP", bytes: [0x80, 0x02, 0x4E], offset: 3, message: "before STOP"),
            Case(name: "truncated BININT", bytes: [0x4A, 1, 2], offset: 0, message: "truncated"),
            Case(name: "truncated GLOBAL line", bytes: Array("cos\nsys".utf8), offset: 0, message: "truncated"),
            Case(
                name: "BINUNICODE longer than the stream", bytes: [0x58] + le32(100) + Array("abc".utf8),
                offset: 0, message: "only 3 remain"),
            Case(name: "REDUCE on an empty stack", bytes: [0x52, stop], offset: 0, message: "stack underflow"),
            Case(name: "STOP on an empty stack", bytes: [stop], offset: 0, message: "stack underflow"),
            Case(
                name: "REDUCE reaching below a MARK", bytes: [0x4E, 0x4E, 0x28, 0x52], offset: 3,
                message: "above the topmost MARK"),
            Case(name: "APPENDS without MARK", bytes: [0x5D, 0x65], offset: 1, message: "without a MARK"),
            Case(name: "SETITEMS with no dict", bytes: [0x28, 0x4E, 0x4E, 0x75], offset: 3, message: "underflow"),
            Case(name: "odd DICT", bytes: [0x28, 0x4E, 0x64], offset: 2, message: "odd number of items for DICT"),
            Case(name: "BINGET of a missing memo entry", bytes: [0x68, 3, stop], offset: 0, message: "no entry 3"),
            Case(name: "GET of a missing memo entry", bytes: Array("g7\n.".utf8), offset: 0, message: "no entry 7"),
            Case(name: "GET with a bad key", bytes: Array("gx\n.".utf8), offset: 0, message: "invalid memo key"),
            Case(name: "PUT with a negative key", bytes: Array("Np-1\n.".utf8), offset: 1, message: "negative"),
            Case(
                name: "BINSTRING with negative length", bytes: [0x54] + le32(0xFFFF_FFFF), offset: 0,
                message: "negative length"),
            Case(
                name: "LONG4 with negative length", bytes: [0x8B] + le32(0x8000_0000), offset: 0,
                message: "negative length"),
            Case(
                name: "BINBYTES8 of 2^63 bytes", bytes: [0x8E] + le64(1 << 63) + [stop], offset: 0,
                message: "more than any stream holds"),
            Case(
                name: "BINUNICODE8 of 2^64-1 bytes", bytes: [0x8D] + le64(.max) + [stop], offset: 0,
                message: "more than any stream holds"),
            Case(
                name: "BYTEARRAY8 past the end", bytes: [0x96] + le64(1 << 40) + [stop], offset: 0,
                message: "remain"),
            Case(
                name: "FRAME past the end", bytes: [0x80, 0x04, 0x95] + le64(1000) + [0x4E, stop], offset: 2,
                message: "only 2 remain"),
            Case(name: "PROTO 6", bytes: [0x80, 6, 0x4E, stop], offset: 0, message: "unsupported pickle protocol 6"),
            Case(name: "EXT1 code 0", bytes: [0x82, 0, stop], offset: 0, message: "extension code 0"),
            Case(
                name: "EXT4 negative code", bytes: [0x84] + le32(0xFFFF_FFFE) + [stop], offset: 0,
                message: "extension code -2"),
            Case(name: "unquoted STRING", bytes: Array("Sabc\n.".utf8), offset: 0, message: "not quoted"),
            Case(name: "OBJ with nothing after the mark", bytes: [0x28, 0x6F], offset: 1, message: "underflow"),
            Case(name: "STACK_GLOBAL with one value", bytes: [0x4E, 0x93], offset: 1, message: "underflow"),
        ]
        // Garbage behind a valid pickle that imports before failing still counts as malformed.
        cases.append(
            Case(
                name: "truncated second pickle", bytes: [0x4E, stop] + Array("cos\nsystem\n(".utf8), offset: 14,
                message: "before STOP"))
        return cases
    }()

    @Test("hostile input stops with a malformed issue at the right offset", arguments: cases)
    func malformed(_ hostile: Case) {
        let analysis = analyze(hostile.bytes)
        #expect(!analysis.isWellFormed)
        #expect(analysis.issues.count == 1, "\(analysis.issues)")
        let issue = analysis.issues.first
        #expect(issue?.kind == .malformed)
        #expect(issue?.offset == hostile.offset, "\(String(describing: issue))")
        #expect(issue?.message.contains(hostile.message) == true, "\(String(describing: issue))")
        // The same bytes through a file, and through a source that does not know its length.
        var streaming = StreamingSource(bytes: hostile.bytes)
        let unknownLength = PickleEmulator().analyze(&streaming)
        #expect(unknownLength.issues.first?.kind == .malformed)
        #expect(unknownLength.issues.first?.offset == hostile.offset)
    }

    @Test("only pickles that reach STOP are counted; protocols also lists an incomplete last one")
    func incompleteCounts() {
        let empty = analyze([])
        #expect(empty.pickleCount == 0)
        #expect(empty.protocols.isEmpty)
        let truncated = analyze([0x80, 0x04, 0x4E])
        #expect(truncated.pickleCount == 0)
        #expect(truncated.protocols == [4])
        let text = analyze(Array("(this is not a pickle".utf8))
        #expect(text.pickleCount == 0)
        #expect(text.issues.map(\.offset) == [2])  // MARK, TUPLE, then BINGET of memo 105
    }

    @Test("an opcode running past its frame, and a frame starting inside another, are noted and passed over")
    func frameInconsistencies() {
        var p = PickleAssembler()
        p.op(.proto, [4])
        p.op(.frame, le64(3))
        p.op(.none)
        let crossing = p.op(.binInt, le32(1))
        let inner = p.op(.frame, le64(2))
        p.op(.pop)
        let nested = p.op(.frame, le64(1))
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.issues.map(\.offset) == [crossing, nested])
        #expect(analysis.issues.allSatisfy { $0.kind == .malformed })
        #expect(analysis.pickleCount == 1)
        #expect(inner > crossing)
    }

    @Test("a well-framed pickle has no frame issues")
    func goodFrames() {
        var p = PickleAssembler()
        p.op(.proto, [4])
        p.op(.frame, le64(3))
        p.op(.none)
        p.op(.pop)
        p.op(.none)
        p.op(.frame, le64(1))
        p.op(.stop)
        #expect(analyze(p.bytes).isWellFormed)
    }

    @Test("a file that is not a regular file, or is missing, throws when opened")
    func openErrors() throws {
        #expect(throws: MLSecError.self) { try PickleEmulator().analyze(path: "/nonexistent/model.pkl") }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: MLSecError.self) { try PickleEmulator().analyze(path: directory) }
    }

    @Test("random bytes never trap", arguments: 0..<8)
    func fuzz(seed: Int) {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        let opcodes = PickleOpcode.allCases.map(\.rawValue)
        for _ in 0..<300 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(state % 64) {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                bytes.append(
                    state % 4 == 0 ? UInt8(truncatingIfNeeded: state >> 8) : opcodes[Int(state >> 16) % opcodes.count])
            }
            let analysis = analyze(bytes, limits: PickleLimits(maxOpcodes: 10_000))
            #expect(analysis.events.count <= 100_000)
        }
    }
}

// MARK: - Limits and scale

@Suite("Pickle emulator: limits and scale")
struct PickleLimitTests {
    @Test("deep MARK nesting hits the mark limit")
    func markNesting() {
        let bytes = [UInt8](repeating: PickleOpcode.mark.rawValue, count: 101)
        let analysis = analyze(bytes, limits: PickleLimits(maxMarkDepth: 100))
        #expect(analysis.issues.map(\.kind) == [.limit])
        #expect(analysis.issues.first?.offset == 100)
        let defaults = analyze([UInt8](repeating: PickleOpcode.mark.rawValue, count: 200_000))
        #expect(defaults.issues.map(\.kind) == [.limit])
        #expect(defaults.issues.first?.offset == PickleLimits().maxMarkDepth)
    }

    @Test("a memo flood hits the memo limit")
    func memoFlood() {
        var p = PickleAssembler()
        p.op(.proto, [4])
        for _ in 0..<11 {
            p.op(.emptyList)
            p.op(.memoize)
        }
        p.op(.stop)
        let analysis = analyze(p.bytes, limits: PickleLimits(maxMemoEntries: 10))
        #expect(analysis.issues.map(\.kind) == [.limit])
        #expect(analysis.issues.first?.offset == 2 + 10 * 2 + 1)
        #expect(analysis.issues.first?.message.contains("memo") == true)

        // Sparse keys count too, and overwriting an entry does not.
        var q = PickleAssembler()
        q.op(.none)
        q.op(.longBinPut, le32(1_000_000))
        q.op(.longBinPut, le32(1_000_000))
        q.op(.longBinPut, le32(4_000_000))
        q.op(.stop)
        let sparse = analyze(q.bytes, limits: PickleLimits(maxMemoEntries: 1))
        #expect(sparse.issues.map(\.offset) == [11])
    }

    @Test("the opcode, stack, pickle and event limits are reported as limits")
    func otherLimits() {
        let nones = [UInt8](repeating: PickleOpcode.none.rawValue, count: 50)
        let opcodes = analyze(nones, limits: PickleLimits(maxOpcodes: 20))
        #expect(opcodes.issues.map(\.kind) == [.limit])
        #expect(opcodes.issues.first?.offset == 20)

        let stack = analyze(nones, limits: PickleLimits(maxStackDepth: 30))
        #expect(stack.issues.map(\.kind) == [.limit])
        #expect(stack.issues.first?.offset == 30)

        let many = [UInt8](repeating: 0, count: 10).flatMap { _ in
            [PickleOpcode.none.rawValue, PickleOpcode.stop.rawValue]
        }
        let pickles = analyze(many, limits: PickleLimits(maxPickles: 4))
        #expect(pickles.issues.map(\.kind) == [.limit])
        #expect(pickles.issues.first?.offset == 8)
        #expect(pickles.pickleCount == 4)

        var p = PickleAssembler()
        for _ in 0..<10 {
            p.global("os", "system")
            p.op(.pop)
        }
        p.op(.none)
        p.op(.stop)
        let capped = analyze(p.bytes, limits: PickleLimits(maxEvents: 3))
        #expect(capped.isWellFormed)
        #expect(capped.events.count == 3)
        #expect(capped.droppedEvents == 7)
        #expect(capped.callables == [callable("os", "system")])
    }

    @Test("large payloads are skipped, not read: a 5 GiB BINBYTES8 payload costs nothing")
    func hugePayloadSkipped() {
        let payload: UInt64 = 5 << 30
        var head = PickleAssembler()
        head.op(.proto, [4])
        let global = head.global("numpy", "frombuffer")
        head.op(.binBytes8, le64(payload))
        let tail = [PickleOpcode.tuple1.rawValue, PickleOpcode.reduce.rawValue, PickleOpcode.stop.rawValue]
        var source = SparseSource(head: head.bytes, gap: Int(payload), tail: tail)
        let analysis = PickleEmulator().analyze(&source)
        #expect(analysis.isWellFormed, "\(analysis.issues)")
        #expect(source.bytesDelivered == head.bytes.count + tail.count)
        #expect(
            analysis.events.map(summary) == [
                "\(global) GLOBAL import numpy.frombuffer",
                "\(head.bytes.count + Int(payload) + 1) REDUCE call numpy.frombuffer | args=(bytes(\(payload)),)",
            ])
    }

    @Test("a file source skips payloads across blocks without reading them")
    func fileSkip() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/payload.pkl"
        var p = PickleAssembler()
        p.op(.proto, [4])
        p.op(.binBytes, le32(3_000_000))
        p.raw([UInt8](repeating: 0x63, count: 3_000_000))  // 'c' bytes: GLOBAL opcodes if they were ever parsed
        let stop = p.op(.stop)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(p.bytes)))
        for blockSize in [16, 4096, PickleFileSource.defaultBlockSize] {
            var source = try PickleFileSource(file: try ReadOnlyFile(path: path), blockSize: blockSize)
            let analysis = PickleEmulator().analyze(&source)
            #expect(analysis.isWellFormed, "\(analysis.issues)")
            #expect(analysis.events.isEmpty)
            #expect(analysis.opcodeHistogram == ["PROTO": 1, "BINBYTES": 1, "STOP": 1])
            #expect(source.position == stop + 1)
        }
    }

    @Test("long strings are cut to the cap and the rest skipped")
    func longStrings() {
        var p = PickleAssembler()
        p.binUnicode(String(repeating: "y", count: 100_000))
        p.op(.stop)
        let analysis = analyze(p.bytes, limits: PickleLimits(maxStringBytes: 64))
        #expect(analysis.isWellFormed)
        #expect(analysis.opcodeCount == 2)
    }

    @Test("a cut STACK_GLOBAL operand is unresolved")
    func cutNameIsUnresolved() {
        var p = PickleAssembler()
        p.binUnicode("os")
        p.binUnicode(String(repeating: "n", count: 300))
        let stackGlobal = p.op(.stackGlobal)
        p.op(.stop)
        let analysis = analyze(p.bytes, limits: PickleLimits(maxStringBytes: 100))
        #expect(events(analysis, .unresolvedGlobal).map(\.offset) == [stackGlobal])
        #expect(analysis.callables.isEmpty)
    }

    @Test("many strings longer than 7 bytes stay correct across string-table collections")
    func stringTableCollection() {
        var p = PickleAssembler()
        p.op(.proto, [4])
        p.shortUnicode("subprocess")
        p.op(.memoize)
        p.op(.pop)
        for i in 0..<200_000 {
            p.shortUnicode("discarded string \(i)")
            p.op(.pop)
        }
        p.op(.binGet, [0])
        p.shortUnicode("getoutput")
        let stackGlobal = p.op(.stackGlobal)
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed)
        #expect(analysis.events.map(summary) == ["\(stackGlobal) STACK_GLOBAL import subprocess.getoutput"])
    }

    @Test("a pickle of many small objects analyses quickly", .timeLimit(.minutes(1)))
    func manySmallObjects() {
        var p = PickleAssembler()
        p.op(.proto, [4])
        p.op(.emptyList)
        p.op(.memoize)
        for i in 0..<100_000 {
            p.op(.mark)
            p.op(.emptyDict)
            p.op(.memoize)
            p.shortUnicode("a")
            p.op(.binInt, le32(UInt32(i)))
            p.shortUnicode("b")
            p.shortUnicode(String(i))
            p.op(.memoize)
            p.op(.setItem)
            p.op(.setItem)
            p.op(.appends)
        }
        p.op(.stop)
        let analysis = analyze(p.bytes)
        #expect(analysis.isWellFormed, "\(analysis.issues)")
        #expect(analysis.callables.isEmpty)
        #expect(analysis.opcodeCount == 3 + 100_000 * 11 + 1)
    }

    /// A legacy PyTorch `storages` stream: a count, then per storage a header pickle, an element count and
    /// the raw elements (which here look like a pickle on purpose), then the storage-views pickle.
    private func legacyStorages(header: (inout PickleAssembler) -> Void, elements: UInt64, raw: [UInt8]) -> [UInt8] {
        var p = PickleAssembler()
        p.op(.proto, [2]); p.int1(1); p.op(.stop)
        p.op(.proto, [2])
        header(&p)
        p.op(.stop)
        p.bytes += le64(elements) + raw
        p.op(.proto, [2]); p.op(.emptyList); p.op(.stop)
        return p.bytes
    }

    @Test("legacy PyTorch storages: raw elements between pickles are stepped over exactly")
    func legacyTorchStorages() {
        let looksLikePickle = Array("cos\nsystem\n(S'x'\ntR.".utf8)
        let raw = looksLikePickle + [UInt8](repeating: 0, count: 24 - looksLikePickle.count)
        let stream = legacyStorages(header: { p in
            p.shortUnicode("0"); p.shortUnicode("cpu"); p.global("torch", "FloatStorage"); p.op(.tuple3)
        }, elements: 6, raw: raw)
        let analysis = PickleEmulator(layout: .legacyTorchStorages).analyze(bytes: stream)
        #expect(analysis.isWellFormed, "\(analysis.issues)")
        #expect(analysis.pickleCount == 3)
        #expect(analysis.dataAfterStopOffset == nil)
        #expect(analysis.callables.map(\.qualifiedName) == ["torch.FloatStorage"])

        // Declaring more elements than the stream holds, or a header that is not a storage record, is malformed.
        let short = legacyStorages(header: { p in
            p.shortUnicode("0"); p.shortUnicode("cpu"); p.global("torch", "FloatStorage"); p.op(.tuple3)
        }, elements: 1 << 40, raw: raw)
        #expect(PickleEmulator(layout: .legacyTorchStorages).analyze(bytes: short).issues.contains { $0.kind == .malformed })
        let hostile = legacyStorages(header: { p in
            p.global("os", "system"); p.shortUnicode("echo"); p.op(.tuple1); p.op(.reduce)
        }, elements: 6, raw: raw)
        let bad = PickleEmulator(layout: .legacyTorchStorages).analyze(bytes: hostile)
        #expect(bad.callables.map(\.qualifiedName) == ["os.system"])
        #expect(bad.issues.contains { $0.kind == .malformed })
    }
}
