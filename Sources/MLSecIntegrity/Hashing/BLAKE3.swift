// BLAKE3 hasher: public API, incremental chunk state, chaining-value stack, segment appends and root output.

/// BLAKE3 hash mode (32-byte default output; extendable output supported).
///
/// The hasher is a value type: copying it forks the running state, and `finalize` does not
/// consume it. Large inputs are hashed several chunks at a time in SIMD lanes.
///
/// Tree-parallel use: split an input of length L > 0 into n = (L - 1) / `segmentByteCount`
/// whole segments followed by a non-empty tail. Hash the segments (on any threads) with
/// `segmentChainingValue(_:segmentIndex:)`, feed the results in order to `append(segment:)`,
/// then pass the tail to `update` and call `finalize`. The digest equals `hash` of the input.
public struct BLAKE3: Sendable {
    /// A 256-bit chaining value (eight 32-bit words).
    public typealias ChainingValue = SIMD8<UInt32>

    /// Bytes per segment: 1 MiB = 1024 chunks, a complete power-of-two subtree.
    public static let segmentByteCount: Int = 1 << 20

    /// Key words: the IV in hash mode, the key in keyed-hash mode.
    private let key: ChainingValue

    /// Mode flags added to every compression (0, or `Flag.keyedHash`).
    private let modeFlags: UInt32

    /// Chaining value of the chunk being filled.
    private var chunkCV: ChainingValue

    /// Counter of the chunk being filled, which is also the number of chunks completed.
    private var chunkCounter: UInt64 = 0

    /// The chunk's pending block (64 bytes), compressed only once more input follows it.
    private var block: PendingBlock = PendingBlock()

    /// Valid bytes in `block` (0...64).
    private var blockFill: Int = 0

    /// Blocks of the current chunk already compressed (0...15).
    private var blocksCompressed: Int = 0

    /// Chaining values of complete subtrees, largest (leftmost) first; after each push it
    /// holds one entry per set bit of `chunkCounter`.
    private var cvStack: [ChainingValue] = []

    /// Creates a hasher in hash mode.
    public init() {
        key = Self.iv
        modeFlags = 0
        chunkCV = Self.iv
    }

    /// Creates a hasher in keyed-hash mode with a 32-byte key.
    public init(key: [UInt8]) {
        precondition(key.count == 32, "BLAKE3 keys are 32 bytes")
        let words = key.withUnsafeBytes { bytes -> ChainingValue in
            var words = ChainingValue()
            guard let base = bytes.baseAddress else { return words }
            for index in 0..<8 { words[index] = Self.loadWord(base, index) }
            return words
        }
        self.key = words
        modeFlags = Flag.keyedHash
        chunkCV = words
    }

