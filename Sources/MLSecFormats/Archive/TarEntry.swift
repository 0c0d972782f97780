// TarEntry: a tar archive's members, the anomalies a listing reports, and the listing limits.

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
