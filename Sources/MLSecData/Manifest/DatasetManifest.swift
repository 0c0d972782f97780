// DatasetManifest: what a dataset signature covers: each file's digest, size and record range, the record rule,
// every record's RFC 6962 leaf hash and the Merkle root over them, as the predicate of an in-toto statement.

import Foundation
import MLSecAudit
import MLSecCore
import MLSecIntegrity

/// A dataset's files and records.
public struct DatasetManifest: Sendable, Equatable {
    public static let predicateType = "https://mlsec.dev/dataset-manifest/v1"
    public static let recordRule = "csv: rows after the header, ending at LF outside double quotes; jsonl: LF-terminated lines; "
        + "other files: chunks of chunk_size bytes; records numbered from 0 across files in path order; leaf = SHA-256(0x00 || record bytes "
        + "with their line end), root = RFC 6962 Merkle tree hash"

    public struct File: Sendable, Equatable {
        /// Path relative to the dataset root ("." for a single-file dataset).
        public var path: String
        public var kind: RecordKind
        public var sha256: [UInt8]
        public var size: Int64
        public var headerSHA256: [UInt8]?
        /// The file's records are `firstRecord ..< firstRecord + records`.
        public var firstRecord: Int
        public var records: Int
    }

    public var name: String
    public var files: [File]
    public var chunkSize: Int
    public var leaves: [[UInt8]]

    public var recordCount: Int { leaves.count }

    public init(name: String, files: [File], chunkSize: Int, leaves: [[UInt8]]) {
        self.name = name
        self.files = files
        self.chunkSize = chunkSize
        self.leaves = leaves
    }

    /// The RFC 6962 Merkle tree hash of the leaves.
    public var root: [UInt8] {
        var tree = InMemoryMerkleTree()
        for leaf in leaves { tree.append(leafHash: leaf) }
        return (try? MerkleProofBuilder(reader: tree).root(size: tree.size)) ?? MerkleHash.emptyRoot
    }

    /// Reads `path` (a file, or a directory walked in path order; symbolic links refused) once.
    public static func measure(path: String, chunkSize: Int = 1 << 20) throws -> DatasetManifest {
        guard (1...(64 << 20)).contains(chunkSize) else { throw MLSecError.usage("the chunk size must be 1 byte to 64 MiB") }
        let tree = try ModelTree(path: path, options: ModelTreeOptions(allowSymlinks: false))
        var files: [File] = []
        var leaves: [[UInt8]] = []
        for file in tree.files {
            let kind = RecordKind.of(path: tree.isSingleFile ? path : file.name)
            let split = try RecordSplitter.split(path: file.path, kind: kind, chunkSize: chunkSize,
                                                 recordLimit: RecordSplitter.maxRecords - leaves.count)
            files.append(File(path: file.name, kind: kind, sha256: split.sha256, size: split.size, headerSHA256: split.headerSHA256,
                              firstRecord: leaves.count, records: split.leaves.count))
            leaves += split.leaves
        }
        return DatasetManifest(name: FilePath.lastComponent(of: tree.root), files: files, chunkSize: chunkSize, leaves: leaves)
    }

    /// The in-toto statement: subject = the dataset named by its Merkle root; predicate = this manifest.
    public var statement: JSONValue {
        var leafBytes: [UInt8] = []
        leafBytes.reserveCapacity(leaves.count * 32)
        for leaf in leaves { leafBytes += leaf }
        let rootHex = Hex.encode(root)
        return .object([
            ("_type", .string(InTotoStatement.statementType)),
            ("subject", .array([.object([("name", .string(name)), ("digest", .object([("sha256", .string(rootHex))]))])])),
            ("predicateType", .string(Self.predicateType)),
            ("predicate", .object([
                ("merkle_root", .string(rootHex)), ("record_count", .int(leaves.count)), ("record_rule", .string(Self.recordRule)),
                ("chunk_size", .int(chunkSize)),
                ("files", .array(files.map { f in
                    .object([
                        ("path", .string(f.path)), ("kind", .string(f.kind.rawValue)), ("sha256", .string(Hex.encode(f.sha256))),
                        ("size", .number(String(f.size))), ("header_sha256", f.headerSHA256.map { .string(Hex.encode($0)) } ?? .null),
                        ("first_record", .int(f.firstRecord)), ("records", .int(f.records)),
                    ])
                })),
                ("leaves", .string(Base64.encode(leafBytes))),
            ])),
        ])
    }

    /// Parses an authenticated statement, checking that the leaves hash to the signed root and the files' record
    /// ranges tile the records.
    public init(statement: JSONValue, context: String) throws {
        guard statement["predicateType"]?.stringValue == Self.predicateType, let p = statement["predicate"] else {
            throw MLSecError.malformed("\(context) is not a dataset manifest (predicate type \(Self.predicateType))")
        }
        func int(_ value: JSONValue?, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let v = value?.integerValue, range.contains(v) else { throw MLSecError.malformed("\(context): \"\(name)\" must be in \(range)") }
            return v
        }
        func digest(_ value: JSONValue?, _ name: String) throws -> [UInt8] {
            guard let text = value?.stringValue, text.utf8.count == 64, let bytes = Hex.decode(text) else {
                throw MLSecError.malformed("\(context): \"\(name)\" must be 64 hex digits")
            }
            return bytes
        }
        let count = try int(p["record_count"], "record_count", 0...RecordSplitter.maxRecords)
        guard let encoded = p["leaves"]?.stringValue, let leafBytes = Base64.decode(encoded), leafBytes.count == count * 32 else {
            throw MLSecError.malformed("\(context): \"leaves\" must hold record_count SHA-256 hashes")
        }
        let leaves = stride(from: 0, to: leafBytes.count, by: 32).map { Array(leafBytes[$0..<$0 + 32]) }
        guard let fileValues = p["files"]?.arrayValue, fileValues.count <= 1_000_000 else {
            throw MLSecError.malformed("\(context): \"files\" is missing")
        }
        var next = 0
        let files = try fileValues.map { f -> File in
            guard let path = f["path"]?.stringValue, let kind = f["kind"]?.stringValue.flatMap(RecordKind.init(rawValue:)),
                  case .number(let sizeText)? = f["size"], let size = Int64(sizeText), size >= 0
            else { throw MLSecError.malformed("\(context): a file entry needs path, kind and size") }
            let first = try int(f["first_record"], "first_record", 0...count)
            let records = try int(f["records"], "records", 0...count)
            guard first == next, first + records <= count else { throw MLSecError.malformed("\(context): the files' record ranges do not tile the records") }
            next = first + records
            let header = f["header_sha256"].flatMap { $0 == .null ? nil : $0 }
            return File(path: path, kind: kind, sha256: try digest(f["sha256"], "sha256"), size: size,
                        headerSHA256: try header.map { try digest($0, "header_sha256") }, firstRecord: first, records: records)
        }
        guard next == count else { throw MLSecError.malformed("\(context): the files hold \(next) records, record_count says \(count)") }
        self.init(name: statement["subject"]?.arrayValue?.first?["name"]?.stringValue ?? "dataset", files: files,
                  chunkSize: try int(p["chunk_size"], "chunk_size", 1...(64 << 20)), leaves: leaves)
        guard Hex.encode(root) == p["merkle_root"]?.stringValue,
              statement["subject"]?.arrayValue?.first?["digest"]?["sha256"]?.stringValue == Hex.encode(root) else {
            throw MLSecError.verificationFailed("\(context): the record hashes do not give the signed Merkle root")
        }
    }
}
