// TokenizerConfigInspector: the chat templates of tokenizer configs and template files found next to models.

import MLSecCore

/// Finds the Jinja chat templates that travel beside a model and checks them like GGUF's
/// (``ChatTemplateJudge``): `chat_template` in a `tokenizer_config.json` (or in any JSON object file whose
/// top level has that key, such as `chat_template.json`), a string or a list of `{"name", "template"}` objects;
/// and `.jinja` files (`chat_template.jinja`, `additional_chat_templates/*.jinja`).
struct TokenizerConfigInspector {
    /// Largest JSON file read to look for a template.
    static let maxBytes = 64 << 20

    /// The report on the file at `path`, or nil when it is not a tokenizer config or template file.
    func scan(path: String, size: Int, prefix: [UInt8]) -> FileReport? {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let named = base == "tokenizer_config.json"
        let jinja = base.hasSuffix(".jinja")
        guard named || jinja || prefix.first(where: { !Self.isSpace($0) }) == UInt8(ascii: "{") else { return nil }
        var findings: [Finding] = []
        let limit = jinja ? ChatTemplateJudge.maxTemplateBytes : Self.maxBytes
        guard size <= limit else {
            guard named || jinja else { return nil }
            findings.append(Finding(.medium, rule: "scan-limit", message: "a \(size)-byte \(base), over the \(limit)-byte limit, was not checked"))
            return FileReport(path: path, format: jinja ? "jinja" : "tokenizer-config", findings: findings)
        }
        let bytes: [UInt8]
        do {
            bytes = try ReadOnlyFile.readAll(path, maxBytes: limit, what: base)
        } catch {
            return nil  // the caller reports unreadable files
        }
        if jinja {
            ChatTemplateJudge.judge(String(decoding: bytes, as: UTF8.self), byteCount: bytes.count, name: base,
                                    note: "tokenizer-chat-template", location: nil, into: &findings)
            return FileReport(path: path, format: "jinja", findings: findings)
        }
        guard named || Self.contains(bytes, Array(#""chat_template""#.utf8)) else { return nil }
        inspect(jsonBytes: bytes, named: named, into: &findings)
        guard named || !findings.isEmpty else { return nil }
        return FileReport(path: path, format: "tokenizer-config", findings: findings)
    }

    /// Checks the `chat_template` of a tokenizer config. When `named` is false, a document without a top-level
    /// `chat_template` adds nothing (it is some other JSON file).
    func inspect(jsonBytes: [UInt8], named: Bool, into findings: inout [Finding]) {
        let json: JSONValue
        do {
            json = try JSONParser(limits: .init(maxDepth: 64, maxStringBytes: 16 << 20, maxContainerCount: 1 << 22))
                .parse(jsonBytes, context: "tokenizer config")
        } catch let error as MLSecError {
            findings.append(Finding(.high, rule: "tokenizer-config-malformed", message: error.message, class: .malformed))
            return
        } catch {
            findings.append(Finding(.high, rule: "tokenizer-config-malformed", message: "\(error)", class: .malformed))
            return
        }
        guard case .object = json else {
            if named { findings.append(Finding(.high, rule: "tokenizer-config-malformed", message: "the tokenizer config is not a JSON object", class: .malformed)) }
            return
        }
        switch json["chat_template"] {
        case nil, .null?:
            return
        case .string(let template)?:
            judge(template, name: "chat_template", into: &findings)
        case .array(let items)?:
            for (i, item) in items.enumerated() {
                guard let template = item["template"]?.stringValue else {
                    findings.append(Finding(.high, rule: "tokenizer-config-malformed",
                                            message: "chat_template[\(i)] is not a {\"name\", \"template\"} object", class: .malformed))
                    continue
                }
                judge(template, name: "chat_template[\(item["name"]?.stringValue ?? String(i))]", into: &findings)
            }
        default:
            findings.append(Finding(.high, rule: "tokenizer-config-malformed",
                                    message: "chat_template is neither a string nor a list of templates", class: .malformed))
        }
    }

    private func judge(_ template: String, name: String, into findings: inout [Finding]) {
        ChatTemplateJudge.judge(template, byteCount: template.utf8.count, name: name, note: "tokenizer-chat-template",
                                location: nil, into: &findings)
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0xEF || b == 0xBB || b == 0xBF }

    static func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, hay.count >= needle.count else { return false }
        var i = 0
        while i <= hay.count - needle.count {
            if hay[i] == first, hay[i..<i + needle.count].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}
