// OSVRecord: one OSV advisory (https://ossf.github.io/osv-schema/), read from hostile JSON, keeping what the
// audit matches on: id, aliases, withdrawn, summary, severity, and the affected packages of known ecosystems.

import MLSecCore

/// An OSV range event.
public enum OSVEventKind: String, Sendable, Hashable {
    case introduced, fixed, lastAffected = "last_affected", limit
}

/// One event of a range; `version` is `nil` only for `introduced: "0"` (from the beginning).
public struct OSVEvent: Sendable, Hashable {
    public let kind: OSVEventKind
    public let text: String
    public let version: EcosystemVersion?
}

/// An `ECOSYSTEM` or `SEMVER` range with its events sorted by version (GIT ranges are not kept).
public struct OSVRange: Sendable, Hashable {
    /// `ECOSYSTEM` (the ecosystem's ordering) or `SEMVER` (SemVer 2.0 precedence).
    public let type: String
    public let events: [OSVEvent]
}

/// One `affected[]` entry of a supported ecosystem.
public struct OSVAffected: Sendable {
    public let ecosystem: Ecosystem
    /// The package name as the record writes it.
    public let name: String
    /// The name normalized for matching (``Ecosystem/normalizedName(_:)``).
    public let key: String
    public let ranges: [OSVRange]
    /// The explicit `versions[]` list, as written.
    public let versions: [String]
    /// The explicit versions that parse in the ecosystem's grammar.
    let parsedVersions: Set<EcosystemVersion>
}

/// An OSV record.
public struct OSVRecord: Sendable {
    public let id: String
    public let aliases: [String]
    public let modified: String?
    public let withdrawn: String?
    public let summary: String?
    public let severity: RecordSeverity
    /// Entries of ecosystems the audit matches (PyPI, SwiftURL); others are dropped when read.
    public let affected: [OSVAffected]
    /// Where the record was read from (a path, or `archive.zip:entry`).
    public let origin: String

    static let maxIDBytes = 256
    static let maxListCount = 100_000

    /// Reads a record from its JSON. Problems that make the record unusable throw `malformed` naming the origin
    /// and field; ranges whose versions do not parse are dropped with a warning.
    public init(json: JSONValue, origin: String, warnings: inout [String]) throws {
        func fail(_ what: String) -> MLSecError {
            MLSecError.malformed("OSV record \(origin): \(what); fix or remove the file and reload the database")
        }
        guard case .object = json else { throw fail("is not a JSON object") }
        guard let id = json["id"]?.stringValue, !id.isEmpty, id.utf8.count <= Self.maxIDBytes else {
            throw fail("has no \"id\" string (or one over \(Self.maxIDBytes) bytes)")
        }
        func string(_ key: String) throws -> String? {
            guard let v = json[key], v != .null else { return nil }
            guard let s = v.stringValue else { throw fail("record \(id): \"\(key)\" is not a string") }
            return s
        }
        func array(_ value: JSONValue?, _ what: String) throws -> [JSONValue] {
            guard let value, value != .null else { return [] }
            guard let a = value.arrayValue, a.count <= Self.maxListCount else {
                throw fail("record \(id): \(what) is not an array (or holds over \(Self.maxListCount) items)")
            }
            return a
        }
        self.id = id
        self.origin = origin
        aliases = try array(json["aliases"], "\"aliases\"").map {
            guard let s = $0.stringValue, s.utf8.count <= Self.maxIDBytes else {
                throw fail("record \(id): an alias is not a string of at most \(Self.maxIDBytes) bytes")
            }
            return s
        }
        modified = try string("modified")
        withdrawn = try string("withdrawn")
        // PyPA's records carry only `details`: its first line stands in for the summary.
        let details = try string("details")
        summary = try string("summary")
            ?? details.map { String(($0.split(separator: "\n").first ?? "").prefix(200)) }
        var entries: [(type: String, score: String)] = []
        for item in try array(json["severity"], "\"severity\"") {
            guard let type = item["type"]?.stringValue, let score = item["score"]?.stringValue else {
                throw fail("record \(id): a severity entry lacks \"type\" or \"score\" strings")
            }
            entries.append((type, score))
        }
        severity = RecordSeverity.derive(entries: entries, databaseLabel: json["database_specific"]?["severity"]?.stringValue,
                                         recordID: id, warnings: &warnings)
        var affected: [OSVAffected] = []
        for item in try array(json["affected"], "\"affected\"") {
            guard case .object = item else { throw fail("record \(id): an \"affected\" entry is not an object") }
            guard let ecosystemName = item["package"]?["ecosystem"]?.stringValue,
                let ecosystem = Ecosystem(osvName: ecosystemName)
            else { continue }
            guard let name = item["package"]?["name"]?.stringValue, !name.isEmpty else {
                throw fail("record \(id): an affected \(ecosystemName) package has no name")
            }
            var ranges: [OSVRange] = []
            for rangeJSON in try array(item["ranges"], "\"ranges\"") {
                guard let type = rangeJSON["type"]?.stringValue else { throw fail("record \(id): a range has no \"type\"") }
                guard type == "ECOSYSTEM" || type == "SEMVER" else { continue }  // GIT: commits, not versions
                let events = try array(rangeJSON["events"], "\"events\"")
                if let parsed = try Self.parseRange(type: type, events: events, ecosystem: ecosystem, recordID: id,
                                           warnings: &warnings, fail: fail) {
                    ranges.append(parsed)
                }
            }
            let versions = try array(item["versions"], "\"versions\"").map {
                guard let s = $0.stringValue else { throw fail("record \(id): a \"versions\" item is not a string") }
                return s
            }
            affected.append(OSVAffected(
                ecosystem: ecosystem, name: name, key: ecosystem.normalizedName(name), ranges: ranges,
                versions: versions, parsedVersions: Set(versions.compactMap { try? ecosystem.version($0) })))
        }
        self.affected = affected
    }

    private static func parseRange(type: String, events raw: [JSONValue], ecosystem: Ecosystem, recordID: String,
                              warnings: inout [String], fail: (String) -> MLSecError) throws -> OSVRange?
    {
        var events: [OSVEvent] = []
        for event in raw {
            guard let members = event.objectValue, members.count == 1, let text = members[0].1.stringValue,
                let kind = OSVEventKind(rawValue: members[0].0)
            else {
                throw fail("record \(recordID): a range event is not one of {\"introduced\"|\"fixed\"|\"last_affected\"|\"limit\": string}")
            }
            if kind == .introduced, text == "0" {
                events.append(OSVEvent(kind: kind, text: text, version: nil))
                continue
            }
            do {
                let version: EcosystemVersion =
                    type == "SEMVER" ? .semantic(try SemanticVersion(text)) : try ecosystem.version(text)
                events.append(OSVEvent(kind: kind, text: text, version: version))
            } catch {
                warnings.append("\(recordID): \(type) range of \(ecosystem.rawValue) ignored: \(error)")
                return nil
            }
        }
        // Sort by version; introduced "0" first. Stable, so equal versions keep the record's order.
        let sorted = events.enumerated().sorted { a, b in
            switch (a.element.version, b.element.version) {
            case (nil, nil): return a.offset < b.offset
            case (nil, _): return true
            case (_, nil): return false
            case (let x?, let y?):
                let c = x.compare(y)
                return c != 0 ? c < 0 : a.offset < b.offset
            }
        }.map(\.element)
        return OSVRange(type: type, events: sorted)
    }
}
