// ModelHasher: hashes a model's files into a manifest on every core, with bounded memory.

import Foundation
import MLSecCore
import Synchronization

/// Counts hashed bytes so that a caller can draw progress while hashing runs.
public final class HashingProgress: Sendable {
    private let done = Atomic<Int64>(0)
    private let total = Atomic<Int64>(0)
    public init() {}
    public var bytesDone: Int64 { done.load(ordering: .relaxed) }
    public var bytesTotal: Int64 { total.load(ordering: .relaxed) }
    func add(_ n: Int) { done.add(Int64(n), ordering: .relaxed) }
    func setTotal(_ n: Int64) { total.store(n, ordering: .relaxed) }
}

/// Hashes the files of a ``ModelTree`` into a ``Manifest``.
///
/// Work is cut into units (whole files for `files` with SHA-256 or BLAKE2b, shards for `shards`, 1 MiB
/// subtrees for BLAKE3) and spread over one thread per core, largest first. Each thread reads with `pread`
/// into its own buffer, so memory stays bounded whatever the model size. A file whose size or
/// modification time changes between the walk and the end of its hashing is an error.
public struct ModelHasher: Sendable {
    /// Threads to use; defaults to the number of active cores.
    public var workerCount: Int
    /// Read size for SHA-256 and BLAKE2b (kept small enough to stay in the core's cache).
    public var readSize: Int

    public init(workerCount: Int? = nil, readSize: Int = 256 << 10) {
        self.workerCount = max(1, workerCount ?? ProcessInfo.processInfo.activeProcessorCount)
        self.readSize = readSize
    }

    /// Items reused from a previous signature for files whose size and modification time did not change.
    public struct Reuse: Sendable {
        public var manifest: Manifest
        public init(manifest: Manifest) { self.manifest = manifest }
    }

    /// The outcome of hashing.
    public struct Result: Sendable {
        public var manifest: Manifest
        /// Files whose digests came from the previous signature.
        public var reusedFiles: [String]
        /// Bytes actually read and hashed.
        public var bytesHashed: Int64
    }

    /// Hashes `files` (already in format order) with `serialization`.
    public func hash(
        files: [ModelFile], serialization: Serialization, modelName: String, reuse: Reuse? = nil,
        progress: HashingProgress? = nil
    ) throws -> Result {
        if case .shards = serialization.method, serialization.hash == .blake3 {
            throw MLSecError.unsupported(
                "the shards method does not support BLAKE3 (the reference silently falls back to files); "
                    + "use --method files with --hash blake3, which is already parallel inside each file")
        }
        var plan = Plan(serialization: serialization)
        var reusedFiles: [String] = []
        var reusedItems: [String: [ManifestItem]] = [:]
        var stamps: [String: FileStamp] = [:]
        var emptyFiles: [String] = []
        for (index, file) in files.enumerated() {
            let stamp = FileStamp(size: file.status.size, modificationTimeNanoseconds: file.status.modificationTimeNanoseconds)
            stamps[file.name] = stamp
            if case .shards = serialization.method, file.name.contains(":") {
                throw MLSecError.unsupported(
                    "\(file.name): file names containing ':' cannot be signed with the shards method "
                        + "(the format separates path and range with ':'); use --method files")
            }
            if case .shards = serialization.method, file.status.size == 0 {
                emptyFiles.append(file.name)
                continue
            }
            if let previous = reuse?.manifest, previous.serialization.method == serialization.method,
                previous.serialization.hash == serialization.hash, previous.fileStamps[file.name] == stamp
            {
                let items = previous.items.filter { $0.path == file.name }
                if !items.isEmpty || file.status.size == 0 {
                    reusedItems[file.name] = items
                    reusedFiles.append(file.name)
                    continue
                }
            }
            plan.add(fileIndex: index, size: Int(file.status.size))
        }
        progress?.setTotal(plan.totalBytes)
        let outputs = try run(plan: plan, files: files, progress: progress)

        var items: [ManifestItem] = []
        for (index, file) in files.enumerated() {
            if let reused = reusedItems[file.name] {
                items.append(contentsOf: reused)
                continue
            }
            for (range, digest) in outputs[index] {
                items.append(ManifestItem(path: file.name, range: range, algorithm: serialization.itemAlgorithmName,
                                          digest: digest))
            }
        }
        items.sort(by: ManifestItem.precedes)
        var emptyRecord: [String]? = nil
        if case .shards = serialization.method { emptyRecord = emptyFiles }
        let manifest = Manifest(modelName: modelName, serialization: serialization, items: items,
                                emptyFiles: emptyRecord, fileStamps: stamps)
        return Result(manifest: manifest, reusedFiles: reusedFiles, bytesHashed: plan.totalBytes)
    }

