// ZipParser: locates and checks a zip archive's end records (ZIP64 included); the records it shares.

import MLSecCore

/// Record signatures (APPNOTE 4.3).
enum ZipSignature {
    static let localHeader: UInt32 = 0x0403_4b50
    static let centralHeader: UInt32 = 0x0201_4b50
    static let endRecord: UInt32 = 0x0605_4b50
    static let zip64EndRecord: UInt32 = 0x0606_4b50
    static let zip64Locator: UInt32 = 0x0706_4b50
    static let dataDescriptor: UInt32 = 0x0807_4b50
}

/// What the parser learned about an archive's layout.
struct ZipLayout {
    var entries: [ZipEntry]
    var isZip64: Bool
    var endRecordOffset: Int
    var centralDirectoryOffset: Int
    var declaredEntryCount: Int
    /// Indices of the first `declaredEntryCount` entries in miniz's lookup order.
    var minizLookupOrder: [Int]
}

/// One central-directory record before its local header is read.
struct ZipCentralRecord {
    var index: Int
    var rawName: [UInt8]
    var name: String
    /// The name from an Info-ZIP Unicode Path extra field (0x7075) whose CRC matches, when it differs.
    var unicodePathName: String?
    var versionMadeBy: UInt16
    var flags: UInt16
    var method: UInt16
    var crc32: UInt32
    var compressedSize: Int
    var uncompressedSize: Int
    var localHeaderOffset: Int
    var externalAttributes: UInt32
}

/// Collects findings, keeping at most ``perKindCap`` of each kind and summarising the rest.
struct ZipFindingCollector {
    static let perKindCap = 1000
    var list: [ZipFinding] = []
    var counts: [ZipAnomaly: Int] = [:]

    mutating func add(_ kind: ZipAnomaly, _ message: String, name: String? = nil, index: Int? = nil) {
        let seen = counts[kind, default: 0]
        counts[kind] = seen + 1
        if seen < Self.perKindCap {
            list.append(ZipFinding(kind: kind, message: message, entryName: name, entryIndex: index))
        }
    }

    func count(_ kind: ZipAnomaly) -> Int { counts[kind, default: 0] }

    /// The findings, with one summary per kind that went over the cap.
    func finish() -> [ZipFinding] {
        var out = list
        for kind in ZipAnomaly.allCases {
            let total = counts[kind, default: 0]
            if total > Self.perKindCap {
                out.append(
                    ZipFinding(
                        kind: kind,
                        message: "\(total - Self.perKindCap) further \(kind.rawValue) findings were not listed"))
            }
        }
        return out
    }
}

/// Parses a zip archive's metadata from an ``ArchiveByteSource``.
struct ZipParser {
    let source: ArchiveByteSource
    let limits: ZipLimits
    var findings = ZipFindingCollector()

    init(source: ArchiveByteSource, limits: ZipLimits) {
        self.source = source
        self.limits = limits
    }

    var label: String { source.label }

    // MARK: - End records

    /// Offsets of every end-of-central-directory signature in the last 64 KiB + 22 bytes that leaves room for a
    /// whole record, last first.
    func endRecordCandidates() throws -> [Int] {
        let size = source.size
        guard size >= 22 else {
            throw MLSecError.malformed(
                "\(label) is \(size) bytes, too short for a zip archive (its end record alone is 22 bytes)")
        }
        let tailLength = min(size, 0xFFFF + 22)
        let tailStart = size - tailLength
        let tail = try source.read(at: tailStart, count: tailLength)
        guard tail.count == tailLength else { throw MLSecError.io("\(label) changed while it was read") }
        var positions: [Int] = []
        var i = tail.count - 22
        while i >= 0 {
            if tail[i] == 0x50, tail[i + 1] == 0x4b, tail[i + 2] == 0x05, tail[i + 3] == 0x06 {
                positions.append(tailStart + i)
            }
            i -= 1
        }
        return positions
    }

    struct EndRecord {
        var offset: Int
        var thisDisk: UInt32
        var directoryDisk: UInt32
        var entriesOnDisk: UInt64
        var totalEntries: UInt64
        var directorySize: UInt64
        var directoryOffset: UInt64
        /// Where the central directory should end: the ZIP64 end record or the end record.
        var directoryEnd: Int
        var isZip64: Bool
    }

