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
}
