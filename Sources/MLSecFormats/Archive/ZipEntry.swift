// ZipEntry: one member of a zip archive as its central directory describes it, and the reader's limits and findings.

/// Limits applied while a zip archive is opened and read. Reaching one is reported as a finding of kind
/// ``ZipAnomaly/limit`` or ``ZipAnomaly/compressionBomb``; reads refuse entries over the limits.
public struct ZipLimits: Sendable {
    /// Most central-directory records listed; the rest are not parsed.
    public var maxEntries: Int
    /// Largest sum of declared uncompressed sizes before the archive is reported as a bomb.
    public var maxTotalUncompressed: Int
    /// Largest declared uncompressed size of one entry that `read` and `stream` accept.
    public var maxEntryUncompressed: Int
    /// Largest uncompressed-to-compressed size ratio of one entry before it is reported as a bomb.
    public var maxCompressionRatio: Int
    /// Longest entry name in bytes; listing stops at a longer one.
    public var maxNameBytes: Int

    /// Limits with the given values; the defaults suit multi-gigabyte PyTorch checkpoints.
    public init(
        maxEntries: Int = 100_000,
        maxTotalUncompressed: Int = 64 << 30,
        maxEntryUncompressed: Int = 16 << 30,
        maxCompressionRatio: Int = 1000,
        maxNameBytes: Int = 4096
    ) {
        self.maxEntries = maxEntries
        self.maxTotalUncompressed = maxTotalUncompressed
        self.maxEntryUncompressed = maxEntryUncompressed
        self.maxCompressionRatio = maxCompressionRatio
        self.maxNameBytes = maxNameBytes
    }
}

/// A member of a zip archive. Sizes, method, flags and CRC come from the central directory (with ZIP64
/// values applied); `dataOffset` comes from the entry's local header.
public struct ZipEntry: Sendable, Hashable {
    /// Position of the record in the central directory (0-based); tells apart entries with equal names.
    public let index: Int
    /// The name decoded as UTF-8 when general-purpose bit 11 is set, else as IBM code page 437 (APPNOTE 4.4.4,
    /// appendix D).
    public let name: String
    /// The name's bytes exactly as stored in the central directory.
    public let rawName: [UInt8]
    /// Size of the stored (possibly compressed) data in bytes, excluding any data descriptor.
    public let compressedSize: Int
    /// Declared size after decompression in bytes.
    public let uncompressedSize: Int
    /// Compression method: 0 stored, 8 deflate, 12 bzip2, 14 LZMA, others unsupported.
    public let method: UInt16
    /// General-purpose bit flags from the central directory.
    public let flags: UInt16
    /// CRC-32 of the uncompressed data, from the central directory.
    public let crc32: UInt32
    /// Offset of the entry's local header in the file.
    public let localHeaderOffset: Int
    /// Offset of the entry's data (just after the local header's name and extra field); meaningful only when
    /// ``hasLocalHeader`` is `true`.
    public let dataOffset: Int
    /// `true` when the name ends with `/` or the attributes mark a directory.
    public let isDirectory: Bool
    /// `true` when the Unix mode in the high 16 bits of the external attributes is a symbolic link.
    public let isSymlink: Bool
    /// `true` when general-purpose bit 0 (encrypted) or bit 6 (strong encryption) is set.
    public let isEncrypted: Bool
    /// External file attributes (Unix mode in the high 16 bits for archives made on Unix, DOS attributes in the
    /// low byte).
    public let externalAttributes: UInt32
    /// The "version made by" field; its high byte names the host system (3 is Unix).
    public let versionMadeBy: UInt16
    /// `false` when no valid local header was found at ``localHeaderOffset``; such an entry cannot be read.
    public let hasLocalHeader: Bool

    /// Length in bytes of the data descriptor that follows the data (0 when there is none or it was not found).
    let descriptorLength: Int

