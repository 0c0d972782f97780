// AuditRecorder: appends the gateway's decisions to the audit store with group commit, from a writer thread of its own.

import Foundation
import Logging
import MLSecAudit
import MLSecCore
import NIOCore
import NIOPosix
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

/// Queues audit events and appends them in batches (group commit) from one writer thread of its own, never
/// from the threads that serve requests: every event that arrives while a commit is under way rides the next
/// commit together, so under concurrent load each fsync carries many entries and a request waits for at most
/// about two commits. In `.batch` mode the writer commits at most every 5 ms while events keep coming.
/// Stores that can append synchronously (``BlockingAuditAppender``, the SQLite log) are called on the writer
/// thread directly; others (PostgreSQL) are awaited from it.
public final class AuditRecorder: Sendable {
    public let store: any AuditStore
    public let durability: AuditDurability
    /// A caller waiting for its entry, and the event loop it waits on (nil off the event loops).
    private struct Waiter: Sendable {
        let continuation: CheckedContinuation<Void, any Error>
        let loop: (any EventLoop)?
    }
    private struct Pending {
        var events: [[UInt8]] = []
        var waiters: [Waiter] = []
        /// Whether the writer thread is awake (then it takes new events without being signalled).
        var writing = false
        /// Why the last append failed, while it keeps failing (cleared by the next success).
        var failure: String?
        var closed = false
    }
    /// State shared with the writer thread (which hold it, not the recorder, so the recorder can go away).
    private final class Shared: Sendable {
        let pending = Mutex(Pending())
        let wake = DispatchSemaphore(value: 0)
        let commits = Atomic<Int>(0)
        let entries = Atomic<Int>(0)
        /// Nanoseconds spent making entries durable (commits and syncs).
        let commitNanoseconds = Atomic<Int>(0)
    }
    private let shared = Shared()
    private let maxQueued: Int
    private let currentLoop: @Sendable () -> (any EventLoop)?
    private let logger = Logger(label: "mlsec.audit")

    /// - Parameters:
    ///   - durability: when a caller's entry must be durable before `record` returns.
    ///   - maxQueued: in `.batch` mode, the most events that may wait for the writer before callers wait too.
    public convenience init(store: any AuditStore, durability: AuditDurability = .request, maxQueued: Int = 16384) {
        self.init(store: store, durability: durability, maxQueued: maxQueued, currentLoop: { MultiThreadedEventLoopGroup.currentEventLoop })
    }

    /// - Parameter currentLoop: the event loop a caller of ``record(_:)`` runs on (nil off the event loops),
    ///   where it is resumed once its entry is durable.
    package init(store: any AuditStore, durability: AuditDurability, maxQueued: Int,
                 currentLoop: @escaping @Sendable () -> (any EventLoop)?) {
        self.store = store
        self.durability = durability
        self.maxQueued = max(1, maxQueued)
        self.currentLoop = currentLoop
        let writer = Writer(store: store, durability: durability, shared: shared, logger: logger)
        let thread = Thread { writer.run() }
        thread.name = "mlsec-audit-writer"
        thread.start()
    }

    deinit {
        shared.pending.withLock { $0.closed = true }
        shared.wake.signal()
    }

    /// Durable commits (fsyncs) so far, the entries they carried (entries per commit is the group-commit
    /// factor) and the seconds spent making them durable.
    public var commitStatistics: (commits: Int, entries: Int, seconds: Double) {
        (shared.commits.load(ordering: .relaxed), shared.entries.load(ordering: .relaxed),
         Double(shared.commitNanoseconds.load(ordering: .relaxed)) / 1e9)
    }

    /// Appends `event`; returns once it is durable (`.request`) or queued (`.batch`, unless the queue is full).
    /// - Throws: a 503 `GatewayError` (the request is refused, and may be retried) when the store cannot be
    ///   appended to (in `.batch` mode: while appends fail).
    public func record(_ event: AuditEvent) async throws {
        let bytes = event.canonicalBytes
        if durability == .batch {
            let (wake, wait, failure) = shared.pending.withLock { state -> (Bool, Bool, String?) in
                if let failure = state.failure { return (false, false, failure) }
                state.events.append(bytes)
                let wake = !state.writing
                state.writing = true
                return (wake, state.events.count > maxQueued, nil)
            }
            if let failure { throw Self.unavailable(failure) }
            if wake { shared.wake.signal() }
            if !wait { return }
            // The queue is full: wait until the batch holding this event is durable (back-pressure).
        }
        try await enqueue(durability == .request ? bytes : nil)
    }

    /// Commits everything queued so far (for shutdown in `.batch` mode and for tests).
    public func drain() async throws { try await enqueue(nil) }

