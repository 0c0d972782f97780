// TarParser+Checks: what a tar listing checks after the walk: data after the end, member kinds, PAX records, entries.

import MLSecCore

extension TarParser {

    /// Reports data after the end-of-archive marker that starts at `offset`.
    mutating func checkAfterEnd(_ offset: Int) throws {
        let size = source.size
        guard let afterMarker = Checked.add(offset, 512), afterMarker < size else { return }
        // The second zero block, then anything else. Look at up to 1 MiB.
        let tail = try source.read(at: afterMarker, count: 1 << 20)
        var start = 0
        if tail.count >= 512, tail[0..<512].allSatisfy({ $0 == 0 }) { start = 512 }
        if let first = tail[start...].firstIndex(where: { $0 != 0 }) {
            let position = afterMarker + first
            var message = "non-zero data at offset \(position), after the end-of-archive marker at \(offset)"
            let aligned = first - first % 512
            if aligned + 512 <= tail.count, TarHeader.checksumMatches(Array(tail[aligned..<(aligned + 512)])) {
                message +=
                    "; a member header follows it, which 'tar --ignore-zeros' and Python's tarfile with "
                    + "ignore_zeros read"
            }
            add(.trailingData, message)
        }
    }

    static func kind(_ flag: UInt8) -> TarEntry.Kind {
        switch flag {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): .file
        case UInt8(ascii: "1"): .hardLink
        case UInt8(ascii: "2"): .symbolicLink
        case UInt8(ascii: "3"): .characterDevice
        case UInt8(ascii: "4"): .blockDevice
        case UInt8(ascii: "5"): .directory
        case UInt8(ascii: "6"): .fifo
        case UInt8(ascii: "S"): .sparse
        default: .other
        }
    }

    /// The records of a PAX extended header ("LEN KEY=VALUE\n", LEN counting the whole record, POSIX.1-2017
    /// pax "extended header"), or `nil` when malformed. Parsing stops at a NUL byte, as Python's tarfile does.
    static func paxRecords(_ payload: [UInt8]) -> [(String, String)]? {
        var records: [(String, String)] = []
        var position = 0
        while position < payload.count, payload[position] != 0 {
            var cursor = position
            var length = 0
            while cursor < payload.count, payload[cursor] >= UInt8(ascii: "0"), payload[cursor] <= UInt8(ascii: "9") {
                guard length <= Int.max / 10 - 10 else { return nil }
                length = length * 10 + Int(payload[cursor] - UInt8(ascii: "0"))
                cursor += 1
            }
            guard cursor > position, cursor < payload.count, payload[cursor] == UInt8(ascii: " "), length >= 5,
                let recordEnd = Checked.add(position, length), recordEnd <= payload.count,
                payload[recordEnd - 1] == UInt8(ascii: "\n"), cursor + 1 < recordEnd - 1
            else {
                return nil
            }
            let body = payload[(cursor + 1)..<(recordEnd - 1)]
            guard let equals = body.firstIndex(of: UInt8(ascii: "=")), equals > body.startIndex else { return nil }
            let key = String(decoding: body[body.startIndex..<equals], as: UTF8.self)
            let value = String(decoding: body[(equals + 1)...], as: UTF8.self)
            records.append((key, value))
            position = recordEnd
        }
        return records
    }

    /// Per-member findings: paths, links, special files, duplicates, unsupported types.
    mutating func checkEntries() {
        var exact: [String: [Int]] = [:]
        var normalized: [String: [Int]] = [:]
        for entry in entries {
            var quoted: String { ArchivePath.quoted(entry.name) }
            if ArchivePath.hasParentReference(entry.name) {
                add(.pathTraversal, "member \(quoted) has a '..' component", name: entry.name, index: entry.index)
            }
            if ArchivePath.isAbsolute(entry.name) {
                add(.absolutePath, "member \(quoted) has an absolute path", name: entry.name, index: entry.index)
            }
            switch entry.kind {
            case .symbolicLink, .hardLink:
                let target = ArchivePath.quoted(entry.linkName)
                if entry.kind == .symbolicLink {
                    add(
                        .symlink, "member \(quoted) is a symbolic link to \(target)", name: entry.name,
                        index: entry.index)
                } else {
                    add(
                        .hardlink,
                        "member \(quoted) is a hard link to \(target); Python's tarfile.extractfile returns the "
                            + "target's data for it", name: entry.name, index: entry.index)
                }
                if ArchivePath.hasParentReference(entry.linkName) {
                    add(
                        .pathTraversal, "link \(quoted) points through '..' to \(target)", name: entry.name,
                        index: entry.index)
                }
                if ArchivePath.isAbsolute(entry.linkName) {
                    add(
                        .absolutePath, "link \(quoted) points to the absolute path \(target)", name: entry.name,
                        index: entry.index)
                }
            case .characterDevice, .blockDevice, .fifo:
                add(.specialFile, "member \(quoted) is a \(entry.kind.rawValue)", name: entry.name, index: entry.index)
            case .sparse:
                add(
                    .unsupportedType, "member \(quoted) is an old-GNU sparse file; its data cannot be read here",
                    name: entry.name, index: entry.index)
            case .other:
                add(
                    .unsupportedType,
                    "member \(quoted) has type flag \(entry.typeFlag) (\(Self.flagText(entry.typeFlag))); tar readers "
                        + "treat it as a regular file", name: entry.name, index: entry.index)
            case .file, .directory:
                break
            }
            exact[entry.name, default: []].append(entry.index)
            normalized[ArchivePath.normalized(entry.name), default: []].append(entry.index)
        }
        var reported = Set<[Int]>()
        for (name, indices) in exact.filter({ $0.value.count > 1 }).sorted(by: { $0.value[0] < $1.value[0] }) {
            reported.insert(indices)
            add(
                .duplicateName,
                "\(indices.count) members are named \(ArchivePath.quoted(name)) (members "
                    + "\(indices.prefix(8).map(String.init).joined(separator: ", "))); Python's tarfile reads the last",
                name: name, index: indices[0])
        }
        for (key, indices) in normalized.filter({ $0.value.count > 1 }).sorted(by: { $0.value[0] < $1.value[0] }) {
            guard !reported.contains(indices), Set(indices.map { entries[$0].name }).count > 1 else { continue }
            add(
                .duplicateName,
                "members \(indices.prefix(8).map { ArchivePath.quoted(entries[$0].name) }.joined(separator: ", ")) "
                    + "all name \(ArchivePath.quoted(key)) after normalisation", name: entries[indices[0]].name,
                index: indices[0])
        }
    }

    static func flagText(_ flag: UInt8) -> String {
        flag >= 0x20 && flag < 0x7f ? "'\(Character(Unicode.Scalar(flag)))'" : "0x\(String(flag, radix: 16))"
    }
}
