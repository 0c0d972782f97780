// PickleMachine+Layouts: what sits between pickles: NumPy and joblib arrays, nested pickles, PyTorch's legacy storages.

import MLSecCore

extension PickleMachine {
    mutating func numpyDTypeSize(callable: Int32, args: PickleValue) -> Int32? {
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
    mutating func skipJoblibArray<S: PickleByteSource>(
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
    mutating func runNestedPickle<S: PickleByteSource>(_ source: inout S, _ at: Int) throws(PickleHalt) {
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
    var expectedPickles: Int {
        switch layout {
        case .plain: 1
        case .legacyTorchStorages: 2 + layoutRecords
        case .legacyTorchTensors: 1 + layoutRecords
        case .legacyTorchFile: 5
        }
    }

    /// A legacy `torch.save` persistent id `('storage', StorageType, key, location, numel[, view])`: remembers the
    /// key's element size, to step over its raw bytes after the last pickle.
    mutating func noteLegacyStorage(_ pid: PickleValue) {
        let view = containers.view
        guard legacyStorageSizes.count < 1 << 20, let id = view.id(of: pid), view.kind(id) == .tuple else { return }
        let items = view.sample(id)
        guard items.count >= 3, strings.text(items[0])?.0 == "storage", case .global(let index) = items[1],
            Int(index) < callableTable.count, let (key, complete) = strings.text(items[2]), complete,
            let size = PickleStreamLayout.storageElementSizes[callableTable[Int(index)].qualifiedName]
        else { return }
        legacyStorageSizes[key] = size
    }

    /// After the fifth pickle of a legacy `torch.save` file (the sorted storage keys): per key an 8-byte element
    /// count and the raw elements.
    mutating func skipLegacyTorchStorages<S: PickleByteSource>(_ source: inout S) throws(PickleHalt) {
        let at = source.position
        guard analysis.pickleCount == 5 else { return }
        // torch writes the storages in the order of its sorted keys: the keys of the persistent ids (the list
        // pickle keeps only a sample, which must agree).
        let keys = legacyStorageSizes.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let view = containers.view
        guard let id = view.id(of: lastResult), view.kind(id) == .list, view.count(id) == keys.count,
            view.sample(id).enumerated().allSatisfy({ strings.text($0.element)?.0 == keys[$0.offset] })
        else {
            throw .malformed("legacy PyTorch file: the pickle ending at \(at) is not the sorted list of the storage keys the data names", offset: at)
        }
        for key in keys {
            guard let elementSize = legacyStorageSizes[key] else { continue }
            let count = try littleEndian(8, &source, .stop, at)
            let (bytes, overflow) = Int(truncatingIfNeeded: count).multipliedReportingOverflow(by: elementSize)
            guard count <= UInt64(Int.max), !overflow else {
                throw .malformed("legacy PyTorch storage \(key.prefix(40)) at \(at) declares \(count) elements", offset: at)
            }
            try skip(try payloadLength(UInt64(bytes), source, .stop, at), &source, .stop, at)
        }
    }

    /// Steps over the raw data the stream's layout puts after the pickle that just ended.
    mutating func skipLayoutData<S: PickleByteSource>(_ source: inout S) throws(PickleHalt) {
        guard layout != .plain else { return }
        if layout == .legacyTorchFile { return try skipLegacyTorchStorages(&source) }
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
        case .plain, .legacyTorchFile:
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
}
