// PickleMachine: executes pickle opcodes symbolically over a byte source and records imports and calls.

import MLSecCore

/// Why the emulation of the current pickle stopped before its `STOP`.
enum PickleHalt: Error {
    case malformed(String, offset: Int)
    case limit(String, offset: Int)
}

/// The operands of a `STACK_GLOBAL`, as a cache key.
struct PickleStackGlobalKey: Hashable {
    let module: PickleValue
    let name: PickleValue
}

/// The state of the pickle virtual machine while it runs over one stream, and what it has found so far.
struct PickleMachine: ~Copyable {
    let limits: PickleLimits
    /// How raw data sits between the pickles of the stream.
    let layout: PickleStreamLayout
    /// Whether joblib array wrappers are followed by their array in the stream (joblib's own unpickler);
    /// a plain unpickler, such as the one joblib uses for object arrays, does not read them.
    let readsJoblibArrays: Bool
    var analysis = PickleAnalysis()
    /// What the last `STOP` returned.
    var lastResult = PickleValue.none
    /// How many records a layout's leading count announced.
    var layoutRecords = 0
    /// Legacy `torch.save` files: the element size of each storage key the data pickle names.
    var legacyStorageSizes: [String: Int] = [:]

    var stack = PickleBuffer<PickleValue>()
    /// Stack heights at each open `MARK`.
    var marks = PickleBuffer<Int>()
    /// Height of the topmost mark: opcodes may not take values below it.
    var fence = 0
    var memo = PickleMemo()
    var containers = PickleContainers()
    var strings = PickleStrings()
    /// Imported callables, each once; values refer to them by index.
    var callableTable: [PickleCallable] = []
    var callableIndex: [PickleCallable: Int32] = [:]
    /// Executions per opcode byte: 256 counters.
    let histogram: UnsafeMutablePointer<Int>
    /// Scratch buffers for text lines and string payloads.
    let lineStorage: UnsafeMutableRawBufferPointer
    var lineCount = 0
    let scratch: UnsafeMutableRawBufferPointer
    /// Stream offset where the current frame ends, or -1 outside frames.
    var frameEnd = -1
    /// Offset of the current frame's `FRAME` opcode.
    var frameOpcode = 0
    /// Whether the current pickle has had its `PROTO`.
    var sawProto = false
    /// Bytes of a string kept.
    var keepLimit: Int { min(max(0, limits.maxStringBytes), scratch.count) }
    /// The most bytes of one string or line kept, whatever the limits say.
    static let maxKept = 1 << 20
    /// Longest module or name `STACK_GLOBAL` resolves: longer names are not real imports, and the cap keeps
    /// STACK_GLOBALs on memoized long strings from hashing kilobytes per opcode.
    static let maxNameBytes = 1024
    /// The imports `STACK_GLOBAL` resolved, by the two string values it took (cleared when the string table is
    /// compacted, since that renumbers the values).
    var resolved: [PickleStackGlobalKey: Int32] = [:]
    static let maxResolved = 4096
    /// Most non-fatal issues kept.
    static let maxIssues = 100
    /// Longest event detail.
    static let maxDetail = 200

    init(limits: PickleLimits, layout: PickleStreamLayout = .plain, readsJoblibArrays: Bool = true) {
        self.limits = limits
        self.layout = layout
        self.readsJoblibArrays = readsJoblibArrays
        let keep = min(max(0, limits.maxStringBytes), Self.maxKept)
        // Text lines keep at least 256 bytes, so that numbers and memo keys are always read whole.
        lineStorage = .allocate(byteCount: max(256, keep), alignment: 8)
        scratch = .allocate(byteCount: max(16, keep), alignment: 8)
        histogram = .allocate(capacity: 256)
        histogram.initialize(repeating: 0, count: 256)
    }

    deinit {
        histogram.deallocate()
        lineStorage.deallocate()
        scratch.deallocate()
    }

    /// The kept part of the last text line read.
    var line: UnsafeRawBufferPointer {
        @inline(__always) get { UnsafeRawBufferPointer(start: lineStorage.baseAddress, count: lineCount) }
    }

    // MARK: - Driver

