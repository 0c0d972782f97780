// FlipImages: draws a flipped example's original, adversarial and perturbation as small SVG pixel images, and
// lists the most-changed features of non-image inputs.

/// Renders the report's flipped examples. Images are SVG `<rect>` pixels (runs of equal colour merged): greyscale
/// for the inputs, a diverging blue-white-red scale for the perturbation. Images larger than ``maxSide`` pixels a side
/// are block-averaged first, so that a report of large images stays small.
package enum FlipImages {
    /// The most pixels an image keeps on a side.
    package static let maxSide = 64

    /// Values laid out as an image, row-major.
    package struct Grid: Sendable, Equatable {
        package var values: [Double]
        package var height: Int
        package var width: Int
    }

    /// `values` as a `shape` ([height, width]) image, block-averaged to at most ``maxSide`` a side; `nil` when the
    /// shape is not two positive sides whose product is the number of values.
    package static func grid(_ values: [Float], shape: [Int]?) -> Grid? {
        guard let shape, shape.count == 2, shape[0] > 0, shape[1] > 0 else { return nil }
        let (height, width) = (shape[0], shape[1])
        let (count, overflow) = height.multipliedReportingOverflow(by: width)
        guard !overflow, count == values.count else { return nil }
        let factor = (max(height, width) + maxSide - 1) / maxSide
        if factor <= 1 { return Grid(values: values.map(Double.init), height: height, width: width) }
        let outHeight = (height + factor - 1) / factor, outWidth = (width + factor - 1) / factor
        var out = [Double](repeating: .nan, count: outHeight * outWidth)
        for row in 0..<outHeight {
            for column in 0..<outWidth {
                var sum = 0.0, n = 0
                for y in (row * factor)..<min((row + 1) * factor, height) {
                    for x in (column * factor)..<min((column + 1) * factor, width) {
                        let v = Double(values[y * width + x])
                        if v.isFinite {
                            sum += v
                            n += 1
                        }
                    }
                }
                if n > 0 { out[row * outWidth + column] = sum / Double(n) }
            }
        }
        return Grid(values: out, height: outHeight, width: outWidth)
    }

    /// The values mapped to black and white: the report's declared input range, else the smallest and largest finite
    /// value of all flipped examples (originals and adversarials together, so that the images compare).
    package static func greyRange(of report: RobustnessReport) -> ClosedRange<Double> {
        if let range = report.inputRange, range.lowerBound.isFinite, range.upperBound.isFinite,
            range.upperBound > range.lowerBound {
            return range
        }
        var lo = Double.infinity, hi = -Double.infinity
        for flip in report.flips {
            for v in flip.original + flip.adversarial where v.isFinite {
                lo = min(lo, Double(v))
                hi = max(hi, Double(v))
            }
        }
        guard lo.isFinite, hi.isFinite else { return 0...1 }
        return hi > lo ? lo...hi : lo...(lo + 1)
    }

    /// The grey level (0 black to 255 white) of `value` scaled linearly from `range`, clipped; mid grey when not finite.
    package static func grey(_ value: Double, in range: ClosedRange<Double>) -> Int {
        guard value.isFinite else { return 128 }
        let t = (value - range.lowerBound) / (range.upperBound - range.lowerBound)
        return Int((min(max(t, 0), 1) * 255).rounded())
    }

    /// A colour for a change scaled to -1...1: blue for negative, white for none, red for positive.
    package static func diverging(_ t: Double) -> (Int, Int, Int) {
        guard t.isFinite else { return (255, 255, 255) }
        let s = min(abs(t), 1)
        let end = t < 0 ? (33.0, 102.0, 172.0) : (178.0, 24.0, 43.0)
        func mix(_ to: Double) -> Int { Int((255 + (to - 255) * s).rounded()) }
        return (mix(end.0), mix(end.1), mix(end.2))
    }

    /// "#rrggbb".
    package static func hex(_ rgb: (Int, Int, Int)) -> String {
        func byte(_ v: Int) -> String {
            let text = String(min(max(v, 0), 255), radix: 16)
            return text.count == 1 ? "0" + text : text
        }
        return "#" + byte(rgb.0) + byte(rgb.1) + byte(rgb.2)
    }

    /// An `<svg>` image of `grid`, `colour` giving each value's fill; `label` is its accessible name.
    package static func svg(_ grid: Grid, label: String, colour: (Double) -> String) -> String {
        let cell = max(2, min(12, 112 / max(grid.height, grid.width)))
        let width = grid.width * cell, height = grid.height * cell
        var out = "<svg class=\"pixels\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" "
            + "role=\"img\" aria-label=\"\(ReportText.escape(label))\" shape-rendering=\"crispEdges\">"
            + "<title>\(ReportText.escape(label))</title>\n"
        for row in 0..<grid.height {
            var column = 0
            while column < grid.width {
                let fill = colour(grid.values[row * grid.width + column])
                var end = column + 1
                while end < grid.width, colour(grid.values[row * grid.width + end]) == fill { end += 1 }
                out += "<rect x=\"\(column * cell)\" y=\"\(row * cell)\" width=\"\((end - column) * cell)\" "
                    + "height=\"\(cell)\" fill=\"\(fill)\"/>"
                column = end
            }
            out += "\n"
        }
        out += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#8c959f\"/></svg>"
        return out
    }

    /// The three images of a flipped example (original, adversarial, perturbation), each in a `<figure>` with a
    /// caption; `nil` when the report has no image shape or the example's values do not fit it.
    package static func images(of flip: FlipExample, shape: [Int]?, greyRange: ClosedRange<Double>) -> String? {
        guard flip.original.count == flip.adversarial.count,
            let original = grid(flip.original, shape: shape), let adversarial = grid(flip.adversarial, shape: shape)
        else { return nil }
        var change = original
        change.values = zip(original.values, adversarial.values).map { $1 - $0 }
        let largest = change.values.filter(\.isFinite).map(abs).max() ?? 0
        let scale = largest > 0 ? largest : 1
        let greyFill = { (v: Double) -> String in
            let g = grey(v, in: greyRange)
            return hex((g, g, g))
        }
        let changeFill = { (v: Double) -> String in hex(diverging(v / scale)) }
        let row = flip.row
        func figure(_ svgText: String, _ caption: String) -> String {
            "<figure>\(svgText)<figcaption>\(ReportText.escape(caption))</figcaption></figure>"
        }
        return figure(svg(original, label: "Row \(row), original, labelled \(flip.label)", colour: greyFill),
                      "original: \(flip.label)")
            + figure(svg(adversarial, label: "Row \(row), adversarial, predicted \(flip.adversarialPrediction)",
                         colour: greyFill), "adversarial: \(flip.adversarialPrediction)")
            + figure(svg(change, label: "Row \(row), perturbation: red increased, blue decreased, strongest ±"
                         + (ReportText.significant(largest, 3) ?? "0"), colour: changeFill),
                     "change (±\(ReportText.significant(largest, 3) ?? "0"))")
    }

    /// The features of a non-image example that the attack changed most, largest change first (ties by index).
    package static func largestChanges(of flip: FlipExample, count: Int = 8)
        -> [(feature: Int, original: Double, adversarial: Double)]
    {
        let n = min(flip.original.count, flip.adversarial.count)
        let changes = (0..<n).map { (feature: $0, original: Double(flip.original[$0]), adversarial: Double(flip.adversarial[$0])) }
        func size(_ c: (feature: Int, original: Double, adversarial: Double)) -> Double {
            let d = abs(c.adversarial - c.original)
            return d.isFinite ? d : .infinity
        }
        let sorted = changes.sorted { size($0) != size($1) ? size($0) > size($1) : $0.feature < $1.feature }
        return Array(sorted.prefix(count).filter { size($0) > 0 })
    }
}
