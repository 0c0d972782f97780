// QueryPatternDetector.swift: per caller, the signs of model extraction and black-box attacks in a stream of
// queries: many near-identical inputs, and boundary probing (inputs close to the caller's recent ones that the
// model answers with little confidence, distances to them shrinking as in a binary search).

import Foundation
import Synchronization

/// The detector's thresholds (`models[].monitor.query_pattern` in the gateway's configuration).
public struct QueryPatternSettings: Sendable, Equatable {
    /// A caller's last this many query rows are judged together.
    public var window = 100
    /// No alert before a caller has sent this many rows (within the window).
    public var minQueries = 50
    /// A row closer than this (in units of the reference's typical distance between two rows) to one of the
    /// caller's recent rows is near-identical.
    public var nearDistance = 0.05
    /// Alert when at least this share of the window is near-identical.
    public var nearDuplicateShare = 0.5
    /// A probe: a row within this distance of a recent row, answered with a top-two probability margin below
    /// `lowMargin`.
    public var probeDistance = 0.25
    public var lowMargin = 0.2
    /// Alert when at least this share of the window are probes.
    public var probeShare = 0.3
    /// Alert when this many successive rows each land at most 0.75 times as close to the caller's recent rows
    /// as the one before (a binary search's halving steps).
    public var halvingRun = 8
    /// Callers tracked at once (the least recently seen are forgotten beyond).
    public var maxCallers = 4096
    /// After an alert, the same caller raises the same kind again only this many seconds later.
    public var cooldownSeconds = 300.0

    public init() {}
}

/// What the detector found about one caller.
public struct QueryPatternAlert: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case nearDuplicate = "near_duplicate"
        case boundaryProbing = "boundary_probing"
    }

    public var kind: Kind
    public var caller: String
    /// Rows in the caller's window, and how many were near-identical, probes; the longest halving run.
    public var rows: Int
    public var nearDuplicates: Int
    public var probes: Int
    public var halvingRun: Int

    public var summary: String {
        "\(kind.rawValue): \(nearDuplicates) of the caller's last \(rows) rows near-identical to a recent one, \(probes) low-confidence "
            + "probes near recent rows, halving run \(halvingRun)"
    }
}

/// Tracks each caller's recent rows as random projections (at most 32 numbers each, so a caller costs a few
/// kilobytes and a row O(features) work, in 8-wide vectors). Thread-safe.
public final class QueryPatternDetector: Sendable {
    public let settings: QueryPatternSettings
    /// Projected rows kept per caller to compare new rows with.
    public static let recentRows = 32
    static let projectedWidth = 32
    private let features: Int
    /// Vectors per projected row.
    private let lanes: Int
    /// By columns: input feature j's `lanes` vectors (its weight in each projected coordinate), or empty for
    /// the identity (d ≤ 32).
    private let projection: [SIMD8<Float>]
    /// The reference's typical distance between two rows (distances are divided by it).
    private let scale: Double
    private let clock: @Sendable () -> Double
    private let state: Mutex<[String: Caller]>

    /// A caller's state, mutated in place under the lock (a class: no copy on each update).
    final class Caller {
        var recent: [SIMD8<Float>]
        var recentCount = 0
        var recentNext = 0
        var flags: [UInt8]
        var flagCount = 0
        var flagNext = 0
        var nearCount = 0
        var probeCount = 0
        var lastNearest = Double.infinity
        var run = 0
        var longestRun = 0
        var lastSeen: Double
        var quietUntil: [QueryPatternAlert.Kind: Double] = [:]

        init(lanes: Int, window: Int, now: Double) {
            recent = [SIMD8<Float>](repeating: .zero, count: QueryPatternDetector.recentRows * lanes)
            flags = [UInt8](repeating: 0, count: window)
            lastSeen = now
        }
    }

    /// - Parameters:
    ///   - features: values per row.
    ///   - typicalDistance: the reference's typical distance between two rows (``MonitorReference/typicalDistance``).
    ///   - clock: seconds on a monotonic clock (injected by tests).
    public init(features: Int, typicalDistance: Double, settings: QueryPatternSettings = QueryPatternSettings(),
                clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.features = features
        self.settings = settings
        self.scale = typicalDistance > 0 ? typicalDistance : 1
        self.clock = clock
        state = Mutex([:])
        if features <= Self.projectedWidth {
            lanes = (features + 7) / 8
            projection = []
        } else {
            // A fixed Gaussian projection (Johnson-Lindenstrauss): distances kept within about 1/√k.
            lanes = Self.projectedWidth / 8
            var seed: UInt64 = 0x6D6C_7365_632D_7170
            func next() -> Double {
                seed &+= 0x9E37_79B9_7F4A_7C15
                var z = seed
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return (Double((z ^ (z >> 31)) >> 11) + 0.5) / Double(1 << 53)
            }
            let norm = 1 / Double(Self.projectedWidth).squareRoot()
            var matrix = [SIMD8<Float>](repeating: .zero, count: features * lanes)
            for j in 0..<features {
                for i in 0..<Self.projectedWidth {
                    matrix[j * lanes + i / 8][i % 8] = Float((-2 * log(next())).squareRoot() * cos(2 * .pi * next()) * norm)
                }
            }
            projection = matrix
        }
    }

    /// Callers tracked now.
    public var trackedCallers: Int { state.withLock { $0.count } }

