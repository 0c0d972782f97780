// AuditStore: what the gateway and the CLI need of a Merkle audit log, whichever database holds it.

import MLSecCore

/// An append-only RFC 6962 log of entries in durable storage: `SQLiteAuditStore` (one file, the embedded
/// default) or `PostgresAuditStore` (one log shared by gateway replicas). Every method is async so that no
/// caller's thread waits for a disk or a database; sizes are read from the store, so a log that other
/// replicas append to is seen as it is.
public protocol AuditStore: Sendable {
    /// Where the log lives, for messages (a path, or a database URL without its password).
    var location: String { get }
    /// Appends `entries` in one durable transaction (all or none) and returns their indexes.
    func append(_ entries: [[UInt8]]) async throws -> Range<UInt64>
    /// The number of entries now.
    func currentSize() async throws -> UInt64
    /// The root of the first `size` entries (the whole log when nil).
    func root(size: UInt64?) async throws -> (size: UInt64, root: [UInt8])
    /// The inclusion proof of entry `index` in the tree of `size` entries (the whole log when nil).
    func inclusionProof(index: UInt64, size: UInt64?) async throws -> (size: UInt64, proof: [[UInt8]])
    /// The consistency proof between the trees of `from` and `to` entries.
    func consistencyProof(from: UInt64, to: UInt64) async throws -> [[UInt8]]
    /// The entry at `index`.
    func entry(at index: UInt64) async throws -> [UInt8]
    /// Up to `limit` entries from index `from` on, in index order (fewer at the end of the log).
    func entries(from: UInt64, limit: Int) async throws -> [(index: UInt64, data: [UInt8])]
    /// Recomputes every leaf and interior hash from the entries and compares them with the stored tree.
    func verify(progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport
    /// ``verify(progress:)`` that also reports the root of the first `prefix` entries as recomputed from their
    /// bytes (``AuditVerificationReport/prefixRoot``, nil when the log holds fewer entries).
    func verify(prefix: UInt64, progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport
}

/// A store that can append on the calling thread: a writer with a thread of its own (the gateway's audit
/// writer) calls it directly instead of awaiting ``AuditStore/append(_:)``.
public protocol BlockingAuditAppender: Sendable {
    /// Appends `entries` in one durable transaction and returns their indexes; blocks until durable.
    func appendBlocking(_ entries: [[UInt8]]) throws -> Range<UInt64>
}

/// What a full verification of a log checked.
public struct AuditVerificationReport: Sendable {
    /// The entries checked.
    public var size: UInt64
    /// Their root, recomputed from the entries.
    public var root: [UInt8]
    /// With ``AuditStore/verify(prefix:progress:)``: the root of the first `prefix` entries, recomputed from
    /// them; nil when the log holds fewer.
    public var prefixRoot: [UInt8]?

    public init(size: UInt64, root: [UInt8], prefixRoot: [UInt8]? = nil) {
        self.size = size
        self.root = root
        self.prefixRoot = prefixRoot
    }
}

public enum AuditEntryLimits {
    /// Most bytes in one entry (audit events are far smaller).
    public static let maxEntryBytes = 64 * 1024

    /// - Throws: `MLSecError.limitExceeded` naming the first entry over ``maxEntryBytes``.
    public static func check(_ entries: [[UInt8]]) throws {
        for (i, entry) in entries.enumerated() where entry.count > maxEntryBytes {
            throw MLSecError.limitExceeded("entry \(i) of the batch is \(entry.count) bytes; the limit is \(maxEntryBytes)")
        }
    }

    /// - Throws: `MLSecError.usage` unless `size` (nil: `current`) is at most `current`; returns the size to use.
    public static func checkSize(_ size: UInt64?, current: UInt64) throws -> UInt64 {
        let size = size ?? current
        guard size <= current else { throw MLSecError.usage("size \(size) is larger than the log (\(current) entries)") }
        return size
    }
}

extension AuditStore {
    /// Reads the entries one by one; stores override it with one query per page.
    public func entries(from: UInt64, limit: Int) async throws -> [(index: UInt64, data: [UInt8])] {
        let size = try await currentSize()
        guard from < size, limit > 0 else { return [] }
        var out: [(index: UInt64, data: [UInt8])] = []
        for index in from..<min(size, from + UInt64(limit)) { out.append((index, try await entry(at: index))) }
        return out
    }

    /// The full verification, then the prefix root read from the stored tree, which that verification has
    /// just matched node for node with the entries (stores override it to record the root in the same pass).
    public func verify(prefix: UInt64, progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport {
        var report = try await verify(progress: progress)
        if prefix <= report.size { report.prefixRoot = try await root(size: prefix).root }
        return report
    }

    /// A checkpoint of the whole log as it is now, signed by `signer`, for `origin`.
    public func checkpoint(origin: String, signer: NoteSigner) async throws -> String {
        let (size, root) = try await root(size: nil)
        return try Checkpoint(origin: origin, size: size, root: root).signed(by: signer)
    }
}
