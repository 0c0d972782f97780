// Tests of the chat-template check: real templates of the common model families come out clean, sandbox
// escapes and unknown calls, filters and tests are found with their expression and position, junk is unparsed.

import Foundation
import MLSecFormats
import MLSecScan
import Testing

enum RealChatTemplates {
    /// (file name, text) of every template in ChatTemplates/ (see SOURCES.md there).
    static let all: [(name: String, text: String)] = {
        guard let dir = Bundle.module.url(forResource: "ChatTemplates", withExtension: nil),
            let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path)
        else { return [] }
        return names.filter { $0.hasSuffix(".jinja") }.sorted().compactMap { name in
            FileManager.default.contents(atPath: dir.appendingPathComponent(name).path).map { (name, String(decoding: $0, as: UTF8.self)) }
        }
    }()
}

@Suite("chat templates") struct ChatTemplateTests {
    @Test("the real chat templates of the common model families keep to the sandbox rules")
    func realTemplatesAreClean() {
        #expect(RealChatTemplates.all.count >= 16)
        for (name, text) in RealChatTemplates.all {
            let issues = TemplateSandboxCheck.check(text)
            #expect(issues.isEmpty, "\(name): \(issues.map(\.message))")
        }
    }

    /// (template, rule, the offending text the message must quote, the text whose first character is the
    /// reported position).
    static let hostile: [(String, String, String, String)] = [
        // CVE-2024-34359's payload (llama-cpp-python).
        (#"{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}{{x()._module.__builtins__['__import__']('os').popen("touch /tmp/retr0reg")}}{%endif%}{% endfor %}"#,
         "template-sandbox-escape", "().__class__.__base__.__subclasses__()", "__class__"),
        ("{{ self.__init__.__globals__ }}", "template-sandbox-escape", "self.__init__.__globals__", "__init__"),
        ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "template-sandbox-escape",
         "cycler.__init__.__globals__.os.popen('id').read()", "__init__"),
        ("{{ ''['__class__'] }}", "template-sandbox-escape", "''['__class__']", "'__class__'"),
        (#"{{ ''['\x5f\x5fclass\x5f\x5f'] }}"#, "template-sandbox-escape", #"''['\x5f\x5fclass\x5f\x5f']"#, "'\\x5f"),
        ("{{ x|attr('__class__') }}", "template-sandbox-escape", "x|attr('__class__')", "'__class__'"),
        ("{{ lipsum.__globals__ }}", "template-sandbox-escape", "lipsum.__globals__", "__globals__"),
        ("{{ messages|map(attribute='__class__')|list }}", "template-sandbox-escape", "messages|map(attribute='__class__')|list", "'__class__'"),
        ("{{ messages|map('attr', '__class__')|list }}", "template-sandbox-escape", "messages|map('attr', '__class__')|list", "'__class__'"),
        ("{{ messages|selectattr('_private')|list }}", "template-sandbox-escape", "messages|selectattr('_private')|list", "'_private'"),
        ("{{ x.mro() }}", "template-sandbox-escape", "x.mro()", "mro"),
        (#"{{ "{0.__class__}".format(x) }}"#, "template-sandbox-escape", #""{0.__class__}".format(x)"#, "format"),
        ("{{ dict(__class__=1) }}", "template-sandbox-escape", "dict(__class__=1)", "1)"),
        ("{% set k = '__globals__' %}{{ f[k] }}", "template-sandbox-escape", "f[k]", "k]"),
        ("{% set k = '_' * 2 ~ 'class' ~ '_' * 2 %}{{ ''[k] }}", "template-dynamic-attribute", "''[k]", "k]"),
        ("{{ ''['__cla' ~ 'ss__'] }}", "template-dynamic-attribute", "''['__cla' ~ 'ss__']", "'__cla'"),
        ("{{ x|attr(name|lower) }}", "template-dynamic-attribute", "x|attr(name|lower)", "name|"),
        ("{% set k %}__class__{% endset %}{{ x[k] }}", "template-dynamic-attribute", "x[k]", "k]"),
        ("{{ message.content.format(x) }}", "template-dynamic-attribute", "message.content.format(x)", "format"),
        ("{{ messages|map(filter_name)|list }}", "template-dynamic-attribute", "messages|map(filter_name)|list", "filter_name"),
        ("{{ eval('1+1') }}", "template-unknown-call", "eval('1+1')", "eval"),
        ("{{ os.system('id') }}", "template-unknown-call", "os.system('id')", "system"),
        ("{{ url_for('index') }}", "template-unknown-call", "url_for('index')", "url_for"),
        ("{{ messages|system }}", "template-unknown-filter", "messages|system", "system"),
        ("{{ x|shell.run }}", "template-unknown-filter", "x|shell.run", "shell"),
        ("{{ messages|map('exec')|list }}", "template-unknown-filter", "messages|map('exec')|list", "'exec'"),
        ("{% if x is executable %}{% endif %}", "template-unknown-test", "x is executable", "executable"),
        ("{{ xs|select('runnable')|list }}", "template-unknown-test", "xs|select('runnable')|list", "'runnable'"),
    ]

    @Test("sandbox escapes and unknown calls, filters and tests are found, with the expression and its position",
          arguments: hostile)
    func hostileTemplatesAreFound(_ sample: (String, String, String, String)) throws {
        let (template, rule, quoted, at) = sample
        let issues = TemplateSandboxCheck.check(template)
        let issue = try #require(issues.first { $0.rule == rule && $0.message.contains("`\(quoted)`") },
                                 "\(template): \(issues.map(\.message))")
        let column = try #require(template.range(of: at)).lowerBound.utf16Offset(in: template) + 1
        #expect(issue.position == JinjaPosition(line: 1, column: column), "\(issue.message)")
        #expect(issue.message.contains("`\(quoted)`"), "\(issue.message)")
        #expect(issue.message.hasPrefix("1:\(column): "), "\(issue.message)")
        #expect(issue.severity >= .high)
    }

