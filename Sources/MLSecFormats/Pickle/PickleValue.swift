// PickleValue: the symbolic values on the emulated pickle stack and memo, and their bounded descriptions.

/// What kind of Python container a value in ``PickleContainers`` is.
enum PickleContainerKind: UInt8, Sendable, Hashable {
    case list, tuple, dict, set, frozenset

    var name: String {
        switch self {
        case .list: "list"
        case .tuple: "tuple"
        case .dict: "dict"
        case .set: "set"
        case .frozenset: "frozenset"
        }
    }
}

/// A value on the emulated stack or in the memo. Nothing is ever executed: call results and imported objects
/// are placeholders that remember only where they came from.
///
/// Values are plain bits (16 bytes, no reference counting): long strings live in ``PickleStrings`` and
/// containers in ``PickleContainers``, both referred to by index. So pushing, popping and memoizing a value is a
/// copy of two words, and reference cycles between containers cost nothing.
enum PickleValue: Hashable {
    case none
    case bool(Bool)
    case int(Int)
    /// An int too large for `Int`, with the size of its encoding in bytes or digits.
    case bigInt(Int)
    case float(Double)
    /// A str (or a protocol 0-2 byte string, which Python 3 decodes to str) of at most 7 UTF-8 bytes, packed:
    /// the bytes in the low 56 bits, little-endian, and the length in the top 8.
    case shortString(UInt64)
    /// A longer str, possibly cut at the kept cap: index into the string table.
    case string(Int32)
    /// bytes of this length; the content is not kept.
    case bytes(Int)
    /// bytearray of this length; the content is not kept.
    case bytearray(Int)
    /// An out-of-band buffer (`NEXT_BUFFER`).
    case buffer
    case emptyTuple
    /// A tuple, list, dict, set or frozenset: index into the container arena.
    case container(Int32)
    /// A container made after the arena was full: only its kind is known.
    case untracked(PickleContainerKind)
    /// An imported object (also an extension-registry object): index into the emulator's callable table.
    case global(Int32)
    /// An import whose module or name was not a known string (`STACK_GLOBAL` on other values).
    case unresolvedGlobal
    /// What a call returned: the callable's index (`-1` when the callable was not an import), and whether it
    /// came from `__new__` (`NEWOBJ`) rather than a call.
    case result(Int32, isNew: Bool)
    /// What `persistent_load` returned for the persistent id with this ordinal.
    case persistent(Int)
    /// A `numpy.dtype(...)` call result: the item size in bytes, or -1 for object or unknown dtypes
    /// (kept so that joblib's in-stream array data can be skipped).
    case numpyDType(Int32)
}

extension PickleValue {
    /// `bytes` packed for ``shortString(_:)``, or `nil` when there are more than 7.
    @inline(__always)
    static func packShort(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count <= 7 else { return nil }
        var packed = UInt64(bytes.count) << 56
        for (i, byte) in bytes.enumerated() { packed |= UInt64(byte) << UInt64(8 * i) }
        return packed
    }

    /// The text of a packed short string.
    static func unpackShort(_ packed: UInt64) -> String {
        var bits = packed & 0x00FF_FFFF_FFFF_FFFF
        let count = min(Int(packed >> 56), 7)
        return withUnsafeBytes(of: &bits) { raw in
            String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<count]), as: UTF8.self)
        }
    }
}

// MARK: - Descriptions

/// Renders values as short Python-like text for event details, never longer than a limit.
struct PickleValueDescriber {
    /// Longest string literal shown.
    static let maxStringShown = 60

    let callables: [PickleCallable]
    let strings: [PickleStrings.Entry]
    /// A view of the container arena, valid while the description is made.
    let containers: PickleContainers.View
    var out = ""
    let limit: Int

    init(
        limit: Int, callables: [PickleCallable], strings: [PickleStrings.Entry], containers: PickleContainers.View
    ) {
        self.limit = limit
        self.callables = callables
        self.strings = strings
        self.containers = containers
    }

    func callableName(_ index: Int32) -> String {
        index >= 0 && Int(index) < callables.count ? callables[Int(index)].qualifiedName : "?"
    }

    /// `module, name` of an import, as in `global(torch, FloatStorage)`.
    func globalName(_ index: Int32) -> String {
        guard index >= 0, Int(index) < callables.count else { return "?" }
        let callable = callables[Int(index)]
        return "\(callable.module), \(callable.name)"
    }

