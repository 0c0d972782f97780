// TarArchive: a ustar/GNU/PAX tar reader for hostile files (legacy PyTorch tar checkpoints), reading by pread.

import MLSecCore

/// Limits applied while a tar archive is listed.
public struct TarLimits: Sendable {
    /// Most members listed; listing stops with a ``TarAnomaly/limit`` finding after that.
    public var maxEntries: Int
    /// Longest member or link name in bytes (GNU long names and PAX paths included).
    public var maxNameBytes: Int
    /// Largest PAX or GNU long-name header payload read into memory.
    public var maxExtendedHeaderBytes: Int

    /// Limits with the given values.
    public init(maxEntries: Int = 100_000, maxNameBytes: Int = 4096, maxExtendedHeaderBytes: Int = 1 << 20) {
        self.maxEntries = maxEntries
        self.maxNameBytes = maxNameBytes
        self.maxExtendedHeaderBytes = maxExtendedHeaderBytes
    }
}

/// A member of a tar archive, with GNU long names and PAX `path`/`linkpath`/`size` applied.
public struct TarEntry: Sendable, Hashable {
    /// What a member is, from its type flag.
    public enum Kind: String, Sendable {
        /// Regular file (`0`, NUL, or `7` contiguous).
        case file
        /// Hard link to an earlier member (`1`).
        case hardLink = "hard-link"
        /// Symbolic link (`2`).
        case symbolicLink = "symbolic-link"
        /// Character device (`3`).
        case characterDevice = "character-device"
        /// Block device (`4`).
        case blockDevice = "block-device"
        /// Directory (`5`, or a NUL-type name ending in `/`).
        case directory
        /// FIFO (`6`).
        case fifo
        /// Old GNU sparse file (`S`); its data cannot be read here.
        case sparse
        /// Any other type flag; tar readers treat these as regular files with data.
        case other
    }

    /// Position of the member in the archive (0-based; extended headers are not counted).
    public let index: Int
    /// The name as Python's `tarfile` presents it: PAX `path`, else GNU long name, else ustar prefix + name;
    /// trailing `/` removed from directories. Decoded as UTF-8 (invalid bytes replaced).
    public let name: String
    /// The name's bytes before decoding.
    public let rawName: [UInt8]
    /// The link target for hard and symbolic links (empty otherwise).
    public let linkName: String
    /// Size of the member's data in bytes.
    public let size: Int
    /// The raw type flag byte.
    public let typeFlag: UInt8
    /// What the type flag means.
    public let kind: Kind
    /// Permission and mode bits from the header.
    public let mode: UInt32
    /// Offset of the member's first header (its PAX or GNU long-name header when it has one).
    public let headerOffset: Int
    /// Offset of the member's data.
    public let dataOffset: Int
    /// The PAX extended-header records that applied to this member (global ones included).
    public let paxHeaders: [String: String]

    /// `true` for members whose data tar readers read as file content (regular, contiguous and unknown types).
    public var hasData: Bool { kind == .file || kind == .other }
}

/// What kind of tar anomaly a finding reports. Raw values are stable identifiers for reports.
public enum TarAnomaly: String, ArchiveAnomalyKind {
    /// A member or link name has a `..` component.
    case pathTraversal = "path-traversal"
    /// A member or link name is absolute.
    case absolutePath = "absolute-path"
    /// A symbolic link member.
    case symlink
    /// A hard link member.
    case hardlink
    /// A device or FIFO member.
    case specialFile = "special-file"
    /// Two members have the same name (exactly or after normalisation); Python reads the last.
    case duplicateName = "duplicate-name"
    /// A header's checksum does not match; Python's tarfile stops listing there.
    case badChecksum = "bad-checksum"
    /// A member's data or a header runs past the end of the file.
    case truncated
    /// Data after the end-of-archive marker.
    case trailingData = "trailing-data"
    /// Header fields that readers interpret differently (size on a link, GNU prefix, global PAX path...).
    case headerMismatch = "header-mismatch"
    /// A member type this reader cannot read (sparse, multi-volume).
    case unsupportedType = "unsupported-type"
    /// A configured limit was reached; the listing is incomplete.
    case limit
}

/// A structural anomaly of a tar archive.
public typealias TarFinding = ArchiveFinding<TarAnomaly>

