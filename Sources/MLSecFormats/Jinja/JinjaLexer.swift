// JinjaLexer: splits a Jinja template into tag tokens (default delimiters), skipping text, comments and raw blocks.

/// The lexer of Jinja's default syntax: `{{ }}`, `{% %}`, `{# #}`, whitespace control (`-`, `+`), `{% raw %}`.
/// Brackets are balanced inside a tag as Jinja does, so `}}` closes a variable tag only outside brackets.
/// Anything Jinja's lexer would reject (an unknown character, an unterminated tag, string or comment, a bad
/// escape) is an error: a template that cannot be read cannot be shown harmless.
package struct JinjaLexer {
    /// Longest template accepted, in Unicode scalars.
    package static let maxScalars = 4 << 20
    /// Most tokens accepted.
    package static let maxTokens = 1 << 20

    let text: [Unicode.Scalar]
    private var lineStarts: [Int] = [0]
    private var tokens: [JinjaToken] = []
    private var i = 0

    package init(_ template: String) {
        text = Array(template.unicodeScalars)
        for (offset, scalar) in text.enumerated() where scalar == "\n" { lineStarts.append(offset + 1) }
    }

    /// The tokens of the template, ending with `.end`.
    package static func tokenize(_ template: String) throws(JinjaSyntaxError) -> [JinjaToken] {
        var lexer = JinjaLexer(template)
        return try lexer.run()
    }

    /// Line and column of a scalar offset.
    package func position(_ offset: Int) -> JinjaPosition {
        var lo = 0
        var hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return JinjaPosition(line: lo + 1, column: offset - lineStarts[lo] + 1)
    }

    mutating func run() throws(JinjaSyntaxError) -> [JinjaToken] {
        guard text.count <= Self.maxScalars else {
            throw JinjaSyntaxError("template longer than \(Self.maxScalars) characters", at: position(0))
        }
        while i < text.count {
            guard text[i] == "{", i + 1 < text.count, ["{", "%", "#"].contains(text[i + 1]) else {
                i += 1
                continue
            }
            let open = i
            switch text[i + 1] {
            case "#":
                guard let close = find(["#", "}"], from: i + 2) else { throw fail("unterminated comment", open) }
                i = close + 2
            case "%":
                if let after = rawBlockEnd(from: open) {
                    i = after
                    continue
                }
                try lexTag(begin: .blockBegin, closer: "%", open: open)
            default:
                try lexTag(begin: .variableBegin, closer: "}", open: open)
            }
        }
        tokens.append(JinjaToken(.end, start: text.count, end: text.count, position: position(text.count)))
        return tokens
    }

    /// One tag: its opening token, its expression tokens and its closing token.
    private mutating func lexTag(begin: JinjaToken.Kind, closer: Unicode.Scalar, open: Int) throws(JinjaSyntaxError) {
        i = open + 2
        if i < text.count, text[i] == "-" || text[i] == "+" { i += 1 }
        try emit(begin, open, i)
        var brackets: [Unicode.Scalar] = []
        while true {
            while i < text.count, text[i].properties.isWhitespace { i += 1 }
            guard i < text.count else { throw fail("tag opened here is never closed", open) }
            if brackets.isEmpty, let end = tagEnd(closer) {
                try emit(closer == "%" ? .blockEnd : .variableEnd, i, end)
                i = end
                return
            }
            let start = i
            let c = text[i]
            if c == "_" || c.properties.isAlphabetic {
                while i < text.count, text[i] == "_" || text[i].properties.isAlphabetic || text[i].properties.numericType != nil {
                    i += 1
                }
                try emit(.name(String(String.UnicodeScalarView(text[start..<i]))), start, i)
            } else if ("0"..."9").contains(c) {
                try emit(.number(try number()), start, i)
            } else if c == "'" || c == "\"" {
                try emit(.string(try string()), start, i)
            } else if let op = Self.operators.first(where: { matches($0) }) {
                i += op.unicodeScalars.count
                if ["(", "[", "{"].contains(op) { brackets.append(op.unicodeScalars.first ?? "(") }
                if [")", "]", "}"].contains(op) {
                    let expected: Unicode.Scalar = op == ")" ? "(" : op == "]" ? "[" : "{"
                    guard brackets.popLast() == expected else { throw fail("unexpected '\(op)'", start) }
                }
                try emit(.op(op), start, i)
            } else {
                throw fail("unexpected character '\(c.escaped(asASCII: true))'", start)
            }
        }
    }

    static let operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ":",
                            "|", ",", ";", "(", ")", "[", "]", "{", "}"]

    /// The offset past a closing delimiter (`%}` or `}}`, optionally preceded by `-` or `+`) at `i`, if any.
    private func tagEnd(_ closer: Unicode.Scalar) -> Int? {
        var j = i
        if text[j] == "-" || text[j] == "+" { j += 1 }
        guard j + 1 < text.count, text[j] == closer, text[j + 1] == "}" else { return nil }
        return j + 2
    }

    private func matches(_ op: String) -> Bool {
        var j = i
        for s in op.unicodeScalars {
            guard j < text.count, text[j] == s else { return false }
            j += 1
        }
        return true
    }

    /// `{% raw %}…{% endraw %}` starting at `open`: the offset past it, or nil when the tag is not `raw`.
    private func rawBlockEnd(from open: Int) -> Int? {
        guard let afterRaw = tagWord("raw", at: open) else { return nil }
        var j = afterRaw
        while j + 1 < text.count {
            if text[j] == "{", text[j + 1] == "%", let after = tagWord("endraw", at: j) { return after }
            j += 1
        }
        return nil  // lexTag then reads `raw` as a tag and the parser reports the missing endraw
    }

    /// When the block tag at `open` holds only `word`, the offset past its `%}`.
    private func tagWord(_ word: String, at open: Int) -> Int? {
        var j = open + 2
        if j < text.count, text[j] == "-" || text[j] == "+" { j += 1 }
        while j < text.count, text[j].properties.isWhitespace { j += 1 }
        for s in word.unicodeScalars {
            guard j < text.count, text[j] == s else { return nil }
            j += 1
        }
        while j < text.count, text[j].properties.isWhitespace { j += 1 }
        if j < text.count, text[j] == "-" || text[j] == "+" { j += 1 }
        guard j + 1 < text.count, text[j] == "%", text[j + 1] == "}" else { return nil }
        return j + 2
    }

    private func find(_ pair: [Unicode.Scalar], from: Int) -> Int? {
        var j = from
        while j + 1 < text.count {
            if text[j] == pair[0], text[j + 1] == pair[1] { return j }
            j += 1
        }
        return nil
    }

    private mutating func emit(_ kind: JinjaToken.Kind, _ start: Int, _ end: Int) throws(JinjaSyntaxError) {
        guard tokens.count < Self.maxTokens else { throw fail("more than \(Self.maxTokens) tokens", start) }
        tokens.append(JinjaToken(kind, start: start, end: end, position: position(start)))
    }

    func fail(_ message: String, _ offset: Int) -> JinjaSyntaxError { JinjaSyntaxError(message, at: position(offset)) }

    /// An integer (decimal with `_`, `0x`, `0o`, `0b`) or float; right after `.` only an integer (`x.0.1`).
    private mutating func number() throws(JinjaSyntaxError) -> String {
        let start = i
        func digits(_ allowed: (Unicode.Scalar) -> Bool) {
            while i < text.count, allowed(text[i]) || (text[i] == "_" && i + 1 < text.count && allowed(text[i + 1])) { i += 1 }
        }
        let decimal: (Unicode.Scalar) -> Bool = { ("0"..."9").contains($0) }
        if text[i] == "0", i + 1 < text.count, "xXoObB".unicodeScalars.contains(text[i + 1]) {
            let base = text[i + 1].properties.lowercaseMapping
            i += 2
            let hex: (Unicode.Scalar) -> Bool = { decimal($0) || ("a"..."f").contains($0) || ("A"..."F").contains($0) }
            let before = i
            digits(base == "x" ? hex : base == "o" ? { ("0"..."7").contains($0) } : { $0 == "0" || $0 == "1" })
            guard i > before else { throw fail("malformed number", start) }
        } else {
            digits(decimal)
            let afterDot = tokens.last?.kind == .op(".")
            if !afterDot, i + 1 < text.count, text[i] == ".", decimal(text[i + 1]) {
                i += 1
                digits(decimal)
            }
            if !afterDot, i < text.count, text[i] == "e" || text[i] == "E" {
                var j = i + 1
                if j < text.count, text[j] == "+" || text[j] == "-" { j += 1 }
                if j < text.count, decimal(text[j]) {
                    i = j
                    digits(decimal)
                }
            }
        }
        if i < text.count, text[i] == "_" || text[i].properties.isAlphabetic { throw fail("malformed number", start) }
        return String(String.UnicodeScalarView(text[start..<i]))
    }

    /// A quoted string; its value with Python's escapes decoded (nil when one cannot be decoded exactly).
    private mutating func string() throws(JinjaSyntaxError) -> String? {
        let start = i
        let quote = text[i]
        i += 1
        var body: [Unicode.Scalar] = []
        while true {
            guard i < text.count else { throw fail("unterminated string", start) }
            let c = text[i]
            if c == quote { break }
            if c == "\\", i + 1 < text.count {
                body.append(c)
                body.append(text[i + 1])
                i += 2
                continue
            }
            body.append(c)
            i += 1
        }
        i += 1
        do {
            return try JinjaStringEscapes.decode(body)
        } catch {
            throw fail(error.message, start)
        }
    }
}
