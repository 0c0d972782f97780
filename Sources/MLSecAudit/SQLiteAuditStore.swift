// SQLiteAuditStore: the embedded audit store, an AuditLog file whose blocking work runs off the caller's thread.

import Dispatch
import MLSecCore

/// The one-file SQLite log (``AuditLog``) as an ``AuditStore``. Every call runs on the store's own serial
/// queue, so a server's event-loop threads never wait for SQLite or for an fsync.
public final class SQLiteAuditStore: AuditStore, BlockingAuditAppender {
    public let log: AuditLog
    private let queue = DispatchQueue(label: "mlsec.audit.sqlite")

    public init(log: AuditLog) { self.log = log }

    /// Opens (or, with `create`, creates) the log file at `path`.
    public convenience init(path: String, create: Bool = true) throws { self.init(log: try AuditLog(path: path, create: create)) }

    public var location: String { log.path }

    private func run<T: Sendable>(_ body: @escaping @Sendable (AuditLog) throws -> T) async throws -> T {
        let log = self.log
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(log) }) }
        }
    }

    public func append(_ entries: [[UInt8]]) async throws -> Range<UInt64> { try await run { try $0.append(entries) } }

    /// Appends on the calling thread (in the store's order), for a writer thread of its own.
    public func appendBlocking(_ entries: [[UInt8]]) throws -> Range<UInt64> { try queue.sync { try log.append(entries) } }

    public func currentSize() async throws -> UInt64 { log.size }

    public func root(size: UInt64?) async throws -> (size: UInt64, root: [UInt8]) { try await run { try $0.root(size: size) } }

    public func inclusionProof(index: UInt64, size: UInt64?) async throws -> (size: UInt64, proof: [[UInt8]]) {
        try await run { try $0.inclusionProof(index: index, size: size) }
    }

    public func consistencyProof(from: UInt64, to: UInt64) async throws -> [[UInt8]] {
        try await run { try $0.consistencyProof(from: from, to: to) }
    }

    public func entry(at index: UInt64) async throws -> [UInt8] { try await run { try $0.entry(at: index) } }

    public func entries(from: UInt64, limit: Int) async throws -> [(index: UInt64, data: [UInt8])] {
        try await run { try $0.entries(from: from, limit: limit) }
    }

    public func verify(progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport {
        try await run { try $0.verify(progress: progress) }
    }

    /// One pass over the entries recomputes the tree and the prefix root together.
    public func verify(prefix: UInt64, progress: (@Sendable (UInt64) -> Void)?) async throws -> AuditVerificationReport {
        try await run { try $0.verify(prefix: prefix, progress: progress) }
    }
}
