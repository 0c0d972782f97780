// PickleMachine+Events: the callables a pickle imports and the calls it makes, recorded as events.

import MLSecCore

extension PickleMachine {
    // MARK: - Callables and events

    mutating func intern(_ module: String, _ name: String, _ at: Int) throws(PickleHalt) -> Int32 {
        let callable = PickleCallable(module: module, name: name)
        if let index = callableIndex[callable] { return index }
        guard callableTable.count < limits.maxCallables else {
            throw .limit("more than \(limits.maxCallables) distinct imports", offset: at)
        }
        let index = Int32(callableTable.count)
        callableTable.append(callable)
        callableIndex[callable] = index
        return index
    }

    var eventRoom: Bool { analysis.events.count < limits.maxEvents }

    mutating func record(
        _ kind: PickleEvent.Kind, _ callable: Int32, _ at: Int, _ op: PickleOpcode, _ detail: String?
    ) {
        guard eventRoom else {
            analysis.droppedEvents += 1
            return
        }
        let named: PickleCallable? =
            callable >= 0 && Int(callable) < callableTable.count
            ? callableTable[Int(callable)] : nil
        analysis.events.append(PickleEvent(kind: kind, callable: named, offset: at, opcode: op.name, detail: detail))
    }

    /// The callable a value stands for when it is called, or -1.
    mutating func callableOf(_ value: PickleValue) -> Int32 {
        switch value {
        case .global(let index): index
        default: -1
        }
    }

    /// The callable that made an object, for `BUILD` and method calls, or -1.
    mutating func originOf(_ value: PickleValue) -> Int32 {
        switch value {
        case .global(let index): index
        case .result(let index, _): index
        default: -1
        }
    }

    mutating func describer() -> PickleValueDescriber {
        PickleValueDescriber(
            limit: Self.maxDetail, callables: callableTable, strings: strings.entries, containers: containers.view)
    }

    /// `name=value` pairs, bounded to ``maxDetail`` characters.
    mutating func detail(_ parts: [(String, PickleValue)]) -> String {
        var text = describer()
        for (i, part) in parts.enumerated() {
            if i > 0 { text.emit(" ") }
            text.emit(part.0 + "=")
            text.describe(part.1)
        }
        return text.finished()
    }

    /// `args=(…)` for arguments taken from the stack after a mark, with the callable when it is not an import.
    mutating func detail(callable: PickleValue?, args: UnsafeBufferPointer<PickleValue>) -> String {
        var text = describer()
        if let callable, callableOf(callable) < 0 {
            text.emit("callable=")
            text.describe(callable)
            text.emit(" ")
        }
        text.emit("args=(")
        for (i, item) in args.prefix(PickleContainers.tupleSample).enumerated() {
            if i > 0 { text.emit(", ") }
            text.describe(item, depth: 1)
        }
        if args.count > PickleContainers.tupleSample {
            text.emit(", ...\(args.count) items")
        } else if args.count == 1 {
            text.emit(",")
        }
        text.emit(")")
        return text.finished()
    }

    /// Records a call of `callable` with `args`.
    mutating func recordCall(
        _ kind: PickleEvent.Kind, callable: PickleValue, args: PickleValue, extra: [(String, PickleValue)] = [],
        _ at: Int, _ op: PickleOpcode
    ) {
        let index = callableOf(callable)
        var text: String?
        if eventRoom {
            var parts: [(String, PickleValue)] = index < 0 ? [("callable", callable)] : []
            parts.append(("args", args))
            parts += extra
            text = detail(parts)
        }
        record(kind, index, at, op, text)
    }

    /// An `APPEND`-like opcode on something that is not a plain container calls one of its methods.
    mutating func recordMethodCall(
        on target: PickleValue, method: String, items: Int, _ at: Int, _ op: PickleOpcode
    ) {
        switch target {
        case .global, .unresolvedGlobal, .result, .persistent:
            let origin = originOf(target)
            var text: String?
            if eventRoom {
                var describe = describer()
                if origin < 0 {
                    describe.emit("on=")
                    describe.describe(target)
                    describe.emit(" ")
                }
                describe.emit("method=\(method) items=\(items)")
                text = describe.finished()
            }
            record(.call, origin, at, op, text)
        default:
            break
        }
    }

}
