// Tests of chat templates found by the scanner: in GGUF metadata, in tokenizer_config.json and .jinja files.

import Foundation
import MLSecCore
import MLSecScan
import Testing

@Suite("chat templates in scanned files") struct ChatTemplateScanTests {
    /// A GGUF v3 file with string metadata and no tensors.
    static func gguf(_ strings: [(String, String)]) -> [UInt8] {
        func u64(_ v: Int) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        var bytes = Array("GGUF".utf8) + [3, 0, 0, 0] + u64(0) + u64(strings.count)
        for (key, value) in strings {
            bytes += u64(key.utf8.count) + Array(key.utf8) + [8, 0, 0, 0] + u64(value.utf8.count) + Array(value.utf8)
        }
        while bytes.count % 32 != 0 { bytes.append(0) }
        return bytes
    }

    static let cve = "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}"

    @Test("every real template in a GGUF file comes out clean, with a note that it was checked")
    func realTemplatesInGGUFAreClean() {
        for (name, text) in RealChatTemplates.all {
            let report = ModelScanner().scanBytes(Self.gguf([("general.architecture", "llama"), ("tokenizer.chat_template", text)]),
                                                  name: "m.gguf")
            #expect(report.verdict == .clean, "\(name): \(report.findings.map(\.message))")
            #expect(report.findings.map(\.rule) == ["gguf-chat-template"])
            #expect(report.findings.first?.findingClass == .informational)
        }
    }

    @Test("a GGUF chat template that escapes the sandbox makes the file unsafe, naming the key and position")
    func hostileGGUFTemplateIsUnsafe() throws {
        let report = ModelScanner().scanBytes(Self.gguf([("tokenizer.chat_template", Self.cve)]), name: "evil.gguf")
        #expect(report.verdict == .unsafe)
        let finding = try #require(report.findings.first)
        #expect(finding.rule == "template-sandbox-escape")
        #expect(finding.severity == .critical)
        #expect(finding.location == "tokenizer.chat_template:1:16")
        #expect(finding.message.contains("`().__class__.__base__.__subclasses__()`"))
        #expect(finding.message.contains("1:16"))
    }

    @Test("named templates and other metadata strings holding Jinja tags are checked too")
    func otherTemplatesInMetadataAreChecked() {
        let named = ModelScanner().scanBytes(Self.gguf([("tokenizer.chat_template.tool_use", "{{ lipsum.__globals__ }}")]), name: "a.gguf")
        #expect(named.verdict == .unsafe)
        #expect(named.findings.first?.location == "tokenizer.chat_template.tool_use:1:11")
        let other = ModelScanner().scanBytes(Self.gguf([("general.description", "Hi {{ eval('1') }}")]), name: "b.gguf")
        #expect(other.verdict == .unsafe)
        #expect(other.findings.first?.rule == "template-unknown-call")
        let prose = ModelScanner().scanBytes(Self.gguf([("general.description", "A {small} model")]), name: "c.gguf")
        #expect(prose.verdict == .clean)
        #expect(prose.findings.isEmpty)
        let junk = ModelScanner().scanBytes(Self.gguf([("tokenizer.chat_template", "{% if x %}")]), name: "d.gguf")
        #expect(junk.verdict == .unsafe)
        #expect(junk.findings.first?.rule == "template-unparsed")
    }

    @Test("a template too large to check cannot be shown safe")
    func oversizedTemplateIsAScanLimit() {
        let big = String(repeating: "{{ x }}", count: (1 << 20) / 7 + 1)
        let report = ModelScanner().scanBytes(Self.gguf([("tokenizer.chat_template", big)]), name: "big.gguf")
        #expect(report.verdict == .unsafe)
        #expect(report.findings.first?.rule == "scan-limit")
    }

    // MARK: - Files next to models

    func scan(_ files: [String: String]) throws -> [String: FileReport] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mlsec-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, text) in files {
            try Data(text.utf8).write(to: dir.appendingPathComponent(name))
        }
        let report = try ModelScanner().scan(paths: [dir.path])
        var out: [String: FileReport] = [:]
        for file in report.files { out[URL(fileURLWithPath: file.path).lastPathComponent] = file }
        return out
    }

    static func json(_ value: JSONValue) -> String { JSONWriter.string(value) }

    @Test("tokenizer_config.json: a string or a list of named templates, each checked")
    func tokenizerConfigs() throws {
        let real = try #require(RealChatTemplates.all.first { $0.name == "llama-3.1-tools.jinja" }).text
        let reports = try scan([
            "tokenizer_config.json": Self.json(.object([("bos_token", .string("<s>")), ("chat_template", .string(real))])),
            "chat_template.json": Self.json(.object([("chat_template", .array([
                .object([("name", .string("default")), ("template", .string(real))]),
                .object([("name", .string("tool_use")), ("template", .string("{{ x|attr('__class__') }}"))]),
            ]))])),
            "config.json": Self.json(.object([("model_type", .string("llama"))])),
            "chat_template.jinja": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        ])
        let config = try #require(reports["tokenizer_config.json"])
        #expect(config.format == "tokenizer-config")
        #expect(config.verdict == .clean)
        #expect(config.findings.map(\.rule) == ["tokenizer-chat-template"])
        let list = try #require(reports["chat_template.json"])
        #expect(list.verdict == .unsafe)
        #expect(list.findings.map(\.rule) == ["tokenizer-chat-template", "template-sandbox-escape"])
        #expect(list.findings.last?.location == "chat_template[tool_use]:1:11")
        #expect(reports["config.json"]?.verdict == .unsupported)
        let jinja = try #require(reports["chat_template.jinja"])
        #expect(jinja.format == "jinja")
        #expect(jinja.verdict == .unsafe)
        #expect(jinja.findings.first?.location == "chat_template.jinja:1:11")
    }

    @Test("a tokenizer config that is not valid JSON, or whose chat_template has the wrong shape, is malformed")
    func malformedTokenizerConfigs() throws {
        let reports = try scan([
            "tokenizer_config.json": "{\"chat_template\": \"{{ x }}\"",
            "other.json": Self.json(.object([("chat_template", .number("3"))])),
        ])
        #expect(reports["tokenizer_config.json"]?.verdict == .malformed)
        #expect(reports["tokenizer_config.json"]?.findings.first?.rule == "tokenizer-config-malformed")
        #expect(reports["other.json"]?.verdict == .malformed)
    }
}
