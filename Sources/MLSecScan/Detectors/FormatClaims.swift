// FormatClaims: what a file's name or leading bytes claim it is, so that a claimed model that does not parse is
// malformed instead of passing as "unsupported".

/// The model format a file claims by its extension, when it has one.
enum FormatClaims {
    /// Extensions that name a model (or model-adjacent serialization) format, and the format they name.
    static let extensions: [String: String] = [
        "pt": "PyTorch", "pth": "PyTorch", "bin": "PyTorch", "ckpt": "PyTorch checkpoint", "pkl": "pickle",
        "pickle": "pickle", "joblib": "joblib", "npy": "NumPy", "npz": "NumPy .npz", "safetensors": "safetensors",
        "gguf": "GGUF", "onnx": "ONNX", "h5": "HDF5 (Keras)", "keras": "Keras", "msgpack": "MessagePack (Flax)",
    ]

    /// The claimed format of `path`, by its last extension (case-insensitive), or nil.
    static func claimed(by path: String) -> String? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        return extensions[name[name.index(after: dot)...].lowercased()]
    }

    /// The malformed finding for a file that claims `claimed` but is not that or any format the scanner knows.
    static func mismatch(_ claimed: String, size: Int) -> Finding {
        let why = size == 0 ? "the file is empty" : "its content is not \(claimed) (nor any model format the scanner knows)"
        return Finding(.high, rule: "format-mismatch",
                       message: "the name claims a \(claimed) file but \(why); a loader would fail or read something else",
                       class: .malformed)
    }
}
