// PickleMachine+Opcodes: the opcode loop: one pickle run to its STOP, frames, and dispatch by opcode group.

import MLSecCore

extension PickleMachine {
    // MARK: - The opcode loop

    /// Runs one pickle whose first opcode byte, `first`, was already read; returns after its `STOP`.
    mutating func runPickle<S: PickleByteSource>(_ source: inout S, first: UInt8) throws(PickleHalt) {
        var code = first
        while true {
            let at = source.position - 1
            guard analysis.opcodeCount < limits.maxOpcodes else {
                throw .limit("more than \(limits.maxOpcodes) opcodes", offset: at)
            }
            analysis.opcodeCount += 1
            histogram[Int(code)] &+= 1
            if code == PickleOpcode.stop.rawValue {
                lastResult = try pop(.stop, at)
                checkFrame(source.position, at)
                return
            }
            try execute(code, at, &source)
            if frameEnd >= 0, source.position >= frameEnd { checkFrame(source.position, at) }
            guard let next = source.readByte() else {
                let end = source.position
                if let error = source.readError {
                    throw .malformed("read error at \(end): \(error.message)", offset: end)
                }
                throw .malformed("truncated: the stream ends at \(end) before STOP", offset: end)
            }
            code = next
        }
    }

    /// After an opcode that started at `at` and ended at `end`: leaves a frame that is used up, and notes an
    /// opcode that runs past its frame's end (CPython's Python unpickler refuses that; the C one does not).
    mutating func checkFrame(_ end: Int, _ at: Int) {
        guard frameEnd >= 0, end >= frameEnd else { return }
        if end > frameEnd, at < frameEnd {
            note(.malformed, "opcode at \(at) runs past the end of its frame (\(frameEnd))", at)
        }
        frameEnd = -1
    }

    /// Executes one opcode (all but `STOP`, which the loop handles), by its group.
    @inline(__always)
    mutating func execute<S: PickleByteSource>(_ code: UInt8, _ at: Int, _ source: inout S) throws(PickleHalt) {
        if try executeValueOpcode(code, at, &source) { return }
        if try executeContainerOpcode(code, at, &source) { return }
        if try executeCallOpcode(code, at, &source) { return }
        let hex = String(code, radix: 16, uppercase: true)
        throw .malformed("unknown opcode 0x\(code < 0x10 ? "0" : "")\(hex) at \(at)", offset: at)
    }
}
