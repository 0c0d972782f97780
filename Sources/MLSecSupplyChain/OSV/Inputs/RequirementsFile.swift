// RequirementsFile: the pins of a pip requirements file (pip's requirements-file format), with its includes.

import Foundation
import MLSecCore

/// Reads `name==version` pins from pip requirements files.
///
/// Understood: comments (`#` at the start or after whitespace), line continuations (`\` at the end),
/// extras (`name[extra]==1.0`), environment markers (`; python_version < "3.9"`: not evaluated, every pin is
/// audited), per-requirement options (`--hash=...`), `-r`/`--requirement` includes (relative to the including
/// file, at most ``maxIncludeDepth`` deep, each file read once). Lines that pin nothing (`>=`, no version,
/// `===`, wildcards), editable installs, paths and URLs are reported as not audited. Global options
/// (`--index-url`, `-c` constraints files, ...) are ignored.
public enum RequirementsFile {
    public static let maxIncludeDepth = 8

    /// The pins of `path` and the files it includes.
    /// - Throws: `io` for an unreadable file, `malformed` for a line that is not a requirement or a version that
    ///   is not PEP 440 (naming `file:line`), `limitExceeded` past a size, count or depth cap.
    public static func read(_ path: String) throws -> DependencyList {
        var list = DependencyList()
        var seen = Set<String>()
        try read(path, depth: 0, stack: [], seen: &seen, into: &list)
        return list
    }

    private static func read(_ path: String, depth: Int, stack: [String], seen: inout Set<String>,
                             into list: inout DependencyList) throws
    {
        guard depth <= maxIncludeDepth else {
            throw MLSecError.limitExceeded(
                "requirements includes nest over \(maxIncludeDepth) deep at \(path) (via \(stack.joined(separator: " -> ")))")
        }
        guard !stack.contains(path) else {
            throw MLSecError.malformed("requirements file \(path) includes itself (via \(stack.joined(separator: " -> ")))")
        }
        guard seen.insert(path).inserted else { return }
        let bytes = try ReadOnlyFile.readAll(path, maxBytes: SupplyChainLimits.maxDocumentBytes, what: "requirements file")
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw MLSecError.malformed("requirements file \(path) is not UTF-8 text")
        }
        for (lineNumber, line) in logicalLines(text) {
            let origin = "\(path):\(lineNumber)"
            guard list.dependencies.count + list.skipped.count < DependencyList.maxEntries else {
                throw MLSecError.limitExceeded("\(origin): over \(DependencyList.maxEntries) requirements")
            }
            if let include = includeTarget(line) {
                let target = include.hasPrefix("/") ? include : FilePath.directory(of: path) + "/" + include
                try read(target, depth: depth + 1, stack: stack + [path], seen: &seen, into: &list)
                continue
            }
            if line.hasPrefix("-e") || line.hasPrefix("--editable") {
                list.skipped.append(SkippedDependency(name: line, origin: origin, reason: "editable install, not audited"))
                continue
            }
            if line.hasPrefix("-") { continue }  // a global option
            try requirement(line, origin: origin, into: &list)
        }
    }

    /// Lines with continuations joined and comments removed, numbered by their first physical line.
    static func logicalLines(_ text: String) -> [(Int, String)] {
        var out: [(Int, String)] = []
        var pending = ""
        var start = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if pending.isEmpty { start = index + 1 }
            if line.hasSuffix("\\") {
                pending += line.dropLast()
                continue
            }
            pending += line
            let stripped = stripComment(pending).osvTrimmed()
            if !stripped.isEmpty { out.append((start, stripped)) }
            pending = ""
        }
        let stripped = stripComment(pending).osvTrimmed()
        if !stripped.isEmpty { out.append((start, stripped)) }
        return out
    }

    /// pip's rule: `#` starts a comment at the start of a line or after whitespace.
    private static func stripComment(_ line: String) -> String {
        var previousIsSpace = true
        var out = ""
        for ch in line {
            if ch == "#", previousIsSpace { break }
            previousIsSpace = ch == " " || ch == "\t"
            out.append(ch)
        }
        return out
    }

    private static func includeTarget(_ line: String) -> String? {
        for option in ["--requirement=", "--requirement", "-r"] where line.hasPrefix(option) {
            let rest = line.dropFirst(option.count)
            if option == "--requirement", !(rest.first?.isWhitespace ?? false) { return nil }
            let target = String(rest).osvTrimmed()
            return target.isEmpty ? nil : target
        }
        return nil
    }

    private static func requirement(_ full: String, origin: String, into list: inout DependencyList) throws {
        var line = Substring(full)
        if let option = line.range(of: " --") ?? line.range(of: "\t--") { line = line[..<option.lowerBound] }
        if let semicolon = line.firstIndex(of: ";") { line = line[..<semicolon] }
        let text = String(line).osvTrimmed()
        let lower = text.lowercased()
        if lower.contains("://") || text.hasPrefix(".") || text.hasPrefix("/") || lower.hasSuffix(".whl")
            || lower.hasSuffix(".tar.gz") || lower.hasSuffix(".zip")
        {
            list.skipped.append(SkippedDependency(name: text, origin: origin, reason: "path or URL requirement, not audited"))
            return
        }
        let bytes = Array(text.utf8)
        var i = 0
        func isNameByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E
                || b == 0x5F
        }
        while i < bytes.count, isNameByte(bytes[i]) { i += 1 }
        let name = String(decoding: bytes[0..<i], as: UTF8.self)
        guard let first = name.utf8.first, let last = name.utf8.last, isAlnum(first), isAlnum(last) else {
            throw MLSecError.malformed(
                "\(origin): \(PEP440Version.quoted(text)) is not a requirement (expected name==version, e.g. jinja2==3.1.4)")
        }
        var rest = String(decoding: bytes[i...], as: UTF8.self).osvTrimmed()
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw MLSecError.malformed("\(origin): the extras of \(name) lack a closing ]")
            }
            rest = String(rest[rest.index(after: close)...]).osvTrimmed()
        }
        if rest.hasPrefix("@") {
            list.skipped.append(SkippedDependency(name: name, origin: origin, reason: "direct URL reference, not audited"))
            return
        }
        if rest.hasPrefix("("), rest.hasSuffix(")") { rest = String(rest.dropFirst().dropLast()) }
        var pin: String?
        for spec in rest.split(separator: ",").map({ String($0).osvTrimmed() }) {
            if spec.hasPrefix("===") {
                list.skipped.append(SkippedDependency(name: name, origin: origin,
                                                      reason: "arbitrary-equality (===) pin, not audited"))
                return
            }
            if spec.hasPrefix("=="), !spec.hasSuffix(".*") { pin = String(spec.dropFirst(2)).osvTrimmed() }
            guard ["==", "!=", "~=", "<=", ">=", "<", ">"].contains(where: { spec.hasPrefix($0) }) else {
                throw MLSecError.malformed("\(origin): \(PEP440Version.quoted(spec)) is not a version specifier of \(name)")
            }
        }
        guard let pin else {
            list.skipped.append(SkippedDependency(name: name, origin: origin, reason: "not pinned, not audited"))
            return
        }
        do {
            _ = try PEP440Version(pin)
        } catch let error as MLSecError {
            throw MLSecError.malformed("\(origin): \(name): \(error.message)")
        }
        list.dependencies.append(Dependency(ecosystem: .pypi, name: name, version: pin, origin: origin))
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }
}
