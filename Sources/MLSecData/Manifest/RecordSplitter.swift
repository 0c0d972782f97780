// RecordSplitter: the record boundaries of a dataset file, streamed: CSV rows (RFC 4180 quoting: a newline inside
// quotes does not end a row; the header row is not a record), JSON Lines lines, or fixed-size chunks of other files.

import Crypto
import MLSecAudit
import MLSecCore

/// How a file is cut into records.
public enum RecordKind: String, Sendable, Equatable, CaseIterable {
    /// CSV: one record per row after the header; a row ends at LF outside double quotes ("" escapes a quote).
    case csv
    /// JSON Lines: one record per LF-terminated line.
    case jsonl
    /// Anything else (NumPy, Parquet, images): fixed-size chunks, the last one shorter.
    case chunks

    /// The kind a file's name implies.
    public static func of(path: String) -> RecordKind {
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { return .jsonl }
        return .chunks
    }
}

/// Everything a file contributes to a manifest.
struct SplitFile {
    var sha256: [UInt8]
    var size: Int64
    /// SHA-256 of the CSV header row (with its line end), nil for other kinds.
    var headerSHA256: [UInt8]?
    /// RFC 6962 leaf hashes of the records, in order.
    var leaves: [[UInt8]]
    /// The bytes of the record asked for with `capture`.
    var captured: [UInt8]?
}

/// Streams a file once: the whole-file digest and each record's leaf hash.
enum RecordSplitter {
    /// Most records per dataset (their hashes travel in the signed manifest).
    static let maxRecords = 4_000_000
    static let blockSize = 8 << 20

    /// - Parameter capture: a record of this file (0-based) whose bytes to keep.
    static func split(path: String, kind: RecordKind, chunkSize: Int, recordLimit: Int, capture: Int? = nil) throws -> SplitFile {
        let file = try ReadOnlyFile(path: path, followSymlinks: false)
        file.adviseSequential()
        var whole = SHA256()
        var leaves: [[UInt8]] = []
        var record: [UInt8] = []          // bytes of the record being read (CSV/JSONL) or chunk
        var header: [UInt8]?
        var captured: [UInt8]?
        var inQuotes = false
        var offset: Int64 = 0
        var block = [UInt8](repeating: 0, count: blockSize)
        func finish(_ bytes: [UInt8]) throws {
            if kind == .csv, header == nil {
                header = Array(SHA256.hash(data: bytes))
                return
            }
            guard leaves.count < recordLimit else {
                throw MLSecError.limitExceeded("\(path): more than \(maxRecords) records in the dataset; sign it as chunks (a binary format) or split it")
            }
            if leaves.count == capture { captured = bytes }
            leaves.append(MerkleHash.leaf(bytes))
        }
        while true {
            let n = try block.withUnsafeMutableBytes { try file.read(into: $0, at: offset) }
            if n == 0 { break }
            offset += Int64(n)
            whole.update(data: block[0..<n])
            switch kind {
            case .chunks:
                var i = 0
                while i < n {
                    let take = min(chunkSize - record.count, n - i)
                    record.append(contentsOf: block[i..<i + take])
                    i += take
                    if record.count == chunkSize { try finish(record); record.removeAll(keepingCapacity: true) }
                }
            case .csv, .jsonl:
                var start = 0
                for i in 0..<n {
                    let byte = block[i]
                    if kind == .csv, byte == UInt8(ascii: "\"") { inQuotes.toggle() }
                    if byte == UInt8(ascii: "\n"), !inQuotes {
                        record.append(contentsOf: block[start...i])
                        try finish(record)
                        record.removeAll(keepingCapacity: true)
                        start = i + 1
                    }
                }
                if start < n { record.append(contentsOf: block[start..<n]) }
                guard record.count <= 64 << 20 else { throw MLSecError.limitExceeded("\(path): a record longer than 64 MiB") }
            }
        }
        if !record.isEmpty { try finish(record) }  // a last record without a line end
        if kind == .csv, inQuotes {
            throw MLSecError.malformed("\(path): a quoted CSV field is not closed before the end of the file")
        }
        return SplitFile(sha256: Array(whole.finalize()), size: offset, headerSHA256: header, leaves: leaves, captured: captured)
    }
}
