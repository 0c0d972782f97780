// ArchiveFinding: a structural anomaly found while listing an archive (zip or tar), with the member concerned.

/// The kinds of anomaly one archive format reports; raw values are stable identifiers for reports.
public protocol ArchiveAnomalyKind: RawRepresentable, Hashable, Sendable, CaseIterable where RawValue == String {}

/// An anomaly of kind `Kind`, with a sentence for the person running the scan and the member concerned.
public struct ArchiveFinding<Kind: ArchiveAnomalyKind>: Sendable, Hashable, CustomStringConvertible {
    /// What kind of anomaly this is.
    public let kind: Kind
    /// A sentence for the person running the scan.
    public let message: String
    /// The member concerned, when there is one.
    public let entryName: String?
    /// The index of the member concerned (tells apart members with equal names), when there is one.
    public let entryIndex: Int?

    public init(kind: Kind, message: String, entryName: String? = nil, entryIndex: Int? = nil) {
        self.kind = kind
        self.message = message
        self.entryName = entryName
        self.entryIndex = entryIndex
    }

    /// The kind's identifier in brackets, then the message.
    public var description: String { "[\(kind.rawValue)] \(message)" }
}
