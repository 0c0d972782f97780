// ReportHTML: the robustness report as one self-contained HTML5 page (inline CSS and SVG, no scripts, no URLs).

extension RobustnessReport {
    /// The report as one self-contained HTML5 page for a reviewer: the verdict, coloured by grade, with the model, the
    /// data and the settings; then accuracy under attack, certified accuracy (when run), the detector (when run) and
    /// the most easily flipped examples, each a chart with a plain-language caption and a table of the same numbers.
    ///
    /// The page has inline CSS and inline SVG only: no scripts, no fonts, images, links or any other URL, and a
    /// Content-Security-Policy that forbids loading anything, so it reads the same offline and without JavaScript.
    /// Every string that comes from the report is escaped.
    ///
    /// - Returns: The UTF-8 text of the page.
    public func html() -> String {
        var page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        page += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        page += "<meta name=\"generator\" content=\"\(ReportText.escape(generator))\">\n"
        page += "<title>Robustness report: \(ReportText.escape(model))</title>\n"
        page += "<style>\n\(Self.styleSheet)</style>\n</head>\n<body>\n"
        page += headerHTML()
        page += "<main>\n"
        page += accuracySection()
        if let certified { page += certifiedSection(certified) }
        if let detector { page += detectorSection(detector) }
        page += flipsSection()
        page += "</main>\n"
        page += "<footer><div class=\"wrap\">Generated \(ReportText.escape(generatedAt)) by \(ReportText.escape(generator)). "
            + "This page is self-contained: it runs no scripts and loads nothing from the network. "
            + "The same numbers are in the report's JSON.</div></footer>\n"
        page += "</body>\n</html>\n"
        return page
    }

    /// The grade as a word for the badge.
    package var gradeTitle: String {
        switch grade {
        case .robust: return "Robust"
        case .fragile: return "Fragile"
        case .broken: return "Broken"
        }
    }

    /// The report's norm as people write it ("L∞", "L2").
    package var normName: String { ReportText.normName(norm) }

    /// The verdict banner with the facts about the run.
    private func headerHTML() -> String {
        var facts: [(String, String, String)] = [
            ("Model", ReportText.escape(model), "model"),
            ("Data", ReportText.escape(data), "data"),
            ("Examples", String(examples), "examples"),
            ("Clean accuracy", "\(ReportText.fixed(cleanAccuracy, 4)) (\(ReportText.percent(cleanAccuracy)))", "clean_accuracy"),
            ("Norm", "\(ReportText.escape(normName)) (attack budgets epsilon are measured in this norm)", "norm"),
        ]
        if let inputRange {
            facts.append(("Input range", "\(ReportText.decimal(inputRange.lowerBound)) to "
                + "\(ReportText.decimal(inputRange.upperBound)) (attacks clip to it)", "input_range"))
        } else {
            facts.append(("Input range", "none declared (attacks do not clip)", "input_range"))
        }
        facts.append(("Generated", "\(ReportText.escape(generatedAt)) by \(ReportText.escape(generator))", "generated_at"))
        var out = "<header class=\"verdict grade-\(grade.rawValue)\"><div class=\"wrap\">\n"
        out += "<p class=\"kicker\"><span class=\"badge\" data-key=\"grade\">\(gradeTitle)</span> Robustness report</p>\n"
        out += "<h1 data-key=\"verdict\">\(ReportText.escape(verdict))</h1>\n"
        out += Self.factList(facts)
        return out + "</div></header>\n"
    }

    /// A `<dl>` of (term, already-escaped HTML value, data-key) rows.
    package static func factList(_ facts: [(String, String, String)]) -> String {
        var out = "<dl class=\"facts\">\n"
        for (term, value, key) in facts {
            out += "<dt>\(ReportText.escape(term))</dt><dd data-key=\"\(ReportText.escape(key))\">\(value)</dd>\n"
        }
        return out + "</dl>\n"
    }

    /// A `<table>` with a caption, column headers and rows of already-escaped cells (the first cell of each row is
    /// its header).
    package static func table(caption: String, columns: [String], rows: [[String]]) -> String {
        var out = "<table>\n<caption>\(ReportText.escape(caption))</caption>\n<thead><tr>"
        for column in columns { out += "<th scope=\"col\">\(ReportText.escape(column))</th>" }
        out += "</tr></thead>\n<tbody>\n"
        for row in rows {
            out += "<tr>"
            for (index, cell) in row.enumerated() {
                out += index == 0 ? "<th scope=\"row\">\(cell)</th>" : "<td>\(cell)</td>"
            }
            out += "</tr>\n"
        }
        return out + "</tbody>\n</table>\n"
    }

    /// ``table(caption:columns:rows:)`` inside a `<details>` headed `summary`, so that long tables do not push the
    /// charts apart (the table stays in the page for screen readers, search and copying).
    package static func dataTable(summary: String, caption: String, columns: [String], rows: [[String]]) -> String {
        "<details class=\"numbers\"><summary>\(ReportText.escape(summary))</summary>\n<div class=\"table-wrap\">"
            + table(caption: caption, columns: columns, rows: rows) + "</div>\n</details>\n"
    }

    /// The page's style sheet: system fonts, the grade colours, and layout for charts, tables and images.
    static let styleSheet = """
        :root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; }
        * { box-sizing: border-box; }
        body { margin: 0; color: var(--ink); background: #ffffff;
          font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        .wrap, main { max-width: 980px; margin: 0 auto; padding: 0 20px; }
        header.verdict { background: var(--grade-bg); border-bottom: 5px solid var(--grade); padding: 18px 0 20px; }
        .grade-robust { --grade: #1a7f37; --grade-bg: #dafbe1; }
        .grade-fragile { --grade: #9a6700; --grade-bg: #fff8c5; }
        .grade-broken { --grade: #cf222e; --grade-bg: #ffebe9; }
        .kicker { margin: 0; color: var(--muted); font-size: 13px; }
        .badge { display: inline-block; margin-right: 8px; padding: 1px 10px; border-radius: 4px; background: var(--grade);
          color: #ffffff; font-weight: 700; letter-spacing: 0.06em; text-transform: uppercase; }
        h1 { margin: 8px 0 14px; font-size: 23px; line-height: 1.3; overflow-wrap: anywhere; }
        h2 { margin: 36px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--line); font-size: 20px; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 18px; margin: 0; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
        section dl.facts { margin: 10px 0; }
        p.caption { max-width: 75ch; color: #3d444d; }
        figure { margin: 12px 0; }
        svg.chart { display: block; max-width: 100%; height: auto; }
        details.numbers { margin: 8px 0 4px; }
        details.numbers summary { cursor: pointer; color: #0550ae; }
        .table-wrap { max-height: 420px; overflow: auto; }
        table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; font-size: 14px; }
        caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
        th, td { border: 1px solid var(--line); padding: 2px 10px; text-align: right; }
        thead th { background: #f6f8fa; }
        .flips { display: flex; flex-wrap: wrap; gap: 14px; }
        .flip { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 0; }
        .flip > figcaption { font-weight: 600; margin-bottom: 6px; }
        .flip .images { display: flex; gap: 10px; align-items: flex-start; }
        .flip .images figure { margin: 0; text-align: center; font-size: 12px; color: var(--muted); }
        svg.pixels { display: block; }
        .empty { color: var(--muted); font-style: italic; }
        footer { margin-top: 40px; padding: 14px 0; border-top: 1px solid var(--line); color: var(--muted); font-size: 13px; }

        """
}