    var isFull: Bool { out.utf8.count >= limit }

    mutating func emit(_ text: String) {
        guard !isFull else { return }
        out += text
    }

    /// The description, cut to the limit with a trailing ellipsis.
    func finished() -> String {
        guard out.utf8.count > limit else { return out }
        var cut = ""
        for ch in out {
            if cut.utf8.count + ch.utf8.count > limit - 3 { break }
            cut.append(ch)
        }
        return cut + "..."
    }

    mutating func describe(_ value: PickleValue, depth: Int = 0) {
        guard !isFull else { return }
        switch value {
        case .none: emit("None")
        case .bool(let b): emit(b ? "True" : "False")
        case .int(let i): emit(String(i))
        case .bigInt(let n): emit("int(\(n)-byte)")
        case .float(let d): emit(String(d))
        case .shortString(let packed): emit(Self.quoted(PickleValue.unpackShort(packed), byteCount: nil))
        case .string(let index):
            if index >= 0, Int(index) < strings.count {
                let entry = strings[Int(index)]
                emit(Self.quoted(entry.text, byteCount: entry.cutFrom >= 0 ? entry.cutFrom : nil))
            } else {
                emit("str(?)")
            }
        case .bytes(let n): emit("bytes(\(n))")
        case .bytearray(let n): emit("bytearray(\(n))")
        case .buffer: emit("buffer")
        case .emptyTuple: emit("()")
        case .untracked(let kind): emit("\(kind.name)(...)")
        case .global(let index): emit("global(\(globalName(index)))")
        case .unresolvedGlobal: emit("global(?)")
        case .result(let index, let isNew):
            let name = index >= 0 ? callableName(index) : "?"
            emit(isNew ? "new(\(name))" : "result(of: \(name))")
        case .persistent(let n): emit("persistent(#\(n))")
        case .numpyDType(let n): emit(n < 0 ? "result(of: numpy.dtype, object)" : "result(of: numpy.dtype, \(n) bytes)")
        case .container(let raw):
            guard let id = containers.id(of: .container(raw)) else {
                emit("container(?)")
                return
            }
            let kind = containers.kind(id)
            let count = containers.count(id)
            guard depth < 4 else {
                emit("\(kind.name)(\(Self.items(count)))")
                return
            }
            let items = containers.sample(id)
            let (open, close): (String, String)
            switch kind {
            case .list: (open, close) = ("[", "]")
            case .tuple: (open, close) = ("(", ")")
            case .dict, .set: (open, close) = ("{", "}")
            case .frozenset: (open, close) = ("frozenset({", "})")
            }
            emit(open)
            if kind == .dict {
                var i = 0
                while i + 1 < items.count {
                    if i > 0 { emit(", ") }
                    describe(items[i], depth: depth + 1)
                    emit(": ")
                    describe(items[i + 1], depth: depth + 1)
                    i += 2
                }
                if count > items.count / 2 {
                    emit(items.isEmpty ? "...\(Self.items(count))" : ", ...\(Self.items(count))")
                }
            } else {
                for (i, item) in items.enumerated() {
                    if i > 0 { emit(", ") }
                    describe(item, depth: depth + 1)
                }
                if count > items.count {
                    emit(items.isEmpty ? "...\(Self.items(count))" : ", ...\(Self.items(count))")
                } else if kind == .tuple, count == 1 {
                    emit(",")
                }
            }
            emit(close)
        }
    }

    /// `1 item`, `3 items`.
    static func items(_ count: Int) -> String { count == 1 ? "1 item" : "\(count) items" }

    /// `'text'` with quotes and control characters escaped and long text cut.
    static func quoted(_ s: String, byteCount: Int?) -> String {
        var body = ""
        var shown = 0
        var cut = false
        for scalar in s.unicodeScalars {
            if shown >= maxStringShown {
                cut = true
                break
            }
            switch scalar {
            case "\\": body += "\\\\"
            case "'": body += "\\'"
            case "\n": body += "\\n"
            case "\r": body += "\\r"
            case "\t": body += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    body += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    body.unicodeScalars.append(scalar)
                }
            }
            shown += 1
        }
        if let byteCount {
            return "'\(body)...'(\(byteCount) bytes)"
        }
        return cut ? "'\(body)...'" : "'\(body)'"
    }
}
