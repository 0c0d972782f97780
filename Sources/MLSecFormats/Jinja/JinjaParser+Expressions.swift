// JinjaParser+Expressions: Jinja's expression grammar from conditionals down to primaries (operators by precedence).

extension JinjaParser {
    typealias Kind = JinjaExpr.Kind

    func node(_ kind: Kind, from start: JinjaToken, name: JinjaToken? = nil) throws(JinjaSyntaxError) -> JinjaExpr {
        try bounded(JinjaExpr(kind, start: start.start, end: max(lastEnd, start.end), position: start.position,
                              namePosition: name?.position))
    }

    func node(_ kind: Kind, from first: JinjaExpr, name: JinjaToken? = nil) throws(JinjaSyntaxError) -> JinjaExpr {
        try bounded(JinjaExpr(kind, start: first.start, end: max(lastEnd, first.end), position: first.position,
                              namePosition: name?.position))
    }

    /// Left-nested operator chains (`a ~ b ~ c …`) grow trees without recursion in the parser: their height is
    /// bounded here, so every later walk of the tree has bounded recursion too.
    func bounded(_ e: JinjaExpr) throws(JinjaSyntaxError) -> JinjaExpr {
        guard e.height <= Self.maxHeight else { throw fail("expression nested more than \(Self.maxHeight) levels deep") }
        return e
    }

    /// `a if b else c`, or without conditionals (`for … in x if y`) an `or` expression.
    mutating func parseExpression(withCondition: Bool = true) throws(JinjaSyntaxError) -> JinjaExpr {
        try enter()
        defer { depth -= 1 }
        guard withCondition else { return try parseOr() }
        var value = try parseOr()
        while current.isName("if") {
            advance()
            let condition = try parseOr()
            var otherwise: JinjaExpr?
            if current.isName("else") {
                advance()
                otherwise = try parseExpression()
            }
            value = try node(.conditional(value, condition: condition, otherwise: otherwise), from: value)
        }
        return value
    }

    mutating func parseOr() throws(JinjaSyntaxError) -> JinjaExpr {
        var left = try parseAnd()
        while current.isName("or") {
            advance()
            let operand = try parseAnd()
            left = try node(.binary("or", left, operand), from: left)
        }
        return left
    }

    mutating func parseAnd() throws(JinjaSyntaxError) -> JinjaExpr {
        var left = try parseNot()
        while current.isName("and") {
            advance()
            let operand = try parseNot()
            left = try node(.binary("and", left, operand), from: left)
        }
        return left
    }

    mutating func parseNot() throws(JinjaSyntaxError) -> JinjaExpr {
        guard current.isName("not") else { return try parseCompare() }
        let start = current
        advance()
        try enter()
        defer { depth -= 1 }
        let operand = try parseNot()
        return try node(.unary("not", operand), from: start)
    }

    mutating func parseCompare() throws(JinjaSyntaxError) -> JinjaExpr {
        var left = try parseBinary(level: 0)
        while true {
            let op: String
            if case .op(let o) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(o) {
                op = o
                advance()
            } else if current.isName("in") {
                op = "in"
                advance()
            } else if current.isName("not"), look().isName("in") {
                op = "not in"
                p += 2
            } else {
                return left
            }
            let operand = try parseBinary(level: 0)
            left = try node(.binary(op, left, operand), from: left)
        }
    }

    /// `+ -`, then `~`, then `* / // %`, then `**`, each level binding tighter than the one before.
    mutating func parseBinary(level: Int) throws(JinjaSyntaxError) -> JinjaExpr {
        let levels: [[String]] = [["+", "-"], ["~"], ["*", "/", "//", "%"], ["**"]]
        guard level < levels.count else { return try parseUnary() }
        var left = try parseBinary(level: level + 1)
        while case .op(let o) = current.kind, levels[level].contains(o) {
            advance()
            let operand = try parseBinary(level: level + 1)
            left = try node(.binary(o, left, operand), from: left)
        }
        return left
    }

    mutating func parseUnary(withFilter: Bool = true) throws(JinjaSyntaxError) -> JinjaExpr {
        var value: JinjaExpr
        if current.isOp("-") || current.isOp("+") {
            let start = current
            advance()
            try enter()
            defer { depth -= 1 }
            let operand = try parseUnary(withFilter: false)
            value = try node(.unary(start.isOp("-") ? "-" : "+", operand), from: start)
        } else {
            value = try parsePrimary()
        }
        value = try parsePostfix(value)
        guard withFilter else { return value }
        while true {
            if current.isOp("|") {
                value = try parseFilter(value)
            } else if current.isName("is") {
                value = try parseTest(value)
            } else if current.isOp("(") {
                let operand = try parseArguments()
                value = try node(.call(value, operand), from: value)
            } else {
                return value
            }
        }
    }

    mutating func parsePrimary() throws(JinjaSyntaxError) -> JinjaExpr {
        let start = current
        switch start.kind {
        case .name(let n):
            advance()
            let constants = ["true", "false", "none", "True", "False", "None"]
            return try node(constants.contains(n) ? .constant(n.lowercased()) : .name(n), from: start)
        case .string(let first):
            advance()
            var value = first
            while case .string(let next) = current.kind {  // adjacent literals concatenate
                value = value.flatMap { v in next.map { v + $0 } }
                advance()
            }
            return try node(.string(value), from: start)
        case .number(let n):
            advance()
            return try node(.number(n), from: start)
        case .op("("):
            advance()
            try enter()
            defer { depth -= 1 }
            var value = try parseTuple(explicitParentheses: true)
            try expectOp(")")
            value.start = start.start
            value.end = lastEnd
            value.position = start.position
            return value
        case .op("["):
            advance()
            var items: [JinjaExpr] = []
            while !current.isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if current.isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return try node(.list(items), from: start)
        case .op("{"):
            advance()
            var pairs: [(key: JinjaExpr, value: JinjaExpr)] = []
            while !current.isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if current.isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
            }
            try expectOp("}")
            return try node(.dict(pairs), from: start)
        default:
            throw fail("unexpected \(describe(start))")
        }
    }

    /// Expressions separated by commas: a tuple when there is a comma, else the one expression.
    mutating func parseTuple(simplified: Bool = false, withCondition: Bool = true, explicitParentheses: Bool = false,
                             endNames: Set<String> = []) throws(JinjaSyntaxError) -> JinjaExpr {
        let start = current
        var items: [JinjaExpr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            let ends: [JinjaToken.Kind] = [.variableEnd, .blockEnd, .op(")")]
            if ends.contains(current.kind) || current.name.map(endNames.contains) == true {
                break
            }
            if simplified {
                items.append(try parsePrimary())
            } else {
                items.append(try parseExpression(withCondition: withCondition))
            }
            if current.isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let only = items.first { return only }
            guard explicitParentheses else { throw fail("expected an expression, found \(describe(current))") }
        }
        return try node(.tuple(items), from: start)
    }
}
