// GGUFInspector: judges GGUF files: a malformed header, and the Jinja templates in the metadata.

import MLSecCore
import MLSecFormats

/// Inspects GGUF files (llama.cpp's format) read by ``MLSecFormats/GGUFHeader``. Every chat template (and any
/// other Jinja template in the metadata) is checked against Jinja's sandbox rules by ``ChatTemplateJudge``.
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
        for (key, template, byteCount) in header.chatTemplates {
            ChatTemplateJudge.judge(template, byteCount: byteCount, name: key, note: "gguf-chat-template", location: location,
                                    into: &findings)
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
