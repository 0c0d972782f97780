// LoadShedder: a bound on inference work in flight, a bounded queue with deadlines, 503 beyond it.

import Synchronization

/// At most `maxInFlight` inferences run at once; up to `maxQueued` more wait in FIFO order, each for at most
/// its deadline; anything beyond is shed at once. Health, metrics and admin routes never pass through it, so
/// inference load can never starve them. Memory is bounded by `maxQueued` waiters whatever the offered load.
public final class LoadShedder: Sendable {
    public enum Shed: Error, Sendable, Equatable {
        /// The queue is full.
        case queueFull
        /// The request waited longer than its deadline.
        case deadline
    }

    private typealias Waiter = (id: UInt64, continuation: CheckedContinuation<Void, any Error>)
    private struct State {
        var inFlight = 0
        var waiters: [Waiter] = []  // bounded by maxQueued, so removing from the front is cheap enough
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())
    public let maxInFlight: Int
    public let maxQueued: Int

    public init(maxInFlight: Int, maxQueued: Int) {
        self.maxInFlight = max(1, maxInFlight)
        self.maxQueued = max(0, maxQueued)
    }

    /// Waits for a slot for at most `deadline`; every successful acquire must be paired with `release()`.
    /// - Throws: `Shed.queueFull` or `Shed.deadline`.
    public func acquire(deadline: Duration) async throws {
        enum Outcome { case run, full, wait(UInt64) }
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> Outcome in
                if state.inFlight < maxInFlight {
                    state.inFlight += 1
                    return .run
                }
                guard state.waiters.count < maxQueued else { return .full }
                state.waiters.append((id, continuation))
                return .wait(id)
            }
            switch outcome {
            case .run: continuation.resume()
            case .full: continuation.resume(throwing: Shed.queueFull)
            case .wait(let id):
                Task { [weak self] in
                    try? await Task.sleep(for: deadline)
                    self?.expire(id)
                }
            }
        }
    }

    /// Hands the slot to the next waiter, or frees it.
    public func release() {
        let next = state.withLock { state -> Waiter? in
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }  // the slot passes on: inFlight unchanged
            state.inFlight = max(0, state.inFlight - 1)
            return nil
        }
        next?.continuation.resume()
    }

    private func expire(_ id: UInt64) {
        let expired = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        expired?.continuation.resume(throwing: Shed.deadline)
    }

    /// (running, queued) right now.
    public var load: (inFlight: Int, queued: Int) { state.withLock { ($0.inFlight, $0.waiters.count) } }
}
