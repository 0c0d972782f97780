// ChatTemplateJudge: turns the sandbox check of one chat template into findings.

import MLSecFormats

/// Judges one Jinja template a model carries (a GGUF metadata value, `chat_template` in a tokenizer config, a
/// `.jinja` file). A template that keeps to Jinja's sandbox rules gets one informational finding (`note`), so a
/// report shows it was read and checked; each rule it breaks is an unsafe finding naming the expression and its
/// line and column; a template too large to check is a `scan-limit` finding (it cannot be shown safe).
enum ChatTemplateJudge {
    /// Longest template checked (real ones are a few kilobytes).
    static let maxTemplateBytes = GGUFHeader.maxTemplateBytes

    /// - Parameters:
    ///   - template: the text, or nil when the reader did not keep it (too large).
    ///   - name: where the template sits: `tokenizer.chat_template`, `chat_template[tool_use]`, a file name.
    ///   - note: the rule of the informational finding for a template that passes.
    static func judge(_ template: String?, byteCount: Int, name: String, note: String, location: String?,
                      into findings: inout [Finding]) {
        let place = location.map { "\($0)/\(name)" } ?? name
        guard let template, byteCount <= maxTemplateBytes, template.utf8.count <= maxTemplateBytes else {
            findings.append(Finding(.medium, rule: "scan-limit",
                                    message: "\(name): a \(byteCount)-byte template was not checked (over the \(maxTemplateBytes)-byte limit, or past the templates kept from one file)",
                                    location: place, class: .unsafe))
            return
        }
        let issues = TemplateSandboxCheck.check(template)
        guard !issues.isEmpty else {
            findings.append(Finding(.low, rule: note,
                                    message: "\(name): a \(byteCount)-byte Jinja template; it keeps to Jinja's sandbox rules (no private attributes, unknown calls, filters or tests)",
                                    location: place, class: .informational))
            return
        }
        for issue in issues {
            findings.append(Finding(issue.severity, rule: issue.rule, message: "\(name) \(issue.message)",
                                    location: "\(place):\(issue.position)", class: .unsafe))
        }
    }
}
