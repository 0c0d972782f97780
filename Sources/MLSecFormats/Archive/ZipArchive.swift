// ZipArchive: a zip reader for hostile files (PKWARE APPNOTE 6.3.10 with ZIP64) that reads only what it needs.

import MLSecCore

/// A zip archive opened for inspection.
///
/// Opening reads the end-of-central-directory record (searching only the last 64 KiB + 22 bytes), the ZIP64
/// end records when present, the central directory and each entry's local header; it never reads entry data
/// and never reads the whole file. Everything a lenient reader would accept but a strict one would not (or
/// that is dangerous to extract) is reported in ``findings`` rather than thrown, so that a scanner can show
/// where readers disagree. Only input that is not a readable zip at all throws (``MLSecError/Code/malformed``;
/// multi-disk archives throw ``MLSecError/Code/unsupported``).
public struct ZipArchive: Sendable {
    /// The entries in central-directory order, including records past the count the end record declares.
    public let entries: [ZipEntry]
    /// Structural anomalies found while opening, in the order found.
    public let findings: [ZipFinding]
    /// The limits the archive was opened with; `read` and `stream` apply them too.
    public let limits: ZipLimits
    /// `true` when the archive has ZIP64 end records.
    public let isZip64: Bool
    /// Offset of the end-of-central-directory record used.
    public let endRecordOffset: Int
    /// Offset of the central directory used (after any shift for prepended data).
    public let centralDirectoryOffset: Int

    let source: ArchiveByteSource
    /// How many leading entries a reader that trusts the end record's entry count (miniz, PyTorch) lists.
    let declaredEntryCount: Int
    /// Indices of the first `declaredEntryCount` entries in the order miniz sorts them for lookups.
    let minizLookupOrder: [Int]

    /// Opens the zip archive at `path`, reading it with `pread`.
    public init(path: String, limits: ZipLimits = .init()) throws {
        try self.init(source: ArchiveByteSource(path: path), limits: limits)
    }

    /// Opens a zip archive held in memory.
    public init(bytes: [UInt8], limits: ZipLimits = .init()) throws {
        try self.init(source: ArchiveByteSource(bytes: bytes), limits: limits)
    }

    init(source: ArchiveByteSource, limits: ZipLimits) throws {
        var parser = ZipParser(source: source, limits: limits)
        let layout = try parser.parse()
        self.source = source
        self.limits = limits
        self.entries = layout.entries
        self.isZip64 = layout.isZip64
        self.endRecordOffset = layout.endRecordOffset
        self.centralDirectoryOffset = layout.centralDirectoryOffset
        self.declaredEntryCount = layout.declaredEntryCount
        self.minizLookupOrder = layout.minizLookupOrder
        self.findings = parser.findings.finish()
    }

    /// The decompressed content of `entry` (stored, deflate, bzip2 or LZMA), checked against its CRC-32.
    ///
    /// Refuses (``MLSecError/Code/limitExceeded``) before decompressing anything when the declared size is over
    /// `maxBytes` or ``ZipLimits/maxEntryUncompressed``; stops as soon as the data decompresses to more than
    /// its declared size (``MLSecError/Code/malformed``), so a lying header cannot make it allocate more. A CRC
    /// mismatch, truncated data or corrupt compressed data throw ``MLSecError/Code/malformed`` naming the entry;
    /// encrypted entries and other methods throw ``MLSecError/Code/unsupported``.
    public func read(_ entry: ZipEntry, maxBytes: Int) throws -> [UInt8] {
        try read(entry, maxBytes: maxBytes, asLoaderReads: false)
    }

    /// The content of `entry` as PyTorch's loader reads it: like ``read(_:maxBytes:)`` but the CRC-32 is not
    /// checked and the encryption flag is ignored (the data is decoded as its method says), since a loader that
    /// does the same runs whatever those bytes hold. For scanners judging what a loader would meet.
    public func readAsLoader(_ entry: ZipEntry, maxBytes: Int) throws -> [UInt8] {
        try read(entry, maxBytes: maxBytes, asLoaderReads: true)
    }

    private func read(_ entry: ZipEntry, maxBytes: Int, asLoaderReads lenient: Bool) throws -> [UInt8] {
        guard maxBytes >= 0 else { throw MLSecError.usage("maxBytes must not be negative") }
        guard entry.uncompressedSize <= maxBytes else {
            throw MLSecError.limitExceeded(
                "zip entry \(ArchivePath.quoted(entry.name)) declares \(entry.uncompressedSize) bytes, over the "
                    + "\(maxBytes)-byte limit for this read")
        }
        var output: [UInt8] = []
        output.reserveCapacity(min(entry.uncompressedSize, 1 << 26))
        try decode(entry, chunkSize: 1 << 16, lenient: lenient) { output.append(contentsOf: $0) }
        return output
    }

