// CommonOptions: option types shared by several subcommands.

import ArgumentParser
import MLSecCore
import MLSecIntegrity

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

extension ModelHashAlgorithm: ExpressibleByArgument {}
extension SignatureAlgorithm: ExpressibleByArgument {}

enum MethodOption: String, ExpressibleByArgument, CaseIterable {
    case files, shards
}

extension JSONValue {
    static func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }
}

/// Prints one JSON document on stdout.
func printJSON(_ value: JSONValue) {
    print(JSONWriter.string(value, options: .init(sortKeys: false, pretty: true)))
}

/// Reads a small text file (a key or certificate), refusing large ones.
func readTextFile(_ path: String, what: String) throws -> String {
    let bytes = try ReadOnlyFile.readAll(path, maxBytes: 1 << 20, what: what)
    guard let text = String(validating: bytes, as: UTF8.self) else {
        throw MLSecError.malformed("\(what) \(path) is not UTF-8 text")
    }
    return text
}

/// The model-relative form of a path given on the command line (resolved against the current directory),
/// or `nil` when it lies outside the model.
func modelRelative(_ path: String, root: String) -> String? {
    guard let relative = FilePath.relative(FilePath.absolute(path), to: root), relative != "." else { return nil }
    return relative
}
