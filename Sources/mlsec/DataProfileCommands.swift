// DataProfileCommands: `mlsec data profile` (a schema learnt from data) and `mlsec data validate` (data held to it).

import ArgumentParser
import Foundation
import MLSecCore
import MLSecData

extension DataCommand {
    struct Profile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "profile",
            abstract: "Learn a CSV dataset's schema: column types, ranges, categories, missing rates, distributions.",
            discussion: """
                One pass with bounded memory. A numeric column's allowed min and max are its observed range \
                widened: a column seen within [0, 1] is held to [0, 1]; otherwise each side moves out by \
                --range-slack times the larger of the column's span and the median span of the numeric columns, \
                and a column never seen negative stays non-negative. The schema is JSON made to be read and \
                edited: set a column's min and max to its real domain, add categories, raise max_missing_rate, or \
                change which anomaly kinds are "blocking".
                Example:
                  mlsec data profile train.csv --label-column label --out train.schema.json
                """)

        @Argument(help: "A CSV file with a header row.") var data: String
        @Option(help: "Where to write the schema.") var out: String
        @Option(name: .customLong("label-column"), help: "The label column (its distribution is kept).") var labelColumn: String?
        @Option(name: .customLong("range-slack"), help: "How far the allowed range reaches past the observed one (see above).")
        var rangeSlack = 0.25
        @Flag(help: "Overwrite --out.") var force = false

        func validate() throws {
            guard rangeSlack.isFinite, rangeSlack >= 0, rangeSlack <= 100 else { throw ValidationError("--range-slack must be 0...100") }
        }

        func run() async throws {
            if !force, FileStatus.exists(out) { throw MLSecError(.alreadyExists, "\(out) exists; pass --force to overwrite it") }
            let start = ContinuousClock.now
            let schema = try DatasetSchema.profile(path: data, labelColumn: labelColumn, rangeSlack: rangeSlack)
            let seconds = Double((ContinuousClock.now - start) / .microseconds(1)) / 1e6
            try AtomicFile.write(JSONWriter.string(schema.json, options: .init(pretty: true)) + "\n", to: out, overwrite: true)
            printJSON(.object([
                ("out", .string(out)), ("rows", .int(schema.rows)), ("columns", .int(schema.columns.count)),
                ("types", .object(Dictionary(grouping: schema.columns, by: \.type.rawValue).sorted { $0.key < $1.key }.map { ($0.key, .int($0.value.count)) })),
                ("duplicate_rate", decimal(schema.duplicateRate)), ("seconds", .number(String(format: "%.3f", seconds))),
            ]))
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate",
            abstract: "Check a CSV dataset against a schema: exit 0 valid, 1 a blocking anomaly, 2 error.",
            discussion: """
                Anomalies: missing_column, unexpected_column, type_error, out_of_range, unseen_category, missing \
                (rate above the allowance), duplicates, drift (population stability index over drift_threshold), \
                label_shift (total-variation distance over label_shift_threshold). Rows are 0-based, header \
                excluded (the first 100 of each anomaly). The schema's "blocking" list decides which kinds fail.
                Example:
                  mlsec data validate incoming.csv --schema train.schema.json --format json
                """)

        @Argument(help: "A CSV file with a header row.") var data: String
        @Option(help: "The schema from `mlsec data profile`.") var schema: String
        @Option(help: "text or json.") var format: TextOrJSON = .text

        func run() async throws {
            let expected = try DatasetSchema(bytes: try ReadOnlyFile.readAll(schema, maxBytes: DatasetSchema.maxFileBytes, what: "schema"),
                                             context: schema)
            let report = try DataValidation.validate(path: data, schema: expected)
            switch format {
            case .json:
                printJSON(.object([
                    ("valid", .bool(report.isValid)), ("rows", .int(report.rows)),
                    ("anomalies", .array(report.anomalies.map { a in
                        .object([
                            ("column", a.column.map { .string($0) } ?? .null), ("kind", .string(a.kind)),
                            ("rows", .array(a.rows.map { .int($0) })), ("count", .int(a.count)),
                            ("severity", .string(a.blocking ? "blocking" : "warning")), ("detail", .string(a.detail)),
                        ])
                    })),
                ]))
            case .text:
                print(report.isValid ? "valid: \(report.rows) rows" : "invalid: \(report.rows) rows")
                for a in report.anomalies {
                    let rows = a.rows.isEmpty ? "" : " rows " + a.rows.prefix(10).map(String.init).joined(separator: ", ") + (a.rows.count > 10 ? ", …" : "")
                    print("  \(a.blocking ? "BLOCKING" : "warning ") \(a.kind) \(a.column ?? "-"): \(a.detail)\(rows)")
                }
            }
            if !report.isValid { throw ExitCode(1) }
        }
    }
}
