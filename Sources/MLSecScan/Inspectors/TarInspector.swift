// TarInspector: judges tar archives (legacy PyTorch checkpoints) and scans their members.

import MLSecCore
import MLSecFormats

/// Inspects tar archives.
struct TarInspector {
    let scanner: ModelScanner

    func inspect(_ source: ModelScanner.Source, location: String?, depth: Int, findings: inout [Finding]) throws -> String {
        guard let archive = try scanner.openArchive(
            source, location: location, openRule: "tar-anomaly", anomalyRule: "tar-anomaly", findings: &findings,
            severe: [TarAnomaly.pathTraversal, .absolutePath, .symlink, .hardlink, .specialFile, .duplicateName],
            file: { try TarArchive(path: $0) }, bytes: { try TarArchive(bytes: $0) }, anomalies: \.findings)
        else { return "tar" }
        for entry in archive.entries {
            let memberLocation = scanner.join(location, entry.name)
            if let why = ArchiveSlip.nameEscapes(entry.name) {
                findings.append(ArchiveSlip.finding(entry.name, why, location: memberLocation))
            } else if entry.kind == .hardLink, let why = ArchiveSlip.nameEscapes(entry.linkName) {
                // A hard link names another member from the archive's root.
                findings.append(ArchiveSlip.finding(entry.name, "is a hard link to a name that \(why)", location: memberLocation))
            } else if entry.kind == .symbolicLink, let why = ArchiveSlip.linkEscapes(entry: entry.name, target: entry.linkName) {
                findings.append(ArchiveSlip.finding(entry.name, "is a symbolic link that \(why)", location: memberLocation))
            }
        }
        let names = Set(archive.entries.map(\.name))
        let isLegacyPyTorch = names.contains("pickle") && names.contains("storages")
        for entry in archive.entries where entry.hasData {
            let memberLocation = scanner.join(location, entry.name)
            guard let bytes = try scanner.readMember(
                size: Int64(entry.size), location: memberLocation, rule: "tar-anomaly", findings: &findings,
                read: { try archive.read(entry, maxBytes: $0) })
            else { continue }
            if isLegacyPyTorch, entry.name == "storages" || entry.name == "tensors" {
                // A count, then per record a small pickle and raw bytes the loader reads between the pickles.
                let layout: PickleStreamLayout = entry.name == "storages" ? .legacyTorchStorages : .legacyTorchTensors
                let analysis = PickleEmulator(limits: scanner.options.pickleLimits, layout: layout).analyze(bytes: bytes)
                PickleJudge(policy: scanner.options.policy).judge(analysis, location: memberLocation, into: &findings)
                continue
            }
            _ = try scanner.nested(bytes, location: memberLocation, depth: depth + 1, findings: &findings)
        }
        return isLegacyPyTorch ? "pytorch-tar" : "tar"
    }
}
