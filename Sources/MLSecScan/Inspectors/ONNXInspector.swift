// ONNXInspector: judges ONNX models: external-data locations must stay in the model's folder.

import MLSecCore
import MLSecFormats

/// Inspects ONNX models read by ``MLSecFormats/ONNXReader``.
struct ONNXInspector {
    static func looksLikeModel(_ prefix: [UInt8]) -> Bool { ONNXReader.looksLikeModel(prefix) }

    func inspect(_ source: ModelScanner.Source, location: String?, findings: inout [Finding]) throws {
        var cursor = try ByteCursor(source)
        var locations: [(tensor: String, path: String)] = []
        do {
            locations = try ONNXReader.externalDataLocations(&cursor)
        } catch let error as MLSecError where error.code == .malformed {
            findings.append(Finding(.high, rule: "onnx-malformed", message: error.message, location: location, class: .malformed))
        }
        for (tensor, path) in locations where !Self.staysInside(path) {
            findings.append(Finding(.high, rule: "onnx-external-data",
                                    message: "tensor \"\(tensor)\" reads external data from \"\(path)\", outside the model's directory",
                                    location: location, class: .malformed))
        }
    }

    /// A relative path without `..` components, not absolute and without a drive or scheme.
    static func staysInside(_ path: String) -> Bool {
        if path.isEmpty || path.hasPrefix("/") || path.hasPrefix("\\") || path.contains(":") || path.utf8.contains(0) { return false }
        let parts = path.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        return !parts.contains("..")
    }
}