    /// Absorbs the bytes of `buffer`.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard var input = buffer.baseAddress, buffer.count > 0 else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let chunkFill = blocksCompressed * Self.blockByteCount + blockFill
            if chunkFill == Self.chunkByteCount {
                // The chunk is complete and more input follows, so it is not the root.
                let lastBlock = OutputNode(
                    cv: chunkCV, block: block, counter: chunkCounter,
                    blockLength: Self.blockByteCount, flags: modeFlags | Flag.chunkEnd)
                push(lastBlock.chainingValue(), chunkCount: 1)
                continue
            }
            if chunkFill == 0 && remaining > Self.chunkByteCount {
                let consumed = absorbWholeChunks(input, byteCount: remaining)
                input += consumed
                remaining -= consumed
                continue
            }
            if blockFill == Self.blockByteCount {
                compressPendingBlock()
            }
            if blockFill == 0 {
                // Compress blocks straight from the input while each is followed by more input
                // and is not the chunk's last block (which needs the CHUNK_END flag).
                while remaining > Self.blockByteCount && blocksCompressed < 15 {
                    chunkCV = Self.compressCV(
                        chunkCV, input, counter: chunkCounter,
                        blockLength: UInt32(Self.blockByteCount), flags: currentBlockFlags())
                    blocksCompressed += 1
                    input += Self.blockByteCount
                    remaining -= Self.blockByteCount
                }
            }
            let take = min(Self.blockByteCount - blockFill, remaining)
            let fill = blockFill
            withUnsafeMutableBytes(of: &block) { bytes in
                bytes.baseAddress?.advanced(by: fill).copyMemory(from: input, byteCount: take)
            }
            blockFill += take
            input += take
            remaining -= take
        }
    }

    /// Absorbs `bytes`.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns `outputByteCount` bytes of output (32 by default; longer outputs extend the
    /// shorter ones). The hasher itself is left unchanged.
    ///
    /// Precondition: if segments were appended, at least one byte was absorbed after them.
    public func finalize(outputByteCount: Int = 32) -> [UInt8] {
        precondition(outputByteCount >= 0, "output length must not be negative")
        precondition(
            blocksCompressed > 0 || blockFill > 0 || cvStack.isEmpty,
            "BLAKE3: the input after the appended segments must not be empty")
        // Start from the current chunk's last block; each stacked subtree, right to left,
        // then becomes the left sibling of the node built so far. The final node is the root.
        var node = OutputNode(
            cv: chunkCV, block: block, counter: chunkCounter, blockLength: blockFill,
            flags: modeFlags | Flag.chunkEnd | (blocksCompressed == 0 ? Flag.chunkStart : 0))
        for left in cvStack.reversed() {
            node = OutputNode(
                cv: key, block: PendingBlock(left: left, right: node.chainingValue()),
                counter: 0, blockLength: Self.blockByteCount, flags: modeFlags | Flag.parent)
        }
        return node.rootOutput(byteCount: outputByteCount)
    }

    /// One-shot BLAKE3 (hash mode, 32-byte output) of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = BLAKE3()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Chaining value of the complete 1024-chunk subtree `segment` (exactly `segmentByteCount`
    /// bytes), which is segment number `segmentIndex` of the input (its first chunk counter is
    /// `segmentIndex * 1024`). A pure function: safe to call concurrently.
    public static func segmentChainingValue(
        _ segment: UnsafeRawBufferPointer, segmentIndex: UInt64
    ) -> ChainingValue {
        precondition(segment.count == segmentByteCount, "a segment is exactly segmentByteCount bytes")
        guard let base = segment.baseAddress else { preconditionFailure("empty segment") }
        return subtreeCV(
            base, chunkCount: chunksPerSegment, firstChunk: segmentIndex &* UInt64(chunksPerSegment),
            key: iv, flags: 0)
    }

    /// Absorbs a segment's chaining value, as if its `segmentByteCount` bytes had been passed
    /// to `update`.
    ///
    /// Precondition: hash mode (not keyed), everything absorbed so far is whole segments (no
    /// bytes through `update` yet), and segments arrive in index order.
    public mutating func append(segment cv: ChainingValue) {
        precondition(modeFlags == 0, "append(segment:) is for hash mode only")
        precondition(
            blocksCompressed == 0 && blockFill == 0 && chunkCounter % UInt64(Self.chunksPerSegment) == 0,
            "append(segment:) must come before any bytes passed to update")
        cvStack.append(cv)
        chunkCounter += UInt64(Self.chunksPerSegment)
        mergeStack()
    }
}

// MARK: - Incremental state

extension BLAKE3 {
    /// A 64-byte block kept inline (no heap allocation): as bytes, or as two chaining values.
    struct PendingBlock: Sendable {
        var left = ChainingValue()
        var right = ChainingValue()

        init() {}

        /// The block holding the serialized chaining values `left` then `right`.
        init(left: ChainingValue, right: ChainingValue) {
            self.left = BLAKE3.littleEndianWords(left)
            self.right = BLAKE3.littleEndianWords(right)
        }
    }

    /// A node whose compression is still pending: it becomes either a chaining value (inner
    /// node) or, with the ROOT flag, the source of the output bytes.
    struct OutputNode {
        let cv: ChainingValue
        let block: PendingBlock
        let counter: UInt64
        let flags: UInt32
        let blockLength: UInt32

        /// Captures `block` with its bytes from `blockLength` on zeroed.
        init(cv: ChainingValue, block: PendingBlock, counter: UInt64, blockLength: Int, flags: UInt32) {
            var padded = block
            withUnsafeMutableBytes(of: &padded) { bytes in
                for index in blockLength..<BLAKE3.blockByteCount { bytes[index] = 0 }
            }
            self.cv = cv
            self.block = padded
            self.counter = counter
            self.flags = flags
            self.blockLength = UInt32(blockLength)
        }

        /// Chaining value of this node as a non-root node.
        func chainingValue() -> ChainingValue {
            withUnsafeBytes(of: block) { bytes in
                BLAKE3.compressCV(
                    cv, bytes.baseAddress.unsafelyUnwrapped,
                    counter: counter, blockLength: blockLength, flags: flags)
            }
        }

