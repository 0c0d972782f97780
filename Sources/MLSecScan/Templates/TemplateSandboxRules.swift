// TemplateSandboxRules: what Jinja2's SandboxedEnvironment allows, as names the template check compares against.

/// The rules of Jinja2's `SandboxedEnvironment` (jinja2 3.1, `sandbox.py`, `filters.py`, `tests.py`,
/// `defaults.py`) and of the renderers that run chat templates (transformers adds `raise_exception` and
/// `strftime_now`). A template that needs anything outside them either fails under the sandbox or, under a
/// renderer without one, reaches Python itself.
public enum TemplateSandboxRules {
    /// Jinja2's built-in filters (`jinja2.filters.FILTERS`).
    public static let builtinFilters: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
        "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent", "int", "items", "join",
        "last", "length", "list", "lower", "map", "max", "min", "pprint", "random", "reject", "rejectattr", "replace",
        "reverse", "round", "safe", "select", "selectattr", "slice", "sort", "string", "striptags", "sum", "title",
        "tojson", "trim", "truncate", "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
    ]

    /// Jinja2's built-in tests (`jinja2.tests.TESTS`).
    public static let builtinTests: Set<String> = [
        "!=", "<", "<=", "==", ">", ">=", "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped",
        "even", "false", "filter", "float", "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan",
        "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string", "test", "true",
        "undefined", "upper",
    ]

    /// Names a chat template may call: Jinja's default globals (`jinja2.defaults.DEFAULT_NAMESPACE`) and the
    /// functions chat-template renderers add. Any other name may be used as a value; calling it is the finding.
    public static let callableGlobals: Set<String> = [
        "range", "dict", "lipsum", "cycler", "joiner", "namespace", "raise_exception", "strftime_now",
    ]

    /// Attributes the sandbox refuses besides those starting with `_`: `type.mro`, the frame and code of
    /// generators, coroutines and async generators, Python 2's function and method internals, and those of
    /// frames and tracebacks (whose every attribute the sandbox refuses).
    public static let blockedAttributes: Set<String> = [
        "mro", "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_code", "ag_frame",
        "ag_await", "func_closure", "func_code", "func_dict", "func_defaults", "func_globals", "im_class", "im_func",
        "im_self", "f_back", "f_builtins", "f_code", "f_globals", "f_locals", "tb_frame", "tb_next",
    ]

    /// Whether the sandbox refuses the attribute `name`.
    public static func isBlockedAttribute(_ name: String) -> Bool {
        name.hasPrefix("_") || blockedAttributes.contains(name)
    }

    /// A string that reads as the name of a private attribute (`__class__`, `_TemplateReference__context`):
    /// it starts with `_` and holds a letter or digit, with nothing but identifier characters.
    public static func namesPrivateAttribute(_ s: String) -> Bool {
        guard s.hasPrefix("_"), s.unicodeScalars.count <= 256 else { return false }
        let scalars = s.unicodeScalars
        return scalars.allSatisfy { $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
            && scalars.contains { $0 != "_" }
    }

    /// Where filters take attribute names (looked up with the environment's getattr, so the same rule applies):
    /// filter → (keyword, positional index). Dotted paths (`a.b`) are looked up part by part.
    static let attributeArguments: [String: (keyword: String?, position: Int?)] = [
        "attr": (nil, 0), "map": ("attribute", nil), "selectattr": (nil, 0), "rejectattr": (nil, 0),
        "sort": ("attribute", 2), "groupby": ("attribute", 0), "unique": ("attribute", 1), "sum": ("attribute", 0),
        "min": ("attribute", 1), "max": ("attribute", 1), "join": ("attribute", 1),
    ]

    /// Filters whose result may be a string built at render time (so a key made with them cannot be checked).
    static let stringFilters: Set<String> = [
        "capitalize", "center", "e", "escape", "filesizeformat", "first", "forceescape", "format", "indent", "join",
        "last", "lower", "max", "min", "pprint", "random", "replace", "reverse", "safe", "string", "striptags",
        "title", "tojson", "trim", "truncate", "upper", "urlencode", "urlize", "wordwrap", "xmlattr",
    ]

    /// String methods whose result is a new string.
    static let stringMethods: Set<String> = [
        "capitalize", "casefold", "center", "decode", "encode", "expandtabs", "format", "format_map", "join", "ljust",
        "lower", "lstrip", "removeprefix", "removesuffix", "replace", "rjust", "rstrip", "strip", "swapcase", "title",
        "translate", "upper", "zfill",
    ]
}