    @Test("positions count lines and columns; one report per chain")
    func positionsAndOneReportPerChain() {
        let template = "{%- if x %}\n  hello\n  {{ y.__dict__.__class__ }}\n{%- endif %}"
        let issues = TemplateSandboxCheck.check(template)
        #expect(issues.count == 1)
        #expect(issues.first?.position == JinjaPosition(line: 3, column: 8))
        #expect(issues.first?.severity == .critical)
    }

    @Test("values, method calls and names a renderer may not define are not findings")
    func noFalsePositives() {
        for template in [
            "{{ config.items() }}", "{{ request }}", "{{ messages[0]['content'].strip().split('\\n')|join(', ') }}",
            "{% set ns = namespace(found=false) %}{% for m in messages %}{% set ns.found = true %}{% endfor %}",
            "{% macro render(m) %}{{ m.content }}{% endmacro %}{% for m in messages %}{{ render(m) }}{% endfor %}",
            "{{ strftime_now('%d %b %Y') }}{{ raise_exception('no') if false }}{{ range(3)|list|tojson(indent=2) }}",
            "{% for k, v in d|items %}{{ k ~ '=' ~ v }}{% break %}{% endfor %}{{ x[::-1] }}{{ x[1:] }}",
            "{% generation %}{{ content }}{% endgeneration %}{% raw %}{{ x.__class__ }}{% endraw %}{# {{ y.__init__ }} #}",
            "{{ '{0}-{1}'.format(a, b) }}{{ messages|selectattr('role', 'equalto', 'user')|list }}{{ x is divisibleby 3 }}",
            "{% call(item) render_list(items) %}{{ caller() }}{% endcall %}{% macro render_list(xs) %}{% endmacro %}",
        ] {
            let issues = TemplateSandboxCheck.check(template)
            #expect(issues.isEmpty, "\(template): \(issues.map(\.message))")
        }
    }

