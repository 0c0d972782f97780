// ZipInspector: judges a zip archive's structure and scans its members (PyTorch, NumPy .npz, Keras, generic).

import MLSecCore
import MLSecFormats

/// Inspects zip archives.
struct ZipInspector {
    let scanner: ModelScanner

    func inspect(_ source: ModelScanner.Source, location: String?, depth: Int, findings: inout [Finding]) throws -> String {
        guard let archive = try scanner.openArchive(
            source, location: location, openRule: "zip-malformed", anomalyRule: "zip-anomaly", findings: &findings,
            severe: [ZipAnomaly.pathTraversal, .absolutePath, .symlink, .duplicateName, .headerMismatch],
            file: { try ZipArchive(path: $0) }, bytes: { try ZipArchive(bytes: $0) }, anomalies: \.findings)
        else { return "zip" }
        let names = archive.entries.map(\.name)
        let isPyTorch = names.contains { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }
        let isKeras = names.contains("config.json") && (names.contains("metadata.json") || names.contains("model.weights.h5"))
        let files = archive.entries.filter { !$0.isDirectory }
        let isNPZ = !files.isEmpty && files.allSatisfy { $0.name.hasSuffix(".npy") }
        for entry in files {
            if entry.isEncrypted || entry.isSymlink { continue }  // already reported as anomalies
            let memberLocation = scanner.join(location, entry.name)
            // PyTorch never unpickles its tensor storages (archive/data/<key>): they are raw bytes, not code.
            if isPyTorch, Self.isPyTorchStorage(entry.name) { continue }
            guard let bytes = try scanner.readMember(
                size: Int64(entry.uncompressedSize), location: memberLocation, rule: "zip-malformed", findings: &findings,
                read: { try archive.read(entry, maxBytes: $0) })
            else { continue }
            if isKeras, entry.name == "config.json" {
                KerasConfigInspector().inspect(jsonBytes: bytes, location: memberLocation, findings: &findings)
                continue
            }
            _ = try scanner.nested(bytes, location: memberLocation, depth: depth + 1, findings: &findings)
        }
        return isPyTorch ? "pytorch-zip" : isKeras ? "keras" : isNPZ ? "npz" : "zip"
    }

    /// `<prefix>/data/<key>` members hold raw tensor storage.
    static func isPyTorchStorage(_ name: String) -> Bool {
        let parts = name.split(separator: "/")
        return parts.count >= 3 && parts[parts.count - 2] == "data" && !name.hasSuffix(".pkl")
    }
}
