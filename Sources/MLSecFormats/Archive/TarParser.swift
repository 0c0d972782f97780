// TarParser: walks a tar archive's header blocks (GNU long names, PAX records) and lists its members.

import MLSecCore

struct TarParser {
    let source: ArchiveByteSource
    let limits: TarLimits
    var entries: [TarEntry] = []
    var findings: [TarFinding] = []
    var findingCounts: [TarAnomaly: Int] = [:]
    static let perKindCap = 1000

    init(source: ArchiveByteSource, limits: TarLimits) {
        self.source = source
        self.limits = limits
    }

    var label: String { source.label }

    mutating func add(_ kind: TarAnomaly, _ message: String, name: String? = nil, index: Int? = nil) {
        let seen = findingCounts[kind, default: 0]
        findingCounts[kind] = seen + 1
        if seen < Self.perKindCap {
            findings.append(TarFinding(kind: kind, message: message, entryName: name, entryIndex: index))
        }
    }

    func findingList() -> [TarFinding] {
        var out = findings
        for kind in TarAnomaly.allCases {
            let total = findingCounts[kind, default: 0]
            if total > Self.perKindCap {
                out.append(
                    TarFinding(
                        kind: kind,
                        message: "\(total - Self.perKindCap) further \(kind.rawValue) findings were not listed"))
            }
        }
        return out
    }

    /// Stops listing: throws when nothing has been read yet (not a tar archive), else records a finding.
    mutating func stop(_ kind: TarAnomaly, _ message: String, atStart: Bool) throws {
        if atStart { throw MLSecError.malformed("\(label) is not a tar archive: \(message)") }
        add(kind, message)
    }

