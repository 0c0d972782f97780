// JinjaToken: the tokens of a Jinja template and where each starts (line and column).

import MLSecCore

/// A place in a template: 1-based line and column (columns count Unicode scalars).
package struct JinjaPosition: Sendable, Equatable, CustomStringConvertible {
    package var line: Int
    package var column: Int

    package init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    package var description: String { "\(line):\(column)" }
}

/// One token of a template. Text outside tags is not kept: the analysis judges code, not prose.
package struct JinjaToken: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        /// `{%` (with or without `-`/`+`).
        case blockBegin
        /// `%}`.
        case blockEnd
        /// `{{`.
        case variableBegin
        /// `}}`.
        case variableEnd
        case name(String)
        /// A string literal's value with Python's escapes applied; nil when it holds an escape whose value the
        /// lexer cannot know exactly (`\N{...}`, a lone surrogate), so the value can never be shown harmless.
        case string(String?)
        /// An integer or float literal, as written.
        case number(String)
        /// An operator or punctuation: `+ - * / // % ** ~ == != < <= > >= = . : | , ; ( ) [ ] { }`.
        case op(String)
        case end
    }

    package var kind: Kind
    /// Offsets of the token's first and past-last scalar in the template.
    package var start: Int
    package var end: Int
    package var position: JinjaPosition

    package init(_ kind: Kind, start: Int, end: Int, position: JinjaPosition) {
        self.kind = kind
        self.start = start
        self.end = end
        self.position = position
    }

    /// The name, when the token is one.
    package var name: String? {
        if case .name(let n) = kind { return n }
        return nil
    }

    package func isOp(_ op: String) -> Bool { kind == .op(op) }
    package func isName(_ n: String) -> Bool { kind == .name(n) }
}

/// Why a template could not be read: the message and where.
package struct JinjaSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    package var message: String
    package var position: JinjaPosition

    package init(_ message: String, at position: JinjaPosition) {
        self.message = message
        self.position = position
    }

    package var description: String { "\(position): \(message)" }
}
