// AuditEntryView: one stored audit entry as `mlsec audit list` and `show` print it (text line, fields, JSON).

import MLSecAudit
import MLSecCore

/// A log entry read back: an audit event when its bytes are one (entries appended with --json, and every
/// entry the gateway writes), else raw bytes (entries appended with --hex).
struct AuditEntryView {
    let index: UInt64
    let data: [UInt8]
    let event: AuditEvent?

    /// How much of the reason a list line shows.
    static let reasonCharacters = 60

    init(index: UInt64, data: [UInt8]) {
        self.index = index
        self.data = data
        let parser = JSONParser(limits: .init(maxDepth: 4, maxStringBytes: 4096, maxContainerCount: 64))
        event = (try? parser.parse(data, context: "entry \(index)")).flatMap { try? AuditEvent(json: $0) }
    }

    /// The event's fields in reading order (absent optional fields left out), or the raw bytes in hex.
    /// Field values meet the event schema: bounded, with no control characters.
    var fields: [(String, String)] {
        guard let event else { return [("data_hex", Hex.encode(data))] }
        var fields = [("time", event.time), ("actor", event.actor), ("action", event.action),
                      ("resource", event.resource), ("decision", event.decision.rawValue)]
        let optional: [(String, String?)] = [
            ("reason", event.reason), ("request_id", event.requestID), ("request_digest", event.requestDigest),
            ("model_digest", event.modelDigest), ("receipt_digest", event.receiptDigest),
        ]
        for case let (name, value?) in optional { fields.append((name, value)) }
        return fields
    }

    /// `{"index": i, ...the event's fields}` (or `data_hex` for raw bytes).
    var json: JSONValue { .object(jsonMembers) }

    var jsonMembers: [(String, JSONValue)] { [("index", .int(Int(index)))] + fields.map { ($0.0, .string($0.1)) } }

    /// One line: index, time, actor, action, resource, decision and the reason, shortened.
    var line: String {
        guard let event else {
            return "\(index)  (not an audit event: \(data.count) bytes; `mlsec audit show \(index)` prints them in hex)"
        }
        var line = "\(index)  \(event.time)  \(event.actor)  \(event.action)  \(event.resource)  \(event.decision.rawValue)"
        if let reason = event.reason {
            line += "  " + (reason.count > Self.reasonCharacters ? String(reason.prefix(Self.reasonCharacters - 1)) + "…" : reason)
        }
        return line
    }
}