    /// Streams the decompressed bytes of `entry` to `body` in chunks of at most `chunkSize` bytes, without
    /// holding the whole entry; the CRC-32 is checked at the end (a mismatch throws after the last chunk, so
    /// callers must discard what they received when this throws). Limits as for ``read(_:maxBytes:)`` with
    /// ``ZipLimits/maxEntryUncompressed`` as the cap.
    public func stream(
        _ entry: ZipEntry, chunkSize: Int = 1 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard chunkSize > 0 else { throw MLSecError.usage("chunkSize must be positive") }
        try decode(entry, chunkSize: chunkSize, lenient: false, body)
    }

    /// The entry that PyTorch's loader would use for `name` (a full name inside the archive, such as
    /// `"archive/data.pkl"`), or `nil` when it would find none.
    ///
    /// PyTorch (`caffe2/serialize/inline_container.cc`, `PyTorchStreamReader`) opens archives with
    /// `mz_zip_reader_init(…, 0)` and finds records with `mz_zip_reader_locate_file(…, name, nullptr, 0)`.
    /// With those zero flags miniz (2.x and the 3.0.2 that PyTorch vendors under `third_party/miniz-3.0.2`)
    /// sorts the central-directory indices by name with an in-place heap sort
    /// (`mz_zip_reader_sort_central_dir_offsets_by_filename`) and then binary-searches them
    /// (`mz_zip_locate_file_binary_search`), comparing names byte by byte after ASCII lower-casing. So for
    /// duplicate names PyTorch picks neither "the first" nor "the last" as such: it picks whichever duplicate
    /// the binary search lands on in the heap-sorted order (heap sort is not stable), and a name that differs
    /// only in ASCII case matches too. This method reproduces that order and search exactly, over the entries
    /// the end record declares (miniz does not list records past that count). Checked against PyTorch 1.13
    /// (`torch.load` of crafted archives) in the test suite's fixtures.
    public func entryAsPyTorchReads(_ name: String) -> ZipEntry? {
        var query = Array(name.utf8)
        if let nul = query.firstIndex(of: 0) { query.removeSubrange(nul...) }
        guard let index = MinizLookup.find(query, order: minizLookupOrder, names: { entries[$0].rawName }) else {
            return nil
        }
        return entries[index]
    }

    /// The folder PyTorch treats as the archive's root: the first central-directory entry's name up to its
    /// first `/` (`PyTorchStreamReader::init`), or `nil` when that name has no `/` (PyTorch refuses the file).
    public var pyTorchArchiveName: String? {
        guard let first = entries.first, let slash = first.rawName.firstIndex(of: UInt8(ascii: "/")) else {
            return nil
        }
        return String(decoding: first.rawName[..<slash], as: UTF8.self)
    }

    /// The entry PyTorch would read for the record `record` (such as `"data.pkl"` or `"data/0"`): the lookup of
    /// ``entryAsPyTorchReads(_:)`` for ``pyTorchArchiveName`` + `/` + `record`.
    public func pyTorchRecord(_ record: String) -> ZipEntry? {
        guard let root = pyTorchArchiveName else { return nil }
        return entryAsPyTorchReads(root + "/" + record)
    }

    /// Decompresses every entry that can be read (stored, deflate, bzip2, LZMA; not encrypted; declared size at
    /// most `maxBytes`), discarding the output, and reports what the data itself reveals: CRC-32 mismatches as
    /// ``ZipAnomaly/crcMismatch``, corrupt, truncated or size-lying data as
    /// ``ZipAnomaly/headerMismatch``, and entries skipped for size as ``ZipAnomaly/limit``. Entries
    /// that are encrypted, use unsupported methods or have no local header are skipped silently: opening the
    /// archive already reported them. Memory use is one chunk, whatever the entry sizes.
    public func verifyEntries(maxBytes: Int) -> [ZipFinding] {
        var results: [ZipFinding] = []
        for entry in entries {
            guard entry.hasLocalHeader, !entry.isEncrypted, ZipMethod.isSupported(entry.method) else { continue }
            let quoted = ArchivePath.quoted(entry.name)
            guard entry.uncompressedSize <= maxBytes, entry.uncompressedSize <= limits.maxEntryUncompressed else {
                results.append(
                    ZipFinding(
                        kind: .limit,
                        message: "entry \(quoted) declares \(entry.uncompressedSize) bytes, over the "
                            + "\(min(maxBytes, limits.maxEntryUncompressed))-byte verification limit; not checked",
                        entryName: entry.name, entryIndex: entry.index))
                continue
            }
            do {
                try decode(entry, chunkSize: 1 << 20, lenient: false) { _ in }
            } catch let error as MLSecError where error.message.hasPrefix("CRC-32 mismatch") {
                results.append(
                    ZipFinding(
                        kind: .crcMismatch, message: error.message, entryName: entry.name, entryIndex: entry.index))
            } catch {
                let text = (error as? MLSecError)?.message ?? String(describing: error)
                results.append(
                    ZipFinding(
                        kind: .headerMismatch,
                        message: "the data of entry \(quoted) does not match its headers: \(text)",
                        entryName: entry.name, entryIndex: entry.index))
            }
        }
        return results
    }

