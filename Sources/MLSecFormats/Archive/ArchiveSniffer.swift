// ArchiveSniffer: recognises archive containers by their leading bytes.

/// Magic-number checks for archive formats.
public enum ArchiveSniffer {
    /// `true` when `prefix` starts with the 7-Zip signature `37 7A BC AF 27 1C`.
    public static func is7z(_ prefix: [UInt8]) -> Bool {
        prefix.starts(with: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])
    }

    /// `true` when `prefix` starts with a zip local header (`PK 03 04`), an empty archive's end record
    /// (`PK 05 06`) or the spanning marker (`PK 07 08`). Zips with prepended data are not recognised here;
    /// ``ZipArchive`` finds those from the end of the file.
    public static func isZip(_ prefix: [UInt8]) -> Bool {
        prefix.starts(with: [0x50, 0x4b, 0x03, 0x04]) || prefix.starts(with: [0x50, 0x4b, 0x05, 0x06])
            || prefix.starts(with: [0x50, 0x4b, 0x07, 0x08])
    }

    /// `true` when `block` (the first 512 bytes) is a tar header: `ustar` magic at offset 257, or a valid
    /// header checksum (pre-POSIX v7 archives have no magic).
    public static func isTar(_ block: [UInt8]) -> Bool {
        guard block.count >= 512 else { return false }
        if Array(block[257..<262]) == Array("ustar".utf8) { return true }
        return TarHeader.checksumMatches(Array(block[0..<512]))
    }
}