    // MARK: - Work plan

    struct Unit {
        enum Kind {
            case whole
            case shard(Range<Int>)
            case blake3Segment(Int)
            case blake3Tail(segments: Int)
        }
        var fileIndex: Int
        var kind: Kind
        var bytes: Int
    }

    struct Plan {
        let serialization: Serialization
        var first: [Unit] = []
        var second: [Unit] = []
        var totalBytes: Int64 = 0

        init(serialization: Serialization) { self.serialization = serialization }

        mutating func add(fileIndex: Int, size: Int) {
            totalBytes += Int64(size)
            switch serialization.method {
            case .files:
                if serialization.hash == .blake3, size > BLAKE3.segmentByteCount {
                    let segments = (size - 1) / BLAKE3.segmentByteCount
                    for s in 0..<segments {
                        first.append(Unit(fileIndex: fileIndex, kind: .blake3Segment(s), bytes: BLAKE3.segmentByteCount))
                    }
                    second.append(Unit(fileIndex: fileIndex, kind: .blake3Tail(segments: segments),
                                       bytes: size - segments * BLAKE3.segmentByteCount))
                } else {
                    first.append(Unit(fileIndex: fileIndex, kind: .whole, bytes: size))
                }
            case .shards(let shardSize):
                var start = 0
                while start < size {
                    let end = min(size, start + shardSize)
                    first.append(Unit(fileIndex: fileIndex, kind: .shard(start..<end), bytes: end - start))
                    start = end
                }
            }
        }
    }

    // MARK: - Execution

    /// Shared state of one hashing run.
    private final class Run: @unchecked Sendable {
        // Safety: each slot of `digests` and `chainingValues` is written by exactly one worker (the one that
        // claimed its unit through the atomic counter) and read only after `concurrentPerform` has returned,
        // which joins every worker. The buffers are never resized while workers run.
        let files: [ModelFile]
        let serialization: Serialization
        let readSize: Int
        let progress: HashingProgress?
        let next = Atomic<Int>(0)
        let failure = Mutex<MLSecError?>(nil)
        var digests: UnsafeMutableBufferPointer<[UInt8]>
        let chainingValues: UnsafeMutableBufferPointer<BLAKE3.ChainingValue>
        /// Index of each file's first segment in `chainingValues`.
        let segmentBase: [Int]
        let segmentCount: [Int]

        init(files: [ModelFile], serialization: Serialization, readSize: Int, progress: HashingProgress?,
             segmentCount: [Int]) {
            self.files = files
            self.serialization = serialization
            self.readSize = readSize
            self.progress = progress
            self.segmentCount = segmentCount
            var base: [Int] = []
            var total = 0
            for n in segmentCount {
                base.append(total)
                total += n
            }
            segmentBase = base
            chainingValues = .allocate(capacity: max(1, total))
            chainingValues.initialize(repeating: BLAKE3.ChainingValue())
            digests = .allocate(capacity: 1)
            digests.initialize(repeating: [])
        }

        func resetDigests(count: Int) {
            digests.deinitialize()
            digests.deallocate()
            digests = .allocate(capacity: max(1, count))
            digests.initialize(repeating: [])
            next.store(0, ordering: .relaxed)
        }

        deinit {
            digests.deinitialize()
            digests.deallocate()
            chainingValues.deallocate()
        }

        var failed: Bool { failure.withLock { $0 != nil } }

        func fail(_ error: any Error) {
            let e = (error as? MLSecError) ?? MLSecError.io("\(error)")
            failure.withLock { if $0 == nil { $0 = e } }
        }
    }

    private func run(plan: Plan, files: [ModelFile], progress: HashingProgress?) throws -> [[(Range<Int>?, [UInt8])]] {
        var segmentCount = Array(repeating: 0, count: files.count)
        for unit in plan.second {
            if case .blake3Tail(let n) = unit.kind { segmentCount[unit.fileIndex] = n }
        }
        let state = Run(files: files, serialization: plan.serialization, readSize: readSize, progress: progress,
                        segmentCount: segmentCount)
        var outputs: [[(Range<Int>?, [UInt8])]] = Array(repeating: [], count: files.count)

        // Phase 1: whole files, shards and BLAKE3 segments, largest first.
        let first = plan.first.sorted { $0.bytes > $1.bytes }
        state.resetDigests(count: first.count)
        try execute(units: first, state: state)
        for (slot, unit) in first.enumerated() {
            switch unit.kind {
            case .whole: outputs[unit.fileIndex].append((nil, state.digests[slot]))
            case .shard(let range): outputs[unit.fileIndex].append((range, state.digests[slot]))
            default: break
            }
        }
        // Phase 2: BLAKE3 roots (merge segment chaining values, hash the tail).
        if !plan.second.isEmpty {
            let second = plan.second
            state.resetDigests(count: second.count)
            try execute(units: second, state: state)
            for (slot, unit) in second.enumerated() {
                outputs[unit.fileIndex].append((nil, state.digests[slot]))
            }
        }
        return outputs
    }

