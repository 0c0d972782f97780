// ZipArchive+Consistency: cross-entry checks of a parsed zip (names, duplicates, overlaps, bombs, flags, layout).

/// Raw name bytes as a dictionary key, hashed in one call rather than byte by byte.
struct ByteKey: Hashable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

extension ZipParser {
    /// Adds the findings that need the whole entry list.
    mutating func checkConsistency(
        entries: [ZipEntry], records: [ZipCentralRecord], directoryStart: Int, shift: Int, lookupOrder: [Int]
    ) {
        checkEntries(entries, records: records)
        checkDuplicates(entries, lookupOrder: lookupOrder)
        checkLayout(entries, directoryStart: directoryStart, shift: shift)
    }

    private mutating func checkEntries(_ entries: [ZipEntry], records: [ZipCentralRecord]) {
        var declaredTotal = 0
        for (entry, record) in zip(entries, records) {
            let name = entry.name
            var quoted: String { ArchivePath.quoted(name) }
            let index = entry.index
            for candidate in [name] + (record.unicodePathName.map { [$0] } ?? []) {
                if ArchivePath.hasParentReference(candidate) {
                    findings.add(
                        .pathTraversal,
                        "entry \(ArchivePath.quoted(candidate)) has a '..' component and would be extracted outside "
                            + "the target folder", name: name, index: index)
                }
                if ArchivePath.isAbsolute(candidate) {
                    findings.add(
                        .absolutePath, "entry \(ArchivePath.quoted(candidate)) has an absolute path", name: name,
                        index: index)
                }
            }
            if entry.isSymlink {
                findings.add(
                    .symlink,
                    "entry \(quoted) is a symbolic link (Unix mode "
                        + "0o\(String(entry.externalAttributes >> 16, radix: 8))); "
                        + "extracting it can redirect later writes", name: name, index: index)
            }
            checkFlags(entry)
            if !ZipMethod.isSupported(entry.method) {
                findings.add(
                    .unsupportedMethod,
                    "entry \(quoted) uses compression method \(entry.method) (\(ZipMethod.name(entry.method))), which "
                        + "this scanner cannot decompress", name: name, index: index)
            }
            if entry.method == 0, entry.compressedSize != entry.uncompressedSize, !entry.isEncrypted {
                findings.add(
                    .headerMismatch,
                    "entry \(quoted) is stored but declares \(entry.compressedSize) stored and "
                        + "\(entry.uncompressedSize) uncompressed bytes; miniz/PyTorch refuse the archive",
                    name: name, index: index)
            }
            if entry.uncompressedSize > 0,
                Checked.multiply(entry.compressedSize, limits.maxCompressionRatio).map({ entry.uncompressedSize > $0 })
                    ?? false
            {
                findings.add(
                    .compressionBomb,
                    "entry \(quoted) declares \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed, "
                        + "a ratio over the limit of \(limits.maxCompressionRatio):1; it was not decompressed",
                    name: name, index: index)
            }
            if entry.uncompressedSize > limits.maxEntryUncompressed {
                findings.add(
                    .limit,
                    "entry \(quoted) declares \(entry.uncompressedSize) bytes, over the per-entry limit of "
                        + "\(limits.maxEntryUncompressed)", name: name, index: index)
            }
            declaredTotal = Checked.add(declaredTotal, entry.uncompressedSize) ?? Int.max
        }
        if declaredTotal > limits.maxTotalUncompressed {
            findings.add(
                .compressionBomb,
                "the entries declare \(declaredTotal == Int.max ? "more than \(Int.max)" : String(declaredTotal)) "
                    + "uncompressed bytes in total, over the limit of \(limits.maxTotalUncompressed); nothing was "
                    + "decompressed")
        }
    }

    private mutating func checkFlags(_ entry: ZipEntry) {
        let name = entry.name
        var quoted: String { ArchivePath.quoted(name) }
        let flags = entry.flags
        if entry.isEncrypted {
            findings.add(
                .encrypted, "entry \(quoted) is encrypted (flags 0x\(String(flags, radix: 16))); it cannot be scanned",
                name: name, index: entry.index)
        }
        if flags & 0x2000 != 0 {
            findings.add(
                .encrypted,
                "entry \(quoted) sets flag bit 13 (masked local header, central directory encryption)", name: name,
                index: entry.index)
        }
        if flags & 0x0001 != 0, entry.method == 0, entry.compressedSize == entry.uncompressedSize {
            // Traditional PKWARE encryption puts a 12-byte header before the data (APPNOTE 6.1.3), so an encrypted
            // stored entry is 12 bytes longer than its content. No room for it: the bit is a decoy.
            findings.add(
                .flagTrick,
                "entry \(quoted) sets the encryption flag but is stored with no room for an encryption header; "
                    + "readers that honour the flag skip it, others read it in the clear", name: name,
                index: entry.index)
        }
        if flags & 0x0040 != 0, flags & 0x0001 == 0 {
            findings.add(
                .flagTrick,
                "entry \(quoted) sets the strong-encryption flag (bit 6) without the encryption flag (bit 0)",
                name: name, index: entry.index)
        }
    }

