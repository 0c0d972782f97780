// JSONLogHandler: structured logs, one JSON object per line on standard error (swift-log backend).

import Foundation
import Logging
import MLSecCore

/// Writes each log record as one line of JSON: `time`, `level`, `logger`, `message` and the metadata
/// (request ids, routes, statuses). Secrets never reach it: the gateway logs ids, never keys or bodies.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let c): .string(c.description)
        case .array(let a): .array(a.map(json))
        case .dictionary(let d): .object(d.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) })
        }
    }

    public func log(event: LogEvent) {
        var members: [(String, JSONValue)] = [
            ("time", .string(RFC3339.now(fractional: true))), ("level", .string(event.level.rawValue)),
            ("logger", .string(label)), ("message", .string(event.message.description)),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { members.append((key, Self.json(value))) }
        FileHandle.standardError.write(Data(JSONWriter.bytes(.object(members)) + [0x0A]))
    }
}
