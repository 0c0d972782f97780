// TemplateSandboxCheck+Expressions: the sandbox rules applied to each expression.

import MLSecFormats

extension TemplateSandboxCheck {
    static let escape = "template-sandbox-escape"
    static let dynamic = "template-dynamic-attribute"
    static let unknownCall = "template-unknown-call"
    static let unknownFilter = "template-unknown-filter"
    static let unknownTest = "template-unknown-test"

    /// Python modules a renderer could only reach if it injected them; calls through them are never a
    /// chat template's business.
    static let moduleNames: Set<String> = [
        "os", "sys", "subprocess", "builtins", "importlib", "posix", "nt", "shutil", "socket", "pty", "ctypes",
        "pickle", "marshal", "runpy", "platform", "io", "commands", "popen2", "multiprocessing", "threading",
        "signal", "codecs", "inspect", "gc", "types", "operator", "functools",
    ]

    /// Checks an expression after its subexpressions (so the innermost offending access of a chain such as
    /// `().__class__.__base__` is the one reported). `context` is the chain the expression belongs to.
    mutating func visit(_ e: JinjaExpr, context: JinjaExpr) {
        let chain: Bool
        switch e.kind {
        case .attribute, .subscript, .call, .filter(.some, _, _): chain = true
        default: chain = false
        }
        // String literals that name attributes here are judged by the sink below, not again as plain strings.
        switch e.kind {
        case .subscript(_, let key):
            if case .string = key.kind { reportedLiterals.insert(key.start) }
        case .filter(_, let name, let args) where TemplateSandboxRules.attributeArguments[name] != nil
            || ["map", "select", "reject"].contains(name):
            for arg in args.all { if case .string = arg.kind { reportedLiterals.insert(arg.start) } }
        default:
            break
        }
        for (index, child) in e.children.enumerated() {
            visit(child, context: chain && index == 0 ? context : child)
        }
        switch e.kind {
        case .attribute(_, let name):
            if TemplateSandboxRules.isBlockedAttribute(name) {
                report(Self.escape, .critical, "attribute `\(name)`, which Jinja's sandbox refuses (names starting with `_` lead to Python's internals, as in CVE-2024-34359)",
                       at: e.namePosition, in: context)
            }
        case .subscript(_, let key):
            checkName(key, at: key.position, context: context, role: "key", dotted: false)
        case .call(let callee, let args):
            checkCall(callee, context: context)
            checkKeywords(args, context: context)
        case .filter(_, let name, let args):
            checkFilter(name, args, at: e.namePosition, context: context, depth: 0)
            checkKeywords(args, context: context)
        case .test(_, let name, let args, _):
            if !TemplateSandboxRules.builtinTests.contains(name) {
                report(Self.unknownTest, .high, "test `\(name)`, which is not one of Jinja's built-in tests", at: e.namePosition, in: context)
            }
            checkKeywords(args, context: context)
        case .string(let value?):
            if !reportedLiterals.contains(e.start), TemplateSandboxRules.namesPrivateAttribute(value) {
                report(Self.escape, .high, "the string \"\(value)\", the name of an attribute Jinja's sandbox refuses (a template has no other use for it)",
                       at: e.position, in: context)
            }
        default:
            break
        }
    }

    mutating func checkKeywords(_ args: JinjaArguments, context: JinjaExpr) {
        for (name, value) in args.keyword where TemplateSandboxRules.namesPrivateAttribute(name) {
            report(Self.escape, .high, "the keyword `\(name)`, the name of an attribute Jinja's sandbox refuses", at: value.position, in: context)
        }
    }

    /// A key (`x[key]`, where Jinja falls back to getattr when the item is missing) or an attribute name given
    /// to a filter (`dotted`: `a.b` names two attributes).
    mutating func checkName(_ key: JinjaExpr, at position: JinjaPosition, context: JinjaExpr, role: String, dotted: Bool,
                            through: String? = nil) {
        let via = through.map { " (through `\($0)`)" } ?? ""
        switch key.kind {
        case .string(let value):
            reportedLiterals.insert(key.start)
            guard let value else {
                report(Self.dynamic, .high, "a \(role)\(via) whose value cannot be decoded exactly", at: position, in: context)
                return
            }
            let parts = dotted ? value.split(separator: ".", omittingEmptySubsequences: false).map(String.init) : [value]
            if let bad = parts.first(where: TemplateSandboxRules.isBlockedAttribute) {
                report(Self.escape, .critical, "\"\(bad)\" as the \(role)\(via): an attribute Jinja's sandbox refuses (Jinja looks keys up as attributes too)",
                       at: position, in: context)
            }
        case .name(let n) where through == nil:
            for value in assigned[n] ?? [] {
                guard let value else {
                    report(Self.dynamic, .high, "the \(role) `\(n)`, set from template output at render time, so the attribute it names cannot be checked",
                           at: position, in: context)
                    return
                }
                if case .string = value.kind {
                    checkName(value, at: position, context: context, role: role, dotted: dotted, through: n)
                } else if isStringBuilt(value) {
                    report(Self.dynamic, .high, "the \(role) `\(n)`, a string built at render time, so the attribute it names cannot be checked",
                           at: position, in: context)
                    return
                }
            }
        default:
            if isStringBuilt(key) {
                report(Self.dynamic, .high, "a \(role) built at render time (`\(text(key))`), so the attribute it names cannot be checked",
                       at: position, in: context)
            }
        }
    }

