// Quota: per-key inference and element budgets over calendar windows (UTC day and month).

import Foundation
import MLSecCore
import Synchronization

/// A key's budgets. `nil` means no budget for that window.
public struct QuotaLimits: Sendable, Equatable {
    public var dailyRequests: Int?
    public var dailyElements: Int?
    public var monthlyRequests: Int?
    public var monthlyElements: Int?

    public init(dailyRequests: Int? = nil, dailyElements: Int? = nil, monthlyRequests: Int? = nil, monthlyElements: Int? = nil) {
        self.dailyRequests = dailyRequests
        self.dailyElements = dailyElements
        self.monthlyRequests = monthlyRequests
        self.monthlyElements = monthlyElements
    }

    public var isEmpty: Bool { dailyRequests == nil && dailyElements == nil && monthlyRequests == nil && monthlyElements == nil }

    static let fields = ["daily_requests", "daily_elements", "monthly_requests", "monthly_elements"]

    public var json: JSONValue {
        .object(zip(Self.fields, [dailyRequests, dailyElements, monthlyRequests, monthlyElements]).compactMap { name, value in
            value.map { (name, .int($0)) }
        })
    }

    /// Parses `{"daily_requests": N, ...}` (hostile input: closed set of fields, 1...10^15 each).
    public init(json value: JSONValue) throws(MLSecError) {
        guard let members = value.objectValue else { throw .usage("quota must be an object") }
        var values: [String: Int] = [:]
        for (key, member) in members {
            guard Self.fields.contains(key) else { throw .usage("unknown quota field \"\(key.prefix(40))\"") }
            guard let n = member.integerValue, n >= 1, n <= 1_000_000_000_000_000 else {
                throw .usage("quota \(key) must be an integer in 1...10^15")
            }
            values[key] = n
        }
        self.init(dailyRequests: values["daily_requests"], dailyElements: values["daily_elements"],
                  monthlyRequests: values["monthly_requests"], monthlyElements: values["monthly_elements"])
    }
}

/// Where quota usage survives restarts and is shared: SQLite (one gateway) or PostgreSQL (replicas).
public protocol QuotaUsageStore: Sendable {
    /// Usage per (key id, window) as stored.
    func loadUsage(windows: [String]) async throws -> [QuotaTracker.Counter: QuotaTracker.Usage]
    /// Adds `deltas` to the stored usage, atomically.
    func addUsage(_ deltas: [QuotaTracker.Counter: QuotaTracker.Usage]) async throws
}

/// Counts each key's requests and elements per UTC day and month, admits a request only if every budget has
/// room for it, and writes the counts to a store about once a second (a crash loses at most that second of
/// counting, in the clients' favour). After each save it reads the current windows' totals back, so replicas
/// sharing a store see each other's usage: a local-allowance scheme whose error is bounded by what the other
/// replicas admit between two saves (about one second of their traffic). Windows reset at 00:00 UTC and on
/// the first of the month.
public final class QuotaTracker: Sendable {
    public struct Counter: Hashable, Sendable {
        public var key: String
        /// `d:2026-11-29` or `m:2026-11`.
        public var window: String
        public init(key: String, window: String) {
            self.key = key
            self.window = window
        }
    }

    public struct Usage: Sendable, Equatable {
        public var requests: Int
        public var elements: Int
        public init(requests: Int = 0, elements: Int = 0) {
            self.requests = requests
            self.elements = elements
        }
    }

    /// A refusal: which budget, its size, and when it resets.
    public struct Exhausted: Error, Sendable {
        public var policy: String
        public var quota: Int
        public var windowSeconds: Int
        public var retryAfter: Int
    }

    private struct State {
        var usage: [Counter: Usage] = [:]
        var unsaved: [Counter: Usage] = [:]
        var loadedWindows: Set<String> = []
    }
    private let state = Mutex(State())
    private let store: (any QuotaUsageStore)?
    private let now: @Sendable () -> Date

