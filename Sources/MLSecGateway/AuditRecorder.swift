// AuditRecorder: appends the gateway's decisions to the audit log with group commit.

import Dispatch
import Foundation
import MLSecAudit
import Synchronization

/// Queues audit events and appends them in batches on one writer thread: while a batch commits, new events
/// gather for the next one, so throughput grows with load while each caller still waits until its own event
/// is durable.
public final class AuditRecorder: Sendable {
    public let log: AuditLog
    private let queue = DispatchQueue(label: "mlsec.audit.writer")
    private struct Pending {
        var events: [([UInt8], CheckedContinuation<UInt64, any Error>)] = []
        var flushing = false
    }
    private let pending = Mutex(Pending())

    public init(log: AuditLog) { self.log = log }

    /// Appends `event` and returns its index once it is on disk.
    @discardableResult
    public func record(_ event: AuditEvent) async throws -> UInt64 {
        let bytes = event.canonicalBytes
        return try await withCheckedThrowingContinuation { continuation in
            let start = pending.withLock { state -> Bool in
                state.events.append((bytes, continuation))
                if state.flushing { return false }
                state.flushing = true
                return true
            }
            if start { queue.async { self.flush() } }
        }
    }

    private func flush() {
        while true {
            let batch = pending.withLock { state -> [([UInt8], CheckedContinuation<UInt64, any Error>)] in
                let batch = state.events
                state.events = []
                if batch.isEmpty { state.flushing = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                let range = try log.append(batch.map(\.0))
                for (offset, item) in batch.enumerated() { item.1.resume(returning: range.lowerBound + UInt64(offset)) }
            } catch {
                for item in batch { item.1.resume(throwing: error) }
            }
        }
    }
}
