// GGUFInspector: judges GGUF files: a malformed header, and chat templates to review.

import MLSecCore
import MLSecFormats

/// Inspects GGUF files (llama.cpp's format) read by ``MLSecFormats/GGUFHeader``.
struct GGUFInspector {
    func inspect(_ source: ModelScanner.Source, location: String?, findings: inout [Finding]) throws {
        var cursor = try ByteCursor(source)
        let header: GGUFHeader
        do {
            header = try GGUFHeader(reading: &cursor)
        } catch let error as MLSecError where error.code == .malformed || error.code == .limitExceeded {
            findings.append(Finding(.high, rule: "gguf-malformed", message: error.message, location: location, class: .malformed))
            return
        }
        for (key, _, byteCount) in header.chatTemplates {
            findings.append(Finding(.low, rule: "gguf-chat-template",
                                    message: "\(key): a \(byteCount)-byte Jinja chat template; review it before serving",
                                    location: location, class: .informational))
        }
    }
}

extension ByteCursor {
    /// A cursor over a scanned file or member.
    init(_ source: ModelScanner.Source) throws {
        switch source {
        case .file(let path, let size): try self.init(path: path, size: size)
        case .bytes(let bytes): self.init(bytes: bytes)
        }
    }
}
