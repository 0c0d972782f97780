// PickleMachine+Reading: the stack, operand reading, strings and the memo of the pickle machine.

import MLSecCore

extension PickleMachine {
    // MARK: - Helpers

    mutating func truncated<S: PickleByteSource>(_ op: PickleOpcode, _ at: Int, _ source: S) -> PickleHalt {
        if let error = source.readError {
            return .malformed("read error in \(op.name) at \(at): \(error.message)", offset: at)
        }
        return .malformed(
            "truncated: \(op.name) at \(at) runs past the end of the stream (\(source.position))", offset: at)
    }

    mutating func underflow(_ op: PickleOpcode, _ at: Int, needs: Int) -> PickleHalt {
        let available = max(0, stack.count - fence)
        let scope = marks.count == 0 ? "on the stack" : "above the topmost MARK"
        let values = needs == 1 ? "1 value" : "\(needs) values"
        let verb = available == 1 ? "is" : "are"
        return .malformed("stack underflow: \(op.name) needs \(values) but \(available) \(verb) \(scope)", offset: at)
    }

    @inline(__always)
    mutating func push(_ value: PickleValue, _ at: Int) throws(PickleHalt) {
        guard stack.count < limits.maxStackDepth else {
            throw .limit("stack deeper than \(limits.maxStackDepth) values", offset: at)
        }
        stack.append(value)
    }

    @inline(__always)
    mutating func pop(_ op: PickleOpcode, _ at: Int, needs: Int = 1) throws(PickleHalt) -> PickleValue {
        guard stack.count > fence else { throw underflow(op, at, needs: needs) }
        return stack.removeLast()
    }

    /// Requires `n` values above the fence.
    @inline(__always)
    mutating func require(_ n: Int, _ op: PickleOpcode, _ at: Int) throws(PickleHalt) {
        guard stack.count - fence >= n else { throw underflow(op, at, needs: n) }
    }

    /// Pops the topmost mark and returns the stack height it recorded.
    @inline(__always)
    mutating func popMark(_ op: PickleOpcode, _ at: Int) throws(PickleHalt) -> Int {
        guard marks.count > 0 else {
            throw .malformed("\(op.name) at \(at) without a MARK", offset: at)
        }
        let mark = marks.removeLast()
        fence = marks.count > 0 ? marks[marks.count - 1] : 0
        return mark
    }

    @inline(__always)
    mutating func byte<S: PickleByteSource>(_ source: inout S, _ op: PickleOpcode, _ at: Int) throws(PickleHalt)
        -> Int
    {
        guard let value = source.readByte() else { throw truncated(op, at, source) }
        return Int(value)
    }

    @inline(__always)
    mutating func littleEndian<S: PickleByteSource>(_ n: Int, _ source: inout S, _ op: PickleOpcode, _ at: Int)
        throws(PickleHalt) -> UInt64
    {
        guard let value = source.readLittleEndian(byteCount: n) else { throw truncated(op, at, source) }
        return value
    }

    /// A payload length, refused when it is larger than any stream or than what is left of this one.
    mutating func payloadLength<S: PickleByteSource>(_ n: UInt64, _ source: S, _ op: PickleOpcode, _ at: Int)
        throws(PickleHalt) -> Int
    {
        guard n <= UInt64(Int.max) else {
            throw .malformed("\(op.name) at \(at) declares \(n) bytes, more than any stream holds", offset: at)
        }
        let length = Int(n)
        if let remaining = source.remainingCount, length > remaining {
            throw .malformed(
                "truncated: \(op.name) at \(at) declares \(length) bytes but only \(remaining) remain", offset: at)
        }
        return length
    }

    /// A negative 4-byte length is refused, as CPython does.
    mutating func signedLength32(_ raw: UInt64, _ op: PickleOpcode, _ at: Int) throws(PickleHalt) -> UInt64 {
        let value = Int32(truncatingIfNeeded: raw)
        guard value >= 0 else { throw .malformed("\(op.name) at \(at) has a negative length (\(value))", offset: at) }
        return UInt64(value)
    }

    /// joblib classes whose BUILD is followed by raw array bytes in the stream.
    static let joblibWrappers: Set<String> = ["joblib.numpy_pickle.NumpyArrayWrapper"]

    /// The item size ``numpyDTypeSize(callable:args:)`` gives an object dtype.
    static let objectDType: Int32 = 0

    /// The item size of a `numpy.dtype('f8', ...)` call, 0 for an object dtype, -1 for an unknown one, or nil when
    /// the call is not numpy.dtype.