    // MARK: - Decoding

    private func decode(
        _ entry: ZipEntry, chunkSize: Int, lenient: Bool, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let label = "zip entry \(ArchivePath.quoted(entry.name))"
        guard entry.index >= 0, entry.index < entries.count, entries[entry.index] == entry else {
            throw MLSecError.usage("\(label) does not belong to this archive")
        }
        guard entry.hasLocalHeader else {
            throw MLSecError.malformed("\(label) has no valid local header at offset \(entry.localHeaderOffset)")
        }
        guard lenient || !entry.isEncrypted else { throw MLSecError.unsupported("\(label) is encrypted") }
        guard entry.uncompressedSize <= limits.maxEntryUncompressed else {
            throw MLSecError.limitExceeded(
                "\(label) declares \(entry.uncompressedSize) bytes, over the \(limits.maxEntryUncompressed)-byte "
                    + "per-entry limit")
        }
        guard let dataEnd = Checked.add(entry.dataOffset, entry.compressedSize), dataEnd <= source.size else {
            throw MLSecError.malformed(
                "\(label): its \(entry.compressedSize) bytes of data at offset \(entry.dataOffset) run past the end "
                    + "of the \(source.size)-byte file (truncated archive)")
        }
        var crc: UInt32 = 0
        var total = 0
        func checked(_ chunk: UnsafeRawBufferPointer) throws {
            crc = CRC32.update(crc, chunk)
            try body(chunk)
        }
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw MLSecError.malformed(
                    "\(label) is stored but declares \(entry.compressedSize) stored and \(entry.uncompressedSize) "
                        + "uncompressed bytes")
            }
            var buffer = [UInt8](repeating: 0, count: max(1, min(chunkSize, 1 << 24)))
            var offset = entry.dataOffset
            while offset < dataEnd {
                let want = min(buffer.count, dataEnd - offset)
                let n = try buffer.withUnsafeMutableBytes { raw in
                    try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: offset)
                }
                guard n > 0 else { throw MLSecError.malformed("\(label): the file ended while reading its data") }
                try buffer.withUnsafeBytes { try checked(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                offset += n
            }
            total = entry.compressedSize
        case 8, 12, 14:
            total = try decodeCompressed(entry, label: label, dataEnd: dataEnd, chunkSize: chunkSize, body: checked)
        default:
            throw MLSecError.unsupported(
                "\(label) uses compression method \(entry.method) (\(ZipMethod.name(entry.method))), which is not "
                    + "supported")
        }
        guard total == entry.uncompressedSize else {
            throw MLSecError.malformed(
                "\(label) decompressed to \(total) bytes but declares \(entry.uncompressedSize)")
        }
        guard lenient || crc == entry.crc32 else {
            throw MLSecError.malformed(
                "CRC-32 mismatch in \(label): the central directory says \(hex32(entry.crc32)), the data gives "
                    + "\(hex32(crc))")
        }
    }

    private func decodeCompressed(
        _ entry: ZipEntry, label: String, dataEnd: Int, chunkSize: Int, body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        var offset = entry.dataOffset
        var prefix: [UInt8] = []
        var prefixUsed = 0
        let decoder: any StreamingDecoder
        switch entry.method {
        case 8:
            decoder = try InflateDecoder(.raw, context: label)
        case 12:
            decoder = try BZip2Decoder(context: label)
        default:
            // APPNOTE 5.8.8: 2-byte LZMA SDK version, 2-byte properties size, the properties, then raw LZMA data.
            // Rebuilt as a legacy .lzma header so that liblzma's "alone" decoder can read it.
            guard let head = try source.readExactly(at: offset, count: 4), head[2] == 5, head[3] == 0,
                let properties = try source.readExactly(at: offset + 4, count: 5), offset + 9 <= dataEnd
            else {
                throw MLSecError.malformed("\(label): its LZMA properties header is missing or not 5 bytes")
            }
            offset += 9
            let endMarker = entry.flags & 0x0002 != 0
            let size = endMarker ? UInt64.max : UInt64(entry.uncompressedSize)
            prefix = properties + (0..<8).map { UInt8(truncatingIfNeeded: size >> (8 * UInt64($0))) }
            decoder = try LZMADecoder(.alone, memoryLimit: Decompressor.lzmaMemoryLimit, context: label)
        }
        let declared = entry.uncompressedSize
        return try DecompressionDriver.run(
            decoder: decoder, context: label, trailing: .ignore, maxOutput: declared,
            overLimit: { _ in
                MLSecError.malformed("\(label) decompresses to more than its declared \(declared) bytes")
            },
            chunkSize: chunkSize,
            input: { buffer in
                if prefixUsed < prefix.count {
                    let n = min(buffer.count, prefix.count - prefixUsed)
                    for i in 0..<n { buffer[i] = prefix[prefixUsed + i] }
                    prefixUsed += n
                    return n
                }
                let want = min(buffer.count, dataEnd - offset)
                guard want > 0 else { return 0 }
                let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset)
                offset += n
                return n
            },
            body: body)
    }
}

