// ReportRenderingTests: the robustness report's HTML page (self-contained, escaped, one SVG per chart, nil sections
// left out) and its JSON (parses back, documented keys, null for missing sections and non-finite numbers).

import Foundation
import MLSecCore
import MLSecRobustness
import Testing

/// A report like `mlsec robustness report` makes for the digits MLP: three attacks, smoothing, the detector and three
/// flipped 8x8 images (values 0...16).
private func sampleReport(model: String = "digits-mlp", certified: Bool = true, detector: Bool = true,
                  imageShape: [Int]? = [8, 8]) -> RobustnessReport {
    let epsilons = [0, 0.5, 1, 2, 4]
    func curve(_ name: String, _ key: String, _ accuracies: [Double]) -> Curve {
        Curve(name: name, key: key, points: zip(epsilons, accuracies).map { CurvePoint(x: $0, y: $1) })
    }
    let roc = [(0, 0), (0.01, 0.35), (0.05, 0.71), (0.1, 0.83), (0.3, 0.95), (1, 1)].map { CurvePoint(x: $0.0, y: $0.1) }
    let flips = (0..<3).map { index -> FlipExample in
        let original = (0..<64).map { Float(($0 * 7 + index * 5) % 17) }
        let adversarial = original.enumerated().map { i, v in min(16, max(0, v + (i % 3 == 0 ? 0.5 : -0.5))) }
        return FlipExample(row: [12, 40, 7][index], label: [3, 8, 5][index], adversarialPrediction: [8, 3, 9][index],
                           epsilon: [0.5, 0.5, 1][index], original: original, adversarial: adversarial)
    }
    return RobustnessReport(
        model: model, data: "digits-test", examples: 360, cleanAccuracy: 0.9722, norm: "inf", inputRange: 0...16,
        attacks: [
            curve("FGSM (L∞)", "fgsm", [0.9722, 0.81, 0.55, 0.21, 0.04]),
            curve("PGD (L∞, 40 steps)", "pgd", [0.9722, 0.70, 0.31, 0.02, 0]),
            curve("HopSkipJump (decision-based)", "hsj", [0.9722, 0.90, 0.74, 0.40, 0.10]),
        ],
        certified: certified ? Curve(name: "Smoothed classifier", key: "smoothing",
                                     points: [(0, 0.91), (0.25, 0.8), (0.5, 0.62), (1, 0.3)].map { CurvePoint(x: $0.0, y: $0.1) })
            : nil,
        smoothingSigma: certified ? 0.5 : nil, smoothingSamples: certified ? 1000 : nil, abstainRate: certified ? 0.06 : nil,
        detector: detector ? DetectorSummary(roc: roc, auc: 0.912, threshold: 0.1834, operatingPoint: CurvePoint(x: 0.05, y: 0.71),
                                             targetFalsePositiveRate: 0.05, attackedWith: "PGD L∞ eps 1")
            : nil,
        flips: flips, imageShape: imageShape, grade: .fragile,
        verdict: "Fragile: PGD (L∞) drops accuracy from 0.97 to 0.31 at eps 1",
        generatedAt: "2025-01-02T03:04:05Z", generator: "mlsec 0.9.0")
}

private func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

@Suite("Robustness report rendering")
struct ReportRenderingTests {
    @Test func pageIsSelfContainedWithOneSVGPerChart() throws {
        let report = sampleReport()
        let html = report.html()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
        #expect(html.contains("<title>Robustness report: digits-mlp</title>"))
        let lower = html.lowercased()
        for forbidden in ["<script", "http://", "https://", "//", "src=", "href=", "url(", "@import", "javascript:", " onload="] {
            #expect(!lower.contains(forbidden), "page contains \(forbidden)")
        }
        #expect(count("<svg class=\"chart\"", in: html) == 3)  // accuracy, certified, ROC
        #expect(count("<svg class=\"pixels\"", in: html) == 9)  // 3 flips x (original, adversarial, change)
        #expect(count("<svg", in: html) == 12)
        #expect(count("role=\"img\"", in: html) == 12)
        #expect(html.contains(ReportText.escape(report.verdict)))
        #expect(html.contains("class=\"verdict grade-fragile\""))
        for id in ["accuracy", "certified", "detector", "flips"] { #expect(html.contains("<section id=\"\(id)\"")) }
        // Every chart has a table of its numbers.
        #expect(count("<table>", in: html) == 4)
        #expect(html.contains("<td>0.3100</td>"))  // PGD at eps 1
        #expect(html.contains("0.9120"))  // AUC
        #expect(html.contains("Row 12: label 3 → 8 at ε 0.5"))
        #expect(count("<section", in: html) == count("</section>", in: html))
        #expect(count("<svg", in: html) == count("</svg>", in: html))
        #expect(count("<figure", in: html) == count("</figure>", in: html))
    }

    @Test func dataIsEscapedEverywhere() throws {
        let hostile = "<b>&\"x\"</b>'"
        var report = sampleReport(model: hostile)
        report.data = "<script>alert(1)</script>"
        report.verdict = "Broken: <i>everything</i> & more"
        report.attacks[0].name = "FGSM <svg onload=x>"
        report.detector?.attackedWith = "PGD \"quoted\" <tag>"
        report.generator = "mlsec \"1\" <x>"
        let html = report.html()
        #expect(!html.contains(hostile))
        #expect(html.contains("&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;&#39;"))
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("<i>everything"))
        #expect(!html.contains("<svg onload"))
        #expect(!html.contains("<tag>"))
        #expect(html.contains("Broken: &lt;i&gt;everything&lt;/i&gt; &amp; more"))
        #expect(html.contains("FGSM &lt;svg onload=x&gt;"))
    }

