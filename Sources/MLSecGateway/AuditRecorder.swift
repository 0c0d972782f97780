// AuditRecorder: appends the gateway's decisions to the audit store with group commit.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import Synchronization

/// When a request's audit entry must be on disk.
public enum AuditDurability: String, Sendable, CaseIterable {
    /// The response waits until its entry is committed and durable (the default): no answer without a
    /// durable record.
    case request
    /// The response goes out once its entry is queued; the writer commits queued entries continuously in
    /// batches, so an entry is durable a few milliseconds later. A crash can lose the entries of that last
    /// window (clients keep their signed receipts). The queue is bounded: when it is full, requests wait
    /// for the writer (back-pressure, nothing is dropped). While appends fail, the batch is kept and retried
    /// and new requests are refused, so no answered request goes unrecorded while the gateway lives.
    case batch
}

/// Queues audit events and appends them in batches from one writer task: while a batch commits, new events
/// gather for the next one, so throughput grows with load. Under concurrent load (the previous batch held
/// more than one event) the writer waits `commitDelay` before taking the next batch, as PostgreSQL's
/// `commit_delay` does, so that one commit covers more events: fewer, larger transactions cost less CPU per
/// request. A lone request never waits. In `.batch` mode the writer commits at most every 5 ms while events
/// keep coming. The store does its blocking work off the caller's threads (see ``AuditStore``).
public final class AuditRecorder: Sendable {
    public let store: any AuditStore
    public let durability: AuditDurability
    private typealias Waiter = CheckedContinuation<Void, any Error>
    private struct Pending {
        var events: [[UInt8]] = []
        var waiters: [Waiter] = []
        var flushing = false
        /// Why the last append failed, while it keeps failing (cleared by the next success).
        var failure: String?
    }
    private let pending = Mutex(Pending())
    private let commitDelay: Duration
    private let maxQueued: Int
    /// In `.batch` mode, the pause between commits while events keep coming (the bound on what a crash loses,
    /// plus one commit).
    private let batchInterval: Duration = .milliseconds(5)
    /// In `.batch` mode, the pause before retrying a failed append.
    private let retryInterval: Duration = .milliseconds(200)
    private let logger = Logger(label: "mlsec.audit")

    /// - Parameters:
    ///   - durability: when a caller's entry must be durable before `record` returns.
    ///   - commitDelayMicroseconds: how long the writer lets events gather under concurrent load (0: off).
    ///   - maxQueued: in `.batch` mode, the most events that may wait for the writer before callers wait too.
    public init(store: any AuditStore, durability: AuditDurability = .request, commitDelayMicroseconds: UInt32 = 1000,
                maxQueued: Int = 16384) {
        self.store = store
        self.durability = durability
        self.commitDelay = .microseconds(Int64(commitDelayMicroseconds))
        self.maxQueued = max(1, maxQueued)
    }

    /// Appends `event`; returns once it is durable (`.request`) or queued (`.batch`, unless the queue is full).
    /// - Throws: a 503 `GatewayError` (the request is refused, and may be retried) when the store cannot be
    ///   appended to (in `.batch` mode: while appends fail).
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
            if let failure { throw Self.unavailable(failure) }
            if start { startWriter() }
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
            if start { startWriter() }
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
            if start { startWriter() }
        }
    }

    /// Records a refusal's entry and returns `error` marked as audited; when the entry cannot be written the
    /// answer is the audit log's 503 instead, whatever the decision was: no decision goes out unrecorded.
    func refusal(_ error: GatewayError, _ event: AuditEvent) async -> GatewayError {
        do {
            try await record(event)
            var error = error
            error.audited = true
            return error
        } catch let failure as GatewayError {
            return failure
        } catch {
            return Self.unavailable(String(describing: error))
        }
    }

    /// What a caller sees when its event cannot be recorded: no answer goes out without its audit entry.
    static func unavailable(_ cause: String) -> GatewayError {
        var error = GatewayError.unavailable("the audit log is unavailable; retry later")
        error.auditReason = "audit append failed: \(cause)"
        error.audited = true  // it cannot be
        return error
    }

    private func startWriter() {
        Task { await self.flush() }
    }

    private func flush() async {
        var previousBatch = 0
        var retry: [[UInt8]] = []
        while true {
            if !retry.isEmpty {
                try? await Task.sleep(for: retryInterval)
            } else if durability == .batch, previousBatch > 0 {
                try? await Task.sleep(for: batchInterval)  // no caller waits: let a few milliseconds of events gather
            } else if previousBatch > 1, commitDelay > .zero {
                try? await Task.sleep(for: commitDelay)
            }
            let (batch, waiters) = pending.withLock { state -> ([[UInt8]], [Waiter]) in
                let batch = retry + state.events
                let waiters = state.waiters
                state.events = []
                state.waiters = []
                if batch.isEmpty && waiters.isEmpty { state.flushing = false }
                return (batch, waiters)
            }
            if batch.isEmpty && waiters.isEmpty { return }
            previousBatch = batch.count
            retry = []
            do {
                if !batch.isEmpty { _ = try await store.append(batch) }
                let recovered = pending.withLock { state -> Bool in
                    defer { state.failure = nil }
                    return state.failure != nil
                }
                if recovered { logger.notice("audit appends work again", metadata: ["store": "\(store.location)"]) }
                for waiter in waiters { waiter.resume() }
            } catch {
                let message = String(((error as? MLSecError)?.message ?? "\(error)").prefix(300))
                let first = pending.withLock { state -> Bool in
                    defer { state.failure = message }
                    return state.failure == nil
                }
                if durability == .batch {
                    // These events' requests were answered: keep them and retry; new requests are refused meanwhile.
                    retry = batch
                    if first { logger.critical("audit append failed; retrying", metadata: ["error": "\(message)", "queued": "\(batch.count)"]) }
                } else {
                    // Every waiting request fails with its event: nothing was answered without its record.
                    logger.error("audit append failed", metadata: ["error": "\(message)", "refused_requests": "\(batch.count)"])
                }
                for waiter in waiters { waiter.resume(throwing: Self.unavailable(message)) }
            }
        }
    }
}
