// ZipArchive+Parsing: locates and parses the end records, the central directory and the local headers of a zip archive.

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
    private var list: [ZipFinding] = []
    private var counts: [ZipAnomaly: Int] = [:]

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

    private var label: String { source.label }

    // MARK: - End records

    /// Offsets of every end-of-central-directory signature in the last 64 KiB + 22 bytes that leaves room for a
    /// whole record, last first.
    private func endRecordCandidates() throws -> [Int] {
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

    private struct EndRecord {
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

    private mutating func readEndRecords() throws -> EndRecord {
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
        let commentLength = Int(LittleEndian.u16(record, 20))
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
            thisDisk: UInt32(LittleEndian.u16(record, 4)),
            directoryDisk: UInt32(LittleEndian.u16(record, 6)),
            entriesOnDisk: UInt64(LittleEndian.u16(record, 8)),
            totalEntries: UInt64(LittleEndian.u16(record, 10)),
            directorySize: UInt64(LittleEndian.u32(record, 12)),
            directoryOffset: UInt64(LittleEndian.u32(record, 16)),
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
    private mutating func applyZip64(_ end: inout EndRecord) throws {
        let sentinel =
            end.totalEntries == 0xFFFF || end.entriesOnDisk == 0xFFFF || end.directorySize == 0xFFFF_FFFF
            || end.directoryOffset == 0xFFFF_FFFF
        guard end.offset >= 20, let locator = try source.readExactly(at: end.offset - 20, count: 20),
            LittleEndian.u32(locator, 0) == ZipSignature.zip64Locator
        else {
            return
        }
        let locatorDisk = LittleEndian.u32(locator, 4)
        let declared = LittleEndian.u64(locator, 8)
        let disks = LittleEndian.u32(locator, 16)
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
        let zThisDisk = LittleEndian.u32(record, 16)
        let zDirectoryDisk = LittleEndian.u32(record, 20)
        let zOnDisk = LittleEndian.u64(record, 24)
        let zTotal = LittleEndian.u64(record, 32)
        let zSize = LittleEndian.u64(record, 40)
        let zOffset = LittleEndian.u64(record, 48)
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
    private func zip64EndRecord(at offset: Int) throws -> [UInt8]? {
        guard offset >= 0, let bytes = try source.readExactly(at: offset, count: 56),
            LittleEndian.u32(bytes, 0) == ZipSignature.zip64EndRecord
        else {
            return nil
        }
        return bytes
    }

    // MARK: - Central directory

    private func signature(at offset: Int) throws -> UInt32? {
        guard let bytes = try source.readExactly(at: offset, count: 4) else { return nil }
        return LittleEndian.u32(bytes, 0)
    }

    /// Parses the whole archive.
    mutating func parse() throws -> ZipLayout {
        let end = try readEndRecords()
        let size = source.size
        let directorySize = Checked.int(end.directorySize)
        let directoryOffset = Checked.int(end.directoryOffset)
        let declaredCount = Checked.int(end.totalEntries)
        if declaredCount > limits.maxEntries {
            findings.add(
                .limit,
                "the archive declares \(end.totalEntries) entries, over the limit of \(limits.maxEntries); only the "
                    + "first \(limits.maxEntries) are listed")
        }

        // Where the central directory is: at its declared offset (miniz, PyTorch), or where it must be if the
        // offsets are relative to a later start (Python's zipfile, for self-extracting archives).
        let declaredFits = Checked.add(directoryOffset, directorySize).map { $0 <= end.directoryEnd } ?? false
        let expectedStart: Int? = directorySize <= end.directoryEnd ? end.directoryEnd - directorySize : nil
        var directoryStart = directoryOffset
        var shift = 0
        if declaredCount == 0 {
            directoryStart = declaredFits ? directoryOffset : (expectedStart ?? end.directoryEnd)
            if !declaredFits {
                findings.add(
                    .headerMismatch,
                    "the empty archive's central directory offset \(end.directoryOffset) and size "
                        + "\(end.directorySize) do not fit before the end record")
            }
        } else if declaredFits, try signature(at: directoryOffset) == ZipSignature.centralHeader {
            if let expectedStart, expectedStart != directoryOffset {
                findings.add(
                    .prependedData,
                    "the central directory ends \(end.directoryEnd - directoryOffset - directorySize) bytes before "
                        + "the end record; Python's zipfile treats the gap as prepended data and shifts every offset, "
                        + "so it reads this archive differently from miniz/PyTorch")
            }
        } else if let expectedStart, expectedStart > directoryOffset,
            try signature(at: expectedStart) == ZipSignature.centralHeader
        {
            directoryStart = expectedStart
            shift = expectedStart - directoryOffset
            findings.add(
                .prependedData,
                "the central directory is not at its declared offset \(end.directoryOffset) but at \(expectedStart): "
                    + "every offset is shifted by \(shift) bytes, as when data is prepended to an archive; Python's "
                    + "zipfile adjusts for this, miniz/PyTorch refuse the archive")
        } else {
            throw MLSecError.malformed(
                "\(label): the central directory offset \(end.directoryOffset) and size \(end.directorySize) point "
                    + "outside the \(size)-byte file or at no central directory record")
        }
        let directoryEnd = min(Checked.add(directoryStart, directorySize) ?? end.directoryEnd, end.directoryEnd)

        let records = try readCentralDirectory(
            start: directoryStart, end: directoryEnd, declaredCount: declaredCount, shift: shift)
        var entries: [ZipEntry] = []
        entries.reserveCapacity(records.count)
        for record in records {
            entries.append(try readLocalHeader(record))
        }
        let visible = min(declaredCount, entries.count)
        let lookupOrder = MinizLookup.order(entries.prefix(visible).map(\.rawName))
        checkConsistency(
            entries: entries, records: records, directoryStart: directoryStart, shift: shift,
            lookupOrder: lookupOrder)
        return ZipLayout(
            entries: entries, isZip64: end.isZip64, endRecordOffset: end.offset,
            centralDirectoryOffset: directoryStart, declaredEntryCount: visible, minizLookupOrder: lookupOrder)
    }

    private mutating func readCentralDirectory(start: Int, end: Int, declaredCount: Int, shift: Int) throws
        -> [ZipCentralRecord]
    {
        let reader = WindowedReader(source: source)
        var records: [ZipCentralRecord] = []
        let listed = min(declaredCount, limits.maxEntries)
        records.reserveCapacity(min(listed, 1 << 16))
        var position = start
        var index = 0
        while true {
            let beyondDeclared = index >= declaredCount
            if index >= listed, !beyondDeclared { break }
            if beyondDeclared {
                guard Checked.add(position, 4).map({ $0 <= end }) ?? false,
                    let head = try reader.bytes(at: position, count: 4),
                    LittleEndian.u32(head, 0) == ZipSignature.centralHeader
                else {
                    if position < end {
                        findings.add(
                            .headerMismatch,
                            "the central directory has \(end - position) bytes after its last record that are not a "
                                + "record")
                    }
                    break
                }
                if index >= limits.maxEntries {
                    findings.add(
                        .limit,
                        "the central directory holds more records than the limit of \(limits.maxEntries); the rest "
                            + "are not listed")
                    break
                }
                if index == declaredCount {
                    findings.add(
                        .headerMismatch,
                        "the central directory holds records past the \(declaredCount) the end record declares; "
                            + "Python's zipfile lists them, miniz/PyTorch do not")
                }
            }
            guard let recordEnd = Checked.add(position, 46), recordEnd <= end,
                let fixed = try reader.bytes(at: position, count: 46),
                LittleEndian.u32(fixed, 0) == ZipSignature.centralHeader
            else {
                if index == 0 {
                    throw MLSecError.malformed(
                        "\(label): no central directory record at offset \(position)")
                }
                findings.add(
                    .headerMismatch,
                    "the end record declares \(declaredCount) entries but the central directory holds only \(index) "
                        + "readable records")
                break
            }
            let nameLength = Int(LittleEndian.u16(fixed, 28))
            let extraLength = Int(LittleEndian.u16(fixed, 30))
            let commentLength = Int(LittleEndian.u16(fixed, 32))
            guard let variableEnd = Checked.add(recordEnd, nameLength + extraLength, commentLength),
                variableEnd <= end,
                let variable = try reader.bytes(at: recordEnd, count: nameLength + extraLength)
            else {
                if index == 0 {
                    throw MLSecError.malformed("\(label): the first central directory record is truncated")
                }
                findings.add(
                    .headerMismatch,
                    "central directory record \(index) runs past the end of the central directory; the listing "
                        + "stops there")
                break
            }
            if nameLength > limits.maxNameBytes {
                findings.add(
                    .limit,
                    "entry \(index) has a \(nameLength)-byte name, over the limit of \(limits.maxNameBytes) bytes; "
                        + "the listing stops there", index: index)
                break
            }
            records.append(
                parseCentralRecord(
                    fixed: fixed, name: Array(variable[0..<nameLength]), extra: Array(variable[nameLength...]),
                    index: index, shift: shift))
            position = variableEnd
            index += 1
        }
        return records
    }

    private mutating func parseCentralRecord(
        fixed: [UInt8], name rawName: [UInt8], extra: [UInt8], index: Int, shift: Int
    )
        -> ZipCentralRecord
    {
        let flags = LittleEndian.u16(fixed, 8)
        let name = decodeName(rawName, flags: flags, index: index)
        var uncompressed = UInt64(LittleEndian.u32(fixed, 24))
        var compressed = UInt64(LittleEndian.u32(fixed, 20))
        var offset = UInt64(LittleEndian.u32(fixed, 42))
        let fields = extraFields(extra)
        if !fields.wellFormed {
            findings.add(
                .headerMismatch,
                "entry \(ArchivePath.quoted(name))'s central extra field is malformed; Python's zipfile refuses the "
                    + "archive, miniz ignores it", name: name, index: index)
        }
        if uncompressed == 0xFFFF_FFFF || compressed == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            var complete = false
            if let zip64 = fields.first(0x0001) {
                var p = 0
                complete = true
                func take(_ value: inout UInt64) {
                    guard value == 0xFFFF_FFFF else { return }
                    if p + 8 <= zip64.count {
                        value = LittleEndian.u64(zip64, p)
                        p += 8
                    } else {
                        complete = false
                    }
                }
                take(&uncompressed)
                take(&compressed)
                take(&offset)
            }
            if !complete {
                findings.add(
                    .headerMismatch,
                    "entry \(ArchivePath.quoted(name)) defers a size or offset to ZIP64 but its ZIP64 extra field is "
                        + "missing or short", name: name, index: index)
            }
        }
        var unicodePathName: String?
        if let field = fields.first(0x7075), field.count >= 5, field[0] == 1,
            LittleEndian.u32(field, 1) == CRC32.checksum(rawName)
        {
            let alternate = String(decoding: field[5...], as: UTF8.self)
            if alternate != name {
                unicodePathName = alternate
                findings.add(
                    .headerMismatch,
                    "entry \(ArchivePath.quoted(name)) carries an Info-ZIP Unicode Path field naming it "
                        + "\(ArchivePath.quoted(alternate)); Info-ZIP unzip and 7-Zip use that name, miniz and Python "
                        + "the header's", name: name, index: index)
            }
        }
        let shiftedOffset: Int
        if shift >= 0 {
            shiftedOffset = Checked.add(Checked.int(offset), shift) ?? Int.max
        } else {
            shiftedOffset = Checked.int(offset) >= -shift ? Checked.int(offset) + shift : -1
        }
        return ZipCentralRecord(
            index: index, rawName: rawName, name: name, unicodePathName: unicodePathName,
            versionMadeBy: LittleEndian.u16(fixed, 4), flags: flags, method: LittleEndian.u16(fixed, 10),
            crc32: LittleEndian.u32(fixed, 16), compressedSize: Checked.int(compressed),
            uncompressedSize: Checked.int(uncompressed), localHeaderOffset: shiftedOffset,
            externalAttributes: LittleEndian.u32(fixed, 38))
    }

    private mutating func decodeName(_ raw: [UInt8], flags: UInt16, index: Int) -> String {
        let utf8Flag = flags & 0x0800 != 0
        let name: String
        if utf8Flag {
            if let decoded = ZipNameDecoding.strictUTF8(raw) {
                name = decoded
            } else {
                name = String(decoding: raw, as: UTF8.self)
                findings.add(
                    .flagTrick,
                    "entry \(index)'s name is flagged UTF-8 (bit 11) but is not valid UTF-8; readers decode it "
                        + "differently", name: name, index: index)
            }
        } else if raw.allSatisfy({ $0 < 0x80 }) {
            name = String(decoding: raw, as: UTF8.self)
        } else {
            name = ZipNameDecoding.cp437(raw)
            if let utf8 = ZipNameDecoding.strictUTF8(raw) {
                findings.add(
                    .flagTrick,
                    "entry \(index)'s name is UTF-8 (\(ArchivePath.quoted(utf8))) but the UTF-8 flag (bit 11) is not "
                        + "set: Python's zipfile decodes it as code page 437 (\(ArchivePath.quoted(name))), many other "
                        + "tools as UTF-8", name: name, index: index)
            }
        }
        if raw.contains(0) {
            findings.add(
                .flagTrick,
                "entry \(index)'s name contains a NUL byte; readers that use C strings see only "
                    + "\(ArchivePath.quoted(String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)))",
                name: name, index: index)
        }
        return name
    }

    // MARK: - Local headers

    private mutating func readLocalHeader(_ record: ZipCentralRecord) throws -> ZipEntry {
        let name = record.name
        let index = record.index
        var quoted: String { ArchivePath.quoted(name) }
        var hasLocal = false
        var dataOffset = record.localHeaderOffset
        var descriptorLength = 0
        // One read usually covers the fixed part, the name and a typical extra field.
        let guess = try source.read(at: record.localHeaderOffset, count: 30 + record.rawName.count + 96)
        if guess.count >= 30, LittleEndian.u32(guess, 0) == ZipSignature.localHeader {
            let fixed = Array(guess[0..<30])
            let nameLength = Int(LittleEndian.u16(fixed, 26))
            let extraLength = Int(LittleEndian.u16(fixed, 28))
            let variable: [UInt8]?
            if guess.count >= 30 + nameLength + extraLength {
                variable = Array(guess[30..<(30 + nameLength + extraLength)])
            } else {
                variable = try source.readExactly(at: record.localHeaderOffset + 30, count: nameLength + extraLength)
            }
            if let variable {
                hasLocal = true
                dataOffset = record.localHeaderOffset + 30 + nameLength + extraLength
                let localName = Array(variable[0..<nameLength])
                let localExtra = Array(variable[nameLength...])
                descriptorLength = try compareLocalHeader(
                    record, fixed: fixed, localName: localName, localExtra: localExtra, dataOffset: dataOffset)
            } else {
                findings.add(
                    .headerMismatch,
                    "entry \(quoted)'s local header at offset \(record.localHeaderOffset) is truncated",
                    name: name, index: index)
            }
        } else {
            findings.add(
                .headerMismatch,
                "entry \(quoted) has no local header at offset \(record.localHeaderOffset) (the central directory "
                    + "points outside the file or at something else)", name: name, index: index)
        }
        let unixMode = record.externalAttributes >> 16
        let fileType = unixMode & 0o170000
        let isDirectory =
            record.rawName.last == UInt8(ascii: "/") || fileType == 0o040000 || record.externalAttributes & 0x10 != 0
        return ZipEntry(
            index: index, name: name, rawName: record.rawName, compressedSize: record.compressedSize,
            uncompressedSize: record.uncompressedSize, method: record.method, flags: record.flags,
            crc32: record.crc32, localHeaderOffset: record.localHeaderOffset, dataOffset: dataOffset,
            isDirectory: isDirectory, isSymlink: fileType == 0o120000, isEncrypted: record.flags & 0x0041 != 0,
            externalAttributes: record.externalAttributes, versionMadeBy: record.versionMadeBy,
            hasLocalHeader: hasLocal, descriptorLength: descriptorLength)
    }

    /// Reports every way the local header (and data descriptor) disagrees with the central record; returns the
    /// length of the data descriptor found after the data.
    private mutating func compareLocalHeader(
        _ record: ZipCentralRecord, fixed: [UInt8], localName: [UInt8], localExtra: [UInt8], dataOffset: Int
    ) throws -> Int {
        let name = record.name
        let index = record.index
        var quoted: String { ArchivePath.quoted(name) }
        let localFlags = LittleEndian.u16(fixed, 6)
        let localMethod = LittleEndian.u16(fixed, 8)
        let localCRC = LittleEndian.u32(fixed, 14)
        var localCompressed = UInt64(LittleEndian.u32(fixed, 18))
        var localUncompressed = UInt64(LittleEndian.u32(fixed, 22))
        if localName != record.rawName {
            findings.add(
                .headerMismatch,
                "entry \(quoted)'s local header names it "
                    + ArchivePath.quoted(ZipNameDecoding.strictUTF8(localName) ?? ZipNameDecoding.cp437(localName))
                    + "; "
                    + "Python's zipfile refuses such an entry, miniz and extractors that stream local headers "
                    + "disagree on its name", name: name, index: index)
        }
        if localMethod != record.method {
            findings.add(
                .headerMismatch,
                "entry \(quoted)'s local header gives compression method \(localMethod), the central directory "
                    + "\(record.method)", name: name, index: index)
        }
        let ignoredBits: UInt16 = 0x0006  // deflate option bits 1 and 2 carry no meaning for readers
        if localFlags & ~ignoredBits != record.flags & ~ignoredBits {
            findings.add(
                .headerMismatch,
                "entry \(quoted)'s local header flags are 0x\(String(localFlags, radix: 16)), the central "
                    + "directory's 0x\(String(record.flags, radix: 16))", name: name, index: index)
        }
        let localFields = extraFields(localExtra)
        var localZip64 = false
        if localCompressed == 0xFFFF_FFFF || localUncompressed == 0xFFFF_FFFF {
            if let zip64 = localFields.first(0x0001) {
                localZip64 = true
                var p = 0
                if localUncompressed == 0xFFFF_FFFF, p + 8 <= zip64.count {
                    localUncompressed = LittleEndian.u64(zip64, p)
                    p += 8
                }
                if localCompressed == 0xFFFF_FFFF, p + 8 <= zip64.count {
                    localCompressed = LittleEndian.u64(zip64, p)
                }
            }
        }
        let usesDescriptor = (localFlags | record.flags) & 0x0008 != 0
        let centralCompressed = UInt64(record.compressedSize)
        let centralUncompressed = UInt64(record.uncompressedSize)
        if usesDescriptor {
            // Bit 3: the local CRC and sizes may be zero, the real values following the data (APPNOTE 4.4.4).
            let crcOK = localCRC == 0 || localCRC == record.crc32
            let compressedOK = localCompressed == 0 || localCompressed == centralCompressed
            let uncompressedOK = localUncompressed == 0 || localUncompressed == centralUncompressed
            if !(crcOK && compressedOK && uncompressedOK) {
                findings.add(
                    .headerMismatch,
                    "entry \(quoted)'s local header gives CRC \(hex32(localCRC)) and sizes \(localCompressed)/"
                        + "\(localUncompressed), the central directory \(hex32(record.crc32)) and "
                        + "\(centralCompressed)/\(centralUncompressed)", name: name, index: index)
            }
            return try checkDataDescriptor(record, dataOffset: dataOffset, zip64: localZip64)
        }
        if localCRC != record.crc32 || localCompressed != centralCompressed
            || localUncompressed != centralUncompressed
        {
            findings.add(
                .headerMismatch,
                "entry \(quoted)'s local header gives CRC \(hex32(localCRC)) and sizes \(localCompressed)/"
                    + "\(localUncompressed), the central directory \(hex32(record.crc32)) and "
                    + "\(centralCompressed)/\(centralUncompressed); streaming extractors read the local values",
                name: name, index: index)
        }
        return 0
    }

    /// Checks the data descriptor after an entry's data against the central record; returns its length.
    private mutating func checkDataDescriptor(_ record: ZipCentralRecord, dataOffset: Int, zip64: Bool) throws -> Int {
        var quoted: String { ArchivePath.quoted(record.name) }
        guard let position = Checked.add(dataOffset, record.compressedSize) else { return 0 }
        let bytes = try source.read(at: position, count: 24)
        let start = bytes.count >= 4 && LittleEndian.u32(bytes, 0) == ZipSignature.dataDescriptor ? 4 : 0
        let narrowLength = start + 12
        let wideLength = start + 20
        let narrowMatches =
            bytes.count >= narrowLength && LittleEndian.u32(bytes, start) == record.crc32
            && UInt64(LittleEndian.u32(bytes, start + 4)) == UInt64(record.compressedSize)
            && UInt64(LittleEndian.u32(bytes, start + 8)) == UInt64(record.uncompressedSize)
        let wideMatches =
            bytes.count >= wideLength && LittleEndian.u32(bytes, start) == record.crc32
            && LittleEndian.u64(bytes, start + 4) == UInt64(record.compressedSize)
            && LittleEndian.u64(bytes, start + 12) == UInt64(record.uncompressedSize)
        let preferWide = zip64 || record.compressedSize >= 0xFFFF_FFFF || record.uncompressedSize >= 0xFFFF_FFFF
        if preferWide ? wideMatches : narrowMatches { return preferWide ? wideLength : narrowLength }
        if wideMatches { return wideLength }
        if narrowMatches { return narrowLength }
        let length = preferWide ? wideLength : narrowLength
        if bytes.count < length {
            findings.add(
                .headerMismatch,
                "entry \(quoted) announces a data descriptor (flag bit 3) but the file ends before it",
                name: record.name, index: record.index)
            return 0
        }
        findings.add(
            .headerMismatch,
            "entry \(quoted)'s data descriptor disagrees with the central directory (CRC or sizes); streaming "
                + "extractors trust the descriptor", name: record.name, index: record.index)
        return length
    }

    // MARK: - Extra fields

    /// The records of an extra field (APPNOTE 4.5): 2-byte id, 2-byte length, data.
    struct ExtraFields {
        var fields: [(id: UInt16, data: [UInt8])] = []
        var wellFormed = true

        func first(_ id: UInt16) -> [UInt8]? { fields.first { $0.id == id }?.data }
    }

    private func extraFields(_ extra: [UInt8]) -> ExtraFields {
        var result = ExtraFields()
        var p = 0
        while p < extra.count {
            guard p + 4 <= extra.count else {
                // Fewer than 4 bytes left: padding some writers leave (Python's zipfile ignores it too).
                if extra[p...].contains(where: { $0 != 0 }) { result.wellFormed = false }
                break
            }
            let id = LittleEndian.u16(extra, p)
            let length = Int(LittleEndian.u16(extra, p + 2))
            guard p + 4 + length <= extra.count else {
                result.wellFormed = false
                break
            }
            result.fields.append((id, Array(extra[(p + 4)..<(p + 4 + length)])))
            p += 4 + length
        }
        return result
    }
}