    mutating func parse() throws {
        let size = source.size
        var offset = 0
        var globalPax: [String: String] = [:]
        var localPax: [String: String]?
        var longName: [UInt8]?
        var longLink: [UInt8]?
        var memberStart: Int?
        guard size >= 512 else {
            throw MLSecError.malformed("\(label) is \(size) bytes, shorter than one 512-byte tar header")
        }
        while true {
            let atStart = offset == 0
            guard let block = try source.readExactly(at: offset, count: 512) else {
                if offset < size {
                    try stop(
                        .truncated, "the file ends \(size - offset) bytes into a header at offset \(offset)",
                        atStart: atStart)
                } else if memberStart != nil {
                    add(.truncated, "the file ends after an extended header, before the member it describes")
                } else {
                    add(.truncated, "the archive has no end-of-archive marker (two zero blocks)")
                }
                return
            }
            if block.allSatisfy({ $0 == 0 }) {
                try checkAfterEnd(offset)
                return
            }
            guard TarHeader.checksumMatches(block) else {
                try stop(
                    .badChecksum,
                    "the header at offset \(offset) has a bad checksum; Python's tarfile stops listing here, GNU "
                        + "tar skips to the next valid header", atStart: atStart)
                return
            }
            guard let declaredSize = TarHeader.number(block[124..<136]) else {
                try stop(.headerMismatch, "the header at offset \(offset) has an invalid size field", atStart: atStart)
                return
            }
            let typeFlag = block[156]
            let dataOffset = offset + 512
            memberStart = memberStart ?? offset

            switch typeFlag {
            case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "X"):
                guard declaredSize <= limits.maxExtendedHeaderBytes else {
                    add(
                        .limit,
                        "the extended header at offset \(offset) is \(declaredSize) bytes, over the limit of "
                            + "\(limits.maxExtendedHeaderBytes); listing stops")
                    return
                }
                guard let payload = try source.readExactly(at: dataOffset, count: declaredSize),
                    let next = Checked.roundUp(declaredSize, to: 512).flatMap({ Checked.add(dataOffset, $0) })
                else {
                    try stop(
                        .truncated, "the extended header at offset \(offset) runs past the end of the file",
                        atStart: atStart)
                    return
                }
                if typeFlag == UInt8(ascii: "L") {
                    longName = TarHeader.string(payload[...])
                } else if typeFlag == UInt8(ascii: "K") {
                    longLink = TarHeader.string(payload[...])
                } else {
                    guard let records = Self.paxRecords(payload) else {
                        try stop(
                            .headerMismatch,
                            "the PAX header at offset \(offset) is malformed; Python's tarfile stops listing here",
                            atStart: atStart)
                        return
                    }
                    if typeFlag == UInt8(ascii: "g") {
                        for (key, value) in records {
                            if value.isEmpty { globalPax[key] = nil } else { globalPax[key] = value }
                            if key == "path" || key == "linkpath" || key == "size" {
                                add(
                                    .headerMismatch,
                                    "a global PAX header at offset \(offset) sets '\(key)' for every later member; "
                                        + "readers disagree on whether it applies")
                            }
                        }
                    } else {
                        var merged = localPax ?? [:]
                        for (key, value) in records { merged[key] = value }
                        localPax = merged
                    }
                }
                offset = next
                continue
            default:
                break
            }

            // A member header.
            if entries.count >= limits.maxEntries {
                add(.limit, "the archive has more than \(limits.maxEntries) members; the rest are not listed")
                return
            }
            let index = entries.count
            var nameBytes = TarHeader.string(block[0..<100])
            let prefix = TarHeader.string(block[345..<500])
            let magic = Array(block[257..<263])
            let isGNU = magic == Array("ustar ".utf8) && block[263] == UInt8(ascii: " ")
            if !prefix.isEmpty, typeFlag != UInt8(ascii: "S") {
                if isGNU {
                    add(
                        .headerMismatch,
                        "the GNU-format header at offset \(offset) has bytes in the ustar prefix field; Python's "
                            + "tarfile prepends them to the name, GNU tar does not", index: index)
                }
                nameBytes = prefix + [UInt8(ascii: "/")] + nameBytes
            }
            var kind = Self.kind(typeFlag)
            if typeFlag == 0, nameBytes.last == UInt8(ascii: "/") { kind = .directory }
            if let longName { nameBytes = longName }
            var linkBytes = TarHeader.string(block[157..<257])
            if let longLink { linkBytes = longLink }
            var pax = globalPax
            for (key, value) in localPax ?? [:] { pax[key] = value }
            var memberSize = declaredSize
            if let path = pax["path"] { nameBytes = Array(path.utf8) }
            if let link = pax["linkpath"] { linkBytes = Array(link.utf8) }
            if localPax != nil, let text = localPax?["size"] {
                guard let value = Int(text), value >= 0 else {
                    try stop(
                        .headerMismatch, "the PAX size '\(text)' at offset \(offset) is not a size",
                        atStart: false)
                    return
                }
                memberSize = value
            }
            var name = String(decoding: nameBytes, as: UTF8.self)
            if kind == .directory {
                while name.count > 1, name.hasSuffix("/") { name.removeLast() }
            }
            guard nameBytes.count <= limits.maxNameBytes, linkBytes.count <= limits.maxNameBytes else {
                add(
                    .limit,
                    "member \(index) has a name or link target over \(limits.maxNameBytes) bytes; listing stops",
                    index: index)
                return
            }
            if kind == .sparse, block[482] != 0 {
                add(
                    .unsupportedType,
                    "member \(ArchivePath.quoted(name)) is an old-GNU sparse file with extension headers; listing "
                        + "stops", name: name, index: index)
                return
            }
            // Python's tarfile skips data only for regular files and unknown types (tarfile.py, _proc_builtin).
            let skipsData = kind == .file || kind == .other || kind == .sparse
            if !skipsData, memberSize > 0 {
                add(
                    .headerMismatch,
                    "member \(ArchivePath.quoted(name)) is a \(kind.rawValue) but declares \(memberSize) bytes of "
                        + "data; "
                        + "Python's tarfile reads those bytes as the next header, other readers skip them",
                    name: name, index: index)
            }
            let headerOffset = memberStart ?? offset
            entries.append(
                TarEntry(
                    index: index, name: name, rawName: nameBytes, linkName: String(decoding: linkBytes, as: UTF8.self),
                    size: memberSize, typeFlag: typeFlag, kind: kind,
                    mode: UInt32(clamping: TarHeader.number(block[100..<108]) ?? 0),
                    headerOffset: headerOffset, dataOffset: dataOffset, paxHeaders: pax))
            longName = nil
            longLink = nil
            localPax = nil
            memberStart = nil
            guard skipsData else {
                offset = dataOffset
                continue
            }
            guard let padded = Checked.roundUp(memberSize, to: 512), let next = Checked.add(dataOffset, padded),
                Checked.add(dataOffset, memberSize).map({ $0 <= size }) ?? false
            else {
                add(
                    .truncated,
                    "member \(ArchivePath.quoted(name)) declares \(memberSize) bytes of data but the file ends at "
                        + "\(size); Python's tarfile refuses the archive", name: name, index: index)
                return
            }
            offset = next
        }
    }
}
