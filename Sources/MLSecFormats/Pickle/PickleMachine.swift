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
    private var lastResult = PickleValue.none
    /// How many records a layout's leading count announced.
    private var layoutRecords = 0

    private var stack = PickleBuffer<PickleValue>()
    /// Stack heights at each open `MARK`.
    private var marks = PickleBuffer<Int>()
    /// Height of the topmost mark: opcodes may not take values below it.
    private var fence = 0
    private var memo = PickleMemo()
    private var containers = PickleContainers()
    private var strings = PickleStrings()
    /// Imported callables, each once; values refer to them by index.
    private var callableTable: [PickleCallable] = []
    private var callableIndex: [PickleCallable: Int32] = [:]
    /// Executions per opcode byte: 256 counters.
    private let histogram: UnsafeMutablePointer<Int>
    /// Scratch buffers for text lines and string payloads.
    private let lineStorage: UnsafeMutableRawBufferPointer
    private var lineCount = 0
    private let scratch: UnsafeMutableRawBufferPointer
    /// Stream offset where the current frame ends, or -1 outside frames.
    private var frameEnd = -1
    /// Offset of the current frame's `FRAME` opcode.
    private var frameOpcode = 0
    /// Whether the current pickle has had its `PROTO`.
    private var sawProto = false
    /// Bytes of a string kept.
    private var keepLimit: Int { min(max(0, limits.maxStringBytes), scratch.count) }
    /// The most bytes of one string or line kept, whatever the limits say.
    private static let maxKept = 1 << 20
    /// Longest module or name `STACK_GLOBAL` resolves: longer names are not real imports, and the cap keeps
    /// STACK_GLOBALs on memoized long strings from hashing kilobytes per opcode.
    private static let maxNameBytes = 1024
    /// The imports `STACK_GLOBAL` resolved, by the two string values it took (cleared when the string table is
    /// compacted, since that renumbers the values).
    private var resolved: [PickleStackGlobalKey: Int32] = [:]
    private static let maxResolved = 4096
    /// Most non-fatal issues kept.
    private static let maxIssues = 100
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
    private var line: UnsafeRawBufferPointer {
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
    private static func cannotRun(_ event: PickleEvent) -> Bool {
        guard let callable = event.callable, callable.module != "ext" else { return false }
        return !PickleText.isDottedName(callable.module) || !PickleText.isDottedName(callable.name)
    }

    /// Length of the whole stream, reading an unknown-length source to its end.
    private mutating func streamLength<S: PickleByteSource>(_ source: inout S) -> Int {
        if let remaining = source.remainingCount { return source.position + max(0, remaining) }
        while source.readByte() != nil {}
        return source.position
    }

    private mutating func finish() -> PickleAnalysis {
        analysis.callables = Set(callableTable)
        var histogramByName: [String: Int] = [:]
        for op in PickleOpcode.allCases where histogram[Int(op.rawValue)] > 0 {
            histogramByName[op.name] = histogram[Int(op.rawValue)]
        }
        analysis.opcodeHistogram = histogramByName
        return analysis
    }

    private mutating func fail(_ halt: PickleHalt) {
        switch halt {
        case .malformed(let message, let offset): note(.malformed, message, offset)
        case .limit(let message, let offset): note(.limit, message, offset)
        }
    }

    private mutating func note(_ kind: PickleAnalysis.Issue.Kind, _ message: String, _ offset: Int) {
        guard analysis.issues.count < Self.maxIssues else { return }
        analysis.issues.append(.init(kind: kind, message: message, offset: offset))
    }

    /// A new pickle starts with an empty stack and no marks or frame; the memo is kept (as one `Unpickler`
    /// reading several pickles keeps it).
    private mutating func resetPickle() {
        stack.truncate(to: 0)
        marks.truncate(to: 0)
        fence = 0
        frameEnd = -1
        sawProto = false
    }

    // MARK: - Helpers

    private mutating func truncated<S: PickleByteSource>(_ op: PickleOpcode, _ at: Int, _ source: S) -> PickleHalt {
        if let error = source.readError {
            return .malformed("read error in \(op.name) at \(at): \(error.message)", offset: at)
        }
        return .malformed(
            "truncated: \(op.name) at \(at) runs past the end of the stream (\(source.position))", offset: at)
    }

    private mutating func underflow(_ op: PickleOpcode, _ at: Int, needs: Int) -> PickleHalt {
        let available = max(0, stack.count - fence)
        let scope = marks.count == 0 ? "on the stack" : "above the topmost MARK"
        let values = needs == 1 ? "1 value" : "\(needs) values"
        let verb = available == 1 ? "is" : "are"
        return .malformed("stack underflow: \(op.name) needs \(values) but \(available) \(verb) \(scope)", offset: at)
    }

    @inline(__always)
    private mutating func push(_ value: PickleValue, _ at: Int) throws(PickleHalt) {
        guard stack.count < limits.maxStackDepth else {
            throw .limit("stack deeper than \(limits.maxStackDepth) values", offset: at)
        }
        stack.append(value)
    }

    @inline(__always)
    private mutating func pop(_ op: PickleOpcode, _ at: Int, needs: Int = 1) throws(PickleHalt) -> PickleValue {
        guard stack.count > fence else { throw underflow(op, at, needs: needs) }
        return stack.removeLast()
    }

    /// Requires `n` values above the fence.
    @inline(__always)
    private mutating func require(_ n: Int, _ op: PickleOpcode, _ at: Int) throws(PickleHalt) {
        guard stack.count - fence >= n else { throw underflow(op, at, needs: n) }
    }

    /// Pops the topmost mark and returns the stack height it recorded.
    @inline(__always)
    private mutating func popMark(_ op: PickleOpcode, _ at: Int) throws(PickleHalt) -> Int {
        guard marks.count > 0 else {
            throw .malformed("\(op.name) at \(at) without a MARK", offset: at)
        }
        let mark = marks.removeLast()
        fence = marks.count > 0 ? marks[marks.count - 1] : 0
        return mark
    }

    @inline(__always)
    private mutating func byte<S: PickleByteSource>(_ source: inout S, _ op: PickleOpcode, _ at: Int) throws(PickleHalt)
        -> Int
    {
        guard let value = source.readByte() else { throw truncated(op, at, source) }
        return Int(value)
    }

    @inline(__always)
    private mutating func littleEndian<S: PickleByteSource>(_ n: Int, _ source: inout S, _ op: PickleOpcode, _ at: Int)
        throws(PickleHalt) -> UInt64
    {
        guard let value = source.readLittleEndian(byteCount: n) else { throw truncated(op, at, source) }
        return value
    }

    /// A payload length, refused when it is larger than any stream or than what is left of this one.
    private mutating func payloadLength<S: PickleByteSource>(_ n: UInt64, _ source: S, _ op: PickleOpcode, _ at: Int)
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
    private mutating func signedLength32(_ raw: UInt64, _ op: PickleOpcode, _ at: Int) throws(PickleHalt) -> UInt64 {
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
    private mutating func numpyDTypeSize(callable: Int32, args: PickleValue) -> Int32? {
        guard callable >= 0, Int(callable) < callableTable.count else { return nil }
        let name = callableTable[Int(callable)].qualifiedName
        guard name == "numpy.dtype" else { return nil }
        let view = containers.view
        guard let id = view.id(of: args), let first = view.sample(id).first, let (text, complete) = strings.text(first),
            complete
        else { return -1 }
        var chars = Substring(text)
        if let c = chars.first, "<>|=".contains(c) { chars = chars.dropFirst() }
        guard let kind = chars.first else { return -1 }
        if kind == "O" { return Self.objectDType }
        let digits = chars.dropFirst()
        guard let n = Int32(digits), n > 0, n <= 1 << 16 else { return kind == "?" ? 1 : -1 }
        switch kind {
        case "f", "i", "u", "c", "b", "S", "V", "m", "M", "a": return n
        case "U": return n * 4
        default: return -1
        }
    }

    /// joblib writes an array's bytes right after its wrapper's BUILD: an alignment pad (one length byte, then
    /// that many bytes) when `numpy_array_alignment_bytes` is in the state, then count x itemsize bytes.
    private mutating func skipJoblibArray<S: PickleByteSource>(
        state: PickleValue, _ source: inout S, _ op: PickleOpcode, _ at: Int
    ) throws(PickleHalt) {
        let view = containers.view
        guard let id = view.id(of: state), view.kind(id) == .dict else {
            throw .malformed("joblib array wrapper at \(at) has no state dictionary", offset: at)
        }
        let items = view.sample(id)
        guard items.count == 2 * view.count(id) else {
            throw .malformed("joblib array wrapper at \(at) has too large a state to check", offset: at)
        }
        var shape: [Int]?
        var itemSize: Int32?
        var aligned = false
        var index = 0
        while index + 1 < items.count {
            let key = strings.text(items[index])?.0
            let value = items[index + 1]
            switch key {
            case "shape":
                if case .emptyTuple = value {
                    shape = []
                } else if let tid = view.id(of: value), view.kind(tid) == .tuple {
                    let dims = view.sample(tid)
                    if dims.count == view.count(tid) {
                        shape = dims.compactMap { if case .int(let d) = $0, d >= 0 { d } else { nil } }
                        if shape?.count != dims.count { shape = nil }
                    }
                }
            case "dtype":
                if case .numpyDType(let n) = value { itemSize = n }
            case "numpy_array_alignment_bytes":
                aligned = true
            default:
                break
            }
            index += 2
        }
        guard let shape, let itemSize else {
            throw .malformed("joblib array wrapper at \(at): shape or dtype cannot be read", offset: at)
        }
        if itemSize == Self.objectDType {
            // joblib pickles an object array with a plain pickler right here (no alignment pad).
            if frameEnd >= 0, source.position >= frameEnd { frameEnd = -1 }
            try runNestedPickle(&source, at)
            return
        }
        guard itemSize > 0 else {
            throw .malformed("joblib array wrapper at \(at) has a dtype whose size cannot be known", offset: at)
        }
        var bytes = Int(itemSize)
        for d in shape {
            let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow else { throw .malformed("joblib array at \(at): its size overflows", offset: at) }
            bytes = p
        }
        // joblib commits the current frame before writing array bytes, so they lie outside any frame.
        if frameEnd >= 0, source.position >= frameEnd { frameEnd = -1 }
        if aligned {
            let pad = try byte(&source, op, at)
            try skip(pad, &source, op, at)
        }
        try skip(bytes, &source, op, at)
    }

    /// Emulates the pickle that starts at the current position with a fresh plain unpickler (as joblib reads
    /// an object array) and merges what it finds into this analysis.
    private mutating func runNestedPickle<S: PickleByteSource>(_ source: inout S, _ at: Int) throws(PickleHalt) {
        var nested = PickleMachine(limits: limits, layout: .plain, readsJoblibArrays: false)
        nested.analysis.opcodeCount = analysis.opcodeCount
        guard let first = source.readByte() else { throw truncated(.build, at, source) }
        var halt: PickleHalt?
        do {
            try nested.runPickle(&source, first: first)
        } catch {
            halt = error
        }
        for event in nested.analysis.events {
            if let callable = event.callable { _ = try intern(callable.module, callable.name, at) }
            if eventRoom { analysis.events.append(event) } else { analysis.droppedEvents += 1 }
        }
        analysis.droppedEvents += nested.analysis.droppedEvents
        for callable in nested.callableTable { _ = try intern(callable.module, callable.name, at) }
        analysis.persistentIDCount += nested.analysis.persistentIDCount
        analysis.opcodeCount = nested.analysis.opcodeCount
        for code in 0..<256 { histogram[code] &+= nested.histogram[code] }
        for issue in nested.analysis.issues { note(issue.kind, "in the object array at \(at): \(issue.message)", issue.offset) }
        if let halt {
            switch halt {
            case .malformed(let message, let offset):
                throw .malformed("in the object array at \(at): \(message)", offset: offset)
            case .limit(let message, let offset):
                throw .limit("in the object array at \(at): \(message)", offset: offset)
            }
        }
    }

    /// How many pickles the stream's layout holds (known once its count is read).
    private var expectedPickles: Int {
        switch layout {
        case .plain: 1
        case .legacyTorchStorages: 2 + layoutRecords
        case .legacyTorchTensors: 1 + layoutRecords
        }
    }

    /// Steps over the raw data the stream's layout puts after the pickle that just ended.
    private mutating func skipLayoutData<S: PickleByteSource>(_ source: inout S) throws(PickleHalt) {
        guard layout != .plain else { return }
        let at = source.position
        let record = analysis.pickleCount - 1
        if record == 0 {
            guard case .int(let count) = lastResult, count >= 0, count <= 1 << 24 else {
                throw .malformed("legacy PyTorch stream at 0 does not start with a record count", offset: 0)
            }
            layoutRecords = count
            return
        }
        guard record <= layoutRecords else { return }
        let view = containers.view
        guard let id = view.id(of: lastResult), view.kind(id) == .tuple, view.count(id) == 3,
            view.sample(id).count == 3
        else {
            throw .malformed("legacy PyTorch record \(record) ending at \(at) is not a 3-tuple", offset: at)
        }
        switch layout {
        case .plain:
            return
        case .legacyTorchStorages:
            guard case .global(let index) = view.sample(id)[2], Int(index) < callableTable.count,
                let elementSize = PickleStreamLayout.storageElementSizes[callableTable[Int(index)].qualifiedName]
            else {
                throw .malformed("legacy PyTorch storage \(record) ending at \(at) has no known storage type", offset: at)
            }
            let count = try littleEndian(8, &source, .stop, at)
            let (bytes, overflow) = Int(truncatingIfNeeded: count).multipliedReportingOverflow(by: elementSize)
            guard count <= UInt64(Int.max), !overflow else {
                throw .malformed("legacy PyTorch storage at \(at) declares \(count) elements", offset: at)
            }
            try skip(try payloadLength(UInt64(bytes), source, .stop, at), &source, .stop, at)
        case .legacyTorchTensors:
            let dimensions = Int32(truncatingIfNeeded: try littleEndian(4, &source, .stop, at))
            guard dimensions >= 0, dimensions <= 64 else {
                throw .malformed("legacy PyTorch tensor at \(at) declares \(dimensions) dimensions", offset: at)
            }
            // 4 bytes of padding, sizes and strides (8 bytes per dimension each), then the storage offset.
            try skip(4 + 16 * Int(dimensions) + 8, &source, .stop, at)
        }
    }

    /// Moves past `length` bytes of payload.
    private mutating func skip<S: PickleByteSource>(_ length: Int, _ source: inout S, _ op: PickleOpcode, _ at: Int)
        throws(PickleHalt)
    {
        guard source.skip(length) else { throw truncated(op, at, source) }
    }

    /// Reads a text line (without its newline); the kept part is in `line`. Returns the full length.
    @discardableResult
    private mutating func readLine<S: PickleByteSource>(_ source: inout S, _ op: PickleOpcode, _ at: Int)
        throws(PickleHalt) -> Int
    {
        guard let read = source.readLine(into: lineStorage) else {
            throw truncated(op, at, source)
        }
        lineCount = read.kept
        return read.length
    }

    /// Reads a string payload of `length` bytes, keeping at most the string cap and skipping the rest.
    private mutating func readString<S: PickleByteSource>(
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
    private mutating func makeString(_ text: String, cutFrom: Int? = nil) -> PickleValue {
        if strings.isDue { collectStrings() }
        return strings.value(text, cutFrom: cutFrom)
    }

    /// Drops the strings no value refers to any more.
    private mutating func collectStrings() {
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
    private mutating func textKey(_ op: PickleOpcode, _ at: Int, fullLength: Int) throws(PickleHalt) -> Int {
        guard fullLength == line.count, let parsed = PickleText.decimal(line), !parsed.overflow else {
            throw .malformed("\(op.name) at \(at) has an invalid memo key", offset: at)
        }
        return parsed.value
    }

    private mutating func memoValue(_ key: Int, _ op: PickleOpcode, _ at: Int) throws(PickleHalt) -> PickleValue {
        guard let value = memo.value(at: key) else {
            throw .malformed("\(op.name) at \(at): memo has no entry \(key)", offset: at)
        }
        return value
    }

    private mutating func memoize(_ key: Int, _ op: PickleOpcode, _ at: Int) throws(PickleHalt) {
        guard key >= 0 else { throw .malformed("\(op.name) at \(at) has a negative memo key", offset: at) }
        guard stack.count > fence else { throw underflow(op, at, needs: 1) }
        if memo.count >= limits.maxMemoEntries, memo.value(at: key) == nil {
            throw .limit("more than \(limits.maxMemoEntries) memo entries", offset: at)
        }
        memo.store(stack[stack.count - 1], at: key)
    }

    // MARK: - Callables and events

    private mutating func intern(_ module: String, _ name: String, _ at: Int) throws(PickleHalt) -> Int32 {
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

    private var eventRoom: Bool { analysis.events.count < limits.maxEvents }

    private mutating func record(
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
    private mutating func callableOf(_ value: PickleValue) -> Int32 {
        switch value {
        case .global(let index): index
        default: -1
        }
    }

    /// The callable that made an object, for `BUILD` and method calls, or -1.
    private mutating func originOf(_ value: PickleValue) -> Int32 {
        switch value {
        case .global(let index): index
        case .result(let index, _): index
        default: -1
        }
    }

    private mutating func describer() -> PickleValueDescriber {
        PickleValueDescriber(
            limit: Self.maxDetail, callables: callableTable, strings: strings.entries, containers: containers.view)
    }

    /// `name=value` pairs, bounded to ``maxDetail`` characters.
    private mutating func detail(_ parts: [(String, PickleValue)]) -> String {
        var text = describer()
        for (i, part) in parts.enumerated() {
            if i > 0 { text.emit(" ") }
            text.emit(part.0 + "=")
            text.describe(part.1)
        }
        return text.finished()
    }

    /// `args=(…)` for arguments taken from the stack after a mark, with the callable when it is not an import.
    private mutating func detail(callable: PickleValue?, args: UnsafeBufferPointer<PickleValue>) -> String {
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
    private mutating func recordCall(
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
    private mutating func recordMethodCall(
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

    // MARK: - The opcode loop

    /// Runs one pickle whose first opcode byte, `first`, was already read; returns after its `STOP`.
    private mutating func runPickle<S: PickleByteSource>(_ source: inout S, first: UInt8) throws(PickleHalt) {
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
    private mutating func checkFrame(_ end: Int, _ at: Int) {
        guard frameEnd >= 0, end >= frameEnd else { return }
        if end > frameEnd, at < frameEnd {
            note(.malformed, "opcode at \(at) runs past the end of its frame (\(frameEnd))", at)
        }
        frameEnd = -1
    }

    @inline(__always)
    private mutating func execute<S: PickleByteSource>(_ code: UInt8, _ at: Int, _ source: inout S)
        throws(PickleHalt)
    {
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
            let hex = String(code, radix: 16, uppercase: true)
            throw .malformed("unknown opcode 0x\(code < 0x10 ? "0" : "")\(hex) at \(at)", offset: at)
        }
    }

    /// `GLOBAL` and `INST` arguments: two text lines, UTF-8, kept as written.
    private mutating func readModuleAndName<S: PickleByteSource>(_ source: inout S, _ op: PickleOpcode, _ at: Int)
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
    private mutating func readLong<S: PickleByteSource>(_ length: Int, _ source: inout S, _ op: PickleOpcode, _ at: Int)
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

    private mutating func recordPersistentID(_ pid: PickleValue, _ at: Int, _ op: PickleOpcode) {
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
