// JSONWriter: deterministic JSON output (member order as given, or sorted for canonical form).

/// Writes ``JSONValue`` documents. Output is UTF-8, escapes only what JSON requires (`"`, `\`, control
/// characters), and leaves `/` and non-ASCII text as they are.
public enum JSONWriter {
    /// Formatting choices.
    public struct Options: Sendable {
        /// Sort object members by key (byte order of UTF-8), as canonical JSON requires.
        public var sortKeys: Bool
        /// Indent nested values with two spaces per level; compact when `false`.
        public var pretty: Bool
        public init(sortKeys: Bool = false, pretty: Bool = false) {
            self.sortKeys = sortKeys
            self.pretty = pretty
        }
    }

    /// The UTF-8 bytes of `value`.
    public static func bytes(_ value: JSONValue, options: Options = Options()) -> [UInt8] {
        var out: [UInt8] = []
        write(value, into: &out, options: options, level: 0)
        return out
    }

    /// The text of `value`.
    public static func string(_ value: JSONValue, options: Options = Options()) -> String {
        String(decoding: bytes(value, options: options), as: UTF8.self)
    }

    /// Canonical form: sorted keys, no whitespace.
    public static func canonical(_ value: JSONValue) -> [UInt8] {
        bytes(value, options: Options(sortKeys: true, pretty: false))
    }

    private static func newline(_ out: inout [UInt8], _ options: Options, _ level: Int) {
        guard options.pretty else { return }
        out.append(0x0a)
        out.append(contentsOf: repeatElement(0x20, count: level * 2))
    }

    private static func write(_ value: JSONValue, into out: inout [UInt8], options: Options, level: Int) {
        switch value {
        case .null: out.append(contentsOf: Array("null".utf8))
        case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case .number(let n): out.append(contentsOf: Array(n.utf8))
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, options, level + 1)
                write(element, into: &out, options: options, level: level + 1)
            }
            if !elements.isEmpty { newline(&out, options, level) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            let ordered = options.sortKeys ? sortedMembers(members) : members
            out.append(UInt8(ascii: "{"))
            for (i, (key, element)) in ordered.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, options, level + 1)
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                if options.pretty { out.append(0x20) }
                write(element, into: &out, options: options, level: level + 1)
            }
            if !members.isEmpty { newline(&out, options, level) }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Members in byte order of their UTF-8 keys; members already in that order (the common case for
    /// documents built in canonical order) are returned as they are without sorting.
    private static func sortedMembers(_ members: [(String, JSONValue)]) -> [(String, JSONValue)] {
        var index = 1
        while index < members.count, members[index - 1].0.utf8.lexicographicallyPrecedes(members[index].0.utf8) {
            index += 1
        }
        if index >= members.count { return members }
        return members.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
    }

    /// Appends a flat object of string members, in the order given, to `out`: the fast path for small
    /// fixed-schema documents (receipts, audit events, log lines). Pass members in key order for canonical JSON.
    public static func appendObject(_ members: [(String, String)], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, (key, value)) in members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            writeString(value, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Appends `s` as a JSON string (quoted, escaped) to `out`.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        writeString(s, into: &out)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Fast path: most strings (names, digests, numbers as text) need no escaping.
        let plain = s.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for byte in bytes where byte < 0x20 || byte == 0x22 || byte == 0x5c { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case 0x22: out.append(contentsOf: [0x5c, 0x22])
            case 0x5c: out.append(contentsOf: [0x5c, 0x5c])
            case 0x0a: out.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0x0d: out.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5c, UInt8(ascii: "b")])
            case 0x0c: out.append(contentsOf: [0x5c, UInt8(ascii: "f")])
            case 0x00..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0f)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