/// A tar archive opened for inspection (POSIX ustar, GNU and PAX formats, and pre-POSIX v7 headers).
///
/// Listing follows Python's `tarfile` (which `torch.load` uses for legacy tar checkpoints) where readers
/// differ: it stops at the first bad header after the first member, does not skip data declared on links,
/// directories and devices, prepends the ustar prefix whenever it is set, and applies PAX `size`. Differences
/// from other readers are reported as findings. Only an input whose first header is not a tar header throws.
public struct TarArchive: Sendable {
    /// The members in archive order.
    public let entries: [TarEntry]
    /// Anomalies found while listing.
    public let findings: [TarFinding]

    let source: ArchiveByteSource

    /// Lists the tar archive at `path`, reading it with `pread`.
    public init(path: String, limits: TarLimits = .init()) throws {
        try self.init(source: ArchiveByteSource(path: path), limits: limits)
    }

    /// Lists a tar archive held in memory.
    public init(bytes: [UInt8], limits: TarLimits = .init()) throws {
        try self.init(source: ArchiveByteSource(bytes: bytes), limits: limits)
    }

    init(source: ArchiveByteSource, limits: TarLimits) throws {
        var parser = TarParser(source: source, limits: limits)
        try parser.parse()
        parser.checkEntries()
        self.source = source
        self.entries = parser.entries
        self.findings = parser.findingList()
    }

    /// The data of `entry`, refusing members larger than `maxBytes` (``MLSecError/Code/limitExceeded``) before
    /// reading anything. Links, directories and devices have no data of their own: they throw
    /// ``MLSecError/Code/unsupported`` (see ``memberAsPythonReads(_:)`` for the member Python would read instead).
    public func read(_ entry: TarEntry, maxBytes: Int) throws -> [UInt8] {
        guard maxBytes >= 0 else { throw MLSecError.usage("maxBytes must not be negative") }
        guard entry.size <= maxBytes else {
            throw MLSecError.limitExceeded(
                "tar member \(ArchivePath.quoted(entry.name)) is \(entry.size) bytes, over the \(maxBytes)-byte "
                    + "limit for this read")
        }
        var out: [UInt8] = []
        out.reserveCapacity(min(entry.size, 1 << 26))
        try stream(entry, chunkSize: 1 << 16) { out.append(contentsOf: $0) }
        return out
    }

    /// Passes the data of `entry` to `body` in chunks of at most `chunkSize` bytes.
    public func stream(_ entry: TarEntry, chunkSize: Int = 1 << 20, _ body: (UnsafeRawBufferPointer) throws -> Void)
        throws
    {
        let label = "tar member \(ArchivePath.quoted(entry.name))"
        guard chunkSize > 0 else { throw MLSecError.usage("chunkSize must be positive") }
        guard entry.index >= 0, entry.index < entries.count, entries[entry.index] == entry else {
            throw MLSecError.usage("\(label) does not belong to this archive")
        }
        guard entry.hasData else {
            throw MLSecError.unsupported("\(label) is a \(entry.kind.rawValue) and has no data of its own")
        }
        guard let end = Checked.add(entry.dataOffset, entry.size), end <= source.size else {
            throw MLSecError.malformed(
                "\(label): its \(entry.size) bytes at offset \(entry.dataOffset) run past the end of the "
                    + "\(source.size)-byte file (truncated archive)")
        }
        var buffer = [UInt8](repeating: 0, count: max(1, min(chunkSize, 1 << 24)))
        var offset = entry.dataOffset
        while offset < end {
            let want = min(buffer.count, end - offset)
            let n = try buffer.withUnsafeMutableBytes { raw in
                try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]), at: offset)
            }
            guard n > 0 else { throw MLSecError.malformed("\(label): the file ended while reading its data") }
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += n
        }
    }

    /// The member Python's `tarfile.getmember(name)` returns: the last one named `name` (trailing `/` ignored).
    public func entryAsPythonReads(_ name: String) -> TarEntry? {
        var query = Substring(name)
        while query.hasSuffix("/") { query = query.dropLast() }
        return entries.last { $0.name == query }
    }

    /// The member whose data Python's `tarfile.extractfile(name)` returns: ``entryAsPythonReads(_:)``, with
    /// hard and symbolic links resolved as `tarfile` does (the target is looked up, normalised, among the
    /// members before the link). `nil` when there is no such member or a link's target is missing.
    public func memberAsPythonReads(_ name: String) -> TarEntry? {
        guard var member = entryAsPythonReads(name) else { return nil }
        while member.kind == .hardLink || member.kind == .symbolicLink {
            var target = member.linkName
            if member.kind == .symbolicLink {
                let directory = TarPath.directory(of: member.name)
                target = [directory, member.linkName].filter { !$0.isEmpty }.joined(separator: "/")
            }
            let normalizedTarget = TarPath.normpath(target)
            guard
                let found = entries[..<member.index].last(where: { TarPath.normpath($0.name) == normalizedTarget })
            else {
                return nil
            }
            member = found
        }
        return member
    }
}