    mutating func checkCall(_ callee: JinjaExpr, context: JinjaExpr) {
        switch callee.kind {
        case .name(let n):
            if !TemplateSandboxRules.callableGlobals.contains(n), !macros.contains(n), n != "caller", n != "loop" {
                report(Self.unknownCall, .high, "a call of `\(n)`, which is neither a global of chat-template renderers nor a macro of this template",
                       at: callee.position, in: context)
            }
        case .attribute(let receiver, let method):
            if method == "format" || method == "format_map" {
                guard case .string(let format) = receiver.kind, let format else {
                    report(Self.dynamic, .high, "`.\(method)` of a format string not written in the template, whose fields can name any attribute",
                           at: callee.namePosition, in: context)
                    return
                }
                if let field = TemplateFormatFields.unsafeField(in: format) {
                    report(Self.escape, .critical, "the format field `{\(field)}`, which reads an attribute Jinja's sandbox refuses",
                           at: callee.namePosition, in: context)
                }
            }
            var root = receiver
            while true {
                switch root.kind {
                case .attribute(let base, _), .subscript(let base, _), .call(let base, _): root = base
                    continue
                default: break
                }
                break
            }
            if case .name(let n) = root.kind, Self.moduleNames.contains(n), assigned[n] == nil, !macros.contains(n) {
                report(Self.unknownCall, .high, "a call through `\(n)`, a Python module no chat-template renderer defines",
                       at: callee.namePosition, in: context)
            }
        default:
            break
        }
    }

    mutating func checkFilter(_ name: String, _ args: JinjaArguments, at position: JinjaPosition, context: JinjaExpr, depth: Int) {
        guard TemplateSandboxRules.builtinFilters.contains(name) else {
            report(Self.unknownFilter, .high, "the filter `\(name)`, which is not one of Jinja's built-in filters", at: position, in: context)
            return
        }
        if let (keyword, index) = TemplateSandboxRules.attributeArguments[name] {
            var argument = keyword.flatMap { args.keyword($0) }
            if argument == nil, let index, index < args.positional.count { argument = args.positional[index] }
            if let argument {
                checkName(argument, at: argument.position, context: context, role: "attribute name for `|\(name)`", dotted: name != "attr")
            }
        }
        // Filters that apply another filter or test named by a string.
        let named: (index: Int, isFilter: Bool)?
        switch name {
        case "map" where args.keyword("attribute") == nil: named = (0, true)
        case "select", "reject": named = (0, false)
        case "selectattr", "rejectattr": named = (1, false)
        default: named = nil
        }
        guard let named, named.index < args.positional.count else { return }
        let argument = args.positional[named.index]
        guard case .string(let chosen?) = argument.kind else {
            report(Self.dynamic, .high, "a \(named.isFilter ? "filter" : "test") for `|\(name)` chosen at render time, which cannot be checked",
                   at: argument.position, in: context)
            return
        }
        if named.isFilter {
            var rest = args
            rest.positional.removeFirst()
            guard depth < 4 else { return }
            checkFilter(chosen, rest, at: argument.position, context: context, depth: depth + 1)
        } else if !TemplateSandboxRules.builtinTests.contains(chosen) {
            report(Self.unknownTest, .high, "the test `\(chosen)` for `|\(name)`, which is not one of Jinja's built-in tests", at: argument.position, in: context)
        }
    }

    /// Whether an expression may be a string put together at render time.
    func isStringBuilt(_ e: JinjaExpr) -> Bool {
        switch e.kind {
        case .binary("~", _, _):
            return true
        case .binary(let op, let a, let b) where op == "+" || op == "*" || op == "%":
            return [a, b].contains { operand in
                if case .string = operand.kind { return true }
                return isStringBuilt(operand)
            }
        case .filter(_, let name, _):
            return TemplateSandboxRules.stringFilters.contains(name)
        case .call(let callee, _):
            if case .attribute(_, let method) = callee.kind { return TemplateSandboxRules.stringMethods.contains(method) }
            return false
        case .subscript(let base, _):
            if case .string = base.kind { return true }
            return isStringBuilt(base)
        case .conditional(let value, _, let otherwise):
            return isStringBuilt(value) || otherwise.map(isStringBuilt) == true
        default:
            return false
        }
    }
}