    @Test("syntax the analysis cannot read is reported as unparsed, with its position", arguments: [
        ("{{ x | }}", "1:8"), ("{% for %}{% endfor %}", "1:8"), ("{% include 'evil.j2' %}", "1:4"),
        ("{% if x %}never closed", "1:4"), ("{{ x", "1:1"), ("{{ 'unterminated }}", "1:4"), ("{# no end", "1:1"),
        ("{{ x ` y }}", "1:6"), ("{{ '\\xZZ' }}", "1:4"), ("{% do x.append(1) %}", "1:4"), ("{% break %}", "1:4"),
        ("{{ (1 }}", "1:7"), ("{{ x is }}", "1:9"), ("{% endif %}", "1:4"),
    ])
    func junkIsUnparsed(_ sample: (String, String)) {
        let issues = TemplateSandboxCheck.check(sample.0)
        #expect(issues.count == 1)
        #expect(issues.first?.rule == "template-unparsed")
        #expect(issues.first?.severity == .high)
        #expect(issues.first?.message.hasPrefix(sample.1 + ": ") == true, "\(sample.0): \(issues.map(\.message))")
    }

    @Test("deep nesting and long operator chains are refused, never a crash")
    func depthIsBounded() {
        let deep = [
            "{{ " + String(repeating: "(", count: 50_000) + "x" + String(repeating: ")", count: 50_000) + " }}",
            "{{ " + String(repeating: "not ", count: 50_000) + "x }}",
            "{{ " + String(repeating: "-", count: 50_000) + "x }}",
            "{{ " + Array(repeating: "a", count: 50_000).joined(separator: " ~ ") + " }}",
            "{{ x" + String(repeating: "|trim", count: 50_000) + " }}",
            "{{ x" + String(repeating: ".a", count: 50_000) + " }}",
            "{{ " + String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000) + " }}",
            String(repeating: "{% if x %}", count: 50_000) + String(repeating: "{% endif %}", count: 50_000),
        ]
        for template in deep {
            let issues = TemplateSandboxCheck.check(template)
            #expect(issues.first?.rule == "template-unparsed")
        }
    }

    @Test("a name assigned many times is followed a bounded number of times, then treated as unknown")
    func assignmentsAreBounded() {
        let template = String(repeating: "{% set k = 'role' %}", count: 20_000) + String(repeating: "{{ x[k] }}", count: 20_000)
        let issues = TemplateSandboxCheck.check(template)
        #expect(issues.first?.rule == "template-dynamic-attribute")
        #expect(issues.count == TemplateSandboxCheck.maxIssues + 1)
        let few = String(repeating: "{% set k = 'role' %}", count: 10) + "{{ x[k] }}"
        #expect(TemplateSandboxCheck.check(few).isEmpty)
    }

    @Test("issues per template are capped")
    func issuesAreCapped() {
        let template = (0..<500).map { "{{ x\($0).__class__ }}" }.joined()
        let issues = TemplateSandboxCheck.check(template)
        #expect(issues.count == TemplateSandboxCheck.maxIssues + 1)
        #expect(issues.last?.message.contains("468 more") == true)
    }

    @Test("mutated real templates never crash the check")
    func mutationsNeverCrash() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let alphabet = Array("{}%#-+()[]|.,:~'\"\\_ ax0\n".unicodeScalars)
        for (_, text) in RealChatTemplates.all {
            var scalars = Array(text.unicodeScalars)
            for _ in 0..<40 {
                guard !scalars.isEmpty else { break }
                for _ in 0..<(1 + next() % 4) {
                    let i = next() % scalars.count
                    switch next() % 3 {
                    case 0: scalars[i] = alphabet[next() % alphabet.count]
                    case 1: scalars.remove(at: i)
                    default: scalars.insert(alphabet[next() % alphabet.count], at: i)
                    }
                    if scalars.isEmpty { break }
                }
                _ = TemplateSandboxCheck.check(String(String.UnicodeScalarView(scalars)))
            }
        }
    }
}
