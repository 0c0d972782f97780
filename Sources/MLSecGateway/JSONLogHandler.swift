// JSONLogHandler: structured logs, one JSON object per line on standard error (swift-log backend).

import Foundation
#if canImport(Glibc)
import Glibc
#endif
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
        var line: [UInt8] = []
        line.reserveCapacity(320)
        JSONWriter.appendObject([
            ("time", RFC3339.now(fractional: true)), ("level", event.level.rawValue), ("logger", label),
            ("message", event.message.description),
        ], to: &line)
        line.removeLast()  // reopen the object for the metadata members
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line.append(UInt8(ascii: ","))
            JSONWriter.appendString(key, to: &line)
            line.append(UInt8(ascii: ":"))
            switch value {
            case .string(let text): JSONWriter.appendString(text, to: &line)
            case .stringConvertible(let convertible): JSONWriter.appendString(convertible.description, to: &line)
            case .array, .dictionary: line.append(contentsOf: JSONWriter.bytes(Self.json(value)))
            }
        }
        line.append(contentsOf: [UInt8(ascii: "}"), 0x0A])
        line.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // standard error is gone: nothing left to tell
                }
                offset += written
            }
        }
    }
}
