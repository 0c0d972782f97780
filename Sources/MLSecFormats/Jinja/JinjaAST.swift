// JinjaAST: expressions and statements of the Jinja subset chat templates use, each with where it was written.

/// An expression and the source it came from.
package struct JinjaExpr: Sendable {
    package indirect enum Kind: Sendable {
        case name(String)
        /// A string literal's decoded value (nil when it cannot be known exactly).
        case string(String?)
        case number(String)
        /// `true`, `false`, `none` (any case Jinja accepts).
        case constant(String)
        case list([JinjaExpr])
        case tuple([JinjaExpr])
        case dict([(key: JinjaExpr, value: JinjaExpr)])
        /// `x.name` (or `x.0`).
        case attribute(JinjaExpr, String)
        /// `x[key]`.
        case `subscript`(JinjaExpr, JinjaExpr)
        /// `start:stop:step` inside a subscript.
        case slice(JinjaExpr?, JinjaExpr?, JinjaExpr?)
        case call(JinjaExpr, JinjaArguments)
        /// `value | name(args)`; the value is nil in `{% filter %}` blocks.
        case filter(JinjaExpr?, String, JinjaArguments)
        /// `value is [not] name args`.
        case test(JinjaExpr, String, JinjaArguments, negated: Bool)
        /// `not`, `-`, `+`.
        case unary(String, JinjaExpr)
        /// Arithmetic, `~`, comparisons, `in`, `not in`, `and`, `or`.
        case binary(String, JinjaExpr, JinjaExpr)
        /// `value if condition else otherwise`.
        case conditional(JinjaExpr, condition: JinjaExpr, otherwise: JinjaExpr?)
    }

    package var kind: Kind
    /// Scalar offsets of the source text, and where it starts.
    package var start: Int
    package var end: Int
    package var position: JinjaPosition
    /// For attributes, filters and tests: where the name is written (else the expression's position).
    package var namePosition: JinjaPosition
    /// 1 for a leaf, else one more than the highest subexpression.
    package let height: Int

    package init(_ kind: Kind, start: Int, end: Int, position: JinjaPosition, namePosition: JinjaPosition? = nil) {
        self.kind = kind
        self.start = start
        self.end = end
        self.position = position
        self.namePosition = namePosition ?? position
        height = 1 + (Self.children(of: kind).map(\.height).max() ?? 0)
    }

    /// The direct subexpressions, in source order.
    package var children: [JinjaExpr] { Self.children(of: kind) }

    static func children(of kind: Kind) -> [JinjaExpr] {
        switch kind {
        case .name, .string, .number, .constant: return []
        case .list(let items), .tuple(let items): return items
        case .dict(let pairs): return pairs.flatMap { [$0.key, $0.value] }
        case .attribute(let base, _): return [base]
        case .subscript(let base, let key): return [base, key]
        case .slice(let a, let b, let c): return [a, b, c].compactMap { $0 }
        case .call(let callee, let args): return [callee] + args.all
        case .filter(let value, _, let args): return (value.map { [$0] } ?? []) + args.all
        case .test(let value, _, let args, _): return [value] + args.all
        case .unary(_, let operand): return [operand]
        case .binary(_, let a, let b): return [a, b]
        case .conditional(let a, let c, let b): return [a, c] + (b.map { [$0] } ?? [])
        }
    }
}

/// The arguments of a call, filter or test.
package struct JinjaArguments: Sendable {
    package var positional: [JinjaExpr] = []
    package var keyword: [(name: String, value: JinjaExpr)] = []
    /// `*args` and `**kwargs`.
    package var star: JinjaExpr?
    package var starStar: JinjaExpr?

    package init() {}

    package var all: [JinjaExpr] { positional + keyword.map(\.value) + [star, starStar].compactMap { $0 } }

    /// The keyword argument `name`, if given.
    package func keyword(_ name: String) -> JinjaExpr? { keyword.first { $0.name == name }?.value }
}

/// A macro's or call block's parameter and its default.
package typealias JinjaParameter = (name: String, defaultValue: JinjaExpr?)

/// A statement of the template. Text between tags is not kept.
package indirect enum JinjaNode: Sendable {
    /// `{{ expression }}`.
    case output(JinjaExpr)
    /// `{% if %}…{% elif %}…{% else %}…{% endif %}`.
    case conditional(branches: [(condition: JinjaExpr, body: [JinjaNode])], otherwise: [JinjaNode])
    /// `{% for targets in iterable [if filter] [recursive] %}…{% else %}…{% endfor %}`.
    case loop(targets: JinjaExpr, iterable: JinjaExpr, filter: JinjaExpr?, recursive: Bool, body: [JinjaNode],
              otherwise: [JinjaNode])
    /// `{% set target = value %}` (target: a name, names, or `namespace.attribute`).
    case assignment(target: JinjaExpr, value: JinjaExpr)
    /// `{% set target | filters %}…{% endset %}`.
    case blockAssignment(target: JinjaExpr, filters: [JinjaExpr], body: [JinjaNode])
    /// `{% macro name(parameters) %}…{% endmacro %}`.
    case macro(name: String, parameters: [JinjaParameter], body: [JinjaNode])
    /// `{% call(parameters) expression %}…{% endcall %}`.
    case callBlock(call: JinjaExpr, parameters: [JinjaParameter], body: [JinjaNode])
    /// `{% filter name(args) | … %}…{% endfilter %}`.
    case filterBlock(filters: [JinjaExpr], body: [JinjaNode])
    /// `{% with a = x, … %}…{% endwith %}`.
    case scope(assignments: [(target: JinjaExpr, value: JinjaExpr)], body: [JinjaNode])
    /// `{% generation %}…{% endgeneration %}` (Hugging Face's assistant-mask extension).
    case generation([JinjaNode])
    /// `{% break %}` or `{% continue %}` (the loop-controls extension).
    case loopControl(String)
}
