// ROC: the receiver operating characteristic of a score that should be higher on attacks than on clean inputs.

/// ROC curves and their area.
public enum ROC {
    /// (false-positive rate, true-positive rate) for every threshold ("flag when the score is above it"), from
    /// (0, 0) to (1, 1), and the area under the curve (trapezoids).
    public static func curve(clean: [Double], attacked: [Double]) -> (points: [CurvePoint], auc: Double) {
        guard !clean.isEmpty, !attacked.isEmpty else { return ([CurvePoint(x: 0, y: 0), CurvePoint(x: 1, y: 1)], 0.5) }
        let thresholds = Set(clean + attacked).sorted(by: >)
        let c = clean.sorted(), a = attacked.sorted()
        /// Values above `t` in an ascending array.
        func above(_ values: [Double], _ t: Double) -> Int {
            var lo = 0, hi = values.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if values[mid] > t { hi = mid } else { lo = mid + 1 }
            }
            return values.count - lo
        }
        var points = [CurvePoint(x: 0, y: 0)]
        for t in thresholds {
            points.append(CurvePoint(x: Double(above(c, t)) / Double(c.count), y: Double(above(a, t)) / Double(a.count)))
        }
        points.append(CurvePoint(x: 1, y: 1))
        var auc = 0.0
        for i in 1..<points.count { auc += (points[i].x - points[i - 1].x) * (points[i].y + points[i - 1].y) / 2 }
        return (points, auc)
    }

    /// The detection rate on `attacked` at `threshold`.
    public static func truePositiveRate(_ attacked: [Double], threshold: Double) -> Double {
        attacked.isEmpty ? 0 : Double(attacked.filter { $0 > threshold }.count) / Double(attacked.count)
    }
}
