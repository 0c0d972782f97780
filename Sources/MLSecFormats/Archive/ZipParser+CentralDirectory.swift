// ZipParser+CentralDirectory: the central directory: records, names, sizes and offsets, checked.

import MLSecCore

extension ZipParser {
    // MARK: - Central directory

    func signature(at offset: Int) throws -> UInt32? {
        guard let bytes = try source.readExactly(at: offset, count: 4) else { return nil }
        return try ByteCursor.u32(bytes, at: 0)
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

    mutating func readCentralDirectory(start: Int, end: Int, declaredCount: Int, shift: Int) throws
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
                    try ByteCursor.u32(head, at: 0) == ZipSignature.centralHeader
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
                try ByteCursor.u32(fixed, at: 0) == ZipSignature.centralHeader
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
            let nameLength = Int(try ByteCursor.u16(fixed, at: 28))
            let extraLength = Int(try ByteCursor.u16(fixed, at: 30))
            let commentLength = Int(try ByteCursor.u16(fixed, at: 32))
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
                try parseCentralRecord(
                    fixed: fixed, name: Array(variable[0..<nameLength]), extra: Array(variable[nameLength...]),
                    index: index, shift: shift))
            position = variableEnd
            index += 1
        }
        return records
    }

    mutating func parseCentralRecord(
        fixed: [UInt8], name rawName: [UInt8], extra: [UInt8], index: Int, shift: Int
    ) throws
        -> ZipCentralRecord
    {
        let flags = try ByteCursor.u16(fixed, at: 8)
        let name = decodeName(rawName, flags: flags, index: index)
        var uncompressed = UInt64(try ByteCursor.u32(fixed, at: 24))
        var compressed = UInt64(try ByteCursor.u32(fixed, at: 20))
        var offset = UInt64(try ByteCursor.u32(fixed, at: 42))
        let fields = try extraFields(extra)
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
                func take(_ value: inout UInt64) throws {
                    guard value == 0xFFFF_FFFF else { return }
                    if p + 8 <= zip64.count {
                        value = try ByteCursor.u64(zip64, at: p)
                        p += 8
                    } else {
                        complete = false
                    }
                }
                try take(&uncompressed)
                try take(&compressed)
                try take(&offset)
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
            try ByteCursor.u32(field, at: 1) == CRC32.checksum(rawName)
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
            versionMadeBy: try ByteCursor.u16(fixed, at: 4), flags: flags, method: try ByteCursor.u16(fixed, at: 10),
            crc32: try ByteCursor.u32(fixed, at: 16), compressedSize: Checked.int(compressed),
            uncompressedSize: Checked.int(uncompressed), localHeaderOffset: shiftedOffset,
            externalAttributes: try ByteCursor.u32(fixed, at: 38))
    }

    mutating func decodeName(_ raw: [UInt8], flags: UInt16, index: Int) -> String {
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
}
