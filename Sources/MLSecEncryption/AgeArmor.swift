// AgeArmor: age's ASCII armor (strict PEM-like base64 between BEGIN/END lines), decoded and encoded as streams.

import MLSecCore

/// The armor's fixed lines and rules.
enum AgeArmor {
    static let begin = Array("-----BEGIN AGE ENCRYPTED FILE-----".utf8)
    static let end = Array("-----END AGE ENCRYPTED FILE-----".utf8)
    static let columns = 64
    /// Most whitespace accepted before the BEGIN line and after the END line.
    static let maxWhitespace = 1024

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
}

/// Decodes an armored age file line by line, so that memory stays bounded for any size.
final class ArmorDecodingSource: AgeSource {
    private let reader: AgeReader
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    private var finished = false
    private var sawShortLine = false
    private var lineNumber = 1

    /// Expects `reader` to be positioned at the first non-whitespace byte (the BEGIN line).
    init(reader: AgeReader) throws {
        self.reader = reader
        guard let line = try reader.readLine(max: AgeArmor.columns + 2, tooLong: AgeError.armor("a line is over \(AgeArmor.columns) columns")), Self.trimCR(line) == AgeArmor.begin else {
            throw AgeError.armor("the file does not start with \"-----BEGIN AGE ENCRYPTED FILE-----\"")
        }
    }

    private static func trimCR(_ line: [UInt8]) -> [UInt8] {
        line.last == 0x0D ? Array(line.dropLast()) : line
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while pendingOffset == pending.count {
            guard !finished else { return 0 }
            try decodeNextLine()
        }
        let n = min(buffer.count, pending.count - pendingOffset)
        guard n > 0 else { return 0 }
        pending.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + pendingOffset, byteCount: n)
        }
        pendingOffset += n
        return n
    }

    private func decodeNextLine() throws {
        lineNumber += 1
        // The END line may lack a newline at the very end of the file.
        var raw = try reader.readLine(max: AgeArmor.columns + 2, tooLong: AgeError.armor("a line is over \(AgeArmor.columns) columns"))
        if raw == nil {
            var rest = [UInt8](repeating: 0, count: AgeArmor.columns + 2)
            let n = try rest.withUnsafeMutableBytes { try reader.readFull(into: $0) }
            guard n > 0, n < rest.count else { throw AgeError.armor("the file ends before the END line") }
            raw = Array(rest[..<n])
        }
        let line = Self.trimCR(raw ?? [])
        if line == AgeArmor.end {
            try checkTrailing()
            finished = true
            pending = []
            pendingOffset = 0
            return
        }
        guard !sawShortLine else { throw AgeError.armor("line \(lineNumber): a short line must be the last before the END line") }
        guard !line.isEmpty, line.count <= AgeArmor.columns else {
            throw AgeError.armor("line \(lineNumber) is \(line.isEmpty ? "empty" : "over \(AgeArmor.columns) columns")")
        }
        if line.count < AgeArmor.columns { sawShortLine = true }
        guard let decoded = Base64.decodeStrict(line, padding: .required) else {
            throw AgeError.armor("line \(lineNumber) is not canonical padded base64")
        }
        if line.last == UInt8(ascii: "=") { sawShortLine = true }
        pending = decoded
        pendingOffset = 0
    }

    private func checkTrailing() throws {
        var rest = [UInt8](repeating: 0, count: AgeArmor.maxWhitespace + 1)
        let n = try rest.withUnsafeMutableBytes { try reader.readFull(into: $0) }
        guard rest[..<n].allSatisfy(AgeArmor.isWhitespace) else {
            throw AgeError.armor("there is data after the END line")
        }
        guard n <= AgeArmor.maxWhitespace else { throw AgeError.armor("too much whitespace after the END line") }
    }
}

/// Encodes to armor as bytes arrive: 48 input bytes per 64-column line.
public final class ArmorEncodingSink: AgeSink {
    private let sink: any AgeSink
    private var carry: [UInt8] = []
    private var closed = false

    public init(_ sink: any AgeSink) throws {
        self.sink = sink
        try sink.write(AgeArmor.begin + [0x0A])
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        carry.append(contentsOf: bytes)
        let whole = carry.count / 48 * 48
        guard whole > 0 else { return }
        var out: [UInt8] = []
        out.reserveCapacity(whole / 48 * 65)
        var start = 0
        while start < whole {
            out += Array(Base64.encode(carry[start..<(start + 48)]).utf8)
            out.append(0x0A)
            start += 48
        }
        carry.removeFirst(whole)
        try sink.write(out)
    }

    /// Writes the last line and the END line.
    public func finish() throws {
        guard !closed else { return }
        closed = true
        var out: [UInt8] = []
        if !carry.isEmpty { out += Array(Base64.encode(carry).utf8) + [0x0A] }
        out += AgeArmor.end + [0x0A]
        try sink.write(out)
    }
}
