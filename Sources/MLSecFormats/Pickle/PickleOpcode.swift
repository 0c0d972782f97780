// PickleOpcode: the opcodes of pickle protocols 0 to 5, their names, and the protocol that introduced each.

/// One instruction of the pickle virtual machine (protocols 0 to 5), identified by its byte value.
///
/// Names and byte values follow the opcode table documented in CPython's `pickletools` module. A byte that is
/// not listed here is not an opcode: an unpickler refuses it.
public enum PickleOpcode: UInt8, Sendable, CaseIterable {
    // Protocol 0 (text) and 1 (binary).
    /// Pushes a mark onto the mark stack.
    case mark = 0x28  // (
    /// Ends the pickle; the top of the stack is the result.
    case stop = 0x2E  // .
    /// Discards the top of the stack (or the topmost mark when it is on top).
    case pop = 0x30  // 0
    /// Discards everything down to and including the topmost mark.
    case popMark = 0x31  // 1
    /// Pushes a copy of the top of the stack.
    case dup = 0x32  // 2
    /// Pushes a float written as a decimal text line.
    case float = 0x46  // F
    /// Pushes an int (or a bool for `00`/`01`) written as a decimal text line.
    case int = 0x49  // I
    /// Pushes a 4-byte signed little-endian int.
    case binInt = 0x4A  // J
    /// Pushes a 1-byte unsigned int.
    case binInt1 = 0x4B  // K
    /// Pushes an int written as a decimal text line, optionally ending in `L`.
    case long = 0x4C  // L
    /// Pushes a 2-byte unsigned little-endian int.
    case binInt2 = 0x4D  // M
    /// Pushes `None`.
    case none = 0x4E  // N
    /// Pushes the object for a persistent id given as a text line.
    case persID = 0x50  // P
    /// Pushes the object for a persistent id taken from the stack.
    case binPersID = 0x51  // Q
    /// Calls a callable with an argument tuple, both taken from the stack.
    case reduce = 0x52  // R
    /// Pushes a string written as a quoted, escaped text line.
    case string = 0x53  // S
    /// Pushes a string with a 4-byte signed length.
    case binString = 0x54  // T
    /// Pushes a string with a 1-byte length.
    case shortBinString = 0x55  // U
    /// Pushes a str written as a raw-unicode-escape text line.
    case unicode = 0x56  // V
    /// Pushes a UTF-8 str with a 4-byte unsigned length.
    case binUnicode = 0x58  // X
    /// Appends the top of the stack to the list below it.
    case append = 0x61  // a
    /// Applies state to an object (`__setstate__` or `__dict__` update).
    case build = 0x62  // b
    /// Imports `module.name`, both given as text lines.
    case global = 0x63  // c
    /// Builds a dict from the key/value pairs above the topmost mark.
    case dict = 0x64  // d
    /// Pushes an empty dict.
    case emptyDict = 0x7D  // }
    /// Extends the list below the topmost mark with the items above it.
    case appends = 0x65  // e
    /// Pushes a memo entry whose key is a decimal text line.
    case get = 0x67  // g
    /// Pushes a memo entry with a 1-byte key.
    case binGet = 0x68  // h
    /// Imports a class from two text lines and calls it with the items above the topmost mark.
    case inst = 0x69  // i
    /// Pushes a memo entry with a 4-byte key.
    case longBinGet = 0x6A  // j
    /// Builds a list from the items above the topmost mark.
    case list = 0x6C  // l
    /// Pushes an empty list.
    case emptyList = 0x5D  // ]
    /// Calls the class just above the topmost mark with the items after it.
    case obj = 0x6F  // o
    /// Stores the top of the stack in the memo under a decimal text-line key.
    case put = 0x70  // p
    /// Stores the top of the stack in the memo under a 1-byte key.
    case binPut = 0x71  // q
    /// Stores the top of the stack in the memo under a 4-byte key.
    case longBinPut = 0x72  // r
    /// Sets one key/value pair on the dict below them.
    case setItem = 0x73  // s
    /// Builds a tuple from the items above the topmost mark.
    case tuple = 0x74  // t
    /// Pushes an empty tuple.
    case emptyTuple = 0x29  // )
    /// Sets the key/value pairs above the topmost mark on the dict below it.
    case setItems = 0x75  // u
    /// Pushes an 8-byte big-endian IEEE 754 double.
    case binFloat = 0x47  // G
    // Protocol 2.
    /// Declares the protocol version (1-byte argument).
    case proto = 0x80
    /// Calls `cls.__new__(cls, *args)` with `cls` and `args` from the stack.
    case newObj = 0x81
    /// Pushes the object registered in the extension registry under a 1-byte code.
    case ext1 = 0x82
    /// Pushes the object registered in the extension registry under a 2-byte code.
    case ext2 = 0x83
    /// Pushes the object registered in the extension registry under a 4-byte code.
    case ext4 = 0x84
    /// Builds a 1-tuple from the top of the stack.
    case tuple1 = 0x85
    /// Builds a 2-tuple from the top two items.
    case tuple2 = 0x86
    /// Builds a 3-tuple from the top three items.
    case tuple3 = 0x87
    /// Pushes `True`.
    case newTrue = 0x88
    /// Pushes `False`.
    case newFalse = 0x89
    /// Pushes an int in two's complement with a 1-byte length.
    case long1 = 0x8A
    /// Pushes an int in two's complement with a 4-byte signed length.
    case long4 = 0x8B
    // Protocol 3.
    /// Pushes bytes with a 4-byte unsigned length.
    case binBytes = 0x42  // B
    /// Pushes bytes with a 1-byte length.
    case shortBinBytes = 0x43  // C
    // Protocol 4.
    /// Pushes a UTF-8 str with a 1-byte length.
    case shortBinUnicode = 0x8C
    /// Pushes a UTF-8 str with an 8-byte length.
    case binUnicode8 = 0x8D
    /// Pushes bytes with an 8-byte length.
    case binBytes8 = 0x8E
    /// Pushes an empty set.
    case emptySet = 0x8F
    /// Adds the items above the topmost mark to the set below it.
    case addItems = 0x90
    /// Builds a frozenset from the items above the topmost mark.
    case frozenSet = 0x91
    /// Calls `cls.__new__(cls, *args, **kwargs)` with all three from the stack.
    case newObjEx = 0x92
    /// Imports `module.name` with both strings taken from the stack.
    case stackGlobal = 0x93
    /// Stores the top of the stack in the memo under the next free key.
    case memoize = 0x94
    /// Announces a frame of the given 8-byte length.
    case frame = 0x95
    // Protocol 5.
    /// Pushes a bytearray with an 8-byte length.
    case byteArray8 = 0x96
    /// Pushes the next out-of-band buffer.
    case nextBuffer = 0x97
    /// Makes the buffer on top of the stack read-only.
    case readonlyBuffer = 0x98

