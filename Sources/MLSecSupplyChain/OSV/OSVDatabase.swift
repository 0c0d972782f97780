// OSVDatabase: an offline copy of OSV records (a directory of *.json, optionally per-ecosystem all.zip dumps),
// loaded under caps on file count and sizes, indexed by ecosystem and normalized package name.

import Foundation
import MLSecCore
import MLSecFormats

/// OSV records loaded from disk, indexed for matching.
public struct OSVDatabase: Sendable {
    /// Caps applied while loading; every one is checked before the bytes it guards are read.
    public struct Limits: Sendable {
        /// Most record files (JSON files plus zip entries) read.
        public var maxRecords: Int = 1_000_000
        /// Largest single record, in bytes.
        public var maxRecordBytes: Int = 8 << 20
        /// Most bytes read over all records.
        public var maxTotalBytes: Int = 8 << 30
        /// Largest `all.zip` file, in bytes.
        public var maxArchiveBytes: Int = 4 << 30
        /// Deepest directory nesting walked.
        public var maxDepth: Int = 16
        public init() {}
    }

    /// Records that are not withdrawn.
    public private(set) var records: [OSVRecord] = []
    /// How many withdrawn records were read (and skipped).
    public private(set) var withdrawnCount = 0
    /// How many record files were read.
    public private(set) var filesRead = 0
    /// The newest `modified` timestamp over all records, as written, and parsed.
    public private(set) var newestModified: (text: String, date: Date)?
    /// Problems that did not stop loading (a vector that does not parse, a range with a bad version).
    public private(set) var warnings: [String] = []
    private var index: [String: [Int]] = [:]
    private var positionByID: [String: Int] = [:]

    public init() {}

    /// A database of the given records (as a test or a library caller builds one).
    public init(records: [OSVRecord]) {
        for record in records { add(record) }
    }

    /// Loads every `*.json` record under `directory` (recursively; symbolic links are not followed) and every
    /// record inside files named `*.zip` there (OSV's `<ecosystem>/all.zip` dumps).
    /// - Throws: `io` for an unreadable path, `malformed` for a record that is not valid OSV JSON (the file is
    ///   named), `limitExceeded` past a cap, `malformed` when no record at all was found.
    public static func load(directory: String, limits: Limits = Limits()) throws -> OSVDatabase {
        var db = OSVDatabase()
        var totalBytes = 0
        let status = try FileStatus.lstatus(directory)
        guard status.kind == .directory else {
            throw MLSecError.io("--osv \(directory) is a \(status.kind.description), not a directory of OSV records")
        }
        try db.walk(directory, depth: 0, limits: limits, totalBytes: &totalBytes)
        guard db.filesRead > 0 else {
            throw MLSecError.malformed(
                "no OSV records (*.json or all.zip) found under \(directory); copy OSV's per-ecosystem all.zip "
                    + "(e.g. PyPI/all.zip) or its JSON files there")
        }
        return db
    }

    /// Records whose affected packages include `key` (normalized) in `ecosystem`.
    public func candidates(ecosystem: Ecosystem, key: String) -> [OSVRecord] {
        let positions = index[ecosystem.rawValue + "\u{0}" + key] ?? []
        return Array(Set(positions)).sorted().map { records[$0] }
    }

    private mutating func walk(_ path: String, depth: Int, limits: Limits, totalBytes: inout Int) throws {
        guard depth <= limits.maxDepth else {
            throw MLSecError.limitExceeded("\(path) is nested over \(limits.maxDepth) directories deep; point --osv at the database root")
        }
        for name in try DirectoryListing.entries(path).sorted() where !name.hasPrefix(".") {
            let child = path.hasSuffix("/") ? path + name : path + "/" + name
            let status = try FileStatus.lstatus(child)
            switch status.kind {
            case .directory:
                try walk(child, depth: depth + 1, limits: limits, totalBytes: &totalBytes)
            case .regular where name.hasSuffix(".json"):
                try countRecord(size: Int(clamping: status.size), origin: child, limits: limits, totalBytes: &totalBytes)
                let bytes = try ReadOnlyFile.readAll(child, maxBytes: limits.maxRecordBytes, what: "OSV record")
                try addRecord(bytes, origin: child, limits: limits)
            case .regular where name.hasSuffix(".zip"):
                try loadArchive(child, size: status.size, limits: limits, totalBytes: &totalBytes)
            case .symlink:
                warnings.append("\(child) is a symbolic link; not followed")
            default:
                continue
            }
        }
    }

