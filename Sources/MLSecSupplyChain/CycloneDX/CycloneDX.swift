// CycloneDX: the namespace of the CycloneDX 1.6 JSON document types MLSec writes (BOMs and ML-BOMs).

import MLSecCore

/// CycloneDX 1.6 documents, the subset MLSec writes: the BOM, its metadata, components (libraries, files, models
/// with their model card, datasets), hashes, licences, properties, external references and the dependency graph.
///
/// Each type renders to a ``JSONValue`` whose members come in a fixed order (the order of the CycloneDX schema),
/// and optional members are left out rather than written as `null`, so two BOMs of the same thing differ only
/// where the thing differs (and in the serial number and timestamp) and diff cleanly.
public enum CycloneDX {
    /// The specification version written.
    public static let specVersion = "1.6"
    /// The `bomFormat` value.
    public static let bomFormat = "CycloneDX"
    /// The JSON schema a 1.6 document names in `$schema`.
    public static let schemaURL = "http://cyclonedx.org/schema/bom-1.6.schema.json"
}

extension Array where Element == (String, JSONValue) {
    /// Appends `key` when `value` is present.
    mutating func append(_ key: String, _ value: String?) {
        if let value { append((key, .string(value))) }
    }

    /// Appends `key` with the JSON of each element when the list is not empty.
    mutating func append(_ key: String, _ values: [JSONValue]) {
        if !values.isEmpty { append((key, .array(values))) }
    }

    /// Appends `key` with a list of strings when it is not empty.
    mutating func append(_ key: String, strings: [String]) {
        if !strings.isEmpty { append((key, .array(strings.map { .string($0) }))) }
    }
}
