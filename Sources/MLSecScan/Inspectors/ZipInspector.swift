// ZipInspector: judges a zip archive's structure and scans its members (PyTorch, NumPy .npz, Keras, generic).

import MLSecCore
import MLSecFormats

/// Inspects zip archives. A structural anomaly never ends the analysis: every member is then judged exactly as
/// PyTorch's reader would read it (CRC-32 and the encryption flag ignored), so an unsafe pickle inside a damaged
/// archive is unsafe, not merely malformed.
struct ZipInspector {
    let scanner: ModelScanner
    /// A symbolic link's target is a short path; longer content is not a link a extractor would make.
    static let maxLinkTarget = 4096

    func inspect(_ source: ModelScanner.Source, location: String?, depth: Int, findings: inout [Finding]) throws -> String {
        guard let archive = try scanner.openArchive(
            source, location: location, openRule: "zip-malformed", anomalyRule: "zip-anomaly", findings: &findings,
            severe: [ZipAnomaly.pathTraversal, .absolutePath, .symlink, .duplicateName, .headerMismatch],
            file: { try ZipArchive(path: $0) }, bytes: { try ZipArchive(bytes: $0) }, anomalies: \.findings)
        else { return "zip" }
        // Names that leave the extraction folder (the reader checked the Info-ZIP Unicode path too).
        var slipped = Set<Int>()
        for anomaly in archive.findings where anomaly.kind == .pathTraversal || anomaly.kind == .absolutePath {
            guard let index = anomaly.entryIndex, slipped.insert(index).inserted else { continue }
            let name = anomaly.entryName ?? ""
            findings.append(ArchiveSlip.finding(name, ArchiveSlip.nameEscapes(name) ?? "has a path outside the folder",
                                                location: scanner.join(location, name)))
        }
        let names = archive.entries.map(\.name)
        let isPyTorch = names.contains { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
        let isKeras = names.contains("config.json") && (names.contains("metadata.json") || names.contains("model.weights.h5"))
        let files = archive.entries.filter { !$0.isDirectory }
        let isNPZ = !files.isEmpty && files.allSatisfy { $0.name.hasSuffix(".npy") }
        for entry in files {
            let memberLocation = scanner.join(location, entry.name)
            if entry.isSymlink {
                judgeLink(entry, archive, location: memberLocation, findings: &findings)
                continue
            }
            // PyTorch never unpickles its tensor storages (archive/data/<key>): they are raw bytes, not code.
            if isPyTorch, Self.isPyTorchStorage(entry.name) { continue }
            guard let bytes = try scanner.readMember(
                size: Int64(entry.uncompressedSize), location: memberLocation, rule: "zip-malformed", findings: &findings,
                read: { try archive.readAsLoader(entry, maxBytes: $0) })
            else { continue }
            if !entry.crcMatches(bytes) {
                findings.append(Finding(.high, rule: "zip-anomaly",
                                        message: "crc-mismatch: the data does not match the CRC-32 its headers declare; judged as read",
                                        location: memberLocation, class: .malformed))
            }
            if isKeras, entry.name == "config.json" {
                KerasConfigInspector().inspect(jsonBytes: bytes, location: memberLocation, findings: &findings)
                continue
            }
            _ = try scanner.nested(bytes, location: memberLocation, depth: depth + 1, findings: &findings)
        }
        if isPyTorch || Self.looksLikePyTorch(names), archive.pyTorchRecord("data.pkl") == nil {
            findings.append(Finding(.high, rule: "pytorch-missing-data-pickle",
                                    message: "a PyTorch checkpoint whose data.pkl PyTorch would not find (it looks under the first entry's folder, \(archive.pyTorchArchiveName.map { "\"\($0)/\"" } ?? "which has none")); torch.load refuses it",
                                    location: location, class: .malformed))
        }
        return isPyTorch ? "pytorch-zip" : isKeras ? "keras" : isNPZ ? "npz" : "zip"
    }

    /// A symbolic link entry: its content is the target path, judged for escaping the tree, never scanned.
    func judgeLink(_ entry: ZipEntry, _ archive: ZipArchive, location: String, findings: inout [Finding]) {
        guard let target = try? archive.readAsLoader(entry, maxBytes: Self.maxLinkTarget) else {
            findings.append(ArchiveSlip.finding(entry.name, "is a symbolic link whose target cannot be read", location: location))
            return
        }
        if let why = ArchiveSlip.linkEscapes(entry: entry.name, target: String(decoding: target, as: UTF8.self)) {
            findings.append(ArchiveSlip.finding(entry.name, "is a symbolic link that \(why)", location: location))
        }
    }

    /// `<prefix>/data/<key>` members hold raw tensor storage.
    static func isPyTorchStorage(_ name: String) -> Bool {
        let parts = name.split(separator: "/")
        return parts.count >= 3 && parts[parts.count - 2] == "data" && !name.hasSuffix(".pkl")
    }

    /// The records `torch.save` always writes next to data.pkl.
    static func looksLikePyTorch(_ names: [String]) -> Bool {
        names.contains { $0.hasSuffix("/version") || $0.hasSuffix("/.data/version") } && names.contains { $0.hasSuffix("/byteorder") || isPyTorchStorage($0) }
    }
}
