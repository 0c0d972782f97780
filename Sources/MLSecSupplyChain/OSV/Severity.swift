// Severity: the qualitative rating of an advisory and how it is derived from an OSV record.

/// A qualitative severity. `unknown` (a record with no usable severity) sorts above `critical` where a
/// threshold is applied, so an unrated advisory fails every `--fail-on` level (fail closed).
public enum SeverityRating: String, Sendable, Hashable, CaseIterable, Comparable {
    case none, low, medium, high, critical, unknown

    var rank: Int {
        switch self {
        case .none: 0
        case .low: 1
        case .medium: 2
        case .high: 3
        case .critical: 4
        case .unknown: 5
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    /// The CVSS v3/v4 band of a score: 0 none, 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10 critical.
    public init(cvssScore score: Double) {
        switch score {
        case ..<0.1: self = .none
        case ..<4.0: self = .low
        case ..<7.0: self = .medium
        case ..<9.0: self = .high
        default: self = .critical
        }
    }

    /// NVD's CVSS v2 bands: 0-3.9 low, 4.0-6.9 medium, 7.0-10 high.
    public init(cvssV2Score score: Double) {
        self = score < 4.0 ? .low : (score < 7.0 ? .medium : .high)
    }

    /// A database's own label (`database_specific.severity`: GitHub's LOW, MODERATE, HIGH, CRITICAL).
    public init?(label: String) {
        switch label.uppercased() {
        case "NONE": self = .none
        case "LOW": self = .low
        case "MODERATE", "MEDIUM": self = .medium
        case "HIGH": self = .high
        case "CRITICAL": self = .critical
        default: return nil
        }
    }
}

/// The severity of one record: a rating, with the score and vector it came from where there is one.
public struct RecordSeverity: Sendable, Hashable {
    public var rating: SeverityRating
    /// The score computed from `vector` (CVSS v4.0, v3.x or v2), or `nil`.
    public var score: Double?
    /// The vector as the record gives it, or `nil`.
    public var vector: String?
    /// Where the rating came from: `CVSS_V4`, `CVSS_V3`, `CVSS_V2` (the vector scored), `database_specific`
    /// (no vector that parses; the database's own label) or `none`.
    public var source: String

    public static let unknown = RecordSeverity(rating: .unknown, score: nil, vector: nil, source: "none")

    /// Ordering used to pick the highest severity of merged records: known ratings by rank then score;
    /// `unknown` is lowest here (a known rating of any merged record wins).
    func isHigher(than other: RecordSeverity) -> Bool {
        if (rating == .unknown) != (other.rating == .unknown) { return other.rating == .unknown }
        if rating != other.rating { return rating > other.rating }
        return (score ?? -1) > (other.score ?? -1)
    }

    /// Derives a record's severity from its `severity[]` entries and `database_specific.severity`.
    /// Preference, newest CVSS version first: a CVSS v4.0 vector (scored), then a v3.x vector, then a v2
    /// vector, then the database's label, else unknown. Vectors that do not parse are noted in `warnings`
    /// and the next source is used.
    static func derive(entries: [(type: String, score: String)], databaseLabel: String?, recordID: String,
                       warnings: inout [String]) -> RecordSeverity
    {
        // Newest version first: each scorer gives the score and its rating band.
        let scorers: [(type: String, score: (String) throws -> (Double, SeverityRating))] = [
            ("CVSS_V4", { vector in let score = try CVSS4(vector).score; return (score, SeverityRating(cvssScore: score)) }),
            ("CVSS_V3", { vector in let score = try CVSS.v3BaseScore(vector); return (score, SeverityRating(cvssScore: score)) }),
            ("CVSS_V2", { vector in let score = try CVSS.v2BaseScore(vector); return (score, SeverityRating(cvssV2Score: score)) }),
        ]
        for scorer in scorers {
            for entry in entries where entry.type == scorer.type {
                do {
                    let (score, rating) = try scorer.score(entry.score)
                    return RecordSeverity(rating: rating, score: score, vector: entry.score, source: scorer.type)
                } catch {
                    warnings.append("\(recordID): \(error); its \(scorer.type) entry is ignored")
                }
            }
        }
        if let label = databaseLabel, let rating = SeverityRating(label: label) {
            return RecordSeverity(rating: rating, score: nil, vector: nil, source: "database_specific")
        }
        return RecordSeverity(rating: .unknown, score: nil, vector: nil, source: "none")
    }
}
