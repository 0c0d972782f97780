// HashingReader: reads a model file once into memory, hashing each chunk as it arrives.

import MLSecCore

/// Reads one file of a model into memory and computes its manifest items from the very bytes it returns, so
/// that a caller who verifies those items uses what was verified (a file swapped or rewritten on disk after
/// the read changes nothing the caller holds).
package enum HashingReader {
    /// Bytes read per `pread` (and hashed before the next read).
    static let chunkSize = 4 << 20

    /// The file's bytes and its items (`files`: one item; `shards`: one per range, none for an empty file).
    /// - Throws: `limitExceeded` over `maxBytes`, `unsafeTree` when the file is no longer a regular file, `io`
    ///   when it changes size while it is read.
    package static func read(_ file: ModelFile, serialization: Serialization, maxBytes: Int) throws
        -> (bytes: [UInt8], items: [ManifestItem])
    {
        let handle = try ReadOnlyFile(path: file.path, followSymlinks: file.isSymlink, nonBlocking: true)
        let status = try handle.status()
        guard status.kind == .regular else {
            throw MLSecError(.unsafeTree, "\(file.path) is now a \(status.kind.description), not a regular file")
        }
        guard status.size >= 0, status.size <= Int64(maxBytes) else {
            throw MLSecError.limitExceeded("\(file.path) is \(status.size) bytes; the model may hold at most \(maxBytes) more bytes")
        }
        let size = Int(status.size)
        var shard = ShardedHasher(serialization: serialization, path: file.name)
        handle.adviseSequential()
        let bytes = try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = 0
            let raw = UnsafeMutableRawBufferPointer(buffer)
            while initialized < size {
                let end = min(size, initialized + chunkSize)
                let slice = UnsafeMutableRawBufferPointer(rebasing: raw[initialized..<end])
                let n = try handle.read(into: slice, at: Int64(initialized))
                guard n == slice.count else {
                    throw MLSecError.io("\(file.path) shrank while it was read; load it again once it is stable")
                }
                shard.update(UnsafeRawBufferPointer(slice), at: initialized)
                initialized = end
            }
        }
        var probe: UInt8 = 0
        let more = try withUnsafeMutableBytes(of: &probe) { try handle.read(into: $0, at: Int64(size)) }
        guard more == 0 else { throw MLSecError.io("\(file.path) grew while it was read; load it again once it is stable") }
        return (bytes, shard.finish(size: size))
    }
}

/// Hashes a stream in the items of one serialization: the whole stream, or consecutive shards.
struct ShardedHasher {
    let serialization: Serialization
    let path: String
    private var hasher: StreamingHasher
    private var shardStart = 0
    private var items: [ManifestItem] = []

    init(serialization: Serialization, path: String) {
        self.serialization = serialization
        self.path = path
        hasher = serialization.hash.makeHasher()
    }

    /// Feeds `buffer`, which starts at byte `offset` of the stream (calls come in order, without gaps).
    mutating func update(_ buffer: UnsafeRawBufferPointer, at offset: Int) {
        guard case .shards(let shardSize) = serialization.method else {
            hasher.update(buffer)
            return
        }
        var position = 0
        while position < buffer.count {
            let shardEnd = shardStart + shardSize
            let take = min(buffer.count - position, shardEnd - (offset + position))
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[position..<(position + take)]))
            position += take
            if offset + position == shardEnd {
                items.append(ManifestItem(path: path, range: shardStart..<shardEnd, algorithm: serialization.itemAlgorithmName,
                                          digest: hasher.finalize()))
                hasher = serialization.hash.makeHasher()
                shardStart = shardEnd
            }
        }
    }

    /// The items of a stream of `size` bytes.
    mutating func finish(size: Int) -> [ManifestItem] {
        switch serialization.method {
        case .files:
            return [ManifestItem(path: path, algorithm: serialization.itemAlgorithmName, digest: hasher.finalize())]
        case .shards:
            if shardStart < size {
                items.append(ManifestItem(path: path, range: shardStart..<size, algorithm: serialization.itemAlgorithmName,
                                          digest: hasher.finalize()))
            }
            return items
        }
    }
}