    private mutating func loadArchive(_ path: String, size: Int64, limits: Limits, totalBytes: inout Int) throws {
        guard size <= Int64(limits.maxArchiveBytes) else {
            throw MLSecError.limitExceeded("\(path) is \(size) bytes, over the \(limits.maxArchiveBytes)-byte limit for an OSV archive")
        }
        let zip = try ZipArchive(path: path, limits: ZipLimits(
            maxEntries: limits.maxRecords, maxTotalUncompressed: limits.maxTotalBytes,
            maxEntryUncompressed: limits.maxRecordBytes))
        for entry in zip.entries where !entry.isDirectory && entry.name.hasSuffix(".json") {
            let origin = "\(path):\(entry.name)"
            try countRecord(size: entry.uncompressedSize, origin: origin, limits: limits, totalBytes: &totalBytes)
            let bytes = try zip.read(entry, maxBytes: limits.maxRecordBytes)
            try addRecord(bytes, origin: origin, limits: limits)
        }
    }

    private mutating func countRecord(size: Int, origin: String, limits: Limits, totalBytes: inout Int) throws {
        guard filesRead < limits.maxRecords else {
            throw MLSecError.limitExceeded("the OSV database holds over \(limits.maxRecords) records (at \(origin))")
        }
        guard size <= limits.maxRecordBytes else {
            throw MLSecError.limitExceeded("OSV record \(origin) is \(size) bytes, over the \(limits.maxRecordBytes)-byte limit")
        }
        totalBytes += size
        guard totalBytes <= limits.maxTotalBytes else {
            throw MLSecError.limitExceeded("the OSV records hold over \(limits.maxTotalBytes) bytes (at \(origin))")
        }
        filesRead += 1
    }

    private mutating func addRecord(_ bytes: [UInt8], origin: String, limits: Limits) throws {
        let parser = JSONParser(limits: .init(maxDepth: 32, maxStringBytes: limits.maxRecordBytes,
                                              maxContainerCount: OSVRecord.maxListCount))
        let json: JSONValue
        do {
            json = try parser.parse(bytes, context: "OSV record \(origin)")
        } catch let error as MLSecError {
            throw MLSecError.malformed("\(error.message); fix or remove the file and reload the database")
        }
        var recordWarnings: [String] = []
        let record = try OSVRecord(json: json, origin: origin, warnings: &recordWarnings)
        warnings.append(contentsOf: recordWarnings.map { "\(origin): \($0)" })
        if let modified = record.modified, let date = RFC3339.parse(modified),
            newestModified.map({ date > $0.date }) ?? true
        {
            newestModified = (modified, date)
        }
        guard record.withdrawn == nil else {
            withdrawnCount += 1
            return
        }
        add(record)
    }

    /// Adds a record; a second record with the same id replaces the first when its `modified` is newer.
    private mutating func add(_ record: OSVRecord) {
        let position: Int
        if let existing = positionByID[record.id] {
            guard (record.modified ?? "") > (records[existing].modified ?? "") else { return }
            records[existing] = record
            position = existing
        } else {
            position = records.count
            records.append(record)
            positionByID[record.id] = position
        }
        var keys = Set<String>()
        for affected in record.affected { keys.insert(affected.ecosystem.rawValue + "\u{0}" + affected.key) }
        for key in keys { index[key, default: []].append(position) }
    }
}
