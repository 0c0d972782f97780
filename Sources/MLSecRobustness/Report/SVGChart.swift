// SVGChart: a small line-chart renderer that writes inline SVG (axes, ticks, gridlines, legend), with no scripts.

/// A line chart rendered as an inline `<svg>` element for the HTML report: axes with ticks and labels, gridlines,
/// one line per series in distinct colours and dash patterns, a legend, an optional marked point and an optional
/// diagonal reference line. The output is deterministic (fixed decimals), every text is escaped, and the element
/// carries `role="img"`, an `aria-label`, a `<title>` and a `<desc>` for screen readers.
package struct SVGChart: Sendable {
    /// One line of the chart.
    package struct Series: Sendable {
        package var name: String
        package var points: [CurvePoint]
        package init(name: String, points: [CurvePoint]) {
            self.name = name
            self.points = points
        }
    }

    /// A highlighted point, e.g. a detector's operating point.
    package struct Marker: Sendable {
        package var point: CurvePoint
        package var label: String
        package init(point: CurvePoint, label: String) {
            self.point = point
            self.label = label
        }
    }

    /// Accessible name of the chart (the `aria-label` and `<title>`).
    package var title: String
    /// A sentence or two for `<desc>`: what the chart shows.
    package var summary: String
    package var xLabel: String
    package var yLabel: String
    package var series: [Series]
    /// Axis ranges; `nil` takes the range from the data (starting at 0 when the data are non-negative).
    package var xDomain: ClosedRange<Double>?
    package var yDomain: ClosedRange<Double>?
    package var marker: Marker?
    /// Legend text of a dashed y = x reference line (a ROC chart's chance line); `nil` draws none.
    package var diagonalLabel: String?
    /// Size of the whole chart and of its plotting area's height, in CSS pixels.
    package var width: Double = 640
    package var plotHeight: Double = 300

    package init(title: String, summary: String, xLabel: String, yLabel: String, series: [Series],
                 xDomain: ClosedRange<Double>? = nil, yDomain: ClosedRange<Double>? = nil, marker: Marker? = nil,
                 diagonalLabel: String? = nil) {
        self.title = title
        self.summary = summary
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.xDomain = xDomain
        self.yDomain = yDomain
        self.marker = marker
        self.diagonalLabel = diagonalLabel
    }

    /// Colour-blind-safe line colours (Okabe and Ito), used in order.
    package static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    /// Dash patterns combined with the colours, so that lines differ without colour too.
    package static let dashes = ["", "7 4", "2 3", "9 3 2 3"]

    private let left = 64.0, right = 24.0, top = 14.0, legendRow = 20.0

    /// The `<svg>` element.
    package func render() -> String {
        let x = axis(xDomain, values: series.flatMap { $0.points.map(\.x) } + (marker.map { [$0.point.x] } ?? []))
        let y = axis(yDomain, values: series.flatMap { $0.points.map(\.y) } + (marker.map { [$0.point.y] } ?? []))
        let plotRight = width - right, plotBottom = top + plotHeight
        let legendCount = series.count + (diagonalLabel == nil ? 0 : 1) + (marker == nil ? 0 : 1)
        let height = plotBottom + 58 + Double(max(legendCount, 1)) * legendRow
        func px(_ v: Double) -> Double { left + (clamp(v, x.domain) - x.domain.lowerBound) / x.span * (plotRight - left) }
        func py(_ v: Double) -> Double { plotBottom - (clamp(v, y.domain) - y.domain.lowerBound) / y.span * plotHeight }
        let f = { (v: Double) in ReportText.fixed(v, 1) }

        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(f(width)) \(f(height))\" width=\"\(f(width))\" "
            + "height=\"\(f(height))\" role=\"img\" aria-label=\"\(ReportText.escape(title))\" "
            + "font-family=\"system-ui, sans-serif\" font-size=\"12\">\n"
        svg += "<title>\(ReportText.escape(title))</title>\n<desc>\(ReportText.escape(summary))</desc>\n"
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotRight - left))\" height=\"\(f(plotHeight))\" "
            + "fill=\"#ffffff\" stroke=\"#d0d7de\"/>\n<g class=\"grid\" stroke=\"#e6e9ed\" stroke-width=\"1\">\n"
        for t in x.ticks { svg += "<line x1=\"\(f(px(t)))\" y1=\"\(f(top))\" x2=\"\(f(px(t)))\" y2=\"\(f(plotBottom))\"/>\n" }
        for t in y.ticks { svg += "<line x1=\"\(f(left))\" y1=\"\(f(py(t)))\" x2=\"\(f(plotRight))\" y2=\"\(f(py(t)))\"/>\n" }
        svg += "</g>\n<g class=\"axes\" fill=\"#3d444d\">\n"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(plotBottom))\" x2=\"\(f(plotRight))\" y2=\"\(f(plotBottom))\" stroke=\"#59636e\"/>\n"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(plotBottom))\" stroke=\"#59636e\"/>\n"
        for t in x.ticks {
            svg += "<line x1=\"\(f(px(t)))\" y1=\"\(f(plotBottom))\" x2=\"\(f(px(t)))\" y2=\"\(f(plotBottom + 5))\" stroke=\"#59636e\"/>"
            svg += "<text x=\"\(f(px(t)))\" y=\"\(f(plotBottom + 18))\" text-anchor=\"middle\">\(ReportText.fixed(t, x.decimals))</text>\n"
        }
        for t in y.ticks {
            svg += "<line x1=\"\(f(left - 5))\" y1=\"\(f(py(t)))\" x2=\"\(f(left))\" y2=\"\(f(py(t)))\" stroke=\"#59636e\"/>"
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(ReportText.fixed(t, y.decimals))</text>\n"
        }
        svg += "<text x=\"\(f((left + plotRight) / 2))\" y=\"\(f(plotBottom + 38))\" text-anchor=\"middle\" "
            + "font-weight=\"600\">\(ReportText.escape(xLabel))</text>\n"
        svg += "<text x=\"14\" y=\"\(f((top + plotBottom) / 2))\" text-anchor=\"middle\" font-weight=\"600\" "
            + "transform=\"rotate(-90 14 \(f((top + plotBottom) / 2)))\">\(ReportText.escape(yLabel))</text>\n</g>\n"

        if diagonalLabel != nil {
            let lo = max(x.domain.lowerBound, y.domain.lowerBound), hi = min(x.domain.upperBound, y.domain.upperBound)
            if lo < hi {
                svg += "<line class=\"diagonal\" x1=\"\(f(px(lo)))\" y1=\"\(f(py(lo)))\" x2=\"\(f(px(hi)))\" "
                    + "y2=\"\(f(py(hi)))\" stroke=\"#8c959f\" stroke-width=\"1.5\" stroke-dasharray=\"5 5\"/>\n"
            }
        }
        for (index, s) in series.enumerated() {
            let (colour, dash) = Self.style(index)
            svg += "<g class=\"series\" stroke=\"\(colour)\" fill=\"\(colour)\"><title>\(ReportText.escape(s.name))</title>\n"
            for segment in Self.finiteSegments(s.points) {
                let coordinates = segment.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                svg += "<polyline fill=\"none\" stroke-width=\"2\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") "
                    + "stroke-linejoin=\"round\" points=\"\(coordinates)\"/>\n"
                if s.points.count <= 40 {
                    for p in segment { svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" stroke=\"none\"/>" }
                    svg += "\n"
                }
            }
            svg += "</g>\n"
        }
        if let marker, marker.point.x.isFinite, marker.point.y.isFinite {
            let cx = px(marker.point.x), cy = py(marker.point.y)
            let anchorEnd = cx > (left + plotRight) / 2
            svg += "<g class=\"marker\"><title>\(ReportText.escape(marker.label))</title>"
                + "<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"7\" fill=\"none\" stroke=\"#1f2328\" stroke-width=\"2\"/>"
                + "<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"2.5\" fill=\"#1f2328\"/>"
                + "<text x=\"\(f(anchorEnd ? cx - 12 : cx + 12))\" y=\"\(f(min(cy + 18, plotBottom - 6)))\" "
                + "text-anchor=\"\(anchorEnd ? "end" : "start")\" fill=\"#1f2328\">\(ReportText.escape(marker.label))</text></g>\n"
        }
        svg += legend(top: plotBottom + 52)
        return svg + "</svg>"
    }

    /// The legend: one row per series, then the reference line and the marker.
    private func legend(top legendTop: Double) -> String {
        let f = { (v: Double) in ReportText.fixed(v, 1) }
        var out = "<g class=\"legend\" fill=\"#1f2328\">\n"
        var row = 0
        func rowY() -> Double { legendTop + Double(row) * legendRow }
        for (index, s) in series.enumerated() {
            let (colour, dash) = Self.style(index)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(rowY()))\" x2=\"\(f(left + 30))\" y2=\"\(f(rowY()))\" stroke=\"\(colour)\" "
                + "stroke-width=\"2\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/>"
                + "<circle cx=\"\(f(left + 15))\" cy=\"\(f(rowY()))\" r=\"3\" fill=\"\(colour)\"/>"
                + "<text x=\"\(f(left + 40))\" y=\"\(f(rowY() + 4))\">\(ReportText.escape(s.name))</text>\n"
            row += 1
        }
        if let diagonalLabel {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(rowY()))\" x2=\"\(f(left + 30))\" y2=\"\(f(rowY()))\" stroke=\"#8c959f\" "
                + "stroke-width=\"1.5\" stroke-dasharray=\"5 5\"/>"
                + "<text x=\"\(f(left + 40))\" y=\"\(f(rowY() + 4))\">\(ReportText.escape(diagonalLabel))</text>\n"
            row += 1
        }
        if let marker {
            out += "<circle cx=\"\(f(left + 15))\" cy=\"\(f(rowY()))\" r=\"6\" fill=\"none\" stroke=\"#1f2328\" stroke-width=\"2\"/>"
                + "<text x=\"\(f(left + 40))\" y=\"\(f(rowY() + 4))\">\(ReportText.escape(marker.label))</text>\n"
            row += 1
        }
        if row == 0 {
            out += "<text x=\"\(f(left))\" y=\"\(f(rowY() + 4))\">No data to plot.</text>\n"
        }
        return out + "</g>\n"
    }

    /// The colour and dash pattern of the series at `index`.
    package static func style(_ index: Int) -> (colour: String, dash: String) {
        (palette[index % palette.count], dashes[(index + index / palette.count) % dashes.count])
    }

    /// The runs of consecutive points whose coordinates are both finite (a non-finite point breaks the line).
    package static func finiteSegments(_ points: [CurvePoint]) -> [[CurvePoint]] {
        var segments: [[CurvePoint]] = []
        var current: [CurvePoint] = []
        for p in points {
            if p.x.isFinite, p.y.isFinite {
                current.append(p)
            } else if !current.isEmpty {
                segments.append(current)
                current = []
            }
        }
        if !current.isEmpty { segments.append(current) }
        return segments
    }

    /// An axis: its range, tick values and the decimals the tick labels need.
    package struct Axis: Sendable {
        package var domain: ClosedRange<Double>
        package var ticks: [Double]
        package var decimals: Int
        package var span: Double { domain.upperBound - domain.lowerBound }
    }

    /// The axis for a given range, or for the finite `values` (from 0 when they are non-negative, the top rounded
    /// up to a tick) when `fixed` is `nil`.
    package func axis(_ fixed: ClosedRange<Double>?, values: [Double]) -> Axis {
        var lo: Double, hi: Double
        let given = fixed.flatMap { $0.lowerBound.isFinite && $0.upperBound.isFinite && $0.upperBound > $0.lowerBound ? $0 : nil }
        if let given {
            (lo, hi) = (given.lowerBound, given.upperBound)
        } else {
            let finite = values.filter(\.isFinite)
            lo = min(0, finite.min() ?? 0)
            hi = finite.max() ?? 1
            if hi <= lo { hi = lo + 1 }
        }
        let (factor, exponent) = Self.niceStep((hi - lo) / 5)
        // Tick k is k * factor * 10^exponent, computed so that 0.1-style steps land on their nearest doubles.
        func tick(_ k: Double) -> Double {
            exponent < 0 ? k * factor / ReportText.powerOfTen(-exponent) : k * factor * ReportText.powerOfTen(exponent)
        }
        let step = tick(1)
        var first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        if given == nil {
            first = (lo / step + 1e-9).rounded(.down)
            last = (hi / step - 1e-9).rounded(.up)
            (lo, hi) = (tick(first), tick(last))
        }
        var ticks: [Double] = []
        var k = first
        while k <= last, ticks.count < 50 {
            ticks.append(tick(k) == 0 ? 0 : tick(k))
            k += 1
        }
        return Axis(domain: lo...hi, ticks: ticks, decimals: max(0, -exponent))
    }

    /// A step of 1, 2 or 5 times a power of ten near `raw`: the factor and the power's exponent.
    package static func niceStep(_ raw: Double) -> (factor: Double, exponent: Int) {
        guard raw.isFinite, raw > 0 else { return (1, 0) }
        var exponent = ReportText.decimalExponent(of: raw)
        let residual = raw / ReportText.powerOfTen(exponent)
        let factor: Double
        switch residual {
        case ..<1.5: factor = 1
        case ..<3: factor = 2
        case ..<7: factor = 5
        default:
            factor = 1
            exponent += 1
        }
        return (factor, exponent)
    }

    private func clamp(_ v: Double, _ domain: ClosedRange<Double>) -> Double { min(max(v, domain.lowerBound), domain.upperBound) }
}