    mutating func readEndRecords() throws -> EndRecord {
        let candidates = try endRecordCandidates()
        guard let offset = candidates.first else {
            throw MLSecError.malformed(
                "\(label) has no end-of-central-directory record in its last 65,557 bytes: it is not a zip archive")
        }
        if candidates.count > 1 {
            let others = candidates.dropFirst().prefix(8).map(String.init).joined(separator: ", ")
            findings.add(
                .multipleEOCD,
                "\(candidates.count) end-of-central-directory signatures near the end of the file; the last one (at "
                    + "\(offset)) is used, as miniz and Python's zipfile do, but a reader that validates the comment "
                    + "length or searches differently may use another (at \(others))")
        }
        guard let record = try source.readExactly(at: offset, count: 22) else {
            throw MLSecError.io("\(label) changed while it was read")
        }
        let commentLength = Int(try ByteCursor.u16(record, at: 20))
        let afterRecord = source.size - offset - 22
        if commentLength > afterRecord {
            findings.add(
                .headerMismatch,
                "the end record declares a \(commentLength)-byte comment but only \(afterRecord) bytes follow it; "
                    + "lenient readers accept this, strict ones reject the archive or look for another end record")
        } else if commentLength < afterRecord {
            findings.add(
                .trailingData,
                "\(afterRecord - commentLength) bytes follow the end record's comment; zip readers ignore them")
        }
        var end = EndRecord(
            offset: offset,
            thisDisk: UInt32(try ByteCursor.u16(record, at: 4)),
            directoryDisk: UInt32(try ByteCursor.u16(record, at: 6)),
            entriesOnDisk: UInt64(try ByteCursor.u16(record, at: 8)),
            totalEntries: UInt64(try ByteCursor.u16(record, at: 10)),
            directorySize: UInt64(try ByteCursor.u32(record, at: 12)),
            directoryOffset: UInt64(try ByteCursor.u32(record, at: 16)),
            directoryEnd: offset,
            isZip64: false)
        try applyZip64(&end)
        guard end.thisDisk == 0, end.directoryDisk == 0, end.entriesOnDisk == end.totalEntries else {
            throw MLSecError.unsupported(
                "\(label) is a multi-disk (spanned) zip archive (disk \(end.thisDisk), central directory on disk "
                    + "\(end.directoryDisk)); such archives are not supported")
        }
        return end
    }

    /// Reads the ZIP64 locator just before the end record and the ZIP64 end record it points to, replacing the
    /// 32-bit values (as miniz and Python's zipfile both do when the records are present).
    mutating func applyZip64(_ end: inout EndRecord) throws {
        let sentinel =
            end.totalEntries == 0xFFFF || end.entriesOnDisk == 0xFFFF || end.directorySize == 0xFFFF_FFFF
            || end.directoryOffset == 0xFFFF_FFFF
        guard end.offset >= 20, let locator = try source.readExactly(at: end.offset - 20, count: 20),
            try ByteCursor.u32(locator, at: 0) == ZipSignature.zip64Locator
        else {
            return
        }
        let locatorDisk = try ByteCursor.u32(locator, at: 4)
        let declared = try ByteCursor.u64(locator, at: 8)
        let disks = try ByteCursor.u32(locator, at: 16)
        guard locatorDisk == 0, disks <= 1 else {
            throw MLSecError.unsupported(
                "\(label) is a multi-disk (spanned) ZIP64 archive (\(disks) disks); such archives are not supported")
        }
        let adjacent = end.offset - 20 - 56
        var recordOffset: Int?
        var record: [UInt8]?
        if let offset = Int(exactly: declared), let bytes = try zip64EndRecord(at: offset) {
            recordOffset = offset
            record = bytes
            if offset != adjacent {
                findings.add(
                    .headerMismatch,
                    "the ZIP64 end record is at \(offset), not directly before its locator (\(adjacent)); Python's "
                        + "zipfile looks only there and would not see it")
            }
        } else if adjacent >= 0, let bytes = try zip64EndRecord(at: adjacent) {
            recordOffset = adjacent
            record = bytes
            findings.add(
                .headerMismatch,
                "the ZIP64 locator points to offset \(declared), where there is no ZIP64 end record; one was found "
                    + "just before the locator, where Python's zipfile looks (miniz refuses the archive)")
        }
        guard let recordOffset, let record else {
            if sentinel {
                throw MLSecError.malformed(
                    "\(label): the end record defers to ZIP64 but the ZIP64 end record the locator points to "
                        + "(offset \(declared)) is missing")
            }
            findings.add(
                .headerMismatch,
                "a ZIP64 locator points to offset \(declared), where there is no ZIP64 end record; the 32-bit end "
                    + "record is used")
            return
        }
        let zThisDisk = try ByteCursor.u32(record, at: 16)
        let zDirectoryDisk = try ByteCursor.u32(record, at: 20)
        let zOnDisk = try ByteCursor.u64(record, at: 24)
        let zTotal = try ByteCursor.u64(record, at: 32)
        let zSize = try ByteCursor.u64(record, at: 40)
        let zOffset = try ByteCursor.u64(record, at: 48)
        func compare(_ name: String, _ narrow: UInt64, _ wide: UInt64, _ sentinelValue: UInt64) {
            if narrow != sentinelValue, narrow != wide {
                findings.add(
                    .headerMismatch,
                    "the end record gives \(name) as \(narrow) but the ZIP64 end record as \(wide); readers that "
                        + "ignore ZIP64 see a different archive")
            }
        }
        compare("the entry count", end.totalEntries, zTotal, 0xFFFF)
        compare("the central directory size", end.directorySize, zSize, 0xFFFF_FFFF)
        compare("the central directory offset", end.directoryOffset, zOffset, 0xFFFF_FFFF)
        end.thisDisk = zThisDisk
        end.directoryDisk = zDirectoryDisk
        end.entriesOnDisk = zOnDisk
        end.totalEntries = zTotal
        end.directorySize = zSize
        end.directoryOffset = zOffset
        end.directoryEnd = recordOffset
        end.isZip64 = true
    }

    /// The 56 fixed bytes of a ZIP64 end record at `offset`, or `nil` when there is none there.
    func zip64EndRecord(at offset: Int) throws -> [UInt8]? {
        guard offset >= 0, let bytes = try source.readExactly(at: offset, count: 56),
            try ByteCursor.u32(bytes, at: 0) == ZipSignature.zip64EndRecord
        else {
            return nil
        }
        return bytes
    }
}