    private func enqueue(_ event: [UInt8]?) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let waiter = Waiter(continuation: continuation, loop: currentLoop())
            let wake = shared.pending.withLock { state -> Bool in
                if let event { state.events.append(event) }
                state.waiters.append(waiter)
                let wake = !state.writing
                state.writing = true
                return wake
            }
            if wake { shared.wake.signal() }
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
            return Self.unavailable(readable(error))
        }
    }

    /// What a caller sees when its event cannot be recorded: no answer goes out without its audit entry.
    static func unavailable(_ cause: String) -> GatewayError {
        var error = GatewayError.unavailable("the audit log is unavailable; retry later")
        error.auditReason = "audit append failed: \(cause)"
        error.audited = true  // it cannot be
        return error
    }

    /// The result of an awaited append, handed to the blocked writer thread.
    private final class Outcome: Sendable {
        private let result = Mutex<Result<Void, any Error>?>(nil)
        private let done = DispatchSemaphore(value: 0)

        func finish(_ value: Result<Void, any Error>) {
            result.withLock { $0 = value }
            done.signal()
        }

        func wait() throws {
            done.wait()
            try result.withLock { $0 }?.get()
        }
    }

    /// The writer thread's loop.
    private struct Writer: Sendable {
        let store: any AuditStore
        let durability: AuditDurability
        let shared: Shared
        let logger: Logger
        /// In `.batch` mode, the pause between commits while events keep coming (the bound on what a crash
        /// loses, plus one commit).
        let batchInterval: TimeInterval = 0.005
        /// In `.batch` mode, the pause before retrying a failed append.
        let retryInterval: TimeInterval = 0.2

        func run() {
            var retry: [[UInt8]] = []
            while true {
                shared.wake.wait()
                // Awake: commit until nothing is left, then sleep until signalled again.
                while true {
                    if !retry.isEmpty { Thread.sleep(forTimeInterval: retryInterval) }
                    let (batch, waiters, closed) = shared.pending.withLock { state -> ([[UInt8]], [Waiter], Bool) in
                        let batch = retry + state.events
                        let waiters = state.waiters
                        state.events = []
                        state.waiters = []
                        if batch.isEmpty && waiters.isEmpty { state.writing = false }
                        return (batch, waiters, state.closed)
                    }
                    if batch.isEmpty && waiters.isEmpty {
                        if closed { return }
                        break
                    }
                    retry = []
                    do {
                        if !batch.isEmpty {
                            let start = DispatchTime.now().uptimeNanoseconds
                            defer { shared.commitNanoseconds.add(Int(DispatchTime.now().uptimeNanoseconds - start), ordering: .relaxed) }
                            try append(batch)
                            shared.commits.add(1, ordering: .relaxed)
                            shared.entries.add(batch.count, ordering: .relaxed)
                        }
                        let recovered = shared.pending.withLock { state -> Bool in
                            defer { state.failure = nil }
                            return state.failure != nil
                        }
                        if recovered { logger.notice("audit appends work again", metadata: ["store": "\(store.location)"]) }
                        Self.resume(waiters, with: .success(()))
                    } catch {
                        let message = String(readable(error).prefix(300))
                        let first = shared.pending.withLock { state -> Bool in
                            defer { state.failure = message }
                            return state.failure == nil
                        }
                        if durability == .batch {
                            // These events' requests were answered: keep them and retry; new requests are refused meanwhile.
                            retry = batch
                            if first {
                                logger.critical("audit append failed; retrying", metadata: ["error": "\(message)", "queued": "\(batch.count)"])
                            }
                        } else {
                            // Every waiting request fails with its event: nothing was answered without its record.
                            logger.error("audit append failed", metadata: ["error": "\(message)", "refused_requests": "\(batch.count)"])
                        }
                        Self.resume(waiters, with: .failure(AuditRecorder.unavailable(message)))
                    }
                    if durability == .batch, retry.isEmpty, !batch.isEmpty {
                        Thread.sleep(forTimeInterval: batchInterval)  // no caller waits: let a few milliseconds of events gather
                    }
                }
            }
        }

        /// Resumes the waiters on the event loops they wait on, with one task per loop: a continuation resumed
        /// from this thread would otherwise be handed to the loops one by one (a cross-thread enqueue, and often a
        /// wake-up, per request) and could resume on a loop other than the one that owns its connection.
        private static func resume(_ waiters: [Waiter], with result: Result<Void, any Error>) {
            var byLoop: [ObjectIdentifier: (loop: any EventLoop, continuations: [CheckedContinuation<Void, any Error>])] = [:]
            for waiter in waiters {
                guard let loop = waiter.loop else {
                    waiter.continuation.resume(with: result)
                    continue
                }
                byLoop[ObjectIdentifier(loop), default: (loop, [])].continuations.append(waiter.continuation)
            }
            for (loop, continuations) in byLoop.values {
                loop.execute { for continuation in continuations { continuation.resume(with: result) } }
            }
        }

        /// One durable append, on this thread: directly when the store can block, else awaited.
        private func append(_ batch: [[UInt8]]) throws {
            if let blocking = store as? any BlockingAuditAppender {
                _ = try blocking.appendBlocking(batch)
                return
            }
            let outcome = Outcome()
            let store = self.store
            Task {
                do {
                    _ = try await store.append(batch)
                    outcome.finish(.success(()))
                } catch {
                    outcome.finish(.failure(error))
                }
            }
            try outcome.wait()
        }
    }
}
