// JinjaParser: the statements of a Jinja template (the tags chat templates use), with nesting bounded.

/// Parses a template into statements following Jinja's own grammar. Only the tags chat templates use are read
/// (`if`, `for`, `set`, `macro`, `call`, `filter`, `with`, `break`, `continue`, `raw` and Hugging Face's
/// `generation`); any other tag (`include`, `import`, `extends`, `block`, extensions such as `do`) is an error,
/// because what the analysis does not read it cannot show harmless.
package struct JinjaParser {
    /// Deepest nesting of blocks and expressions.
    package static let maxDepth = 64
    /// Highest expression tree (operands of one operator chain included).
    package static let maxHeight = 256

    var tokens: [JinjaToken]
    var p = 0
    var depth = 0
    var loops = 0

    package init(tokens: [JinjaToken]) { self.tokens = tokens }

    /// The statements of a template.
    package static func parse(_ template: String) throws(JinjaSyntaxError) -> [JinjaNode] {
        var parser = JinjaParser(tokens: try JinjaLexer.tokenize(template))
        return try parser.parseBody(until: [], opener: nil).nodes
    }

    var current: JinjaToken { tokens[min(p, tokens.count - 1)] }
    func look(_ n: Int = 1) -> JinjaToken { tokens[min(p + n, tokens.count - 1)] }
    mutating func advance() { if p < tokens.count - 1 { p += 1 } }
    var lastEnd: Int { p > 0 ? tokens[p - 1].end : 0 }

    func fail(_ message: String, _ token: JinjaToken? = nil) -> JinjaSyntaxError {
        JinjaSyntaxError(message, at: (token ?? current).position)
    }

    mutating func enter() throws(JinjaSyntaxError) {
        depth += 1
        guard depth <= Self.maxDepth else { throw fail("nested more than \(Self.maxDepth) levels deep") }
    }

    mutating func expectOp(_ op: String) throws(JinjaSyntaxError) {
        guard current.isOp(op) else { throw fail("expected '\(op)', found \(describe(current))") }
        advance()
    }

    mutating func expectName() throws(JinjaSyntaxError) -> String {
        guard let name = current.name else { throw fail("expected a name, found \(describe(current))") }
        advance()
        return name
    }

    mutating func expectBlockEnd() throws(JinjaSyntaxError) {
        guard current.kind == .blockEnd else { throw fail("expected the end of the tag, found \(describe(current))") }
        advance()
    }

    func describe(_ t: JinjaToken) -> String {
        switch t.kind {
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .name(let n): return "'\(n)'"
        case .string: return "a string"
        case .number(let n): return "'\(n)'"
        case .op(let o): return "'\(o)'"
        case .end: return "the end of the template"
        }
    }

    /// Statements up to a block tag named in `enders` (whose name is consumed and returned) or the end.
    mutating func parseBody(until enders: Set<String>, opener: JinjaToken?) throws(JinjaSyntaxError)
        -> (nodes: [JinjaNode], ender: String) {
        try enter()
        defer { depth -= 1 }
        var nodes: [JinjaNode] = []
        while true {
            switch current.kind {
            case .end:
                guard enders.isEmpty else {
                    throw fail("a block is never closed (expected \(enders.sorted().joined(separator: " or ")))", opener)
                }
                return (nodes, "")
            case .variableBegin:
                advance()
                let value = try parseTuple()
                guard current.kind == .variableEnd else { throw fail("expected '}}', found \(describe(current))") }
                advance()
                nodes.append(.output(value))
            case .blockBegin:
                let tag = look()
                guard let name = tag.name else { throw fail("expected a tag name, found \(describe(tag))", tag) }
                if enders.contains(name) {
                    p += 2
                    return (nodes, name)
                }
                advance()
                nodes.append(try parseStatement())
            default:
                throw fail("unexpected \(describe(current))")
            }
        }
    }

    /// One statement; the current token is its tag name.
    mutating func parseStatement() throws(JinjaSyntaxError) -> JinjaNode {
        let tag = current
        guard let name = tag.name else { throw fail("expected a tag name") }
        advance()
        switch name {
        case "if":
            var branches: [(condition: JinjaExpr, body: [JinjaNode])] = []
            var condition = try parseExpression()
            while true {
                try expectBlockEnd()
                let (body, ender) = try parseBody(until: ["elif", "else", "endif"], opener: tag)
                branches.append((condition, body))
                if ender == "elif" {
                    condition = try parseExpression()
                    continue
                }
                var otherwise: [JinjaNode] = []
                if ender == "else" {
                    try expectBlockEnd()
                    otherwise = try parseBody(until: ["endif"], opener: tag).nodes
                }
                try expectBlockEnd()
                return .conditional(branches: branches, otherwise: otherwise)
            }
        case "for":
            let targets = try parseAssignTarget(endNames: ["in"])
            guard current.isName("in") else { throw fail("expected 'in', found \(describe(current))") }
            advance()
            let iterable = try parseTuple(withCondition: false, endNames: ["recursive"])
            var filter: JinjaExpr?
            if current.isName("if") {
                advance()
                filter = try parseExpression()
            }
            let recursive = current.isName("recursive")
            if recursive { advance() }
            try expectBlockEnd()
            loops += 1
            let (body, ender) = try parseBody(until: ["endfor", "else"], opener: tag)
            loops -= 1
            var otherwise: [JinjaNode] = []
            if ender == "else" {
                try expectBlockEnd()
                otherwise = try parseBody(until: ["endfor"], opener: tag).nodes
            }
            try expectBlockEnd()
            return .loop(targets: targets, iterable: iterable, filter: filter, recursive: recursive, body: body,
                         otherwise: otherwise)
        case "set":
            let target = try parseAssignTarget(withNamespace: true)
            if current.isOp("=") {
                advance()
                let value = try parseTuple()
                try expectBlockEnd()
                return .assignment(target: target, value: value)
            }
            var filters: [JinjaExpr] = []
            if current.kind != .blockEnd { filters = try parseFilterChain(inline: false) }
            try expectBlockEnd()
            let body = try parseBody(until: ["endset"], opener: tag).nodes
            try expectBlockEnd()
            return .blockAssignment(target: target, filters: filters, body: body)
        case "macro":
            let macroName = try expectName()
            let parameters = try parseSignature()
            try expectBlockEnd()
            let body = try parseBody(until: ["endmacro"], opener: tag).nodes
            try expectBlockEnd()
            return .macro(name: macroName, parameters: parameters, body: body)
        case "call":
            var parameters: [JinjaParameter] = []
            if current.isOp("(") { parameters = try parseSignature() }
            let call = try parseExpression()
            guard case .call = call.kind else { throw fail("expected a call after 'call'", tag) }
            try expectBlockEnd()
            let body = try parseBody(until: ["endcall"], opener: tag).nodes
            try expectBlockEnd()
            return .callBlock(call: call, parameters: parameters, body: body)
        case "filter":
            let filters = try parseFilterChain(inline: true)
            try expectBlockEnd()
            let body = try parseBody(until: ["endfilter"], opener: tag).nodes
            try expectBlockEnd()
            return .filterBlock(filters: filters, body: body)
        case "with":
            var assignments: [(target: JinjaExpr, value: JinjaExpr)] = []
            while current.kind != .blockEnd {
                if !assignments.isEmpty { try expectOp(",") }
                let target = try parseAssignTarget()
                try expectOp("=")
                assignments.append((target, try parseExpression()))
            }
            try expectBlockEnd()
            let body = try parseBody(until: ["endwith"], opener: tag).nodes
            try expectBlockEnd()
            return .scope(assignments: assignments, body: body)
        case "generation":
            try expectBlockEnd()
            let body = try parseBody(until: ["endgeneration"], opener: tag).nodes
            try expectBlockEnd()
            return .generation(body)
        case "break", "continue":
            guard loops > 0 else { throw fail("'\(name)' outside a loop", tag) }
            try expectBlockEnd()
            return .loopControl(name)
        case "raw":
            throw fail("'raw' block without a matching 'endraw'", tag)
        default:
            throw fail("unknown tag '\(name)': the analysis reads only the tags chat templates use", tag)
        }
    }

    /// `(a, b=default, …)` of a macro or call block.
    mutating func parseSignature() throws(JinjaSyntaxError) -> [JinjaParameter] {
        try expectOp("(")
        var parameters: [JinjaParameter] = []
        while !current.isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            let name = try expectName()
            var defaultValue: JinjaExpr?
            if current.isOp("=") {
                advance()
                defaultValue = try parseExpression()
            } else if parameters.contains(where: { $0.defaultValue != nil }) {
                throw fail("a parameter without a default follows one with a default")
            }
            parameters.append((name, defaultValue))
        }
        try expectOp(")")
        return parameters
    }

    /// What `for`, `set` and `with` assign to: names, a tuple of them, or (in `set`) `namespace.attribute`.
    mutating func parseAssignTarget(withNamespace: Bool = false, endNames: Set<String> = []) throws(JinjaSyntaxError)
        -> JinjaExpr {
        let first = current
        if withNamespace, first.name != nil, look().isOp(".") {
            let base = JinjaExpr(.name(try expectName()), start: first.start, end: first.end, position: first.position)
            advance()
            let attributeToken = current
            let attribute = try expectName()
            return JinjaExpr(.attribute(base, attribute), start: first.start, end: lastEnd, position: first.position,
                             namePosition: attributeToken.position)
        }
        let target = try parseTuple(simplified: true, endNames: endNames)
        guard Self.assignable(target) else { throw fail("cannot assign to this expression", first) }
        return target
    }

    static func assignable(_ e: JinjaExpr) -> Bool {
        switch e.kind {
        case .name(let n): return !["true", "false", "none", "True", "False", "None"].contains(n)
        case .tuple(let items): return items.allSatisfy(assignable)
        default: return false
        }
    }
}
