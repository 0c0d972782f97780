// CircuitBreaker: stop sending to an upstream that keeps failing, probe it again after a cool-down.

/// Closed (normal) → open after `failureThreshold` consecutive failures → after `openSeconds`, half-open: one
/// trial request at a time; a success closes it, a failure opens it again. Value type; the pool holds it
/// under a lock and passes the time in (tests inject it).
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: String, Sendable { case closed, open, halfOpen = "half_open" }

    public private(set) var state = State.closed
    public let failureThreshold: Int
    public let openSeconds: Double
    private var consecutiveFailures = 0
    private var openedAt = 0.0
    private var trialInFlight = false

    public init(failureThreshold: Int = 5, openSeconds: Double = 5) {
        self.failureThreshold = max(1, failureThreshold)
        self.openSeconds = openSeconds
    }

    /// Whether a request may go to this upstream now (a half-open breaker lets one trial through).
    public mutating func allows(now: Double) -> Bool {
        switch state {
        case .closed: return true
        case .open:
            guard now - openedAt >= openSeconds else { return false }
            state = .halfOpen
            trialInFlight = true
            return true
        case .halfOpen:
            guard !trialInFlight else { return false }
            trialInFlight = true
            return true
        }
    }

    public mutating func recordSuccess() {
        consecutiveFailures = 0
        trialInFlight = false
        state = .closed
    }

    public mutating func recordFailure(now: Double) {
        trialInFlight = false
        consecutiveFailures += 1
        if state == .halfOpen || consecutiveFailures >= failureThreshold {
            state = .open
            openedAt = now
        }
    }
}

/// Retries may add at most `ratio` of the recent requests (plus `minimumPerSecond`), over a sliding window of
/// `windowSeconds` counted in one-second buckets: a failing upstream pool cannot turn every request into
/// several (retry storms). Constant memory.
public struct RetryBudget: Sendable {
    public let ratio: Double
    public let minimumPerSecond: Double
    private var buckets: [(second: Int, requests: Int, retries: Int)]

    public init(ratio: Double = 0.2, minimumPerSecond: Double = 3, windowSeconds: Int = 10) {
        self.ratio = ratio
        self.minimumPerSecond = minimumPerSecond
        buckets = Array(repeating: (Int.min, 0, 0), count: max(1, windowSeconds))
    }

    private mutating func bucket(_ now: Double) -> Int {
        let second = Int(now.rounded(.down))
        let index = ((second % buckets.count) + buckets.count) % buckets.count
        if buckets[index].second != second { buckets[index] = (second, 0, 0) }
        return index
    }

    private func totals(_ now: Double) -> (requests: Int, retries: Int) {
        let second = Int(now.rounded(.down))
        return buckets.filter { $0.second > second - buckets.count && $0.second <= second }
            .reduce((0, 0)) { ($0.0 + $1.requests, $0.1 + $1.retries) }
    }

    public mutating func recordRequest(now: Double) {
        buckets[bucket(now)].requests += 1
    }

    /// Takes one retry from the budget if there is one.
    public mutating func withdraw(now: Double) -> Bool {
        let index = bucket(now)
        let (requests, retries) = totals(now)
        let allowed = Double(requests) * ratio + minimumPerSecond * Double(buckets.count)
        guard Double(retries) < allowed else { return false }
        buckets[index].retries += 1
        return true
    }
}