    private func execute(units: [Unit], state: Run) throws {
        let workers = min(workerCount, max(1, units.count))
        let bufferSize = max(readSize, BLAKE3.segmentByteCount)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 4096)
            defer { buffer.deallocate() }
            while !state.failed {
                let slot = state.next.add(1, ordering: .relaxed).oldValue
                guard slot < units.count else { break }
                do {
                    try process(units[slot], slot: slot, state: state, buffer: buffer)
                } catch {
                    state.fail(error)
                }
            }
        }
        if let error = state.failure.withLock({ $0 }) { throw error }
    }

    private func process(_ unit: Unit, slot: Int, state: Run, buffer: UnsafeMutableRawBufferPointer) throws {
        let file = state.files[unit.fileIndex]
        let reader = try CheckedFileReader(file: file)
        switch unit.kind {
        case .whole:
            var hasher = state.serialization.hash.makeHasher()
            try reader.stream(range: 0..<Int(file.status.size), buffer: buffer, chunk: readSize, progress: state.progress) {
                hasher.update($0)
            }
            try reader.checkUnchanged()
            state.digests[slot] = hasher.finalize()
        case .shard(let range):
            var hasher = state.serialization.hash.makeHasher()
            try reader.stream(range: range, buffer: buffer, chunk: readSize, progress: state.progress) { hasher.update($0) }
            try reader.checkUnchanged()
            state.digests[slot] = hasher.finalize()
        case .blake3Segment(let index):
            let start = index * BLAKE3.segmentByteCount
            let segment = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<BLAKE3.segmentByteCount])
            try reader.file.readExactly(into: segment, at: Int64(start))
            state.progress?.add(segment.count)
            try reader.checkUnchanged()
            state.chainingValues[state.segmentBase[unit.fileIndex] + index] =
                BLAKE3.segmentChainingValue(UnsafeRawBufferPointer(segment), segmentIndex: UInt64(index))
        case .blake3Tail(let segments):
            var hasher = BLAKE3()
            let base = state.segmentBase[unit.fileIndex]
            for i in 0..<segments { hasher.append(segment: state.chainingValues[base + i]) }
            let start = segments * BLAKE3.segmentByteCount
            try reader.stream(range: start..<Int(file.status.size), buffer: buffer, chunk: BLAKE3.segmentByteCount,
                              progress: state.progress) { hasher.update($0) }
            try reader.checkUnchanged()
            state.digests[slot] = hasher.finalize()
        }
    }
}

/// Opens a model file safely (no symlink following unless the walk followed one, no blocking on FIFOs)
/// and checks that it is still the file the walk saw.
struct CheckedFileReader {
    let file: ReadOnlyFile
    let expected: ModelFile

    init(file model: ModelFile) throws {
        let file = try ReadOnlyFile(path: model.path, followSymlinks: model.isSymlink, nonBlocking: true)
        let now = try file.status()
        guard now.kind == .regular else {
            throw MLSecError(.unsafeTree, "\(model.path) is now a \(now.kind.description), not a regular file")
        }
        guard now.size == model.status.size, now.modificationTimeNanoseconds == model.status.modificationTimeNanoseconds
        else {
            throw MLSecError.io("\(model.path) changed while the model was being hashed; sign or verify it again once it is stable")
        }
        self.file = file
        self.expected = model
    }

    func stream(range: Range<Int>, buffer: UnsafeMutableRawBufferPointer, chunk: Int, progress: HashingProgress?,
                _ body: (UnsafeRawBufferPointer) -> Void) throws {
        file.adviseSequential()
        var offset = range.lowerBound
        let step = min(chunk, buffer.count)
        while offset < range.upperBound {
            let n = min(step, range.upperBound - offset)
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
            try file.readExactly(into: slice, at: Int64(offset))
            body(UnsafeRawBufferPointer(slice))
            progress?.add(n)
            offset += n
        }
    }

    func checkUnchanged() throws {
        let now = try file.status()
        guard now.size == expected.status.size,
            now.modificationTimeNanoseconds == expected.status.modificationTimeNanoseconds
        else {
            throw MLSecError.io("\(expected.path) changed while it was being hashed; sign or verify it again once it is stable")
        }
    }
}