    private mutating func checkDuplicates(_ entries: [ZipEntry], lookupOrder order: [Int]) {
        var exact: [ByteKey: [Int]] = [:]
        var normalized: [String: [Int]] = [:]
        for entry in entries {
            exact[ByteKey(entry.rawName), default: []].append(entry.index)
            normalized[ArchivePath.normalized(entry.name), default: []].append(entry.index)
        }
        var reported = Set<[Int]>()
        let exactGroups = exact.values.filter { $0.count > 1 }.sorted { $0[0] < $1[0] }
        for indices in exactGroups {
            reported.insert(indices)
            let first = entries[indices[0]]
            var message =
                "\(indices.count) entries are named \(ArchivePath.quoted(first.name)) (central directory records "
                + "\(indices.map(String.init).joined(separator: ", "))); Python's zipfile reads the last"
            if let chosen = MinizLookup.find(first.rawName, order: order, names: { entries[$0].rawName }) {
                message += ", PyTorch (miniz) reads record \(chosen)"
            }
            findings.add(.duplicateName, message, name: first.name, index: first.index)
        }
        let normalizedGroups = normalized.filter { $0.value.count > 1 }.sorted { $0.value[0] < $1.value[0] }
        for (key, indices) in normalizedGroups {
            let distinct = Set(indices.map { entries[$0].rawName })
            guard distinct.count > 1, !reported.contains(indices) else { continue }
            let names = indices.prefix(8).map { ArchivePath.quoted(entries[$0].name) }.joined(separator: ", ")
            findings.add(
                .duplicateName,
                "entries \(names) all name the path \(ArchivePath.quoted(key)) once './', '//' and backslashes are "
                    + "normalised; extraction overwrites one with another", name: entries[indices[0]].name,
                index: indices[0])
        }
    }

    private mutating func checkLayout(_ entries: [ZipEntry], directoryStart: Int, shift: Int) {
        let size = source.size
        struct Span {
            var start: Int
            var end: Int
            var index: Int
        }
        var spans: [Span] = []
        spans.reserveCapacity(entries.count)
        for entry in entries where entry.hasLocalHeader {
            let end = Checked.add(entry.dataOffset, entry.compressedSize, entry.descriptorLength) ?? Int.max
            spans.append(Span(start: entry.localHeaderOffset, end: end, index: entry.index))
            var quoted: String { ArchivePath.quoted(entry.name) }
            if end > size {
                findings.add(
                    .headerMismatch,
                    "entry \(quoted)'s \(entry.compressedSize) bytes of data at offset \(entry.dataOffset) run past "
                        + "the end of the \(size)-byte file", name: entry.name, index: entry.index)
            } else if end > directoryStart {
                findings.add(
                    .overlappingEntries,
                    "entry \(quoted)'s data (offsets \(entry.localHeaderOffset)..<\(end)) overlaps the central "
                        + "directory at \(directoryStart)", name: entry.name, index: entry.index)
            }
        }
        spans.sort { ($0.start, $0.index) < ($1.start, $1.index) }
        var furthest: Span?
        for span in spans {
            if let previous = furthest, span.start < previous.end {
                let a = entries[previous.index]
                let b = entries[span.index]
                let what = span.start == previous.start ? "share the local header at \(span.start)" : "overlap"
                findings.add(
                    .overlappingEntries,
                    "entries \(ArchivePath.quoted(a.name)) (\(previous.start)..<\(previous.end)) and "
                        + "\(ArchivePath.quoted(b.name)) (\(span.start)..<\(span.end)) \(what); overlapping entries "
                        + "are a zip-bomb technique and let one byte range mean two things", name: b.name,
                    index: b.index)
            }
            if furthest.map({ span.end > $0.end }) ?? true { furthest = span }
        }
        let firstByte = spans.first?.start ?? directoryStart
        if firstByte > 0, !(shift > 0 && firstByte == shift) {
            findings.add(
                .prependedData,
                "\(firstByte) bytes precede the first local header; they belong to no entry (a self-extractor stub, "
                    + "or another file format sharing this file)")
        }
    }
}
