// ScreenSuspect.swift: what a poisoning screen reports: suspect rows by kind and score, and the summary.

import Foundation
import MLSecCore

/// The kinds of suspect row.
public enum SuspectKind: String, Sendable, CaseIterable, Comparable {
    /// The row's label disagrees with its nearest neighbours' (a flipped or mislabelled row).
    case labelFlip = "label-flip"
    /// The row repeats, exactly or nearly, an earlier row of the data.
    case duplicate
    /// The row lies far from the rest of its class.
    case outlier
    /// A row of the test file repeats, exactly or nearly, a row of the screened data.
    case leak

    public static func < (a: SuspectKind, b: SuspectKind) -> Bool {
        allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
    }
}

/// One suspicious row. Scores lie in [0, 1] and compare within a kind (see `DataScreen` for each kind's meaning).
public struct ScreenSuspect: Sendable, Equatable {
    /// 0-based data row (header excluded): of the screened data, or of the test file for `leak`.
    public var row: Int
    public var kind: SuspectKind
    public var score: Double
    /// The row's label as written.
    public var label: String?
    /// label-flip: the label most of the neighbours carry, and its share of the weighted votes.
    public var suggestedLabel: String?
    public var suggestedLabelShare: Double?
    /// duplicate: the earlier row it repeats; leak: the screened data's row it repeats.
    public var relatedRow: Int?
    /// The related row's label (duplicate, leak).
    public var relatedLabel: String?
    /// duplicate, leak: identical feature values (not only near).
    public var exact: Bool?
    /// duplicate, leak: Euclidean distance in the standardised space; outlier: the robust Mahalanobis distance.
    public var distance: Double?
    /// outlier: the squared distance over the class's median squared distance.
    public var ratio: Double?

    public init(row: Int, kind: SuspectKind, score: Double) {
        self.row = row
        self.kind = kind
        self.score = score
    }

    /// The object in the JSON report.
    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [("row", .int(row)), ("kind", .string(kind.rawValue)), ("score", Self.number(score))]
        if let label { fields.append(("label", .string(label))) }
        if let suggestedLabel { fields.append(("suggested_label", .string(suggestedLabel))) }
        if let suggestedLabelShare { fields.append(("suggested_label_share", Self.number(suggestedLabelShare))) }
        if let relatedRow { fields.append((kind == .leak ? "train_row" : "of_row", .int(relatedRow))) }
        if let relatedLabel { fields.append((kind == .leak ? "train_label" : "of_label", .string(relatedLabel))) }
        if let exact { fields.append(("exact", .bool(exact))) }
        if let distance { fields.append(("distance", Self.number(distance))) }
        if let ratio { fields.append(("ratio", Self.number(ratio))) }
        return .object(fields)
    }

    /// A number with six decimals (null when not finite).
    static func number(_ v: Double) -> JSONValue { v.isFinite ? .number(String(format: "%.6f", v)) : .null }

    /// Most suspicious first: by score, then (outliers) by ratio, then kind and row.
    static func ordered(_ a: ScreenSuspect, _ b: ScreenSuspect) -> Bool {
        if a.score != b.score { return a.score > b.score }
        if a.kind == b.kind, a.kind == .outlier, let ra = a.ratio, let rb = b.ratio, ra != rb { return ra > rb }
        if a.kind != b.kind { return a.kind < b.kind }
        return a.row < b.row
    }
}

/// The result of `DataScreen.screen`: suspects, most suspicious first, and what was screened how.
public struct ScreenReport: Sendable {
    public var suspects: [ScreenSuspect]
    public var rows: Int
    public var testRows: Int?
    public var features: Int
    public var classes: [String]
    public var options: DataScreen.Options
    /// The near-duplicate and leak radius in the standardised space (options.nearDuplicateRadius × the median
    /// nearest-neighbour distance).
    public var radius: Double
    public var medianNeighbourDistance: Double
    public var notes: [ScreenColumnNote]
    /// Checks not run or classes skipped, with the reason.
    public var skipped: [String]
    public var seconds: Double

    public func count(_ kind: SuspectKind) -> Int { suspects.filter { $0.kind == kind }.count }

    /// The JSON document `mlsec data screen --format json` prints.
    public var json: JSONValue {
        let o = options
        let settings: JSONValue = .object([
            ("k", .int(o.neighbours)), ("label_flip_threshold", ScreenSuspect.number(o.labelFlipThreshold)),
            ("near_duplicate_radius", ScreenSuspect.number(o.nearDuplicateRadius)),
            ("radius_standardised", ScreenSuspect.number(radius)),
            ("median_neighbour_distance", ScreenSuspect.number(medianNeighbourDistance)),
            ("outlier_threshold", ScreenSuspect.number(o.outlierThreshold)), ("clip", ScreenSuspect.number(o.clip)),
            ("max_rows", .int(o.maxRows)),
        ])
        var summary: [(String, JSONValue)] = [
            ("rows", .int(rows)), ("features", .int(features)), ("classes", .int(classes.count)),
        ]
        if let testRows { summary.append(("test_rows", .int(testRows))) }
        summary.append(("counts", .object(SuspectKind.allCases.map { ($0.rawValue, .int(count($0))) })))
        summary.append(("settings", settings))
        summary.append(("columns", .array(notes.map { n in
            .object([("file", .string(n.file)), ("column", .string(n.column)), ("action", .string(n.action)),
                     ("count", .int(n.count)), ("detail", .string(n.detail))])
        })))
        summary.append(("skipped", .array(skipped.map { .string($0) })))
        summary.append(("seconds", .number(String(format: "%.3f", seconds))))
        return .object([("suspects", .array(suspects.map(\.json))), ("summary", .object(summary))])
    }
}