    @Test func missingSectionsAreLeftOut() throws {
        let report = sampleReport(certified: false, detector: false)
        let html = report.html()
        #expect(!html.contains("id=\"certified\""))
        #expect(!html.contains("id=\"detector\""))
        #expect(count("<svg class=\"chart\"", in: html) == 1)
        let json = report.json
        #expect(json["certified"] == .null)
        #expect(json["detector"] == .null)
        #expect(json["attacks"]?["pgd"] != nil)

        var empty = report
        empty.attacks = []
        empty.flips = []
        let emptyHTML = empty.html()
        #expect(!emptyHTML.contains("<svg"))
        #expect(emptyHTML.contains("No attack was run."))
        #expect(emptyHTML.contains("No flipped examples were recorded"))
    }

    @Test func tabularFlipsListTheFeaturesChangedMost() throws {
        let html = sampleReport(imageShape: nil).html()
        #expect(count("<svg class=\"pixels\"", in: html) == 0)
        #expect(count("<caption>Features changed most</caption>", in: html) == 3)
        // A shape that does not fit the values falls back to the table too.
        #expect(count("<caption>Features changed most</caption>", in: sampleReport(imageShape: [7, 9]).html()) == 3)
    }

    @Test func jsonParsesBackWithTheDocumentedKeys() throws {
        let report = sampleReport()
        let text = report.jsonText
        let parsed = try JSONParser().parse(Array(text.utf8))
        #expect(parsed == report.json)
        let keys = parsed.objectValue?.map(\.0) ?? []
        #expect(keys == ["model", "data", "examples", "clean_accuracy", "norm", "input_range", "attacks", "certified",
                         "detector", "flips", "image_shape", "grade", "verdict", "generated_at", "generator"])
        #expect(parsed["clean_accuracy"] == .number("0.9722"))
        #expect(parsed["input_range"] == .array([.number("0"), .number("16")]))
        #expect(parsed["attacks"]?.objectValue?.map(\.0) == ["fgsm", "pgd", "hsj"])
        #expect(parsed["attacks"]?["pgd"]?["name"]?.stringValue == "PGD (L∞, 40 steps)")
        #expect(parsed["attacks"]?["pgd"]?["points"]?.arrayValue?[2] == .array([.number("1"), .number("0.31")]))
        let certified = try #require(parsed["certified"])
        #expect(certified.objectValue?.map(\.0) == ["sigma", "samples", "abstain_rate", "certified_accuracy"])
        #expect(certified["certified_accuracy"]?.objectValue?.map(\.0) == ["0.0", "0.25", "0.5", "1.0"])
        #expect(certified["samples"] == .int(1000))
        let detector = try #require(parsed["detector"])
        #expect(detector.objectValue?.map(\.0) == ["roc", "auc", "threshold", "operating_point",
                                                   "target_false_positive_rate", "attacked_with"])
        #expect(detector["operating_point"]?["true_positive_rate"] == .number("0.71"))
        let flips = try #require(parsed["flips"]?.arrayValue)
        #expect(flips.count == 3)
        #expect(flips[0].objectValue?.map(\.0) == ["row", "label", "adversarial_prediction", "epsilon", "original", "adversarial"])
        #expect(flips[0]["original"]?.arrayValue?.count == 64)
        #expect(parsed["image_shape"] == .array([.int(8), .int(8)]))
        #expect(parsed["grade"]?.stringValue == "fragile")
    }

    @Test func nonFiniteNumbersBecomeNull() throws {
        var report = sampleReport()
        report.cleanAccuracy = .nan
        report.attacks[0].points[1].y = .infinity
        report.flips[0].original[0] = .nan
        report.inputRange = nil
        let text = report.jsonText
        #expect(!text.contains("nan") && !text.contains("inf,") && !text.contains("inf]"))  // and it parses: no NaN or infinity
        let parsed = try JSONParser().parse(Array(text.utf8))
        #expect(parsed["clean_accuracy"] == .null)
        #expect(parsed["input_range"] == .null)
        #expect(parsed["attacks"]?["fgsm"]?["points"]?.arrayValue?[1] == .array([.number("0.5"), .null]))
        #expect(parsed["flips"]?.arrayValue?[0]["original"]?.arrayValue?[0] == .null)
        // The page still renders, with the broken point left out of the line.
        let html = report.html()
        #expect(!html.contains("nan,") && !html.contains(",nan"))
        #expect(html.contains("n/a"))
    }

    @Test func numbersFormatDeterministically() {
        #expect(ReportText.fixed(0.125, 2) == "0.13")
        #expect(ReportText.fixed(-0.0001, 2) == "0.00")
        #expect(ReportText.fixed(-1.25, 1) == "-1.3")
        #expect(ReportText.fixed(3, 0) == "3")
        #expect(ReportText.fixed(0.05, 3) == "0.050")
        #expect(ReportText.fixed(.nan, 2) == "n/a")
        #expect(ReportText.significant(0.970000001) == "0.97")
        #expect(ReportText.significant(0.0625) == "0.0625")
        #expect(ReportText.significant(1234567.8) == "1234568")
        #expect(ReportText.significant(0.00012345678) == "0.000123457")
        #expect(ReportText.significant(1e-12) == "1e-12")
        #expect(ReportText.significant(-0.5) == "-0.5")
        #expect(ReportText.significant(.infinity) == nil)
        #expect(ReportText.decimal(0) == "0.0")
        #expect(ReportText.decimal(0.25) == "0.25")
        #expect(ReportText.decimal(1) == "1.0")
        #expect(ReportText.escape("a<b>&\"c\"'\u{1}") == "a&lt;b&gt;&amp;&quot;c&quot;&#39;\u{FFFD}")
        #expect(ReportText.normName("inf") == "L∞")
        #expect(ReportText.normName("2") == "L2")
    }

    @Test func chartAxesUseNiceTicks() {
        let chart = SVGChart(title: "t", summary: "s", xLabel: "x", yLabel: "y",
                             series: [.init(name: "a", points: [CurvePoint(x: 0, y: 0.2), CurvePoint(x: 0.3, y: 0.9)])],
                             yDomain: 0...1)
        let x = chart.axis(nil, values: [0, 0.3])
        #expect(x.domain == 0...0.3)
        #expect(x.ticks.map { ReportText.fixed($0, x.decimals) } == ["0.00", "0.05", "0.10", "0.15", "0.20", "0.25", "0.30"])
        let y = chart.axis(0...1, values: [])
        #expect(y.ticks.map { ReportText.fixed($0, y.decimals) } == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let flat = chart.axis(nil, values: [0, 0])
        #expect(flat.domain == 0...1)
        let svg = chart.render()
        #expect(svg.hasPrefix("<svg class=\"chart\"") && svg.hasSuffix("</svg>"))
        #expect(svg.contains("<title>t</title>") && svg.contains("aria-label=\"t\""))
        #expect(SVGChart.finiteSegments([CurvePoint(x: 0, y: 0), CurvePoint(x: .nan, y: 1), CurvePoint(x: 1, y: 1)]).count == 2)
    }

    @Test func largeImagesAreBlockAveraged() throws {
        let values = (0..<(100 * 100)).map { Float($0 % 100) }
        let grid = try #require(FlipImages.grid(values, shape: [100, 100]))
        #expect(grid.height == 50 && grid.width == 50)
        #expect(grid.values[0] == 0.5)
        #expect(FlipImages.grid(values, shape: [10, 10]) == nil)
        #expect(FlipImages.grid(values, shape: [Int.max, 2]) == nil)
        #expect(FlipImages.grid(values, shape: [-100, -100]) == nil)
        #expect(FlipImages.grey(8, in: 0...16) == 128)
        #expect(FlipImages.grey(-3, in: 0...16) == 0)
        #expect(FlipImages.hex(FlipImages.diverging(0)) == "#ffffff")
        #expect(FlipImages.hex(FlipImages.diverging(1)) == "#b2182b")
        #expect(FlipImages.hex(FlipImages.diverging(-1)) == "#2166ac")
    }

    /// Writes the sample page and JSON to `$MLSEC_REPORT_SAMPLE_DIR` for a look in a browser (off unless set).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MLSEC_REPORT_SAMPLE_DIR"] != nil))
    func writeSampleForInspection() throws {
        let dir = try #require(ProcessInfo.processInfo.environment["MLSEC_REPORT_SAMPLE_DIR"])
        let report = sampleReport(model: "digits-mlp <b>&\"x\"")
        try report.html().write(toFile: dir + "/sample-report.html", atomically: true, encoding: .utf8)
        try report.jsonText.write(toFile: dir + "/sample-report.json", atomically: true, encoding: .utf8)
    }
}
