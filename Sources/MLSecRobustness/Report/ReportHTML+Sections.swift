// ReportHTML+Sections: the report page's sections (accuracy under attack, certified accuracy, detector, flipped
// examples), each a caption for reviewers, a chart and a table of the chart's numbers.

extension RobustnessReport {
    /// Section start: `<section>` with an `<h2>` and a caption paragraph (already-escaped HTML).
    private static func sectionStart(id: String, title: String, caption: String) -> String {
        "<section id=\"\(id)\" aria-labelledby=\"\(id)-title\">\n<h2 id=\"\(id)-title\">\(ReportText.escape(title))</h2>\n"
            + "<p class=\"caption\">\(caption)</p>\n"
    }

    /// "name: accuracy 0.97 at epsilon 0 to 0.12 at epsilon 0.3" for a chart's description.
    private static func describe(_ curve: Curve, x: String, y: String) -> String {
        let finite = curve.points.filter { $0.x.isFinite && $0.y.isFinite }
        guard let first = finite.first, let last = finite.last else { return "\(curve.name): no points" }
        return "\(curve.name): \(y) \(ReportText.fixed(first.y, 3)) at \(x) \(ReportText.decimal(first.x)) to "
            + "\(ReportText.fixed(last.y, 3)) at \(x) \(ReportText.decimal(last.x))"
    }

    /// Accuracy against epsilon, one line per attack.
    package func accuracySection() -> String {
        let norm = ReportText.escape(normName)
        var out = Self.sectionStart(id: "accuracy", title: "Accuracy under attack", caption: """
            Each line is one attack. Across the bottom is the attack budget epsilon: the largest change the attacker \
            may make to an input, measured in the \(norm) norm. Up the side is the share of the \(examples) test \
            examples the model still classifies correctly; at epsilon 0 this is the clean accuracy \
            (\(ReportText.fixed(cleanAccuracy, 4))). A robust model&#39;s lines stay high as epsilon grows. A line \
            that falls steeply near 0 means that small changes, often invisible to a person, change the model&#39;s \
            answers. Judge the model by the lowest line: the strongest attack.
            """)
        guard !attacks.isEmpty else { return out + "<p class=\"empty\">No attack was run.</p>\n</section>\n" }
        let chart = SVGChart(
            title: "Accuracy under attack against epsilon (\(normName))",
            summary: attacks.map { Self.describe($0, x: "epsilon", y: "accuracy") }.joined(separator: "; ") + ".",
            xLabel: "epsilon (\(normName) budget)", yLabel: "accuracy", series: attacks.map { .init(name: $0.name, points: $0.points) },
            yDomain: 0...1)
        out += "<figure>\n\(chart.render())\n</figure>\n"
        // One row per epsilon of any attack, one column per attack.
        var epsilons: [(Double, String)] = []
        for curve in attacks {
            for point in curve.points where !epsilons.contains(where: { $0.1 == ReportText.decimal(point.x) }) {
                epsilons.append((point.x, ReportText.decimal(point.x)))
            }
        }
        epsilons.sort { ($0.0.isNaN ? .infinity : $0.0) < ($1.0.isNaN ? .infinity : $1.0) }
        let rows = epsilons.map { epsilon in
            [epsilon.1] + attacks.map { curve in
                curve.points.first { ReportText.decimal($0.x) == epsilon.1 }.map { ReportText.fixed($0.y, 4) } ?? "–"
            }
        }
        out += Self.dataTable(summary: "Numbers behind the chart", caption: "Accuracy by attack and epsilon (\(normName))",
                              columns: ["epsilon"] + attacks.map(\.name), rows: rows)
        return out + "</section>\n"
    }

    /// Certified accuracy of randomized smoothing against the L2 radius.
    package func certifiedSection(_ certified: Curve) -> String {
        let sigma = smoothingSigma.map { ReportText.decimal($0) } ?? "not recorded"
        let samples = smoothingSamples.map(String.init) ?? "not recorded"
        let abstain = abstainRate.map { "\(ReportText.fixed($0, 4)) (\(ReportText.percent($0)))" } ?? "not recorded"
        var out = Self.sectionStart(id: "certified", title: "Certified accuracy", caption: """
            Randomized smoothing classifies many copies of each input with random Gaussian noise added (sigma \
            \(sigma), \(samples) noisy copies per example) and takes the majority vote. Where the vote is clear \
            enough, it proves that no change smaller than a radius r, measured in the L2 norm, can alter the answer. \
            Certified accuracy at radius r is the share of test examples that are classified correctly and proven \
            stable at that radius. It is a guarantee against every attack of that size, not a measurement of one \
            attack, so it is usually lower than the accuracy under attack. Examples whose vote was too close get no \
            answer (they abstain) and count as wrong at every radius.
            """)
        out += Self.factList([
            ("Noise sigma", sigma, "smoothing_sigma"), ("Noisy samples per example", samples, "smoothing_samples"),
            ("Abstain rate", abstain, "abstain_rate"),
        ])
        let chart = SVGChart(
            title: "Certified accuracy against L2 radius",
            summary: Self.describe(certified, x: "radius", y: "certified accuracy") + ".",
            xLabel: "L2 radius", yLabel: "certified accuracy",
            series: [.init(name: certified.name, points: certified.points)], yDomain: 0...1)
        out += "<figure>\n\(chart.render())\n</figure>\n"
        out += Self.dataTable(summary: "Numbers behind the chart", caption: "Certified accuracy by L2 radius",
                              columns: ["L2 radius", "certified accuracy"],
                              rows: certified.points.map { [ReportText.decimal($0.x), ReportText.fixed($0.y, 4)] })
        return out + "</section>\n"
    }

