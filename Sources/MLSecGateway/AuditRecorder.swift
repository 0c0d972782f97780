// AuditRecorder: appends the gateway's decisions to the audit log with group commit.

import Dispatch
import Foundation
import Logging
import MLSecAudit
import MLSecCore
import Synchronization

/// When a request's audit entry must be on disk.
public enum AuditDurability: String, Sendable, CaseIterable {
    /// The response waits until its entry is committed and fsynced (the default): no answer without a
    /// durable record.
    case request
    /// The response goes out once its entry is queued; the writer commits queued entries continuously in
    /// batches, so an entry is durable a few milliseconds later. A crash can lose the entries of that last
    /// window (clients keep their signed receipts). The queue is bounded: when it is full, requests wait
    /// for the writer (back-pressure, nothing is dropped). An append failure fails every later request.
    case batch
}

/// Queues audit events and appends them in batches on one writer thread: while a batch commits, new events
/// gather for the next one, so throughput grows with load. Under concurrent load (the previous batch held
/// more than one event) the writer waits `commitDelay` before taking the next batch, as PostgreSQL's
/// `commit_delay` does, so that one fsync covers more events: fewer, larger transactions cost less CPU per
/// request. A lone request never waits. In `.batch` mode the writer commits at most every 5 ms while events
/// keep coming.
public final class AuditRecorder: Sendable {
    public let log: AuditLog
    public let durability: AuditDurability
    private let queue = DispatchQueue(label: "mlsec.audit.writer")
    private typealias Waiter = CheckedContinuation<Void, any Error>
    private struct Pending {
        var events: [[UInt8]] = []
        var waiters: [Waiter] = []
        var flushing = false
        var failure: String?
    }
    private let pending = Mutex(Pending())
    private let commitDelayMicroseconds: UInt32
    private let maxQueued: Int
    /// In `.batch` mode, the pause between commits while events keep coming (the bound on what a crash loses,
    /// plus one commit).
    private let batchIntervalMicroseconds: UInt32 = 5000
    private let logger = Logger(label: "mlsec.audit")

    /// - Parameters:
    ///   - durability: when a caller's entry must be on disk before `record` returns.
    ///   - commitDelayMicroseconds: how long the writer lets events gather under concurrent load (0: off).
    ///   - maxQueued: in `.batch` mode, the most events that may wait for the writer before callers wait too.
    public init(log: AuditLog, durability: AuditDurability = .request, commitDelayMicroseconds: UInt32 = 1000,
                maxQueued: Int = 16384) {
        self.log = log
        self.durability = durability
        self.commitDelayMicroseconds = commitDelayMicroseconds
        self.maxQueued = max(1, maxQueued)
    }

    /// Appends `event`; returns once it is durable (`.request`) or queued (`.batch`, unless the queue is full).
    /// - Throws: `MLSecError.io` when the log cannot be appended to (in `.batch` mode: any earlier failure).
    public func record(_ event: AuditEvent) async throws {
        let bytes = event.canonicalBytes
        if durability == .batch {
            let (start, wait, failure) = pending.withLock { state -> (Bool, Bool, String?) in
                if let failure = state.failure { return (false, false, failure) }
                state.events.append(bytes)
                let start = !state.flushing
                state.flushing = true
                return (start, state.events.count > maxQueued, nil)
            }
            if let failure { throw MLSecError.io("the audit log is failing: \(failure)") }
            if start { queue.async { self.flush() } }
            if !wait { return }
            // The queue is full: wait until the batch holding this event is durable (back-pressure).
        }
        try await withCheckedThrowingContinuation { (continuation: Waiter) in
            let start = pending.withLock { state -> Bool in
                if durability == .request { state.events.append(bytes) }
                state.waiters.append(continuation)
                let start = !state.flushing
                state.flushing = true
                return start
            }
            if start { queue.async { self.flush() } }
        }
    }

    /// Commits everything queued so far (for shutdown in `.batch` mode and for tests).
    public func drain() async throws {
        try await withCheckedThrowingContinuation { (continuation: Waiter) in
            let start = pending.withLock { state -> Bool in
                state.waiters.append(continuation)
                let start = !state.flushing
                state.flushing = true
                return start
            }
            if start { queue.async { self.flush() } }
        }
    }

    private func flush() {
        var previousBatch = 0
        while true {
            if durability == .batch, previousBatch > 0 {
                usleep(batchIntervalMicroseconds)  // no caller waits: let a few milliseconds of events gather
            } else if previousBatch > 1, commitDelayMicroseconds > 0 {
                usleep(commitDelayMicroseconds)
            }
            let (batch, waiters) = pending.withLock { state -> ([[UInt8]], [Waiter]) in
                let batch = state.events
                let waiters = state.waiters
                state.events = []
                state.waiters = []
                if batch.isEmpty && waiters.isEmpty { state.flushing = false }
                return (batch, waiters)
            }
            if batch.isEmpty && waiters.isEmpty { return }
            previousBatch = batch.count
            do {
                if !batch.isEmpty { _ = try log.append(batch) }
                for waiter in waiters { waiter.resume() }
            } catch {
                let message = (error as? MLSecError)?.message ?? "\(error)"
                logger.critical("audit append failed", metadata: ["error": "\(message)", "lost_events": "\(batch.count)"])
                pending.withLock { state in state.failure = message }
                for waiter in waiters { waiter.resume(throwing: error) }
            }
        }
    }
}
