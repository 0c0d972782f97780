// TemplateSandboxCheck: applies Jinja2's sandbox rules to a parsed template, never running it.

import MLSecFormats

/// One rule a template breaks, with the expression that breaks it and where.
package struct TemplateIssue: Sendable, Equatable {
    package var rule: String
    package var severity: Severity
    package var message: String
    package var position: JinjaPosition
}

/// Checks a Jinja template against the rules of Jinja2's `SandboxedEnvironment` (see ``TemplateSandboxRules``):
/// attributes starting with `_` (by `.name`, `['name']`, `|attr`, attribute-taking filters and format fields),
/// calls of names that are neither renderer globals nor macros of the template, filters and tests outside
/// Jinja's built-ins, and names built at render time where an attribute name goes (which no static check can
/// judge). A template that cannot be parsed is reported as such: what cannot be read cannot be shown harmless.
package struct TemplateSandboxCheck {
    /// Most issues reported for one template.
    package static let maxIssues = 32

    let source: [Unicode.Scalar]
    var issues: [TemplateIssue] = []
    var omitted = 0
    var macros: Set<String> = []
    /// Values assigned to each name with `set` or `with`; nil marks a `{% set x %}…{% endset %}` block (text).
    var assigned: [String: [JinjaExpr?]] = [:]
    /// String literals already reported as keys, so they are not reported twice.
    var reportedLiterals: Set<Int> = []
    /// (rule, chain) pairs already reported: one report per rule and chain (`().__class__.__base__` is one).
    var reportedChains: Set<String> = []

    init(source: String) { self.source = Array(source.unicodeScalars) }

    /// The issues of `template`, in source order (empty when it keeps to the sandbox's rules).
    package static func check(_ template: String) -> [TemplateIssue] {
        let nodes: [JinjaNode]
        do {
            nodes = try JinjaParser.parse(template)
        } catch {
            return [TemplateIssue(rule: "template-unparsed", severity: .high,
                                  message: "\(error.position): \(error.message); a template the analysis cannot parse cannot be shown to keep to Jinja's sandbox rules",
                                  position: error.position)]
        }
        var check = TemplateSandboxCheck(source: template)
        for node in nodes { check.collect(node) }
        for node in nodes { check.walk(node) }
        if check.omitted > 0, let last = check.issues.last {
            check.issues.append(TemplateIssue(rule: last.rule, severity: last.severity,
                                              message: "\(check.omitted) more issues not listed", position: last.position))
        }
        return check.issues
    }

    // MARK: - Reporting

    mutating func report(_ rule: String, _ severity: Severity, _ what: String, at position: JinjaPosition, in context: JinjaExpr) {
        guard reportedChains.insert("\(rule) \(context.start) \(context.end)").inserted else { return }
        guard issues.count < Self.maxIssues else {
            omitted += 1
            return
        }
        issues.append(TemplateIssue(rule: rule, severity: severity, message: "\(position): \(what) in `\(text(context))`",
                                    position: position))
    }

    /// The source of an expression on one line, shortened to 120 characters.
    func text(_ e: JinjaExpr) -> String {
        let lower = max(0, min(e.start, source.count))
        let upper = max(lower, min(e.end, source.count))
        var out = ""
        var lastSpace = false
        for s in source[lower..<upper] {
            let space = s.properties.isWhitespace || s.value < 0x20 || (0x7F...0x9F).contains(s.value)
            if space {
                if !lastSpace { out.append(" ") }
            } else {
                out.unicodeScalars.append(s)
            }
            lastSpace = space
            if out.unicodeScalars.count >= 120 { return out + "…" }
        }
        return out
    }

    // MARK: - Statements

    /// First pass: macro names and what each name is set to.
    mutating func collect(_ node: JinjaNode) {
        switch node {
        case .macro(let name, _, let body):
            macros.insert(name)
            body.forEach { collect($0) }
        case .assignment(let target, let value):
            remember(target, value)
        case .blockAssignment(let target, _, let body):
            remember(target, nil)
            body.forEach { collect($0) }
        case .scope(let assignments, let body):
            for (target, value) in assignments { remember(target, value) }
            body.forEach { collect($0) }
        default:
            for body in Self.bodies(node) { body.forEach { collect($0) } }
        }
    }

    /// Most values followed per name (so keys cost a bounded time each); past it the name is opaque (`nil`).
    static let maxAssignmentsPerName = 64

    mutating func remember(_ target: JinjaExpr, _ value: JinjaExpr?) {
        switch target.kind {
        case .name(let n):
            let known = assigned[n, default: []]
            if known.count < Self.maxAssignmentsPerName {
                assigned[n] = known + [value]
            } else if known.last.map({ $0 != nil }) ?? true {
                assigned[n] = known.dropLast() + [nil]
            }
        case .tuple(let names):
            let values: [JinjaExpr?]
            if case .tuple(let items)? = value?.kind, items.count == names.count { values = items } else { values = names.map { _ in nil } }
            for (name, item) in zip(names, values) { remember(name, item) }
        default:
            break
        }
    }

    static func bodies(_ node: JinjaNode) -> [[JinjaNode]] {
        switch node {
        case .output, .assignment, .loopControl: return []
        case .conditional(let branches, let otherwise): return branches.map(\.body) + [otherwise]
        case .loop(_, _, _, _, let body, let otherwise): return [body, otherwise]
        case .blockAssignment(_, _, let body), .macro(_, _, let body), .callBlock(_, _, let body),
             .filterBlock(_, let body), .scope(_, let body), .generation(let body):
            return [body]
        }
    }

    /// Second pass: every expression of every statement.
    mutating func walk(_ node: JinjaNode) {
        var expressions: [JinjaExpr] = []
        switch node {
        case .output(let e): expressions = [e]
        case .conditional(let branches, _): expressions = branches.map(\.condition)
        case .loop(_, let iterable, let filter, _, _, _): expressions = [iterable] + (filter.map { [$0] } ?? [])
        case .assignment(let target, let value): expressions = [target, value]
        case .blockAssignment(let target, let filters, _): expressions = [target] + filters
        case .macro(_, let parameters, _): expressions = parameters.compactMap(\.defaultValue)
        case .callBlock(let call, let parameters, _): expressions = [call] + parameters.compactMap(\.defaultValue)
        case .filterBlock(let filters, _): expressions = filters
        case .scope(let assignments, _): expressions = assignments.map(\.value)
        case .generation, .loopControl: break
        }
        for e in expressions { visit(e, context: e) }
        for body in Self.bodies(node) { body.forEach { walk($0) } }
    }
}
