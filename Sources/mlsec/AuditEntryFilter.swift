// AuditEntryFilter: the exact-match filters of `mlsec audit list`, with a byte-level shortcut for long scans.

import MLSecAudit

/// Exact matches on event fields (nil: any); all given ones must hold, and entries that are not audit events
/// match no filter.
struct AuditEntryFilter {
    var action: String?
    var actor: String?
    var decision: String?
    var requestID: String?

    private var values: [String] { [action, actor, decision, requestID].compactMap { $0 } }

    /// The bytes that every matching entry must contain unless it uses a JSON escape: a JSON string decodes to
    /// a value either from exactly that value's UTF-8 bytes or through an escape, which needs a backslash. Values
    /// that themselves need escaping give no shortcut.
    private let needles: [[UInt8]]

    init(action: String?, actor: String?, decision: String?, requestID: String?) {
        self.action = action
        self.actor = actor
        self.decision = decision
        self.requestID = requestID
        needles = [action, actor, decision, requestID].compactMap { $0 }
            .filter { !$0.unicodeScalars.contains { $0 == "\"" || $0 == "\\" || $0.value < 0x20 } }
            .map { Array($0.utf8) }
    }

    /// False only when the entry cannot match: it has no backslash and lacks one of the values' bytes. Lets a
    /// scan of a large log skip parsing the entries a filter rules out.
    func mayMatch(_ data: [UInt8]) -> Bool {
        guard !needles.isEmpty, !data.contains(0x5C) else { return true }
        return needles.allSatisfy { Self.contains(data, $0) }
    }

    /// Whether the entry is an event with every given field equal.
    func matches(_ view: AuditEntryView) -> Bool {
        if values.isEmpty { return true }
        guard let event = view.event else { return false }
        return (action == nil || event.action == action) && (actor == nil || event.actor == actor)
            && (decision == nil || event.decision.rawValue == decision)
            && (requestID == nil || event.requestID == requestID)
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        guard haystack.count >= needle.count else { return false }
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}
