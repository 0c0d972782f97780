// PickleMachine+ValueOpcodes: stack manipulation, numbers, constants, strings and bytes.

import MLSecCore

extension PickleMachine {
    /// Executes a stack, number, constant, string or bytes opcode; `false` for an opcode of another group.
    @inline(__always)
    mutating func executeValueOpcode<S: PickleByteSource>(_ code: UInt8, _ at: Int, _ source: inout S) throws(PickleHalt) -> Bool {
        switch code {
        // Stack manipulation.
        case 0x28:  // MARK
            guard marks.count < limits.maxMarkDepth else {
                throw .limit("more than \(limits.maxMarkDepth) nested MARKs", offset: at)
            }
            marks.append(stack.count)
            fence = stack.count
        case 0x2E:  // STOP: handled by the loop
            break
        case 0x30:  // POP
            let op = PickleOpcode.pop
            if marks.count > 0, marks[marks.count - 1] == stack.count {
                _ = try popMark(op, at)
            } else {
                _ = try pop(op, at)
            }
        case 0x31:  // POP_MARK
            let op = PickleOpcode.popMark
            let mark = try popMark(op, at)
            stack.truncate(to: mark)
        case 0x32:  // DUP
            let op = PickleOpcode.dup
            try require(1, op, at)
            try push(stack[stack.count - 1], at)

        // Numbers and constants.
        case 0x4E:  // NONE
            try push(.none, at)
        case 0x88:  // NEWTRUE
            try push(.bool(true), at)
        case 0x89:  // NEWFALSE
            try push(.bool(false), at)
        case 0x4B:  // BININT1
            let op = PickleOpcode.binInt1
            try push(.int(try byte(&source, op, at)), at)
        case 0x4D:  // BININT2
            let op = PickleOpcode.binInt2
            try push(.int(Int(try littleEndian(2, &source, op, at))), at)
        case 0x4A:  // BININT
            let op = PickleOpcode.binInt
            try push(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4, &source, op, at)))), at)
        case 0x47:  // BINFLOAT
            let op = PickleOpcode.binFloat
            let bits = try littleEndian(8, &source, op, at)
            try push(.float(Double(bitPattern: bits.byteSwapped)), at)
        case 0x49:  // INT
            let op = PickleOpcode.int
            let length = try readLine(&source, op, at)
            try push(length == line.count ? PickleText.intValue(line) : .bigInt(length), at)
        case 0x4C:  // LONG
            let op = PickleOpcode.long
            let length = try readLine(&source, op, at)
            try push(length == line.count ? PickleText.longValue(line) : .bigInt(length), at)
        case 0x46:  // FLOAT
            let op = PickleOpcode.float
            try readLine(&source, op, at)
            try push(PickleText.floatValue(line), at)
        case 0x8A:  // LONG1
            let op = PickleOpcode.long1
            let length = try byte(&source, op, at)
            try push(try readLong(length, &source, op, at), at)
        case 0x8B:  // LONG4
            let op = PickleOpcode.long4
            let raw = try signedLength32(try littleEndian(4, &source, op, at), op, at)
            let length = try payloadLength(raw, source, op, at)
            try push(try readLong(length, &source, op, at), at)

        // Strings and bytes.
        case 0x53:  // STRING
            let op = PickleOpcode.string
            let length = try readLine(&source, op, at)
            guard let body = PickleText.quotedString(line, complete: length == line.count) else {
                throw .malformed("STRING at \(at) is not quoted", offset: at)
            }
            let text = PickleText.latin1(body)
            try push(makeString(text, cutFrom: length == line.count ? nil : length), at)
        case 0x54:  // BINSTRING
            let op = PickleOpcode.binString
            let raw = try signedLength32(try littleEndian(4, &source, op, at), op, at)
            let length = try payloadLength(raw, source, op, at)
            try push(try readString(length, latin1: true, &source, op, at), at)
        case 0x55:  // SHORT_BINSTRING
            let op = PickleOpcode.shortBinString
            let length = try byte(&source, op, at)
            try push(try readString(length, latin1: true, &source, op, at), at)
        case 0x56:  // UNICODE
            let op = PickleOpcode.unicode
            let length = try readLine(&source, op, at)
            if length == line.count, let short = PickleText.plainShort(line) {
                try push(short, at)
            } else {
                let text = PickleText.rawUnicodeEscapeDecoded(line)
                try push(makeString(text, cutFrom: length == line.count ? nil : length), at)
            }
        case 0x8C:  // SHORT_BINUNICODE
            let op = PickleOpcode.shortBinUnicode
            let length = try byte(&source, op, at)
            try push(try readString(length, latin1: false, &source, op, at), at)
        case 0x58:  // BINUNICODE
            let op = PickleOpcode.binUnicode
            let length = try payloadLength(try littleEndian(4, &source, op, at), source, op, at)
            try push(try readString(length, latin1: false, &source, op, at), at)
        case 0x8D:  // BINUNICODE8
            let op = PickleOpcode.binUnicode8
            let length = try payloadLength(try littleEndian(8, &source, op, at), source, op, at)
            try push(try readString(length, latin1: false, &source, op, at), at)
        case 0x43:  // SHORT_BINBYTES
            let op = PickleOpcode.shortBinBytes
            let length = try byte(&source, op, at)
            try skip(length, &source, op, at)
            try push(.bytes(length), at)
        case 0x42:  // BINBYTES
            let op = PickleOpcode.binBytes
            let length = try payloadLength(try littleEndian(4, &source, op, at), source, op, at)
            try skip(length, &source, op, at)
            try push(.bytes(length), at)
        case 0x8E:  // BINBYTES8
            let op = PickleOpcode.binBytes8
            let length = try payloadLength(try littleEndian(8, &source, op, at), source, op, at)
            try skip(length, &source, op, at)
            try push(.bytes(length), at)
        case 0x96:  // BYTEARRAY8
            let op = PickleOpcode.byteArray8
            let length = try payloadLength(try littleEndian(8, &source, op, at), source, op, at)
            try skip(length, &source, op, at)
            try push(.bytearray(length), at)
        case 0x97:  // NEXT_BUFFER
            try push(.buffer, at)
        case 0x98:  // READONLY_BUFFER
            let op = PickleOpcode.readonlyBuffer
            try require(1, op, at)

        default:
            return false
        }
        return true
    }
}
