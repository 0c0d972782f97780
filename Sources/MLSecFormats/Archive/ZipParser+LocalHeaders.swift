// ZipParser+LocalHeaders: each entry's local header and data descriptor, compared with its central record; extra fields.

import MLSecCore

extension ZipParser {
    // MARK: - Local headers

    mutating func readLocalHeader(_ record: ZipCentralRecord) throws -> ZipEntry {
        let name = record.name
        let index = record.index
        var quoted: String { ArchivePath.quoted(name) }
        var hasLocal = false
        var dataOffset = record.localHeaderOffset
        var descriptorLength = 0
        // One read usually covers the fixed part, the name and a typical extra field.
        let guess = try source.read(at: record.localHeaderOffset, count: 30 + record.rawName.count + 96)
        if guess.count >= 30, try ByteCursor.u32(guess, at: 0) == ZipSignature.localHeader {
            let fixed = Array(guess[0..<30])
            let nameLength = Int(try ByteCursor.u16(fixed, at: 26))
            let extraLength = Int(try ByteCursor.u16(fixed, at: 28))
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
    mutating func compareLocalHeader(
        _ record: ZipCentralRecord, fixed: [UInt8], localName: [UInt8], localExtra: [UInt8], dataOffset: Int
    ) throws -> Int {
        let name = record.name
        let index = record.index
        var quoted: String { ArchivePath.quoted(name) }
        let localFlags = try ByteCursor.u16(fixed, at: 6)
        let localMethod = try ByteCursor.u16(fixed, at: 8)
        let localCRC = try ByteCursor.u32(fixed, at: 14)
        var localCompressed = try UInt64(ByteCursor.u32(fixed, at: 18))
        var localUncompressed = try UInt64(ByteCursor.u32(fixed, at: 22))
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
        let localFields = try extraFields(localExtra)
        var localZip64 = false
        if localCompressed == 0xFFFF_FFFF || localUncompressed == 0xFFFF_FFFF {
            if let zip64 = localFields.first(0x0001) {
                localZip64 = true
                var p = 0
                if localUncompressed == 0xFFFF_FFFF, p + 8 <= zip64.count {
                    localUncompressed = try ByteCursor.u64(zip64, at: p)
                    p += 8
                }
                if localCompressed == 0xFFFF_FFFF, p + 8 <= zip64.count {
                    localCompressed = try ByteCursor.u64(zip64, at: p)
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
    mutating func checkDataDescriptor(_ record: ZipCentralRecord, dataOffset: Int, zip64: Bool) throws -> Int {
        var quoted: String { ArchivePath.quoted(record.name) }
        guard let position = Checked.add(dataOffset, record.compressedSize) else { return 0 }
        let bytes = try source.read(at: position, count: 24)
        let start = try bytes.count >= 4 && ByteCursor.u32(bytes, at: 0) == ZipSignature.dataDescriptor ? 4 : 0
        let narrowLength = start + 12
        let wideLength = start + 20
        let narrowMatches =
            try bytes.count >= narrowLength && ByteCursor.u32(bytes, at: start) == record.crc32
            && UInt64(ByteCursor.u32(bytes, at: start + 4)) == UInt64(record.compressedSize)
            && UInt64(ByteCursor.u32(bytes, at: start + 8)) == UInt64(record.uncompressedSize)
        let wideMatches =
            try bytes.count >= wideLength && ByteCursor.u32(bytes, at: start) == record.crc32
            && ByteCursor.u64(bytes, at: start + 4) == UInt64(record.compressedSize)
            && ByteCursor.u64(bytes, at: start + 12) == UInt64(record.uncompressedSize)
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

    func extraFields(_ extra: [UInt8]) throws -> ExtraFields {
        var result = ExtraFields()
        var p = 0
        while p < extra.count {
            guard p + 4 <= extra.count else {
                // Fewer than 4 bytes left: padding some writers leave (Python's zipfile ignores it too).
                if extra[p...].contains(where: { $0 != 0 }) { result.wellFormed = false }
                break
            }
            let id = try ByteCursor.u16(extra, at: p)
            let length = Int(try ByteCursor.u16(extra, at: p + 2))
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
