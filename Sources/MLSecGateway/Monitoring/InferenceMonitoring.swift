// InferenceMonitoring: the small protocol the inference route calls a model's monitor through, and the
// gateway's implementation over MLSecData's ModelMonitor with the policy's penalties for callers.

import Foundation
import MLSecData
import Synchronization

/// Whether a caller may query a monitored model now.
public enum MonitorAdmission: Sendable, Equatable {
    case admitted
    /// Its distinct inputs cost 1/factor of its extraction budget for `retryAfter` more seconds (after a
    /// query-pattern alert).
    case throttled(factor: Double, retryAfter: Int, reason: String)
    /// Refused for `retryAfter` more seconds (after a query-pattern alert).
    case refused(retryAfter: Int, reason: String)
}

/// What the monitor said about one request's rows before the model ran.
public struct OODVerdict: Sendable {
    public var flagged: Int
    public var batch: Int
    public var maxScore: Double
    public var threshold: Double

    public var summary: String {
        "out of distribution: \(flagged) of \(batch) rows (highest Mahalanobis distance \((maxScore * 1000).rounded() / 1000), "
            + "threshold \((threshold * 1000).rounded() / 1000))"
    }
}

/// A model's monitor as the gateway uses it. Per request: ``admission(caller:)`` and ``screen(rows:count:)``
/// before the model runs, ``observe(caller:rows:outputs:count:)`` after; ``compare(_:)`` off the request path
/// when an observation asks for it.
public protocol InferenceMonitoring: Sendable {
    var policy: MonitorPolicy { get }
    func admission(caller: String) -> MonitorAdmission
    func screen(rows: [Float], count: Int) -> OODVerdict
    /// Records answered rows; applies the policy's penalty to callers whose pattern alerts.
    func observe(caller: String, rows: [Float], outputs: [Float], count: Int) -> MonitorObservation
    func compare(_ check: DriftSnapshot) -> (report: DriftReport, alert: DriftAlert?)
}

/// The gateway's monitor of one served model (a new one, with an empty window, each time the model is loaded).
public final class GatewayMonitor: InferenceMonitoring {
    public let policy: MonitorPolicy
    public let monitor: ModelMonitor
    /// Whether the model's outputs are probabilities (else logits, softmaxed for the margins).
    let probabilities: Bool
    private struct Penalty {
        var until: Double
        var reason: String
    }
    private let penalties = Mutex<[String: Penalty]>([:])
    private let clock: @Sendable () -> Double
    /// Penalised callers remembered at once (expired ones go first, then the soonest to expire).
    static let maxPenalties = 65_536

    public init(policy: MonitorPolicy, monitor: ModelMonitor, probabilities: Bool,
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.policy = policy
        self.monitor = monitor
        self.probabilities = probabilities
        self.clock = clock
    }

    public func admission(caller: String) -> MonitorAdmission {
        guard policy.queryAction != .flag else { return .admitted }
        let now = clock()
        guard let penalty = penalties.withLock({ $0[caller] }), penalty.until > now else { return .admitted }
        switch policy.queryAction {
        case .flag: return .admitted
        case .throttle: return .throttled(factor: policy.throttleFactor, retryAfter: max(1, Int((penalty.until - now).rounded(.up))), reason: penalty.reason)
        case .refuse: return .refused(retryAfter: max(1, Int((penalty.until - now).rounded(.up))), reason: penalty.reason)
        }
    }

    public func screen(rows: [Float], count: Int) -> OODVerdict {
        let scores = monitor.oodScores(rows, count: count)
        let threshold = monitor.reference.oodThreshold
        return OODVerdict(flagged: scores.filter { $0 > threshold }.count, batch: count, maxScore: scores.max() ?? 0, threshold: threshold)
    }

    public func observe(caller: String, rows: [Float], outputs: [Float], count: Int) -> MonitorObservation {
        let observation = monitor.observe(caller: caller, rows: rows, outputs: outputs, count: count, probabilities: probabilities)
        if policy.queryAction != .flag, let alert = observation.queryAlerts.first {
            let now = clock()
            penalties.withLock { penalties in
                if penalties.count >= Self.maxPenalties {
                    penalties = penalties.filter { $0.value.until > now }
                    if penalties.count >= Self.maxPenalties, let soonest = penalties.min(by: { $0.value.until < $1.value.until }) {
                        penalties[soonest.key] = nil
                    }
                }
                penalties[caller] = Penalty(until: now + policy.blockSeconds, reason: alert.kind.rawValue)
            }
        }
        return observation
    }

    public func compare(_ check: DriftSnapshot) -> (report: DriftReport, alert: DriftAlert?) { monitor.settle(check) }
}