    /// The detector's ROC curve with its operating point.
    package func detectorSection(_ detector: DetectorSummary) -> String {
        let target = ReportText.percent(detector.targetFalsePositiveRate)
        let caught = ReportText.percent(detector.operatingPoint.y)
        let attack = ReportText.escape(detector.attackedWith)
        var out = Self.sectionStart(id: "detector", title: "Detector", caption: """
            The detector (feature squeezing) compares the model&#39;s answer on an input with its answers on \
            simplified copies of it, and flags the input when they disagree by more than a threshold. The ROC curve \
            shows, for every possible threshold, the share of adversarial examples flagged (true-positive rate, up \
            the side) against the share of clean examples wrongly flagged (false-positive rate, across the bottom). \
            The dashed diagonal is a detector that guesses at random; the nearer the curve runs to the top-left \
            corner and the nearer the AUC (area under the curve) is to 1, the better. The circled point is the \
            threshold in use, calibrated to flag at most \(target) of clean inputs; there it flags \(caught) of the \
            adversarial examples (\(attack)).
            """)
        let operating = "false-positive rate \(ReportText.fixed(detector.operatingPoint.x, 4)), "
            + "true-positive rate \(ReportText.fixed(detector.operatingPoint.y, 4))"
        out += Self.factList([
            ("AUC", ReportText.fixed(detector.auc, 4), "auc"),
            ("Threshold", ReportText.significant(detector.threshold) ?? "n/a", "threshold"),
            ("Target false-positive rate", "\(ReportText.fixed(detector.targetFalsePositiveRate, 4)) (\(target))",
             "target_false_positive_rate"),
            ("Operating point", operating, "operating_point"),
            ("Scored on", attack, "attacked_with"),
        ])
        let chart = SVGChart(
            title: "Detector ROC curve, AUC \(ReportText.fixed(detector.auc, 3))",
            summary: "ROC curve of the detector on clean against adversarial examples (\(detector.attackedWith)); "
                + "operating point at \(operating).",
            xLabel: "false-positive rate (clean inputs flagged)", yLabel: "true-positive rate (attacks flagged)",
            series: [.init(name: "ROC, \(detector.attackedWith) (AUC \(ReportText.fixed(detector.auc, 3)))", points: detector.roc)],
            xDomain: 0...1, yDomain: 0...1,
            marker: .init(point: detector.operatingPoint,
                          label: "threshold \(ReportText.significant(detector.threshold, 4) ?? "n/a")"),
            diagonalLabel: "chance (a detector that guesses)")
        out += "<figure>\n\(chart.render())\n</figure>\n"
        out += Self.dataTable(summary: "Numbers behind the chart", caption: "ROC curve points",
                              columns: ["false-positive rate", "true-positive rate"],
                              rows: detector.roc.map { [ReportText.fixed($0.x, 4), ReportText.fixed($0.y, 4)] })
        return out + "</section>\n"
    }

    /// The examples that flip with the smallest budget: images when the input is an image, else the features changed most.
    package func flipsSection() -> String {
        let norm = ReportText.escape(normName)
        let range = FlipImages.greyRange(of: self)
        let drawn = flips.contains { FlipImages.grid($0.original, shape: imageShape) != nil }
        var caption = """
            These are the test examples an attack changed with the smallest budget: the model&#39;s least stable \
            decisions, most fragile first. Each is captioned with its row in the data (counting from 0, header \
            excluded), its label, the model&#39;s answer on the adversarial version and the budget epsilon (\(norm)) \
            that was enough.
            """
        if drawn {
            caption += """
                 Each shows the original input, the adversarial input the attack made from it, and the change \
                between them (red: value increased, blue: decreased, white: unchanged; scaled to the example&#39;s \
                largest change). Greys run from black at \(ReportText.decimal(range.lowerBound)) to white at \
                \(ReportText.decimal(range.upperBound)). If the two inputs look alike to you but the answers differ, \
                the model relies on details a person would not.
                """
        } else {
            caption += " For each, the table lists the features the attack changed most."
        }
        var out = Self.sectionStart(id: "flips", title: "Most easily flipped examples", caption: caption)
        guard !flips.isEmpty else {
            return out + "<p class=\"empty\">No flipped examples were recorded: no attack changed an answer within "
                + "the budgets tried, or none was run.</p>\n</section>\n"
        }
        out += "<div class=\"flips\">\n"
        for flip in flips {
            out += "<figure class=\"flip\"><figcaption>Row \(flip.row): label \(flip.label) → "
                + "\(flip.adversarialPrediction) at ε \(ReportText.decimal(flip.epsilon))</figcaption>\n"
            if let images = FlipImages.images(of: flip, shape: imageShape, greyRange: range) {
                out += "<div class=\"images\">\(images)</div>\n"
            } else {
                let changes = FlipImages.largestChanges(of: flip)
                out += changes.isEmpty
                    ? "<p class=\"empty\">No feature changed.</p>\n"
                    : Self.table(caption: "Features changed most", columns: ["feature", "original", "adversarial", "change"],
                                 rows: changes.map { c in
                                     [String(c.feature), ReportText.significant(c.original, 4) ?? "n/a",
                                      ReportText.significant(c.adversarial, 4) ?? "n/a",
                                      ReportText.significant(c.adversarial - c.original, 4) ?? "n/a"]
                                 })
            }
            out += "</figure>\n"
        }
        out += "</div>\n"
        out += Self.dataTable(summary: "Numbers behind the examples", caption: "Flipped examples, most fragile first",
                              columns: ["row", "label", "adversarial prediction", "epsilon (\(normName))"],
                              rows: flips.map { [String($0.row), String($0.label), String($0.adversarialPrediction),
                                                 ReportText.decimal($0.epsilon)] })
        return out + "</section>\n"
    }
}