    mutating func skip<S: PickleByteSource>(_ length: Int, _ source: inout S, _ op: PickleOpcode, _ at: Int)
        throws(PickleHalt)
    {
        guard source.skip(length) else { throw truncated(op, at, source) }
    }

    /// Reads a text line (without its newline); the kept part is in `line`. Returns the full length.
    @discardableResult
    mutating func readLine<S: PickleByteSource>(_ source: inout S, _ op: PickleOpcode, _ at: Int)
        throws(PickleHalt) -> Int
    {
        guard let read = source.readLine(into: lineStorage) else {
            throw truncated(op, at, source)
        }
        lineCount = read.kept
        return read.length
    }

    /// Reads a string payload of `length` bytes, keeping at most the string cap and skipping the rest.
    mutating func readString<S: PickleByteSource>(
        _ length: Int, latin1: Bool, _ source: inout S, _ op: PickleOpcode, _ at: Int
    ) throws(PickleHalt) -> PickleValue {
        if length <= 7 {
            let raw = try littleEndian(length, &source, op, at)
            if raw & 0x8080_8080_8080_8080 == 0 { return .shortString(raw | UInt64(length) << 56) }
            var bits = raw
            let text = withUnsafeBytes(of: &bits) { bytes in
                let kept = UnsafeRawBufferPointer(rebasing: bytes[0..<length])
                return latin1 ? PickleText.latin1(kept) : String(decoding: kept, as: UTF8.self)
            }
            return makeString(text)
        }
        let keep = min(length, keepLimit)
        guard source.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<keep])) else {
            throw truncated(op, at, source)
        }
        let kept = UnsafeRawBufferPointer(rebasing: scratch[0..<keep])
        let text = latin1 ? PickleText.latin1(kept) : String(decoding: kept, as: UTF8.self)
        guard keep < length else { return makeString(text) }
        try skip(length - keep, &source, op, at)
        return makeString(text, cutFrom: length)
    }

    /// The value for a str; `cutFrom` is the full length in bytes when `text` is only the kept prefix. Collects
    /// the string table first when it is due (no string value may be held outside the stack, the memo and the
    /// container samples while this runs).
    mutating func makeString(_ text: String, cutFrom: Int? = nil) -> PickleValue {
        if strings.isDue { collectStrings() }
        return strings.value(text, cutFrom: cutFrom)
    }

    /// Drops the strings no value refers to any more.
    mutating func collectStrings() {
        var marked = [Bool](repeating: false, count: strings.entries.count)
        var scanned = 0
        let mark: (inout PickleValue) -> Void = { value in
            scanned += 1
            if case .string(let index) = value, index >= 0, Int(index) < marked.count { marked[Int(index)] = true }
        }
        stack.updateEach(mark)
        memo.updateEach(mark)
        containers.updateSamples(mark)
        let remap = strings.compact(keeping: marked, scanned: scanned)
        resolved.removeAll()
        let rewrite: (inout PickleValue) -> Void = { value in
            if case .string(let index) = value, index >= 0, Int(index) < remap.count {
                value = .string(remap[Int(index)])
            }
        }
        stack.updateEach(rewrite)
        memo.updateEach(rewrite)
        containers.updateSamples(rewrite)
    }

    /// A memo key from a text line (`GET`, `PUT`).
    mutating func textKey(_ op: PickleOpcode, _ at: Int, fullLength: Int) throws(PickleHalt) -> Int {
        guard fullLength == line.count, let parsed = PickleText.decimal(line), !parsed.overflow else {
            throw .malformed("\(op.name) at \(at) has an invalid memo key", offset: at)
        }
        return parsed.value
    }

    mutating func memoValue(_ key: Int, _ op: PickleOpcode, _ at: Int) throws(PickleHalt) -> PickleValue {
        guard let value = memo.value(at: key) else {
            throw .malformed("\(op.name) at \(at): memo has no entry \(key)", offset: at)
        }
        return value
    }

    mutating func memoize(_ key: Int, _ op: PickleOpcode, _ at: Int) throws(PickleHalt) {
        guard key >= 0 else { throw .malformed("\(op.name) at \(at) has a negative memo key", offset: at) }
        guard stack.count > fence else { throw underflow(op, at, needs: 1) }
        if memo.count >= limits.maxMemoEntries, memo.value(at: key) == nil {
            throw .limit("more than \(limits.maxMemoEntries) memo entries", offset: at)
        }
        memo.store(stack[stack.count - 1], at: key)
    }

}
