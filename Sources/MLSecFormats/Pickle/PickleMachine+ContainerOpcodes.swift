// PickleMachine+ContainerOpcodes: lists, tuples, dicts, sets and the memo.

import MLSecCore

extension PickleMachine {
    /// Executes a container or memo opcode; `false` for an opcode of another group.
    @inline(__always)
    mutating func executeContainerOpcode<S: PickleByteSource>(_ code: UInt8, _ at: Int, _ source: inout S) throws(PickleHalt) -> Bool {
        switch code {
        // Containers.
        case 0x5D:  // EMPTY_LIST
            try push(containers.makeEmpty(.list), at)
        case 0x7D:  // EMPTY_DICT
            try push(containers.makeEmpty(.dict), at)
        case 0x8F:  // EMPTY_SET
            try push(containers.makeEmpty(.set), at)
        case 0x29:  // EMPTY_TUPLE
            try push(.emptyTuple, at)
        case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
            let op = PickleOpcode(rawValue: code) ?? .tuple1
            let n = op == .tuple1 ? 1 : op == .tuple2 ? 2 : 3
            try require(n, op, at)
            let value = containers.make(.tuple, items: stack.suffix(from: stack.count - n))
            stack.truncate(to: stack.count - n)
            stack.append(value)
        case 0x74, 0x6C, 0x91:  // TUPLE, LIST, FROZENSET
            let op = PickleOpcode(rawValue: code) ?? .tuple
            let mark = try popMark(op, at)
            let items = stack.suffix(from: mark)
            let kind: PickleContainerKind = op == .tuple ? .tuple : op == .list ? .list : .frozenset
            let value: PickleValue =
                kind == .tuple && items.isEmpty
                ? .emptyTuple : containers.make(kind, items: items)
            stack.truncate(to: mark)
            stack.append(value)
        case 0x64:  // DICT
            let op = PickleOpcode.dict
            let mark = try popMark(op, at)
            guard (stack.count - mark) % 2 == 0 else {
                throw .malformed("odd number of items for DICT at \(at)", offset: at)
            }
            let value = containers.make(.dict, items: stack.suffix(from: mark))
            stack.truncate(to: mark)
            stack.append(value)
        case 0x61:  // APPEND
            let op = PickleOpcode.append
            try require(2, op, at)
            let value = stack.removeLast()
            let target = stack[stack.count - 1]
            if let id = containers.id(of: target, kind: .list) {
                containers.add(to: id, value)
            } else {
                recordMethodCall(on: target, method: "append", items: 1, at, op)
            }
        case 0x65, 0x90:  // APPENDS, ADDITEMS
            let op = PickleOpcode(rawValue: code) ?? .appends
            let mark = try popMark(op, at)
            guard mark > fence else { throw underflow(op, at, needs: 1) }
            let target = stack[mark - 1]
            let kind: PickleContainerKind = op == .appends ? .list : .set
            if let id = containers.id(of: target, kind: kind) {
                containers.add(to: id, stack.suffix(from: mark))
            } else {
                recordMethodCall(
                    on: target, method: op == .appends ? "extend" : "add", items: stack.count - mark, at, op)
            }
            stack.truncate(to: mark)
        case 0x73:  // SETITEM
            let op = PickleOpcode.setItem
            try require(3, op, at)
            let value = stack.removeLast()
            let key = stack.removeLast()
            let target = stack[stack.count - 1]
            if let id = containers.id(of: target, kind: .dict) {
                containers.set(in: id, key: key, value: value)
            } else {
                recordMethodCall(on: target, method: "__setitem__", items: 1, at, op)
            }
        case 0x75:  // SETITEMS
            let op = PickleOpcode.setItems
            let mark = try popMark(op, at)
            guard mark > fence else { throw underflow(op, at, needs: 1) }
            guard (stack.count - mark) % 2 == 0 else {
                throw .malformed("odd number of items for SETITEMS at \(at)", offset: at)
            }
            let target = stack[mark - 1]
            if let id = containers.id(of: target, kind: .dict) {
                containers.addPairs(to: id, stack.suffix(from: mark))
            } else {
                recordMethodCall(on: target, method: "__setitem__", items: (stack.count - mark) / 2, at, op)
            }
            stack.truncate(to: mark)

        // Memo.
        case 0x67:  // GET
            let op = PickleOpcode.get
            let length = try readLine(&source, op, at)
            try push(try memoValue(try textKey(op, at, fullLength: length), op, at), at)
        case 0x68:  // BINGET
            let op = PickleOpcode.binGet
            try push(try memoValue(try byte(&source, op, at), op, at), at)
        case 0x6A:  // LONG_BINGET
            let op = PickleOpcode.longBinGet
            try push(try memoValue(Int(try littleEndian(4, &source, op, at)), op, at), at)
        case 0x70:  // PUT
            let op = PickleOpcode.put
            let length = try readLine(&source, op, at)
            try memoize(try textKey(op, at, fullLength: length), op, at)
        case 0x71:  // BINPUT
            let op = PickleOpcode.binPut
            try memoize(try byte(&source, op, at), op, at)
        case 0x72:  // LONG_BINPUT
            let op = PickleOpcode.longBinPut
            try memoize(Int(try littleEndian(4, &source, op, at)), op, at)
        case 0x94:  // MEMOIZE
            let op = PickleOpcode.memoize
            try memoize(memo.count, op, at)

        default:
            return false
        }
        return true
    }
}