/// Names of zip compression methods for messages (APPNOTE 4.4.5).
enum ZipMethod {
    static func name(_ method: UInt16) -> String {
        switch method {
        case 0: "stored"
        case 1: "shrunk"
        case 6: "imploded"
        case 8: "deflate"
        case 9: "deflate64"
        case 12: "bzip2"
        case 14: "LZMA"
        case 93: "Zstandard"
        case 95: "xz"
        case 98: "PPMd"
        case 99: "AES-encrypted"
        default: "unknown"
        }
    }

    /// Methods ``ZipArchive`` can decompress.
    static func isSupported(_ method: UInt16) -> Bool { [0, 8, 12, 14].contains(method) }
}

/// `value` as `0x` and 8 hex digits.
func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// The lookup miniz performs for `mz_zip_reader_locate_file` with no flags, reimplemented from its behaviour:
/// indices heap-sorted by ASCII-lower-cased name, then a binary search that returns the first match it probes.
enum MinizLookup {
    /// miniz's name order: byte-wise after mapping `A`–`Z` to `a`–`z`; a proper prefix sorts first.
    static func compare(_ left: [UInt8], _ right: [UInt8]) -> Int {
        left.withUnsafeBufferPointer { l in
            right.withUnsafeBufferPointer { r in
                let common = min(l.count, r.count)
                var i = 0
                while i < common {
                    let a = lower(l[i])
                    let b = lower(r[i])
                    if a != b { return Int(a) - Int(b) }
                    i += 1
                }
                return l.count - r.count
            }
        }
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }

    /// Indices of `names` in the order an in-place max-heap sort leaves them (heapify from the last parent
    /// down, then repeatedly swap the root to the end and sift down; the larger child is the right one only
    /// when strictly larger, and a parent moves only when strictly smaller than that child).
    static func order(_ names: [[UInt8]]) -> [Int] {
        var indices = Array(names.indices)
        let count = indices.count
        guard count > 1 else { return indices }
        func less(_ a: Int, _ b: Int) -> Bool { compare(names[a], names[b]) < 0 }
        func siftDown(_ start: Int, _ end: Int) {
            var root = start
            while true {
                var child = 2 * root + 1
                if child >= end { return }
                if child + 1 < end, less(indices[child], indices[child + 1]) { child += 1 }
                if !less(indices[root], indices[child]) { return }
                indices.swapAt(root, child)
                root = child
            }
        }
        var start = (count - 2) / 2
        while true {
            siftDown(start, count)
            if start == 0 { break }
            start -= 1
        }
        var end = count - 1
        while end > 0 {
            indices.swapAt(end, 0)
            siftDown(0, end)
            end -= 1
        }
        return indices
    }

    /// The index the binary search over `order` finds for `query`, or `nil`.
    static func find(_ query: [UInt8], order: [Int], names: (Int) -> [UInt8]) -> Int? {
        var low = 0
        var high = order.count - 1
        while low <= high {
            let middle = low + (high - low) / 2
            let candidate = order[middle]
            let comparison = compare(names(candidate), query)
            if comparison == 0 { return candidate }
            if comparison < 0 { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }
}