/// Header layout and field decoding (POSIX.1-2017 pax/ustar, GNU tar manual "Basic Tar Format").
enum TarHeader {
    /// `true` when the header checksum (offset 148, 8 bytes) equals the unsigned or the signed byte sum of the
    /// block with the checksum field read as spaces (historic writers used signed chars).
    static func checksumMatches(_ block: [UInt8]) -> Bool {
        guard block.count == 512, let stored = number(block[148..<156]) else { return false }
        var unsigned = 0
        var signed = 0
        for i in 0..<512 {
            let byte = (148..<156).contains(i) ? UInt8(ascii: " ") : block[i]
            unsigned += Int(byte)
            signed += Int(Int8(bitPattern: byte))
        }
        return stored == unsigned || stored == signed
    }

    /// A numeric field: octal digits (leading and trailing spaces and NULs allowed, empty is 0) or GNU base-256
    /// (first byte 0x80 for positive, 0xFF for negative). `nil` when invalid or out of range.
    static func number(_ field: ArraySlice<UInt8>) -> Int? {
        guard let first = field.first else { return 0 }
        if first == 0x80 || first == 0xff {
            var value = 0
            for byte in field.dropFirst() {
                guard value <= (Int.max >> 8) else { return nil }
                value = value << 8 | Int(byte)
            }
            // 0xFF marks a negative number; sizes, modes and checksums cannot be negative.
            return first == 0xff ? nil : value
        }
        let text = field.prefix { $0 != 0 }
        var digits = text.drop { $0 == UInt8(ascii: " ") }
        while let last = digits.last, last == UInt8(ascii: " ") { digits = digits.dropLast() }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7"), value <= (Int.max >> 3) else { return nil }
            value = value << 3 | Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The bytes of a NUL-terminated string field.
    static func string(_ field: ArraySlice<UInt8>) -> [UInt8] { Array(field.prefix { $0 != 0 }) }
}

/// POSIX path helpers with Python `posixpath` semantics.
enum TarPath {
    /// `posixpath.dirname`: everything before the last `/`, trailing slashes removed (unless all slashes).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        var head = path[...slash]
        if !head.allSatisfy({ $0 == "/" }) {
            while head.hasSuffix("/") { head = head.dropLast() }
        }
        return String(head)
    }

    /// `posixpath.normpath`: collapses `//` and `.`, resolves `..` lexically (keeping leading `..` in relative
    /// paths), keeps one leading `/` (two when exactly two), and gives `.` for an empty result.
    static func normpath(_ path: String) -> String {
        if path.isEmpty { return "." }
        var leading = 0
        if path.hasPrefix("/") {
            leading = path.hasPrefix("//") && !path.hasPrefix("///") ? 2 : 1
        }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if leading == 0 {
                    parts.append(part)
                }
                continue
            }
            parts.append(part)
        }
        let joined = String(repeating: "/", count: leading) + parts.joined(separator: "/")
        return joined.isEmpty ? "." : joined
    }
}

/// Walks the headers of a tar archive.
struct TarParser {
    let source: ArchiveByteSource
    let limits: TarLimits
    var entries: [TarEntry] = []
    private var findings: [TarFinding] = []
    private var findingCounts: [TarAnomaly: Int] = [:]
    private static let perKindCap = 1000

    init(source: ArchiveByteSource, limits: TarLimits) {
        self.source = source
        self.limits = limits
    }

    private var label: String { source.label }

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
    private mutating func stop(_ kind: TarAnomaly, _ message: String, atStart: Bool) throws {
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

    /// Reports data after the end-of-archive marker that starts at `offset`.
    private mutating func checkAfterEnd(_ offset: Int) throws {
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

    private static func kind(_ flag: UInt8) -> TarEntry.Kind {
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

    private static func flagText(_ flag: UInt8) -> String {
        flag >= 0x20 && flag < 0x7f ? "'\(Character(Unicode.Scalar(flag)))'" : "0x\(String(flag, radix: 16))"
    }
}
