// FailedAuthentications: unauthenticated attempts limited per client address, and repeated identical failures
// recorded as one counted audit entry per window, so the log records an attack without becoming its amplifier.

import Foundation
import MLSecAccess
import MLSecAudit
import Synchronization

/// Every failed authentication passes here. Each client address (IPv6 by its /64, what one host can hold) has a
/// GCRA budget of failures; past it the caller gets 429. The first failure of a kind from an address in a window
/// is audited at once, with its full reason; the identical ones after it are only counted, and when the window
/// ends one entry records how many there were.
public final class FailedAuthentications: Sendable {
    struct Key: Hashable {
        let address: String
        let kind: String
    }

    struct Tally {
        var opened: Double
        var repeats = 0
        var resource: String
    }

    /// Most (address, kind) pairs tracked at once; past it new pairs share one bucket per kind.
    static let maxTracked = 10_000

    private let limiter: RateLimiter
    private let limit: RateLimit
    private let window: Double
    private let clock: @Sendable () -> Double
    private let tallies = Mutex<[Key: Tally]>([:])

    /// `clock` is in seconds (monotonic); tests inject one.
    public init(limit: RateLimit, window: Duration,
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.limit = limit
        self.window = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        self.clock = clock
        limiter = RateLimiter(clock: clock)
    }

    /// What to do with one failure.
    public struct Verdict: Sendable {
        /// Over the address's budget: answer 429 after this many seconds instead of 401.
        public var retryAfter: Double?
        /// The first of its kind in this window: audit it now (the others are counted).
        public var record: Bool
        /// Counted entries of windows that have ended, to append now.
        public var due: [AuditEvent]
    }

    /// The address key: IPv4 as is, IPv6 by its first four groups (/64).
    package static func addressKey(_ address: String?) -> String {
        guard let address, !address.isEmpty else { return "unknown" }
        // IPv4 (and IPv4-mapped IPv6 such as ::ffff:192.0.2.1, as a dual-stack socket reports IPv4 clients).
        if address.contains(".") { return String(address.split(separator: ":").last.map(String.init)?.prefix(64) ?? "unknown") }
        guard address.contains(":") else { return String(address.prefix(64)) }
        let groups = Self.expandIPv6(address)
        return groups.prefix(4).joined(separator: ":") + "::/64"
    }

    /// The eight groups of an IPv6 address ("::" expanded); anything unparsable is kept whole.
    static func expandIPv6(_ address: String) -> [String] {
        let halves = address.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false).map {
            $0.split(separator: ":").map(String.init)
        }
        guard let head = halves.first else { return [address] }
        let tail = halves.count > 1 ? halves[1] : []
        let missing = max(0, 8 - head.count - tail.count)
        return head + Array(repeating: "0", count: halves.count > 1 ? missing : 0) + tail
    }

    /// Charges the address one failure and decides whether this one is audited.
    public func failure(address: String?, kind: String, resource: String) -> Verdict {
        let address = Self.addressKey(address)
        let decision = limiter.check(key: "anonymous:\(address)", limit: limit)
        let limited = !decision.allowed
        let now = clock()
        var due: [AuditEvent] = []
        let record = tallies.withLock { tallies -> Bool in
            var key = Key(address: address, kind: limited ? "too many unauthenticated attempts" : kind)
            if tallies[key] == nil, tallies.count >= Self.maxTracked { key = Key(address: "others", kind: key.kind) }
            if var tally = tallies[key], now - tally.opened < window {
                tally.repeats += 1
                tallies[key] = tally
                return false
            }
            if let ended = tallies[key], let event = event(key, ended) { due.append(event) }
            tallies[key] = Tally(opened: now, resource: resource)
            return true
        }
        return Verdict(retryAfter: limited ? max(1, decision.retryAfter) : nil, record: record, due: due)
    }

    /// The counted entries of windows that have ended (all of them with `all`, at shutdown).
    public func due(all: Bool = false) -> [AuditEvent] {
        let now = clock()
        return tallies.withLock { tallies in
            var events: [AuditEvent] = []
            for (key, tally) in tallies where all || now - tally.opened >= window {
                if let event = event(key, tally) { events.append(event) }
                tallies[key] = nil
            }
            return events
        }
    }

    private func event(_ key: Key, _ tally: Tally) -> AuditEvent? {
        guard tally.repeats > 0 else { return nil }
        let seconds = window >= 10 ? String(Int(window.rounded())) : String(format: "%g", window)
        return AuditEvent(actor: "anonymous", action: "authenticate", resource: tally.resource, decision: .deny,
                          reason: "\(tally.repeats) more identical failures from \(key.address) within \(seconds) s: \(key.kind)")
    }
}
