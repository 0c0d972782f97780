// RegisteredVersion+JSON: the record as one JSON document, the form both registry stores keep and `show` prints.

import Foundation
import MLSecCore

extension RegisteredVersion {
    /// The record as JSON (ML-BOM included as a document when it parses, else as base64).
    public func json(includingBOM: Bool = true) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("name", .string(name)), ("version", .string(version)), ("stage", .string(stage.rawValue)),
            ("manifest_digest", .string(manifestDigest)), ("signer", .string(signer)),
            ("scan", .object([("verdict", .string(scanVerdict)), ("report_digest", .string(scanReportDigest))])),
            ("path", .string(path)), ("signature", .string(signature)),
            ("files", .object(files.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("encrypted_files", .array(encryptedFiles.map { .string($0) })),
            ("evaluations", .object(evaluations.sorted { $0.key < $1.key }.map { ($0.key, .number(Self.number($0.value))) })),
            ("watermark", watermark.map { .string($0) } ?? .null),
            ("datasets", .object(datasets.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("created_at", .string(RFC3339.format(createdAt, fractional: true))), ("created_by", .string(createdBy)),
            ("stage_changed_at", .string(RFC3339.format(stageChangedAt, fractional: true))),
            ("stage_changed_by", .string(stageChangedBy)), ("stage_reason", .string(stageReason)),
        ]
        if includingBOM { members.append(("mlbom_base64", .string(Base64.encode(mlbom)))) }
        return .object(members)
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }

    /// Reads a stored record. Every field must be present and of its type: a record that cannot be read is an
    /// error naming it, never a guess (the gate refuses what it cannot read).
    public init(json value: JSONValue, context: String) throws {
        func fail(_ field: String) -> MLSecError {
            MLSecError.malformed("\(context): the registry record's \(field) cannot be read; the version is refused until it is "
                + "registered again")
        }
        func text(_ key: String) throws -> String {
            guard let text = value[key]?.stringValue else { throw fail(key) }
            return text
        }
        func date(_ key: String) throws -> Date {
            guard let date = try RFC3339.parse(text(key)) else { throw fail(key) }
            return date
        }
        func strings(_ key: String) throws -> [String: String] {
            guard let members = value[key]?.objectValue else { throw fail(key) }
            var result: [String: String] = [:]
            for (name, member) in members {
                guard let text = member.stringValue else { throw fail("\(key).\(name)") }
                result[name] = text
            }
            return result
        }
        guard let scan = value["scan"], let verdict = scan["verdict"]?.stringValue, let reportDigest = scan["report_digest"]?.stringValue
        else { throw fail("scan") }
        guard let encryptedList = value["encrypted_files"]?.arrayValue else { throw fail("encrypted_files") }
        let encrypted = encryptedList.compactMap(\.stringValue)
        guard encrypted.count == encryptedList.count else { throw fail("encrypted_files") }
        guard let evaluationMembers = value["evaluations"]?.objectValue else { throw fail("evaluations") }
        var evaluations: [String: Double] = [:]
        for (metric, number) in evaluationMembers {
            guard case .number(let literal) = number, let parsed = Double(literal), parsed.isFinite else { throw fail("evaluations.\(metric)") }
            evaluations[metric] = parsed
        }
        let watermark: String?
        switch value["watermark"] {
        case .null?: watermark = nil
        case .string(let status)?: watermark = status
        default: throw fail("watermark")
        }
        guard let bom = Base64.decode(try text("mlbom_base64")) else { throw fail("mlbom_base64") }
        self.init(name: try text("name"), version: try text("version"), path: try text("path"), signature: try text("signature"),
                  manifestDigest: try text("manifest_digest"), signer: try text("signer"), scanVerdict: verdict,
                  scanReportDigest: reportDigest, files: try strings("files"), encryptedFiles: encrypted, evaluations: evaluations,
                  watermark: watermark, datasets: try strings("datasets"), mlbom: bom,
                  stage: try ModelStage(parsing: try text("stage")), createdAt: try date("created_at"), createdBy: try text("created_by"))
        stageChangedAt = try date("stage_changed_at")
        stageChangedBy = try text("stage_changed_by")
        stageReason = try text("stage_reason")
    }
}
