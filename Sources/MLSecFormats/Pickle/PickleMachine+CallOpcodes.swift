// PickleMachine+CallOpcodes: imports, calls, object construction, persistent ids, protocol and framing.

import MLSecCore

extension PickleMachine {
    /// Executes an import, call, build, persistent-id, protocol or frame opcode; `false` for an opcode of another group.
    @inline(__always)
    mutating func executeCallOpcode<S: PickleByteSource>(_ code: UInt8, _ at: Int, _ source: inout S) throws(PickleHalt) -> Bool {
        switch code {
        // Imports and calls.
        case 0x63:  // GLOBAL
            let op = PickleOpcode.global
            let (module, name) = try readModuleAndName(&source, op, at)
            let index = try intern(module, name, at)
            record(.importGlobal, index, at, op, nil)
            try push(.global(index), at)
        case 0x93:  // STACK_GLOBAL
            let op = PickleOpcode.stackGlobal
            try require(2, op, at)
            let nameValue = stack.removeLast()
            let moduleValue = stack.removeLast()
            if let index = resolved[PickleStackGlobalKey(module: moduleValue, name: nameValue)] {
                // The same two strings again (from the memo): no need to read and hash them again.
                record(.importGlobal, index, at, op, nil)
                stack.append(.global(index))
            } else if let (module, moduleComplete) = strings.text(moduleValue),
                let (name, nameComplete) = strings.text(nameValue),
                moduleComplete, nameComplete, module.utf8.count <= Self.maxNameBytes,
                name.utf8.count <= Self.maxNameBytes
            {
                let index = try intern(module, name, at)
                if resolved.count >= Self.maxResolved { resolved.removeAll(keepingCapacity: true) }
                resolved[PickleStackGlobalKey(module: moduleValue, name: nameValue)] = index
                record(.importGlobal, index, at, op, nil)
                stack.append(.global(index))
            } else {
                let text = eventRoom ? detail([("module", moduleValue), ("name", nameValue)]) : nil
                record(.unresolvedGlobal, -1, at, op, text)
                stack.append(.unresolvedGlobal)
            }
        case 0x69:  // INST
            let op = PickleOpcode.inst
            let mark = try popMark(op, at)
            let (module, name) = try readModuleAndName(&source, op, at)
            let index = try intern(module, name, at)
            record(.importGlobal, index, at, op, nil)
            record(.call, index, at, op, eventRoom ? detail(callable: nil, args: stack.suffix(from: mark)) : nil)
            stack.truncate(to: mark)
            stack.append(.result(index, isNew: false))
        case 0x6F:  // OBJ
            let op = PickleOpcode.obj
            let mark = try popMark(op, at)
            guard stack.count > mark else { throw underflow(op, at, needs: 1) }
            let callable = stack[mark]
            let index = callableOf(callable)
            record(
                .call, index, at, op, eventRoom ? detail(callable: callable, args: stack.suffix(from: mark + 1)) : nil)
            stack.truncate(to: mark)
            stack.append(.result(index, isNew: false))
        case 0x52:  // REDUCE
            let op = PickleOpcode.reduce
            try require(2, op, at)
            let args = stack.removeLast()
            let callable = stack.removeLast()
            recordCall(.call, callable: callable, args: args, at, op)
            let index = callableOf(callable)
            if let size = numpyDTypeSize(callable: index, args: args) {
                stack.append(.numpyDType(size))
            } else {
                stack.append(.result(index, isNew: false))
            }
        case 0x81:  // NEWOBJ
            let op = PickleOpcode.newObj
            try require(2, op, at)
            let args = stack.removeLast()
            let cls = stack.removeLast()
            recordCall(.newObject, callable: cls, args: args, at, op)
            stack.append(.result(callableOf(cls), isNew: true))
        case 0x92:  // NEWOBJ_EX
            let op = PickleOpcode.newObjEx
            try require(3, op, at)
            let kwargs = stack.removeLast()
            let args = stack.removeLast()
            let cls = stack.removeLast()
            recordCall(.newObject, callable: cls, args: args, extra: [("kwargs", kwargs)], at, op)
            stack.append(.result(callableOf(cls), isNew: true))
        case 0x62:  // BUILD
            let op = PickleOpcode.build
            try require(2, op, at)
            let state = stack.removeLast()
            let target = stack[stack.count - 1]
            let origin = originOf(target)
            var text: String?
            if eventRoom {
                text = origin < 0 ? detail([("on", target), ("state", state)]) : detail([("state", state)])
            }
            record(.build, origin, at, op, text)
            if readsJoblibArrays, origin >= 0, Int(origin) < callableTable.count, Self.joblibWrappers.contains(callableTable[Int(origin)].qualifiedName) {
                try skipJoblibArray(state: state, &source, op, at)
            }
        case 0x82, 0x83, 0x84:  // EXT1, EXT2, EXT4
            let op = PickleOpcode(rawValue: code) ?? .ext1
            let raw = try littleEndian(op == .ext1 ? 1 : op == .ext2 ? 2 : 4, &source, op, at)
            let code = op == .ext4 ? Int(Int32(truncatingIfNeeded: raw)) : Int(raw)
            guard code > 0 else {
                throw .malformed("\(op.name) at \(at) has extension code \(code) (must be > 0)", offset: at)
            }
            let index = try intern("ext", String(code), at)
            record(.extensionCode, index, at, op, "ext code \(code)")
            try push(.global(index), at)
        case 0x50:  // PERSID
            let op = PickleOpcode.persID
            let length = try readLine(&source, op, at)
            let text = PickleText.latin1(line)
            let pid = makeString(text, cutFrom: length == line.count ? nil : length)
            recordPersistentID(pid, at, op)
            try push(.persistent(analysis.persistentIDCount), at)
        case 0x51:  // BINPERSID
            let op = PickleOpcode.binPersID
            let pid = try pop(op, at)
            recordPersistentID(pid, at, op)
            stack.append(.persistent(analysis.persistentIDCount))

        // Protocol and framing.
        case 0x80:  // PROTO
            let op = PickleOpcode.proto
            let version = try byte(&source, op, at)
            guard version <= PickleOpcode.highestProtocol else {
                throw .malformed("unsupported pickle protocol \(version) at \(at)", offset: at)
            }
            if !sawProto, let last = analysis.protocols.indices.last {
                analysis.protocols[last] = version
                sawProto = true
            }
        case 0x95:  // FRAME
            let op = PickleOpcode.frame
            let length = try payloadLength(try littleEndian(8, &source, op, at), source, op, at)
            if frameEnd >= 0, at < frameEnd {
                note(.malformed, "FRAME at \(at) starts before the current frame ends (\(frameEnd))", at)
            }
            let start = source.position
            let end = start.addingReportingOverflow(length)
            frameEnd = end.overflow ? Int.max : end.partialValue
            frameOpcode = at
        default:
            return false
        }
        return true
    }

