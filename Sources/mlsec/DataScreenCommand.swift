// DataScreenCommand.swift: `mlsec data screen`: label-flip, duplicate, outlier and train/test leak suspects.

import ArgumentParser
import Foundation
import MLSecCore
import MLSecData
import MLSecEngine

extension DataCommand {
    struct Screen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "screen",
            abstract: "Rank suspect rows of labelled data: flipped labels, duplicates, outliers, train/test leaks. Exit 0 none, 1 some, 2 error.",
            discussion: """
                DATA is a CSV file with a header row (or digits, digits-train, digits-test: the bundled digits). \
                Numeric columns are features; text columns with at most 32 values are one-hot encoded, others \
                excluded; missing values (empty, NA, NaN, null, ?) take the column's median. Each is reported.
                Kinds and scores (each in [0, 1], comparable within a kind; suspects are sorted by score):
                  label-flip  weighted share of the k nearest neighbours voting for other labels (reported at \
                --label-flip-threshold when the neighbours' favourite other label outvotes the row's own)
                  duplicate   1 for an identical earlier row, 1 - distance/radius for a near one (of_row: the earlier row)
                  outlier     1 - 1/r, r: the row's squared robust Mahalanobis distance over its class's median
                  leak        like duplicate, for rows of --test (row: the test file's row, train_row: DATA's row)
                The radius is --near-duplicate-radius times the median nearest-neighbour distance (standardised).
                Example:
                  mlsec data screen train.csv --label-column label --test test.csv --format json
                """)

        @Argument(help: "The labelled data: a CSV file with a header row.") var data: String
        @Option(name: .customLong("label-column"), help: "The label column's name.") var labelColumn: String
        @Option(help: "A test CSV file to check for rows copied from DATA (leaks).") var test: String?
        @Option(help: "text or json.") var format: TextOrJSON = .text
        @Option(help: "Neighbours per row for the label-flip screen.") var neighbours = 10
        @Option(name: .customLong("label-flip-threshold"), help: "Least label-flip score reported.") var labelFlipThreshold = 0.85
        @Option(name: .customLong("near-duplicate-radius"), help: "Near-duplicate radius, a fraction of the median nearest-neighbour distance (0: exact copies only).")
        var nearDuplicateRadius = 0.1
        @Option(name: .customLong("outlier-threshold"), help: "Least outlier score reported (0.95: r of 20).") var outlierThreshold = 0.95
        @Option(name: .customLong("max-rows"), help: "Most rows per file (the screens compare every pair of rows).") var maxRows = 50_000
        @Option(help: "Suspects shown in the text table.") var top = 30

        func run() async throws {
            var options = DataScreen.Options()
            options.neighbours = neighbours
            options.labelFlipThreshold = labelFlipThreshold
            options.nearDuplicateRadius = nearDuplicateRadius
            options.outlierThreshold = outlierThreshold
            options.maxRows = maxRows
            let report: ScreenReport
            if !FileStatus.exists(data), let digits = Digits.named(data) {
                let table = try ScreenTable(featureNames: digits.featureNames, rows: digits.features,
                                            labels: (digits.labels ?? []).map(String.init))
                let testTable = try test.map { path -> ScreenTable in
                    let bytes = try ReadOnlyFile.readAll(path, maxBytes: DataScreen.maxFileBytes, what: "CSV file")
                    return try ScreenTable.csv(bytes: bytes, context: path, labelColumn: labelColumn, schema: table.columns, maxRows: maxRows)
                }
                report = try DataScreen.screen(table, test: testTable, options: options)
            } else {
                report = try DataScreen.screen(data: data, labelColumn: labelColumn, test: test, options: options)
            }
            switch format {
            case .json: printJSON(report.json)
            case .text: printTable(report)
            }
            if !report.suspects.isEmpty { throw ExitCode(1) }
        }

        func printTable(_ report: ScreenReport) {
            let counts = SuspectKind.allCases.map { "\($0.rawValue) \(report.count($0))" }.joined(separator: ", ")
            print("screened \(report.rows) rows, \(report.features) features, \(report.classes.count) labels"
                + (report.testRows.map { "; test file \($0) rows" } ?? "") + String(format: " in %.2f s", report.seconds))
            print("suspects: \(counts)")
            for note in report.notes { print("note: \(note.file) column \(note.column): \(note.action) (\(note.count)): \(note.detail)") }
            for skip in report.skipped { print("skipped: \(skip)") }
            guard !report.suspects.isEmpty else { print("no suspects"); return }
            print("")
            print(pad("row", 7) + pad("kind", 12) + pad("score", 8) + "detail")
            for s in report.suspects.prefix(top) {
                print(pad(String(s.row), 7) + pad(s.kind.rawValue, 12) + pad(String(format: "%.3f", s.score), 8) + detail(s))
            }
            if report.suspects.count > top { print("… \(report.suspects.count - top) more (--top N, or --format json for all)") }
        }

        func detail(_ s: ScreenSuspect) -> String {
            switch s.kind {
            case .labelFlip:
                return "label \(s.label ?? "?"), neighbours say \(s.suggestedLabel ?? "?")"
                    + (s.suggestedLabelShare.map { String(format: " (%.0f%%)", $0 * 100) } ?? "")
            case .duplicate:
                return "\(s.exact == true ? "copy" : "near copy") of row \(s.relatedRow ?? -1)"
                    + (s.label != s.relatedLabel ? " with another label (\(s.relatedLabel ?? "?"))" : "")
            case .outlier:
                return "class \(s.label ?? "?"), " + String(format: "%.0f", s.ratio ?? 0) + "x the class's median squared distance"
            case .leak:
                return "\(s.exact == true ? "copy" : "near copy") of DATA row \(s.relatedRow ?? -1)"
            }
        }

        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
        }
    }
}