    /// Records `count` rows of `caller` with each row's top-two probability margin, and returns the alerts they
    /// raise (at most one of each kind per cooldown).
    public func observe(caller: String, rows: UnsafeBufferPointer<Float>, margins: [Double], count: Int) -> [QueryPatternAlert] {
        let d = features, lanes = lanes
        var projected = [SIMD8<Float>](repeating: .zero, count: count * lanes)
        projected.withUnsafeMutableBufferPointer { out in
            projection.withUnsafeBufferPointer { p in
                for r in 0..<count {
                    let base = r * lanes
                    if p.isEmpty {
                        for j in 0..<d { out[base + j / 8][j % 8] = rows[r * d + j] }
                        continue
                    }
                    // lanes == 4 here: four accumulators in registers.
                    var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
                    for j in 0..<d {
                        let x = SIMD8<Float>(repeating: rows[r * d + j])
                        let column = j * 4
                        a0 += p[column] * x
                        a1 += p[column + 1] * x
                        a2 += p[column + 2] * x
                        a3 += p[column + 3] * x
                    }
                    out[base] = a0
                    out[base + 1] = a1
                    out[base + 2] = a2
                    out[base + 3] = a3
                }
            }
        }
        let now = clock()
        return state.withLock { callers in
            if callers[caller] == nil, callers.count >= settings.maxCallers { Self.forgetOldest(&callers, keep: settings.maxCallers * 3 / 4) }
            let entry: Caller
            if let known = callers[caller] {
                entry = known
            } else {
                entry = Caller(lanes: lanes, window: settings.window, now: now)
                callers[caller] = entry
            }
            entry.lastSeen = now
            for r in 0..<count { record(entry, row: projected, offset: r * lanes, margin: margins[r]) }
            var alerts: [QueryPatternAlert] = []
            if entry.flagCount >= settings.minQueries {
                let rows = entry.flagCount
                func raise(_ kind: QueryPatternAlert.Kind) {
                    guard now >= entry.quietUntil[kind] ?? -.infinity else { return }
                    entry.quietUntil[kind] = now + settings.cooldownSeconds
                    alerts.append(QueryPatternAlert(kind: kind, caller: caller, rows: rows, nearDuplicates: entry.nearCount,
                                                    probes: entry.probeCount, halvingRun: entry.longestRun))
                }
                if Double(entry.nearCount) >= settings.nearDuplicateShare * Double(rows) { raise(.nearDuplicate) }
                if Double(entry.probeCount) >= settings.probeShare * Double(rows) || entry.longestRun >= settings.halvingRun {
                    raise(.boundaryProbing)
                }
            }
            return alerts
        }
    }

    /// One row: its nearest recent row, the window's flags and counts, the halving run; then it joins the recent rows.
    private func record(_ entry: Caller, row: [SIMD8<Float>], offset: Int, margin: Double) {
        var nearest = Float.infinity
        entry.recent.withUnsafeBufferPointer { recent in
            for s in 0..<entry.recentCount {
                var acc = SIMD8<Float>.zero
                for l in 0..<lanes {
                    let t = row[offset + l] - recent[s * lanes + l]
                    acc += t * t
                }
                nearest = min(nearest, acc.sum())
            }
        }
        let distance = Double(nearest).squareRoot() / scale
        let near = distance < settings.nearDistance
        let probe = distance < settings.probeDistance && margin < settings.lowMargin
        if distance.isFinite, entry.lastNearest.isFinite, distance > 0, distance <= 0.75 * entry.lastNearest {
            entry.run += 1
            entry.longestRun = max(entry.longestRun, entry.run)
        } else {
            entry.run = 0
        }
        entry.lastNearest = distance
        let flag = UInt8(near ? 1 : 0) | UInt8(probe ? 2 : 0)
        if entry.flagCount == settings.window {
            let old = entry.flags[entry.flagNext]
            if old & 1 != 0 { entry.nearCount -= 1 }
            if old & 2 != 0 { entry.probeCount -= 1 }
        } else {
            entry.flagCount += 1
        }
        entry.flags[entry.flagNext] = flag
        entry.flagNext = (entry.flagNext + 1) % settings.window
        if near { entry.nearCount += 1 }
        if probe { entry.probeCount += 1 }
        for l in 0..<lanes { entry.recent[entry.recentNext * lanes + l] = row[offset + l] }
        entry.recentNext = (entry.recentNext + 1) % Self.recentRows
        entry.recentCount = min(entry.recentCount + 1, Self.recentRows)
    }

    /// Drops the least recently seen callers down to `keep` (amortised: called once per quarter of the cap).
    private static func forgetOldest(_ callers: inout [String: Caller], keep: Int) {
        let kept = callers.sorted { $0.value.lastSeen > $1.value.lastSeen }.prefix(keep)
        callers = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
    }

    /// The top-two margin of each of `count` rows of `width` outputs: probabilities as given, or the softmax of
    /// logits first.
    public static func margins(_ outputs: UnsafeBufferPointer<Float>, count: Int, width: Int, probabilities: Bool) -> [Double] {
        (0..<count).map { r in
            var first = -Double.infinity, second = -Double.infinity
            var maxLogit = -Double.infinity
            if !probabilities { for j in 0..<width { maxLogit = max(maxLogit, Double(outputs[r * width + j])) } }
            var sum = 0.0
            for j in 0..<width {
                let v = probabilities ? Double(outputs[r * width + j]) : exp(Double(outputs[r * width + j]) - maxLogit)
                sum += v
                if v > first { second = first; first = v } else if v > second { second = v }
            }
            guard width >= 2, sum > 0 else { return 1 }
            return probabilities ? first - second : (first - second) / sum
        }
    }
}