    mutating func readModuleAndName<S: PickleByteSource>(_ source: inout S, _ op: PickleOpcode, _ at: Int)
        throws(PickleHalt) -> (String, String)
    {
        let moduleLength = try readLine(&source, op, at)
        var module = String(decoding: line, as: UTF8.self)
        if moduleLength > line.count { module += "..." }
        let nameLength = try readLine(&source, op, at)
        var name = String(decoding: line, as: UTF8.self)
        if nameLength > line.count { name += "..." }
        return (module, name)
    }

    /// A `LONG1`/`LONG4` value: two's complement little-endian; longer than 8 bytes is kept as a size only.
    mutating func readLong<S: PickleByteSource>(_ length: Int, _ source: inout S, _ op: PickleOpcode, _ at: Int)
        throws(PickleHalt) -> PickleValue
    {
        guard length <= 8 else {
            try skip(length, &source, op, at)
            return .bigInt(length)
        }
        guard length > 0 else { return .int(0) }
        let raw = try littleEndian(length, &source, op, at)
        let shift = UInt64(64 - 8 * length)
        return .int(Int(truncatingIfNeeded: raw << shift) >> Int(shift))
    }

    mutating func recordPersistentID(_ pid: PickleValue, _ at: Int, _ op: PickleOpcode) {
        if layout == .legacyTorchFile { noteLegacyStorage(pid) }
        analysis.persistentIDCount += 1
        guard analysis.persistentIDCount <= limits.maxPersistentIDEvents else { return }
        var text: String?
        if eventRoom {
            var describe = describer()
            describe.describe(pid)
            text = describe.finished()
        }
        record(.persistentID, -1, at, op, text)
    }
}
