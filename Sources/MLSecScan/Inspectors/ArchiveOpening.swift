// ArchiveOpening: opens a zip or tar archive for an inspector and turns its structural anomalies into findings.

import MLSecCore
import MLSecFormats

extension ModelScanner {
    /// Opens `source` with `file` or `bytes`; an archive that cannot be opened becomes one malformed finding
    /// (rule `openRule`) and `nil`. Each anomaly the reader reports becomes a malformed finding (rule
    /// `anomalyRule`), critical for the kinds in `severe`, high otherwise. Other errors propagate.
    func openArchive<Archive, Kind>(
        _ source: Source, location: String?, openRule: String, anomalyRule: String, findings: inout [Finding],
        severe: Set<Kind>, file: (String) throws -> Archive, bytes: ([UInt8]) throws -> Archive,
        anomalies: KeyPath<Archive, [ArchiveFinding<Kind>]>
    ) throws -> Archive? {
        let archive: Archive
        do {
            switch source {
            case .file(let path, _): archive = try file(path)
            case .bytes(let b): archive = try bytes(b)
            }
        } catch let error as MLSecError {
            findings.append(Finding(.high, rule: openRule, message: error.message, location: location, class: .malformed))
            return nil
        }
        for f in archive[keyPath: anomalies] {
            findings.append(Finding(severe.contains(f.kind) ? .critical : .high, rule: anomalyRule,
                                    message: "\(f.kind.rawValue): \(f.message)",
                                    location: join(location, f.entryName ?? "(archive)"), class: .malformed))
        }
        return archive
    }

    /// Reads one archive member for inspection: a member over the size limit becomes a `scan-limit` finding, a
    /// member that cannot be read a malformed finding (rule `rule`); both give `nil`.
    func readMember(
        size: Int64, location: String, rule: String, findings: inout [Finding], read: (Int) throws -> [UInt8]
    ) throws -> [UInt8]? {
        guard size <= Int64(options.maxMemberBytes) else {
            findings.append(Finding(.medium, rule: "scan-limit",
                                    message: "member of \(size) bytes is over the \(options.maxMemberBytes)-byte inspection limit",
                                    location: location))
            return nil
        }
        do {
            return try read(options.maxMemberBytes)
        } catch let error as MLSecError {
            findings.append(Finding(.high, rule: rule, message: error.message, location: location, class: .malformed))
            return nil
        }
    }
}
