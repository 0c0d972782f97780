// TarArchive: a ustar/GNU/PAX tar reader for hostile files (legacy PyTorch tar checkpoints), reading by pread.

import MLSecCore

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
