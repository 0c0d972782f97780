// ReportWriter: the scan report as JSON (the CLI contract), SARIF 2.1.0, or text for people.

import MLSecCore

/// Renders scan reports.
public enum ReportWriter {
    /// `{"files": [{"path", "format", "verdict", "findings": [...]}], "summary": {...}}`.
    public static func json(_ report: ScanReport) -> JSONValue {
        let files: [JSONValue] = report.files.map { file in
            .object([
                ("path", .string(file.path)), ("format", .string(file.format)), ("verdict", .string(file.verdict.rawValue)),
                ("findings", .array(file.findings.map { f in
                    var m: [(String, JSONValue)] = [("severity", .string(f.severity.rawValue)), ("rule", .string(f.rule)),
                                                    ("message", .string(f.message))]
                    m.append(("location", f.location.map { .string($0) } ?? .null))
                    return .object(m)
                })),
            ])
        }
        let summary: [(String, JSONValue)] = [
            ("files", .int(report.files.count)),
            ("clean", .int(report.count(.clean))), ("unsafe", .int(report.count(.unsafe))),
            ("malformed", .int(report.count(.malformed))), ("unsupported", .int(report.count(.unsupported))),
            ("findings", .int(report.files.reduce(0) { $0 + $1.findings.count })),
        ]
        return .object([("files", .array(files)), ("summary", .object(summary))])
    }

    /// SARIF 2.1.0: one run, one rule per rule id, one result per finding.
    public static func sarif(_ report: ScanReport, toolVersion: String) -> JSONValue {
        var ruleIDs: [String] = []
        for f in report.files.flatMap(\.findings) where !ruleIDs.contains(f.rule) { ruleIDs.append(f.rule) }
        let rules: [JSONValue] = ruleIDs.map { id in
            .object([("id", .string(id)), ("shortDescription", .object([("text", .string(RuleCatalog.describe(id)))]))])
        }
        var results: [JSONValue] = []
        for file in report.files {
            for f in file.findings {
                var location: [(String, JSONValue)] = [
                    ("physicalLocation", .object([("artifactLocation", .object([("uri", .string(sarifURI(file.path)))]))]))
                ]
                if let where_ = f.location {
                    location.append(("logicalLocations", .array([.object([("name", .string(where_))])])))
                }
                results.append(.object([
                    ("ruleId", .string(f.rule)),
                    ("level", .string(sarifLevel(f.severity))),
                    ("message", .object([("text", .string(f.message))])),
                    ("locations", .array([.object(location)])),
                    ("properties", .object([("severity", .string(f.severity.rawValue)), ("verdict", .string(file.verdict.rawValue))])),
                ]))
            }
        }
        return .object([
            ("$schema", .string("https://json.schemastore.org/sarif-2.1.0.json")),
            ("version", .string("2.1.0")),
            ("runs", .array([.object([
                ("tool", .object([("driver", .object([
                    ("name", .string("mlsec-scan")), ("version", .string(toolVersion)),
                    ("informationUri", .string("https://github.com/mlsec/mlsec")), ("rules", .array(rules)),
                ]))])),
                ("results", .array(results)),
            ])])),
        ])
    }

    static func sarifLevel(_ s: Severity) -> String {
        switch s {
        case .critical, .high: "error"
        case .medium: "warning"
        case .low: "note"
        }
    }

    static func sarifURI(_ path: String) -> String {
        var out = ""
        for scalar in path.unicodeScalars {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", ".", "_", "~", "/": out.unicodeScalars.append(scalar)
            default:
                for byte in String(scalar).utf8 { out += "%" + String(byte, radix: 16, uppercase: true).leftPad(2) }
            }
        }
        return out
    }

    /// Lines for people: one per file, findings indented.
    public static func text(_ report: ScanReport) -> String {
        var lines: [String] = []
        for file in report.files {
            lines.append("\(file.verdict.rawValue.uppercased().leftPad(11, " ")) \(file.path) [\(file.format)]")
            for f in file.findings {
                lines.append("    \(f.severity.rawValue): \(f.rule): \(f.message)\(f.location.map { " (at \($0))" } ?? "")")
            }
        }
        lines.append("\(report.files.count) file(s): \(report.count(.clean)) clean, \(report.count(.unsafe)) unsafe, "
            + "\(report.count(.malformed)) malformed, \(report.count(.unsupported)) unsupported")
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPad(_ width: Int, _ pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
