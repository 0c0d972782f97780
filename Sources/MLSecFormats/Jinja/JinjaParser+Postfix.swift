// JinjaParser+Postfix: what follows a primary: attributes, subscripts and slices, calls, filters and tests.

extension JinjaParser {
    /// `.name`, `.0`, `[key]`, `[a:b:c]` and calls after a primary.
    mutating func parsePostfix(_ base: JinjaExpr) throws(JinjaSyntaxError) -> JinjaExpr {
        var value = base
        while true {
            if current.isOp(".") {
                advance()
                let nameToken = current
                switch nameToken.kind {
                case .name(let n):
                    advance()
                    value = try node(.attribute(value, n), from: value, name: nameToken)
                case .number(let n) where n.allSatisfy(\.isNumber):
                    advance()
                    let key = try node(.number(n), from: nameToken)
                    value = try node(.subscript(value, key), from: value, name: nameToken)
                default:
                    throw fail("expected a name or number after '.', found \(describe(nameToken))")
                }
            } else if current.isOp("[") {
                let open = current
                advance()
                var keys: [JinjaExpr] = []
                while !current.isOp("]") {
                    if !keys.isEmpty { try expectOp(",") }
                    keys.append(try parseSubscribed())
                }
                try expectOp("]")
                guard let first = keys.first else { throw fail("expected a subscript", open) }
                let key = keys.count == 1 ? first : try node(.tuple(keys), from: first)
                value = try node(.subscript(value, key), from: value, name: open)
            } else if current.isOp("(") {
                let operand = try parseArguments()
                value = try node(.call(value, operand), from: value)
            } else {
                return value
            }
        }
    }

    mutating func parseSubscribed() throws(JinjaSyntaxError) -> JinjaExpr {
        let start = current
        var parts: [JinjaExpr?] = []
        if current.isOp(":") {
            advance()
            parts = [nil]
        } else {
            let value = try parseExpression()
            guard current.isOp(":") else { return value }
            advance()
            parts = [value]
        }
        let atEnd = { (t: JinjaToken) in t.isOp("]") || t.isOp(",") || t.isOp(":") }
        if atEnd(current) { parts.append(nil) } else { parts.append(try parseExpression()) }
        if current.isOp(":") {
            advance()
            if current.isOp("]") || current.isOp(",") { parts.append(nil) } else { parts.append(try parseExpression()) }
        } else {
            parts.append(nil)
        }
        return try node(.slice(parts[0], parts[1], parts[2]), from: start)
    }

    /// `(positional, name=value, *args, **kwargs)`.
    mutating func parseArguments() throws(JinjaSyntaxError) -> JinjaArguments {
        try expectOp("(")
        var args = JinjaArguments()
        var needComma = false
        while !current.isOp(")") {
            if needComma {
                try expectOp(",")
                if current.isOp(")") { break }
            }
            let dynamic = args.star != nil || args.starStar != nil
            if current.isOp("*") {
                guard !dynamic else { throw fail("invalid argument order") }
                advance()
                args.star = try parseExpression()
            } else if current.isOp("**") {
                guard args.starStar == nil else { throw fail("invalid argument order") }
                advance()
                args.starStar = try parseExpression()
            } else if let name = current.name, look().isOp("=") {
                guard !dynamic else { throw fail("invalid argument order") }
                p += 2
                args.keyword.append((name, try parseExpression()))
            } else {
                guard !dynamic, args.keyword.isEmpty else { throw fail("a positional argument follows a keyword argument") }
                args.positional.append(try parseExpression())
            }
            needComma = true
        }
        try expectOp(")")
        return args
    }

    /// `| name(args)`; dotted names (`| a.b`) are read as written.
    mutating func parseFilter(_ value: JinjaExpr?) throws(JinjaSyntaxError) -> JinjaExpr {
        let pipe = current
        try expectOp("|")
        let nameToken = current
        let name = try dottedName()
        var args = JinjaArguments()
        if current.isOp("(") { args = try parseArguments() }
        if let value { return try node(.filter(value, name, args), from: value, name: nameToken) }
        return try node(.filter(nil, name, args), from: pipe, name: nameToken)
    }

    /// The filters of `{% filter %}` (first without `|`) or `{% set x | … %}`.
    mutating func parseFilterChain(inline: Bool) throws(JinjaSyntaxError) -> [JinjaExpr] {
        var filters: [JinjaExpr] = []
        if inline {
            let nameToken = current
            let name = try dottedName()
            var args = JinjaArguments()
            if current.isOp("(") { args = try parseArguments() }
            filters.append(try node(.filter(nil, name, args), from: nameToken, name: nameToken))
        }
        while current.isOp("|") { filters.append(try parseFilter(nil)) }
        return filters
    }

    mutating func parseTest(_ value: JinjaExpr) throws(JinjaSyntaxError) -> JinjaExpr {
        advance()  // `is`
        let negated = current.isName("not")
        if negated { advance() }
        let nameToken = current
        let name = try dottedName()
        var args = JinjaArguments()
        if current.isOp("(") {
            args = try parseArguments()
        } else if startsPrimary(current), !["else", "or", "and"].contains(current.name ?? "") {
            guard !current.isName("is") else { throw fail("tests cannot be chained with 'is'") }
            args.positional = [try parsePostfix(try parsePrimary())]
        }
        return try node(.test(value, name, args, negated: negated), from: value, name: nameToken)
    }

    func startsPrimary(_ t: JinjaToken) -> Bool {
        switch t.kind {
        case .name, .string, .number: return true
        case .op(let o): return o == "(" || o == "[" || o == "{"
        default: return false
        }
    }

    mutating func dottedName() throws(JinjaSyntaxError) -> String {
        var name = try expectName()
        while current.isOp(".") {
            advance()
            name += "." + (try expectName())
        }
        return name
    }
}