    /// The opcode's name as CPython's `pickletools` spells it, e.g. `SHORT_BINUNICODE`.
    public var name: String {
        switch self {
        case .mark: "MARK"
        case .stop: "STOP"
        case .pop: "POP"
        case .popMark: "POP_MARK"
        case .dup: "DUP"
        case .float: "FLOAT"
        case .int: "INT"
        case .binInt: "BININT"
        case .binInt1: "BININT1"
        case .long: "LONG"
        case .binInt2: "BININT2"
        case .none: "NONE"
        case .persID: "PERSID"
        case .binPersID: "BINPERSID"
        case .reduce: "REDUCE"
        case .string: "STRING"
        case .binString: "BINSTRING"
        case .shortBinString: "SHORT_BINSTRING"
        case .unicode: "UNICODE"
        case .binUnicode: "BINUNICODE"
        case .append: "APPEND"
        case .build: "BUILD"
        case .global: "GLOBAL"
        case .dict: "DICT"
        case .emptyDict: "EMPTY_DICT"
        case .appends: "APPENDS"
        case .get: "GET"
        case .binGet: "BINGET"
        case .inst: "INST"
        case .longBinGet: "LONG_BINGET"
        case .list: "LIST"
        case .emptyList: "EMPTY_LIST"
        case .obj: "OBJ"
        case .put: "PUT"
        case .binPut: "BINPUT"
        case .longBinPut: "LONG_BINPUT"
        case .setItem: "SETITEM"
        case .tuple: "TUPLE"
        case .emptyTuple: "EMPTY_TUPLE"
        case .setItems: "SETITEMS"
        case .binFloat: "BINFLOAT"
        case .proto: "PROTO"
        case .newObj: "NEWOBJ"
        case .ext1: "EXT1"
        case .ext2: "EXT2"
        case .ext4: "EXT4"
        case .tuple1: "TUPLE1"
        case .tuple2: "TUPLE2"
        case .tuple3: "TUPLE3"
        case .newTrue: "NEWTRUE"
        case .newFalse: "NEWFALSE"
        case .long1: "LONG1"
        case .long4: "LONG4"
        case .binBytes: "BINBYTES"
        case .shortBinBytes: "SHORT_BINBYTES"
        case .shortBinUnicode: "SHORT_BINUNICODE"
        case .binUnicode8: "BINUNICODE8"
        case .binBytes8: "BINBYTES8"
        case .emptySet: "EMPTY_SET"
        case .addItems: "ADDITEMS"
        case .frozenSet: "FROZENSET"
        case .newObjEx: "NEWOBJ_EX"
        case .stackGlobal: "STACK_GLOBAL"
        case .memoize: "MEMOIZE"
        case .frame: "FRAME"
        case .byteArray8: "BYTEARRAY8"
        case .nextBuffer: "NEXT_BUFFER"
        case .readonlyBuffer: "READONLY_BUFFER"
        }
    }

    /// The protocol version that introduced the opcode (0 to 5).
    public var introducedInProtocol: Int {
        switch self {
        case .mark, .stop, .pop, .dup, .float, .int, .long, .none, .persID, .reduce, .string, .unicode, .append,
            .build, .global, .dict, .get, .inst, .list, .put, .setItem, .tuple:
            0
        case .popMark, .binInt, .binInt1, .binInt2, .binPersID, .binString, .shortBinString, .binUnicode,
            .emptyDict, .appends, .binGet, .longBinGet, .emptyList, .obj, .binPut, .longBinPut, .emptyTuple,
            .setItems, .binFloat:
            1
        case .proto, .newObj, .ext1, .ext2, .ext4, .tuple1, .tuple2, .tuple3, .newTrue, .newFalse, .long1, .long4:
            2
        case .binBytes, .shortBinBytes:
            3
        case .shortBinUnicode, .binUnicode8, .binBytes8, .emptySet, .addItems, .frozenSet, .newObjEx, .stackGlobal,
            .memoize, .frame:
            4
        case .byteArray8, .nextBuffer, .readonlyBuffer:
            5
        }
    }

    /// The highest protocol version an unpickler accepts in a `PROTO` opcode.
    public static let highestProtocol = 5
}
