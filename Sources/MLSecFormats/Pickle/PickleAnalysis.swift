// PickleAnalysis: what the pickle emulator found: imports, calls, persistent ids, structure and problems.

/// A callable (or any object) a pickle imports, named as the pickle wrote it.
///
/// The module and name are recorded exactly as they appear in the stream: dotted names such as
/// `torch._utils` / `_rebuild_tensor_v2` or `os` / `path.join` are kept whole, and Python 2 names such as
/// `__builtin__` are not mapped. Extension-registry codes are recorded as module `ext` and the decimal code.
public struct PickleCallable: Sendable, Hashable, CustomStringConvertible {
    /// The module as written, e.g. `builtins`.
    public var module: String
    /// The attribute name as written, possibly dotted, e.g. `getattr` or `path.join`.
    public var name: String

    /// Creates a callable name.
    public init(module: String, name: String) {
        self.module = module
        self.name = name
    }

    /// `module.name`.
    public var qualifiedName: String { "\(module).\(name)" }

    public var description: String { qualifiedName }
}

/// One import, call, state application or persistent id that unpickling would perform, in stream order.
public struct PickleEvent: Sendable, CustomStringConvertible {
    /// What the unpickler would do.
    public enum Kind: String, Sendable {
        /// Imports `callable` (`GLOBAL`, `STACK_GLOBAL`, `INST`).
        case importGlobal = "import"
        /// Calls `callable` (`REDUCE`, `INST`, `OBJ`), or calls a method of an object made by `callable`
        /// (`APPEND`, `APPENDS`, `SETITEM`, `SETITEMS`, `ADDITEMS` on an object that is not a plain container).
        case call
        /// Calls `callable.__new__` (`NEWOBJ`, `NEWOBJ_EX`).
        case newObject = "new"
        /// Applies state to an object made by `callable` (`BUILD`: `__setstate__` or a `__dict__` update).
        case build
        /// Looks up an extension-registry code (`EXT1`, `EXT2`, `EXT4`); the object it names is unknown.
        case extensionCode = "extension"
        /// Imports something whose module or name is not a known string (`STACK_GLOBAL`).
        case unresolvedGlobal = "unresolved-import"
        /// Hands a persistent id to `persistent_load` (`PERSID`, `BINPERSID`).
        case persistentID = "persistent-id"
    }

    /// What the unpickler would do.
    public var kind: Kind
    /// The callable imported, called, or whose object gets state; `nil` when it is not known statically.
    public var callable: PickleCallable?
    /// Byte offset of the opcode in the stream.
    public var offset: Int
    /// The opcode's name, e.g. `STACK_GLOBAL` or `REDUCE`.
    public var opcode: String
    /// A bounded (at most 200 characters) summary: call arguments, the extension code, the persistent id.
    public var detail: String?

    /// Creates an event.
    public init(kind: Kind, callable: PickleCallable?, offset: Int, opcode: String, detail: String? = nil) {
        self.kind = kind
        self.callable = callable
        self.offset = offset
        self.opcode = opcode
        self.detail = detail
    }

    public var description: String {
        var text = "\(offset): \(opcode) \(kind.rawValue)"
        if let callable { text += " \(callable.qualifiedName)" }
        if let detail { text += " \(detail)" }
        return text
    }
}

/// The result of emulating every pickle in a stream.
public struct PickleAnalysis: Sendable {
    /// A reason the stream could not be emulated to its end, or a limit it reached.
    public struct Issue: Sendable, CustomStringConvertible {
        /// The kind of problem.
        public enum Kind: String, Sendable {
            /// The stream is not a valid pickle at `offset`.
            case malformed
            /// A configured limit (``PickleLimits``) was reached at `offset`; emulation stopped there.
            case limit
        }

        /// The kind of problem.
        public var kind: Kind
        /// What went wrong, for a person.
        public var message: String
        /// Byte offset in the stream where it was found.
        public var offset: Int

        /// Creates an issue.
        public init(kind: Kind, message: String, offset: Int) {
            self.kind = kind
            self.message = message
            self.offset = offset
        }

        public var description: String { "\(kind.rawValue) at \(offset): \(message)" }
    }

    /// Imports, calls, state applications and persistent ids in stream order, up to
    /// ``PickleLimits/maxEvents``.
    public var events: [PickleEvent] = []
    /// Events found after ``events`` was full.
    public var droppedEvents = 0
    /// Every imported callable, deduplicated (extension codes included as module `ext`).
    public var callables: Set<PickleCallable> = []
    /// The `PROTO` version of each pickle in the stream (0 when it has none), including a last pickle that
    /// ends with an issue instead of `STOP`: so it has ``pickleCount`` or ``pickleCount`` + 1 entries.
    public var protocols: [Int] = []
    /// The number of complete pickles (each ended by `STOP`).
    public var pickleCount = 0
    /// The first byte after the first `STOP` when bytes follow it (for a ``PickleStreamLayout`` other than
    /// `plain`, after the last pickle the layout expects), that is where an unexpected pickle starts.
    public var dataAfterStopOffset: Int?
    /// Bytes at the end of the stream that are not a pickle: after a complete pickle, bytes that fail to parse
    /// before importing anything that could exist (an import whose module or name is not a dotted identifier,
    /// as raw tensor data can produce, does not count). They are not emulated further and not reported as
    /// issues.
    public var trailingBytes = 0
    /// How many persistent ids the pickles hand to `persistent_load` (PyTorch: one per storage).
    public var persistentIDCount = 0
    /// Malformed input and limits reached. Emulation stops at the first one, except for framing problems
    /// that CPython's C unpickler tolerates, which are noted and passed over.
    public var issues: [Issue] = []
    /// Opcodes executed.
    public var opcodeCount = 0
    /// How many times each opcode ran, by name (e.g. `"BINGET": 12`).
    public var opcodeHistogram: [String: Int] = [:]

    /// Creates an empty analysis.
    public init() {}

    /// `true` when the stream was emulated to its end without problems.
    public var isWellFormed: Bool { issues.isEmpty }
}