    /// Emulates every pickle in `source` and returns what was found.
    mutating func run<S: PickleByteSource>(_ source: inout S) -> PickleAnalysis {
        let streamStart = source.position
        if let remaining = source.remainingCount {
            // Reserve address space for the memo and the containers from the stream's size (pages are only
            // touched as they fill), so that growing them neither copies nor faults pages twice.
            memo.reserve(min(remaining / 2, limits.maxMemoEntries))
            containers.reserve(min(remaining / 4, PickleContainers.maxContainers))
        }
        guard let first = source.readByte() else {
            fail(
                .malformed(
                    source.readError.map { "cannot read the stream: \($0.message)" } ?? "empty stream: no pickle",
                    offset: streamStart))
            return finish()
        }
        var opcode = first
        var segmentStart = streamStart
        while true {
            guard analysis.protocols.count < limits.maxPickles else {
                fail(.limit("more than \(limits.maxPickles) pickles in one stream", offset: segmentStart))
                break
            }
            analysis.protocols.append(0)
            resetPickle()
            let eventsBefore = analysis.events.count
            let droppedBefore = analysis.droppedEvents
            let persistentBefore = analysis.persistentIDCount
            let callablesBefore = callableTable.count
            do {
                try runPickle(&source, first: opcode)
            } catch {
                if analysis.pickleCount > 0, analysis.pickleCount >= expectedPickles, case .malformed = error,
                    analysis.droppedEvents == droppedBefore, analysis.persistentIDCount == persistentBefore,
                    analysis.events[eventsBefore...].allSatisfy(Self.cannotRun)
                {
                    // Bytes after a complete pickle that do not form one, and import nothing that could exist
                    // (tensor data can hold a `c` byte and a newline): trailing data, not a pickle.
                    analysis.protocols.removeLast()
                    analysis.events.removeLast(analysis.events.count - eventsBefore)
                    for callable in callableTable[callablesBefore...] { callableIndex[callable] = nil }
                    callableTable.removeLast(callableTable.count - callablesBefore)
                    analysis.trailingBytes = streamLength(&source) - segmentStart
                } else {
                    fail(error)
                }
                break
            }
            // STOP: is there more?
            analysis.pickleCount += 1
            do {
                try skipLayoutData(&source)
            } catch {
                fail(error)
                break
            }
            let next = source.position
            if let remaining = source.remainingCount, remaining <= 0 { break }
            guard let byte = source.readByte() else {
                if let error = source.readError {
                    fail(.malformed("read error after the pickle ending at \(next): \(error.message)", offset: next))
                } else if frameEnd > next {
                    // Only a source that does not know its length gets here: the others check frames up front.
                    fail(
                        .malformed(
                            "FRAME at \(frameOpcode) runs past the end of the stream (\(next))", offset: frameOpcode))
                }
                break
            }
            if analysis.dataAfterStopOffset == nil, analysis.pickleCount >= expectedPickles {
                analysis.dataAfterStopOffset = next
            }
            opcode = byte
            segmentStart = next
        }
        return finish()
    }

    /// `true` for an event that cannot lead to running code because it names no importable object: an import
    /// (or a call of one) whose module or name is not a dotted Python identifier.
    static func cannotRun(_ event: PickleEvent) -> Bool {
        guard let callable = event.callable, callable.module != "ext" else { return false }
        return !PickleText.isDottedName(callable.module) || !PickleText.isDottedName(callable.name)
    }

    /// Length of the whole stream, reading an unknown-length source to its end.
    mutating func streamLength<S: PickleByteSource>(_ source: inout S) -> Int {
        if let remaining = source.remainingCount { return source.position + max(0, remaining) }
        while source.readByte() != nil {}
        return source.position
    }

    mutating func finish() -> PickleAnalysis {
        analysis.callables = Set(callableTable)
        var histogramByName: [String: Int] = [:]
        for op in PickleOpcode.allCases where histogram[Int(op.rawValue)] > 0 {
            histogramByName[op.name] = histogram[Int(op.rawValue)]
        }
        analysis.opcodeHistogram = histogramByName
        return analysis
    }

    mutating func fail(_ halt: PickleHalt) {
        switch halt {
        case .malformed(let message, let offset): note(.malformed, message, offset)
        case .limit(let message, let offset): note(.limit, message, offset)
        }
    }

    mutating func note(_ kind: PickleAnalysis.Issue.Kind, _ message: String, _ offset: Int) {
        guard analysis.issues.count < Self.maxIssues else { return }
        analysis.issues.append(.init(kind: kind, message: message, offset: offset))
    }

    /// A new pickle starts with an empty stack and no marks or frame; the memo is kept (as one `Unpickler`
    /// reading several pickles keeps it).
    mutating func resetPickle() {
        stack.truncate(to: 0)
        marks.truncate(to: 0)
        fence = 0
        frameEnd = -1
        sawProto = false
    }

}