        /// The first `byteCount` output bytes of this node as the root: output block i is the
        /// node compressed with the ROOT flag and counter i.
        func rootOutput(byteCount: Int) -> [UInt8] {
            var output = [UInt8](repeating: 0, count: byteCount)
            withUnsafeBytes(of: block) { node in
                output.withUnsafeMutableBytes { out in
                    guard let nodeBlock = node.baseAddress, let destination = out.baseAddress else { return }
                    var produced = 0
                    var outputBlock: UInt64 = 0
                    while produced < byteCount {
                        let words = BLAKE3.compress(
                            cv, nodeBlock, counter: outputBlock, blockLength: blockLength,
                            flags: flags | Flag.root)
                        let bytes = PendingBlock(left: words.low, right: words.high)
                        let take = min(BLAKE3.blockByteCount, byteCount - produced)
                        withUnsafeBytes(of: bytes) { source in
                            guard let sourceBase = source.baseAddress else { return }
                            (destination + produced).copyMemory(from: sourceBase, byteCount: take)
                        }
                        produced += take
                        outputBlock += 1
                    }
                }
            }
            return output
        }
    }

    /// Flags for the next block of the current chunk, which is not its last.
    private func currentBlockFlags() -> UInt32 {
        modeFlags | (blocksCompressed == 0 ? Flag.chunkStart : 0)
    }

    /// Compresses the full pending block, which is known not to be the chunk's last one.
    private mutating func compressPendingBlock() {
        let flags = currentBlockFlags()
        let cv = chunkCV
        let counter = chunkCounter
        chunkCV = withUnsafeBytes(of: block) { bytes in
            Self.compressCV(
                cv, bytes.baseAddress.unsafelyUnwrapped, counter: counter,
                blockLength: UInt32(Self.blockByteCount), flags: flags)
        }
        blocksCompressed += 1
        blockFill = 0
    }

    /// Hashes whole chunks from `input` (the chunk state being empty), leaving at least one
    /// byte unconsumed so that the last chunk is never finalized early. Returns the bytes used.
    private mutating func absorbWholeChunks(_ input: UnsafeRawPointer, byteCount: Int) -> Int {
        let available = (byteCount - 1) / Self.chunkByteCount
        // The largest power-of-two subtree that fits and starts on a multiple of its size.
        var size = 1
        while size * 2 <= min(available, Self.chunksPerSegment) { size *= 2 }
        while chunkCounter % UInt64(size) != 0 { size /= 2 }
        if size >= Self.laneCount {
            let cv = Self.subtreeCV(input, chunkCount: size, firstChunk: chunkCounter, key: key, flags: modeFlags)
            push(cv, chunkCount: size)
            return size * Self.chunkByteCount
        }
        if available >= 2 {
            // Unaligned start, or too few chunks for a subtree: hash up to `laneCount` chunks in
            // lanes (even two chunks in four lanes beat the scalar path), then push them one by one.
            let count = min(available, Self.laneCount)
            return withUnsafeTemporaryAllocation(of: ChainingValue.self, capacity: Self.laneCount) { cvs in
                let out = UnsafeMutableRawPointer(cvs.baseAddress.unsafelyUnwrapped)
                Self.hashLanes(
                    input, stride: Self.chunkByteCount, inputCount: count, blockCount: 16,
                    key: key, counter: chunkCounter, counterStep: 1,
                    flags: modeFlags, startFlags: Flag.chunkStart, endFlags: Flag.chunkEnd, output: out)
                for index in 0..<count {
                    push(Self.littleEndianWords(cvs[index]), chunkCount: 1)
                }
                return count * Self.chunkByteCount
            }
        }
        let cv = Self.chunkCV(input, counter: chunkCounter, key: key, flags: modeFlags)
        push(cv, chunkCount: 1)
        return Self.chunkByteCount
    }

    /// Pushes the chaining value of a complete subtree of `chunkCount` chunks that is followed
    /// by more input, and starts a fresh chunk after it.
    private mutating func push(_ cv: ChainingValue, chunkCount: Int) {
        cvStack.append(cv)
        chunkCounter += UInt64(chunkCount)
        mergeStack()
        chunkCV = key
        blocksCompressed = 0
        blockFill = 0
    }

    /// Merges equal-sized subtrees on top of the stack until it holds one entry per set bit
    /// of the chunk count. Safe because more input always follows a pushed subtree, so none
    /// of these parents can be the root.
    private mutating func mergeStack() {
        while cvStack.count > chunkCounter.nonzeroBitCount {
            let right = cvStack.removeLast()
            let left = cvStack.removeLast()
            cvStack.append(Self.parentCV(left, right, key: key, flags: modeFlags))
        }
    }
}