    public init(store: (any QuotaUsageStore)?, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.now = now
    }

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        return calendar
    }()

    /// The day and month windows containing `date`, with the seconds until each ends and each one's length.
    static func windows(at date: Date) -> (day: String, month: String, dayEnds: Int, monthEnds: Int, monthLength: Int) {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        let year = parts.year ?? 1970
        let month = parts.month ?? 1
        let day = parts.day ?? 1
        func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let startOfDay = calendar.date(from: DateComponents(year: year, month: month, day: day)) ?? date
        let startOfMonth = calendar.date(from: DateComponents(year: year, month: month, day: 1)) ?? date
        let nextDay = calendar.date(byAdding: .day, value: 1, to: startOfDay) ?? date
        let nextMonth = calendar.date(byAdding: .month, value: 1, to: startOfMonth) ?? date
        return ("d:\(year)-\(pad(month))-\(pad(day))", "m:\(year)-\(pad(month))",
                max(1, Int(nextDay.timeIntervalSince(date).rounded(.up))),
                max(1, Int(nextMonth.timeIntervalSince(date).rounded(.up))),
                Int(nextMonth.timeIntervalSince(startOfMonth)))
    }

    /// Usage could not be read from the store: nothing is admitted (quotas fail closed).
    public struct Unavailable: Error, Sendable, ReadableError {
        public var detail: String
        public var readableDescription: String { detail }
    }

    /// Admits and counts one request of `elements` elements for `key`.
    /// - Throws: `Exhausted` naming the budget; `Unavailable` when the stored usage cannot be read.
    public func admit(key: String, limits: QuotaLimits, elements: Int) async throws {
        guard !limits.isEmpty else { return }
        let w = Self.windows(at: now())
        try await loadIfNeeded([w.day, w.month])
        let day = Counter(key: key, window: w.day)
        let month = Counter(key: key, window: w.month)
        let refusal: Exhausted? = state.withLock { state in
            let d = state.usage[day] ?? Usage()
            let m = state.usage[month] ?? Usage()
            let checks: [(Int?, Int, String, Int, Int)] = [
                (limits.dailyRequests, d.requests + 1, "daily-requests", 86_400, w.dayEnds),
                (limits.dailyElements, d.elements + elements, "daily-elements", 86_400, w.dayEnds),
                (limits.monthlyRequests, m.requests + 1, "monthly-requests", w.monthLength, w.monthEnds),
                (limits.monthlyElements, m.elements + elements, "monthly-elements", w.monthLength, w.monthEnds),
            ]
            for (limit, wanted, policy, length, ends) in checks {
                if let limit, wanted > limit {
                    return Exhausted(policy: policy, quota: limit, windowSeconds: length, retryAfter: ends)
                }
            }
            for counter in [day, month] {
                state.usage[counter, default: Usage()].requests += 1
                state.usage[counter, default: Usage()].elements += elements
                state.unsaved[counter, default: Usage()].requests += 1
                state.unsaved[counter, default: Usage()].elements += elements
            }
            return nil
        }
        if let refusal { throw refusal }
    }

    /// What `key` has used in the windows containing now: (day, month).
    public func usage(key: String) -> (day: Usage, month: Usage) {
        let w = Self.windows(at: now())
        return state.withLock { ($0.usage[Counter(key: key, window: w.day)] ?? Usage(), $0.usage[Counter(key: key, window: w.month)] ?? Usage()) }
    }

    /// Loads the stored usage of windows not seen yet (first use of a day or month, after a restart).
    private func loadIfNeeded(_ windows: [String]) async throws(Unavailable) {
        let missing = state.withLock { state in windows.filter { !state.loadedWindows.contains($0) } }
        guard !missing.isEmpty else { return }
        let stored: [Counter: Usage]
        do {
            stored = try await store?.loadUsage(windows: missing) ?? [:]
        } catch {
            throw Unavailable(detail: readable(error, limit: 160))
        }
        state.withLock { state in
            for window in missing where !state.loadedWindows.contains(window) {
                state.loadedWindows.insert(window)
                for (counter, usage) in stored where counter.window == window {
                    state.usage[counter, default: Usage()].requests += usage.requests
                    state.usage[counter, default: Usage()].elements += usage.elements
                }
            }
            // Old windows are not needed any more: keep memory bounded by the active keys.
            let current = Set(windows)
            if state.loadedWindows.count > 4 {
                state.usage = state.usage.filter { current.contains($0.key.window) }
                state.loadedWindows = state.loadedWindows.intersection(current)
            }
        }
    }

    /// Writes the counts since the last save to the store, then reads the current windows' totals back (called
    /// about once a second and at shutdown). On failure the counts stay queued for the next attempt.
    public func save() async throws {
        guard let store else { return }
        let deltas = state.withLock { state -> [Counter: Usage] in
            let deltas = state.unsaved
            state.unsaved = [:]
            return deltas
        }
        if !deltas.isEmpty {
            do {
                try await store.addUsage(deltas)
            } catch {
                state.withLock { state in
                    for (counter, usage) in deltas {
                        state.unsaved[counter, default: Usage()].requests += usage.requests
                        state.unsaved[counter, default: Usage()].elements += usage.elements
                    }
                }
                throw error
            }
        }
        let w = Self.windows(at: now())
        let current = [w.day, w.month]
        let totals = try await store.loadUsage(windows: current)
        state.withLock { state in
            // Stored totals (every replica's saved usage) plus what this one admitted since the swap above.
            var usage = state.usage.filter { !current.contains($0.key.window) }
            for (counter, total) in totals { usage[counter] = total }
            for (counter, pending) in state.unsaved where current.contains(counter.window) {
                usage[counter, default: Usage()].requests += pending.requests
                usage[counter, default: Usage()].elements += pending.elements
            }
            state.usage = usage
            state.loadedWindows.formUnion(current)
        }
    }
}
