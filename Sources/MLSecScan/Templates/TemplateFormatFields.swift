// TemplateFormatFields: finds replacement fields of a Python format string that reach private attributes.

/// `str.format` resolves `{0.attr}` and `{0[key]}` in its replacement fields with getattr and getitem: a
/// format string in a template is one more way to name attributes. Jinja's sandbox routes `format` through a
/// checking formatter; a renderer without the sandbox does not.
enum TemplateFormatFields {
    /// The first replacement field that reads an attribute (or key) the sandbox refuses, or nil.
    static func unsafeField(in format: String, depth: Int = 0) -> String? {
        let s = Array(format.unicodeScalars)
        var i = 0
        while i < s.count {
            if s[i] == "{" {
                if i + 1 < s.count, s[i + 1] == "{" {
                    i += 2
                    continue
                }
                var depth = 1
                var j = i + 1
                while j < s.count, depth > 0 {
                    if s[j] == "{" { depth += 1 } else if s[j] == "}" { depth -= 1 }
                    j += 1
                }
                let field = Array(s[(i + 1)..<max(i + 1, j - 1)])
                if unsafe(field, depth: depth) { return String(String.UnicodeScalarView(field)) }
                i = j
                continue
            }
            i += 1
        }
        return nil
    }

    /// Whether a field (`name.attr[key]!conv:spec`) or a field nested in its spec reads a refused name.
    static func unsafe(_ field: [Unicode.Scalar], depth: Int) -> Bool {
        let stops: Set<Unicode.Scalar> = [".", "[", "!", ":"]
        var i = 0
        while i < field.count, !stops.contains(field[i]) { i += 1 }  // the argument name or index
        while i < field.count, field[i] == "." || field[i] == "[" {
            let opener = field[i]
            i += 1
            var name = String.UnicodeScalarView()
            while i < field.count, opener == "[" ? field[i] != "]" : !stops.contains(field[i]) {
                name.append(field[i])
                i += 1
            }
            if opener == "[", i < field.count { i += 1 }
            if TemplateSandboxRules.isBlockedAttribute(String(name)) { return true }
        }
        if i < field.count, field[i] == "!" {
            while i < field.count, field[i] != ":" { i += 1 }
        }
        // Nested fields in the format spec: `{0:{1.__class__}}`.
        guard i < field.count, field[i] == ":" else { return false }
        guard depth < 2 else { return true }  // Python itself refuses deeper nesting; never recurse without bound
        return unsafeField(in: String(String.UnicodeScalarView(field[(i + 1)...])), depth: depth + 1) != nil
    }
}
