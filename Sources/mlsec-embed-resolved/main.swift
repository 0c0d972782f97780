// mlsec-embed-resolved: the EmbedPackageResolved plugin's tool. Reads Package.resolved and each dependency's
// licence file and writes a Swift source file declaring them, so the binary can list its own dependencies.
//
// Usage: mlsec-embed-resolved --output FILE [--resolved Package.resolved] [--checkout IDENTITY=DIR]...

import Foundation

/// Largest Package.resolved read (a real one is a few KiB).
let maxResolvedBytes = 4 << 20
/// Largest licence file read.
let maxLicenseBytes = 1 << 20
/// Licence file names looked for in a checkout, in order (kept in step with the plugin's list).
let licenseFileNames = ["LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "COPYING"]

struct Pin {
    var identity: String
    var location: String
    var version: String?
    var revision: String?
    var branch: String?
    var license: String?
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("mlsec-embed-resolved: error: \(message)\n".utf8))
    exit(1)
}

/// Reads at most `limit` bytes of `path`; nil when it does not exist or is larger.
func readFile(_ path: String, limit: Int) -> Data? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
        (attributes[.type] as? FileAttributeType) == .typeRegular,
        let size = attributes[.size] as? Int, size <= limit
    else { return nil }
    return FileManager.default.contents(atPath: path)
}

/// The SPDX licence (identifier or expression) a licence text states, for the licences Swift packages use.
func spdxLicense(_ text: String) -> String? {
    let words = text.lowercased().split(whereSeparator: { $0.isWhitespace || $0 == "#" || $0 == "*" }).joined(separator: " ")
    if words.contains("apache license") && words.contains("version 2.0") {
        return words.contains("runtime library exception") ? "Apache-2.0 WITH Swift-exception" : "Apache-2.0"
    }
    if words.contains("permission is hereby granted, free of charge") { return "MIT" }
    if words.contains("mozilla public license version 2.0") { return "MPL-2.0" }
    if words.contains("permission to use, copy, modify, and/or distribute this software for any purpose") { return "ISC" }
    if words.contains("redistribution and use in source and binary forms") {
        return words.contains("neither the name") ? "BSD-3-Clause" : "BSD-2-Clause"
    }
    return nil
}

func license(inCheckout directory: String) -> String? {
    for name in licenseFileNames {
        if let data = readFile(directory + "/" + name, limit: maxLicenseBytes) {
            return spdxLicense(String(decoding: data, as: UTF8.self))
        }
    }
    return nil
}

/// The pins of a Package.resolved (format versions 1, 2 and 3).
func pins(resolved data: Data) throws -> (pins: [Pin], originHash: String?) {
    guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw CocoaError(.fileReadCorruptFile)
    }
    func string(_ value: Any?) -> String? { (value as? String).flatMap { $0.isEmpty || $0.utf8.count > 1024 ? nil : $0 } }
    let list: [[String: Any]]
    if let object = root["object"] as? [String: Any], let v1 = object["pins"] as? [[String: Any]] {
        list = v1
    } else {
        list = root["pins"] as? [[String: Any]] ?? []
    }
    var result: [Pin] = []
    for entry in list.prefix(10_000) {
        let state = entry["state"] as? [String: Any] ?? [:]
        let location = string(entry["location"]) ?? string(entry["repositoryURL"]) ?? ""
        var identity = string(entry["identity"]) ?? ""
        if identity.isEmpty {
            // Version 1 names the package, not its identity: the identity is the URL's last path component.
            let last = location.split(separator: "/").last.map(String.init) ?? string(entry["package"]) ?? ""
            identity = (last.hasSuffix(".git") ? String(last.dropLast(4)) : last).lowercased()
        }
        guard !identity.isEmpty else { continue }
        result.append(Pin(identity: identity, location: location, version: string(state["version"]),
                          revision: string(state["revision"]), branch: string(state["branch"])))
    }
    return (result.sorted { $0.identity < $1.identity }, string(root["originHash"]))
}

/// `text` as a Swift string literal: quotes, backslashes and everything outside printable ASCII escaped.
func literal(_ text: String?) -> String {
    guard let text else { return "nil" }
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case " "..."~": out.unicodeScalars.append(scalar)
        default: out += "\\u{\(String(scalar.value, radix: 16))}"
        }
    }
    return out + "\""
}

// MARK: - Main

var output: String?
var resolvedPath: String?
var checkouts: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    guard let value = arguments.next() else { fail("\(argument) needs a value") }
    switch argument {
    case "--output": output = value
    case "--resolved": resolvedPath = value
    case "--checkout":
        guard let equals = value.firstIndex(of: "=") else { fail("--checkout takes IDENTITY=DIRECTORY") }
        checkouts[String(value[..<equals]).lowercased()] = String(value[value.index(after: equals)...])
    default: fail("unknown argument \(argument)")
    }
}
guard let output else { fail("--output is required") }

var source = """
    // Generated at build time by mlsec-embed-resolved (the EmbedPackageResolved plugin) from Package.resolved.
    // Do not edit.

    import MLSecSupplyChain


    """
if let resolvedPath, let data = readFile(resolvedPath, limit: maxResolvedBytes), let parsed = try? pins(resolved: data) {
    source += "let embeddedPackageResolution = SwiftPackageResolution(\n"
    source += "    originHash: \(literal(parsed.originHash)),\n"
    source += "    pins: [\n"
    for var pin in parsed.pins {
        pin.license = checkouts[pin.identity.lowercased()].flatMap(license(inCheckout:))
        source += "        SwiftPackagePin(\n"
        source += "            identity: \(literal(pin.identity)), location: \(literal(pin.location)),\n"
        source += "            version: \(literal(pin.version)), revision: \(literal(pin.revision)), "
        source += "branch: \(literal(pin.branch)),\n"
        source += "            license: \(literal(pin.license))),\n"
    }
    source += "    ])\n"
} else {
    let reason = resolvedPath == nil
        ? "Package.resolved was missing when this binary was built"
        : "Package.resolved could not be read when this binary was built"
    source += "let embeddedPackageResolution = SwiftPackageResolution(unavailable: \(literal(reason)))\n"
}
do {
    try Data(source.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
} catch {
    fail("cannot write \(output): \(error)")
}