    init(
        index: Int, name: String, rawName: [UInt8], compressedSize: Int, uncompressedSize: Int, method: UInt16,
        flags: UInt16, crc32: UInt32, localHeaderOffset: Int, dataOffset: Int, isDirectory: Bool, isSymlink: Bool,
        isEncrypted: Bool, externalAttributes: UInt32, versionMadeBy: UInt16, hasLocalHeader: Bool,
        descriptorLength: Int
    ) {
        self.index = index
        self.name = name
        self.rawName = rawName
        self.compressedSize = compressedSize
        self.uncompressedSize = uncompressedSize
        self.method = method
        self.flags = flags
        self.crc32 = crc32
        self.localHeaderOffset = localHeaderOffset
        self.dataOffset = dataOffset
        self.isDirectory = isDirectory
        self.isSymlink = isSymlink
        self.isEncrypted = isEncrypted
        self.externalAttributes = externalAttributes
        self.versionMadeBy = versionMadeBy
        self.hasLocalHeader = hasLocalHeader
        self.descriptorLength = descriptorLength
    }
}

/// What kind of zip anomaly a finding reports. Raw values are stable identifiers for reports.
public enum ZipAnomaly: String, ArchiveAnomalyKind {
    /// A name has a `..` component.
    case pathTraversal = "path-traversal"
    /// A name starts with `/`, `\` or a drive letter.
    case absolutePath = "absolute-path"
    /// The entry's Unix mode is a symbolic link.
    case symlink
    /// Two entries have the same name, exactly or after normalising `./`, `//` and backslashes.
    case duplicateName = "duplicate-name"
    /// A local header, data descriptor, ZIP64 record or end record disagrees with the central directory,
    /// or a declared size does not fit the file.
    case headerMismatch = "header-mismatch"
    /// General-purpose flags that readers interpret differently (encryption bit without encryption,
    /// UTF-8 bit that does not match the name).
    case flagTrick = "flag-trick"
    /// Declared sizes exceed the compression-ratio or total-size limits.
    case compressionBomb = "compression-bomb"
    /// The entry is encrypted.
    case encrypted
    /// Two entries' data ranges, or an entry and the central directory, overlap.
    case overlappingEntries = "overlapping-entries"
    /// Bytes before the first local header, or offsets that only work with a shift.
    case prependedData = "prepended-data"
    /// Bytes after the end record's comment.
    case trailingData = "trailing-data"
    /// More than one end-of-central-directory signature near the end of the file.
    case multipleEOCD = "multiple-eocd"
    /// A compression method this reader cannot decompress.
    case unsupportedMethod = "unsupported-method"
    /// Stored data whose CRC-32 does not match (reported by checks that read data).
    case crcMismatch = "crc-mismatch"
    /// A configured limit was reached; the listing may be incomplete.
    case limit
}

/// A structural anomaly of a zip archive.
public typealias ZipFinding = ArchiveFinding<ZipAnomaly>

/// Decoding of entry names.
enum ZipNameDecoding {
    /// IBM code page 437, bytes 0x80 to 0xFF (APPNOTE appendix D; the same table Python's `cp437` codec uses).
    private static let cp437High: [Unicode.Scalar] = Array(
        ("ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐"  // 0x80-0xBF
            + "└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{A0}").unicodeScalars)  // 0xC0-0xFF

    /// `bytes` decoded as code page 437 (ASCII maps to itself).
    static func cp437(_ bytes: [UInt8]) -> String {
        var out = String.UnicodeScalarView()
        for byte in bytes {
            if byte < 0x80 {
                out.append(Unicode.Scalar(byte))
            } else {
                let index = Int(byte) - 0x80
                out.append(index < cp437High.count ? cp437High[index] : "\u{FFFD}")
            }
        }
        return String(out)
    }

    /// `bytes` as UTF-8, or `nil` when they are not valid UTF-8.
    static func strictUTF8(_ bytes: [UInt8]) -> String? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var scalars = String.UnicodeScalarView()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): scalars.append(scalar)
            case .emptyInput: return String(scalars)
            case .error: return nil
            }
        }
    }
}

extension ZipEntry {
    /// Whether `bytes` (the entry's content as read) match the CRC-32 the central directory declares.
    public func crcMatches(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { CRC32.update(0, $0) } == crc32
    }
}
