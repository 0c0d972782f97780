// AuditEvent: the schema of audit log entries (security decisions) and their canonical JSON encoding.

import Foundation
import MLSecCore

/// One security decision, recorded as canonical JSON (sorted keys, no whitespace). The schema has no field
/// for request bodies, tensors or credentials: only names, outcomes and digests, so that the log never holds
/// secrets or raw inputs.
public struct AuditEvent: Sendable, Equatable {
    public enum Decision: String, Sendable, CaseIterable {
        case allow, deny, error
    }

    /// RFC 3339 UTC time, e.g. 2026-11-29T08:00:00.123Z.
    public var time: String
    /// Who acted: a principal name or key id (never the credential itself).
    public var actor: String
    /// What was attempted, e.g. `infer`, `model.load`, `key.rotate`.
    public var action: String
    /// What it applied to, e.g. `models/digits/versions/1`.
    public var resource: String
    public var decision: Decision
    /// Why, in a few words (e.g. `rate limited`, `role inference lacks admin`).
    public var reason: String?
    public var requestID: String?
    /// `sha256:<hex>` digests.
    public var requestDigest: String?
    public var modelDigest: String?
    public var receiptDigest: String?

    public init(
        time: String = AuditEvent.now(), actor: String, action: String, resource: String, decision: Decision,
        reason: String? = nil, requestID: String? = nil, requestDigest: String? = nil, modelDigest: String? = nil,
        receiptDigest: String? = nil
    ) {
        self.time = time
        self.actor = Self.bounded(actor)
        self.action = Self.bounded(action)
        self.resource = Self.bounded(resource)
        self.decision = decision
        self.reason = reason.map(Self.bounded)
        self.requestID = requestID.map(Self.bounded)
        self.requestDigest = requestDigest
        self.modelDigest = modelDigest
        self.receiptDigest = receiptDigest
    }

    /// The current time in the schema's format.
    public static func now() -> String {
        RFC3339.now(fractional: true)
    }

    public static let maxFieldBytes = 512
    static let required = ["time", "actor", "action", "resource", "decision"]
    static let digests = ["request_digest", "model_digest", "receipt_digest"]
    static let optional = ["reason", "request_id"] + digests

    /// Parses and validates an event from JSON.
    /// - Throws: `MLSecError` (malformed) naming the field at fault: a missing field, an unknown one (the schema
    ///   is closed), a value that is not a short string, a bad digest or time.
    public init(json value: JSONValue) throws {
        guard let members = value.objectValue else { throw MLSecError.malformed("an audit event must be a JSON object") }
        var fields: [String: String] = [:]
        for (key, member) in members {
            guard Self.required.contains(key) || Self.optional.contains(key) else {
                throw MLSecError.malformed("unknown audit event field \"\(key.prefix(40))\" (the schema is closed)")
            }
            guard let text = member.stringValue else { throw MLSecError.malformed("audit event field \(key) must be a string") }
            guard text.utf8.count <= Self.maxFieldBytes, !text.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw MLSecError.malformed("audit event field \(key) is too long or has control characters")
            }
            fields[key] = text
        }
        for key in Self.required where fields[key]?.isEmpty ?? true {
            throw MLSecError.malformed("audit event field \(key) is missing or empty")
        }
        for key in Self.digests {
            if let digest = fields[key], !Self.isDigest(digest) {
                throw MLSecError.malformed("audit event field \(key) must be sha256:<64 hex digits>")
            }
        }
        guard let decision = Decision(rawValue: fields["decision"] ?? "") else {
            throw MLSecError.malformed("audit event decision must be allow, deny or error")
        }
        let time = fields["time"] ?? ""
        guard RFC3339.parse(time) != nil else {
            throw MLSecError.malformed("audit event time must be RFC 3339 (e.g. 2026-11-29T08:00:00Z)")
        }
        self.init(
            time: time, actor: fields["actor"] ?? "", action: fields["action"] ?? "", resource: fields["resource"] ?? "",
            decision: decision, reason: fields["reason"], requestID: fields["request_id"],
            requestDigest: fields["request_digest"], modelDigest: fields["model_digest"],
            receiptDigest: fields["receipt_digest"])
    }

    /// `text` as the schema accepts it: control characters (C0, DEL, C1, U+2028/2029) removed, at most ``maxFieldBytes`` UTF-8 bytes
    /// (cut at a character boundary, ending in "…" when cut).
    public static func bounded(_ text: String) -> String {
        if text.utf8.count <= maxFieldBytes, !text.unicodeScalars.contains(where: isControl) { return text }
        var clean = String.UnicodeScalarView()
        clean.append(contentsOf: text.unicodeScalars.lazy.filter { !isControl($0) })
        guard String(clean).utf8.count > maxFieldBytes else { return String(clean) }
        var out = String.UnicodeScalarView()
        var bytes = 0
        for scalar in clean {
            let size = UTF8.width(scalar)
            guard bytes + size <= maxFieldBytes - 3 else { break }  // room for "…" (3 bytes)
            out.append(scalar)
            bytes += size
        }
        out.append("…")
        return String(out)
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators (log-line injection).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    static func isDigest(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 71 && text.hasPrefix("sha256:")
            && bytes[7...].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// The event as JSON (fields absent when nil).
    public var json: JSONValue { .object(members.map { ($0.0, .string($0.1)) }) }

    /// The present fields in key order (the canonical order).
    private var members: [(String, String)] {
        var members: [(String, String)] = [("action", action), ("actor", actor), ("decision", decision.rawValue)]
        members.reserveCapacity(10)
        if let modelDigest { members.append(("model_digest", modelDigest)) }
        if let reason { members.append(("reason", reason)) }
        if let receiptDigest { members.append(("receipt_digest", receiptDigest)) }
        if let requestDigest { members.append(("request_digest", requestDigest)) }
        if let requestID { members.append(("request_id", requestID)) }
        members.append(("resource", resource))
        members.append(("time", time))
        return members
    }

    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(384)
        JSONWriter.appendObject(members, to: &out)
        return out
    }
}
